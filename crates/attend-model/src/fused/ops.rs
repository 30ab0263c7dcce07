//! The mathematics of the fused operations over any backend's primitives:
//! each forward, and each closed-form backward that the autodiff node of
//! `backward.rs` runs. Written once in Burn's backend operations, so that they
//! run on ndarray, flex and wgpu alike.

use burn::backend::tensor::{BoolTensor, FloatTensor, IndexingUpdateOp, IntTensor};
use burn::backend::{Backend, TensorMetadata};

use super::MASK_VALUE;

/// softmax(q kᵀ · scale, masked) → weights; context = (weights ⊙ keep) v.
/// `q` `[b, h, s_q, d]`, `k`/`v` `[b, h, s_k, d]`, `mask` `[b, h, s_q, s_k]`
/// (`true` = not allowed), `keep` `[b, h, s_q, s_k]` the dropout multiplier
/// (0 or 1/(1−p)). Returns the context `[b, h, s_q, d]` and the weights
/// before dropout `[b, h, s_q, s_k]`.
pub fn attention<B: Backend>(
    q: FloatTensor<B>,
    k: FloatTensor<B>,
    v: FloatTensor<B>,
    mask: Option<BoolTensor<B>>,
    keep: Option<FloatTensor<B>>,
    scale: f32,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let scores = B::float_mul_scalar(B::float_matmul(q, B::float_swap_dims(k, 2, 3)), scale.into());
    let scores = match mask {
        Some(m) => B::float_mask_fill(scores, m, MASK_VALUE.into()),
        None => scores,
    };
    let weights = B::softmax(scores, 3);
    let dropped = match keep {
        Some(keep) => B::float_mul(weights.clone(), keep),
        None => weights.clone(),
    };
    (B::float_matmul(dropped, v), weights)
}

/// Gradients of [`attention`] with respect to `q`, `k` and `v`, given
/// the weights it returned and the gradient of its context.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward<B: Backend>(
    q: FloatTensor<B>,
    k: FloatTensor<B>,
    v: FloatTensor<B>,
    weights: FloatTensor<B>,
    mask: Option<BoolTensor<B>>,
    keep: Option<FloatTensor<B>>,
    scale: f32,
    grad: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let dropped = match &keep {
        Some(keep) => B::float_mul(weights.clone(), keep.clone()),
        None => weights.clone(),
    };
    let dv = B::float_matmul(B::float_swap_dims(dropped, 2, 3), grad.clone()); // [b, h, s_k, d]
    let dw = B::float_matmul(grad, B::float_swap_dims(v, 2, 3)); // [b, h, s_q, s_k]
    let dw = match keep {
        Some(keep) => B::float_mul(dw, keep),
        None => dw,
    };
    // Softmax: ds = w ⊙ (dw − Σ_j dw_j w_j).
    let dot = B::float_sum_dim(B::float_mul(dw.clone(), weights.clone()), 3);
    let ds = B::float_mul(weights, B::float_sub(dw, dot));
    // Masked scores were overwritten, so no gradient reaches them.
    let ds = match mask {
        Some(m) => B::float_mask_fill(ds, m, 0f32.into()),
        None => ds,
    };
    let ds = B::float_mul_scalar(ds, scale.into());
    let dq = B::float_matmul(ds.clone(), k); // [b, h, s_q, d]
    let dk = B::float_matmul(B::float_swap_dims(ds, 2, 3), q); // [b, h, s_k, d]
    (dq, dk, dv)
}

/// Gradients of the layer norm with respect to `x`, γ and β.
pub fn layer_norm_backward<B: Backend>(
    x: FloatTensor<B>,
    gamma: FloatTensor<B>,
    epsilon: f64,
    grad: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let shape = x.shape();
    let last = shape.num_dims() - 1;
    let d = shape[last];
    let rows = shape.num_elements() / d;
    let mean = B::float_mean_dim(x.clone(), last);
    let centered = B::float_sub(x, mean);
    let var = B::float_mean_dim(B::float_mul(centered.clone(), centered.clone()), last);
    let rstd = B::float_recip(B::float_sqrt(B::float_add_scalar(var, epsilon.into())));
    let xhat = B::float_mul(centered, rstd.clone()); // [.., d]
    // γ as [1, …, 1, d]: backends that record operations (fusion) broadcast only within one rank.
    let mut gamma_shape = vec![1; shape.num_dims()];
    gamma_shape[last] = d;
    let g = B::float_mul(grad.clone(), B::float_reshape(gamma, gamma_shape.into())); // [.., d]
    let mean_g = B::float_mean_dim(g.clone(), last);
    let mean_gx = B::float_mean_dim(B::float_mul(g.clone(), xhat.clone()), last);
    let dx = B::float_mul(rstd, B::float_sub(B::float_sub(g, mean_g), B::float_mul(xhat.clone(), mean_gx)));
    let flat = |t: FloatTensor<B>| B::float_reshape(t, [rows, d].into());
    let dgamma = B::float_reshape(B::float_sum_dim(flat(B::float_mul(grad.clone(), xhat)), 0), [d].into());
    let dbeta = B::float_reshape(B::float_sum_dim(flat(grad), 0), [d].into());
    (dx, dgamma, dbeta)
}

/// Σ_rows weight · (−Σ_j q_j log softmax(logits)_j) with
/// q = (1 − α)·onehot(target) + α/V: `logits` `[n, V]`, `targets` `[n]`,
/// `weight` `[n, 1]` (1/count for a counted row, 0 for padding, so the sum
/// is the mean over the counted rows). Returns the loss `[1]` and the
/// softmax `[n, V]` for the backward pass.
pub fn cross_entropy<B: Backend>(
    logits: FloatTensor<B>,
    targets: IntTensor<B>,
    weight: FloatTensor<B>,
    smoothing: f32,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let [n, _] = logits.shape().dims();
    let max = B::float_max_dim(logits.clone(), 1);
    let shifted = B::float_sub(logits, max); // [n, V]
    let exp = B::float_exp(shifted.clone());
    let sum = B::float_sum_dim(exp.clone(), 1); // [n, 1]
    let lse = B::float_log(sum.clone());
    let probs = B::float_div(exp, sum);
    let idx = B::int_reshape(targets, [n, 1].into());
    let target_logp = B::float_sub(B::float_gather(1, shifted.clone(), idx), lse.clone()); // [n, 1]
    let mut loss = B::float_mul_scalar(target_logp, (-(1.0 - smoothing)).into());
    if smoothing > 0.0 {
        let mean_logp = B::float_sub(B::float_mean_dim(shifted, 1), lse); // [n, 1]
        loss = B::float_sub(loss, B::float_mul_scalar(mean_logp, smoothing.into()));
    }
    (B::float_sum(B::float_mul(loss, weight)), probs)
}

/// Gradient of [`cross_entropy`] with respect to the logits:
/// (softmax − q) · row weight · `grad`.
pub fn cross_entropy_backward<B: Backend>(
    probs: FloatTensor<B>,
    targets: IntTensor<B>,
    weight: FloatTensor<B>,
    smoothing: f32,
    grad: FloatTensor<B>,
) -> FloatTensor<B> {
    let [n, vocab] = probs.shape().dims();
    let coef = B::float_mul(weight, B::float_reshape(grad, [1, 1].into())); // [n, 1]
    let uniform = B::float_sub_scalar(probs, (smoothing / vocab as f32).into());
    let d = B::float_mul(uniform, coef.clone());
    let idx = B::int_reshape(targets, [n, 1].into());
    let at_target = B::float_mul_scalar(coef, (-(1.0 - smoothing)).into()); // [n, 1]
    B::float_scatter(1, d, idx, at_target, IndexingUpdateOp::Add)
}

