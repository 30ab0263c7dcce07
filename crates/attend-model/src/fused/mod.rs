//! Fused operations with their own backward pass: scaled dot-product
//! attention (scores, masks, softmax, dropout, weighted sum; Vaswani et al.,
//! 2017, §3.2.1), layer normalisation (Ba et al., 2016) and log-softmax with
//! label-smoothed cross-entropy (Szegedy et al., 2016) that ignores padding.
//!
//! Under autodiff Burn records each of these as the 5–10 primitive operations
//! it is made of, each with its own graph node and saved tensors, and the
//! backend's own fused forward kernels (flex's softmax and layer norm) are
//! never used in training. Here each is one node: the forward runs on the
//! inner backend (its fused kernels where it has them) and the backward is the
//! closed-form gradient, written once over Burn's backend operations so that
//! it runs on ndarray, flex and wgpu alike. The Tensor-level functions at the
//! bottom fall back to the plain composition on a backend this build has not
//! registered; the tests check both against each other and against Burn's own
//! modules, values and gradients, masks included.
//!
//! The mechanism is Burn's backend extension (`#[backend_extension]`, the
//! `burn-backend-extension` crate): one trait, implemented by every backend,
//! and by `Autodiff<B>` with the hand-written backward of `backward.rs`.

mod backward;
pub mod cpu;
mod heads;
pub mod ops;
mod pointwise;
mod recurrent;

pub use heads::attention_heads;
pub use pointwise::{dropout, dropout_mask, gelu, linear, linear_transposed, with_own_draws};
pub use recurrent::{attention_lstm, host_kernels, lstm, AttentionLstmInputs};

#[cfg(feature = "wgpu")]
use burn::backend::Cube;
#[cfg(feature = "flex")]
use burn::backend::Flex;
#[cfg(feature = "ndarray")]
#[allow(deprecated)]
use burn::backend::NdArray;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::{BoolTensor, FloatTensor, IntTensor};
use burn::backend::{backend_extension, Backend, Dispatch};
use burn::prelude::*;

/// The value written into masked attention scores (as [`crate::attention::MASK_VALUE`]).
const MASK_VALUE: f32 = crate::attention::MASK_VALUE;

/// The operations as one backend extension: the surface `Dispatch` routes to
/// each backend (the default bodies, [`ops`], are Burn's backend operations; a
/// backend may replace them with its own kernels) and to `Autodiff<B>`, whose
/// implementation (`backward.rs`) records each call as one node.
#[backend_extension(Flex: cfg(feature = "flex"), NdArray: cfg(feature = "ndarray"), Cube: cfg(feature = "wgpu"), Autodiff)]
pub trait FusedOps: Backend {
    /// softmax(q kᵀ · scale) → weights; context = (weights ⊙ keep) v.
    /// `q` `[b, h, s_q, d]`, `k`/`v` `[b, h, s_k, d]`; where `masked`, the
    /// scores at `mask` `[b, h, s_q, s_k]` (`true` = not allowed) are set to
    /// [`crate::attention::MASK_VALUE`] first; where `dropped`, `keep`
    /// `[b, h, s_q, s_k]` is the dropout multiplier (0 or 1/(1−p)). (The flags
    /// stand for `Option`s, which the extension macro does not route; the
    /// unused tensor may be any placeholder.) Returns the context
    /// `[b, h, s_q, d]` and the weights before dropout `[b, h, s_q, s_k]`.
    #[allow(clippy::too_many_arguments)]
    fn fused_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        mask: BoolTensor<Self>,
        masked: bool,
        keep: FloatTensor<Self>,
        dropped: bool,
        scale: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        ops::attention::<Self>(q, k, v, masked.then_some(mask), dropped.then_some(keep), scale)
    }

    /// (x − mean) / √(var + ε) · γ + β over the last dimension.
    fn fused_layer_norm(x: FloatTensor<Self>, gamma: FloatTensor<Self>, beta: FloatTensor<Self>, epsilon: f64) -> FloatTensor<Self> {
        <Self as ModuleOps<Self>>::layer_norm(x, gamma, Some(beta), epsilon)
    }

    /// (x − mean) / √(var + ε) · γ over the last dimension (no β).
    fn fused_layer_norm_no_bias(x: FloatTensor<Self>, gamma: FloatTensor<Self>, epsilon: f64) -> FloatTensor<Self> {
        <Self as ModuleOps<Self>>::layer_norm(x, gamma, None, epsilon)
    }

    /// The gradients `(dx, dγ, dβ)` of [`Self::fused_layer_norm`] at `x`
    /// `[.., d]` with `gamma` `[d]`, given the output's gradient `grad`.
    fn fused_layer_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        epsilon: f64,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        ops::layer_norm_backward::<Self>(x, gamma, epsilon, grad)
    }

    /// Σ_rows weight · (−Σ_j q_j log softmax(logits)_j) with
    /// q = (1 − α)·onehot(target) + α/V: `logits` `[n, V]`, `targets` `[n]`,
    /// `weight` `[n, 1]` (1/count for a counted row, 0 for padding). Returns
    /// the loss `[1]` and the softmax `[n, V]` for the backward pass.
    fn fused_cross_entropy(
        logits: FloatTensor<Self>,
        targets: IntTensor<Self>,
        weight: FloatTensor<Self>,
        smoothing: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        ops::cross_entropy::<Self>(logits, targets, weight, smoothing)
    }

    /// The gradient of [`Self::fused_cross_entropy`] with respect to the
    /// logits, given its softmax and the loss's gradient `grad` `[1]`.
    fn fused_cross_entropy_backward(
        probs: FloatTensor<Self>,
        targets: IntTensor<Self>,
        weight: FloatTensor<Self>,
        smoothing: f32,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        ops::cross_entropy_backward::<Self>(probs, targets, weight, smoothing, grad)
    }

    /// Multi-head attention on the host kernel ([`cpu::attention`]): `q`
    /// `[b, h, s_q, d]`, `k`/`v` `[b, h, s_k, d]` (any strides), `pad`
    /// `[b, s_k]` and `attn` `[s_q, s_k]` (`true` = not allowed; where
    /// `has_pad`/`has_attn`), the weights' dropout (where `dropped`) by the
    /// counter-based mask of `seed` with keep probability `keep`. Returns the
    /// merged context `[b, s_q, h·d]` and the weights before dropout.
    #[allow(clippy::too_many_arguments)]
    fn fused_attention_heads(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        pad: BoolTensor<Self>,
        has_pad: bool,
        attn: BoolTensor<Self>,
        has_attn: bool,
        seed: usize,
        keep: f32,
        dropped: bool,
        scale: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let s = heads::Settings::new::<Self>(has_pad.then_some(pad), has_attn.then_some(attn), dropped.then_some((seed as u64, keep)), scale);
        heads::forward::<Self>(q, k, v, &s)
    }

    /// x W (+ b where `has_bias`): `x` `[rows, d_in]`, `w` `[d_in, d_out]`
    /// (or, where `transposed`, W stored as its transpose `[d_out, d_in]`), `b` `[d_out]`.
    fn fused_linear(x: FloatTensor<Self>, w: FloatTensor<Self>, b: FloatTensor<Self>, has_bias: bool, transposed: bool) -> FloatTensor<Self> {
        pointwise::linear_forward::<Self>(x, w, has_bias.then_some(b), transposed)
    }

    /// Inverted dropout: each element kept with probability `keep` (and
    /// scaled by 1/keep) by the counter-based mask of `seed` ([`cpu::elementwise`]).
    fn fused_dropout(x: FloatTensor<Self>, keep: f32, seed: usize) -> FloatTensor<Self> {
        pointwise::dropout_forward::<Self>(x, keep, seed)
    }

    /// GELU(x) = x Φ(x), element-wise.
    fn fused_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        pointwise::gelu_forward::<Self>(x)
    }

    /// One LSTM layer over a sequence, one direction ([`cpu::lstm`]): `xp`
    /// `[b, s, 4h]` the input projections with both biases (gates i, f, o,
    /// g), `u` `[h, 4h]` the recurrent weights, `h0`/`c0` `[b, h]`; where
    /// `has_keep`, `keep` `[b, s]` is 1 at real steps and 0 at padding (the
    /// state carries over, the output is 0). Returns the outputs, the last h
    /// and the last c packed in one vector `[b·s·h + b·h + b·h]`.
    #[allow(clippy::too_many_arguments)]
    fn fused_lstm(
        xp: FloatTensor<Self>,
        u: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        keep: FloatTensor<Self>,
        has_keep: bool,
        reverse: bool,
    ) -> FloatTensor<Self> {
        recurrent::lstm_forward::<Self>(xp, u, h0, c0, has_keep.then_some(keep), reverse).0
    }

    /// The teacher-forced LSTM decoder with additive attention
    /// ([`cpu::attention_lstm`]): `ep` `[b, t, 4h]` the first layer's input
    /// projection of the embedded tokens with its biases, `wc` `[k, 4h]` its
    /// weights for the context, `u0` `[h, 4h]` its recurrent weights, `deep`
    /// `[layers − 1, 2h + 1, 4h]` each further layer's input weights,
    /// recurrent weights and bias; `drop` `[layers − 1, t, b, h]` their
    /// inputs' dropout multipliers (where `has_drop`); `keys` `[b, s, k]`,
    /// `prep` `[b, s, a]` (U h_j + b), `ws` `[h, a]`, `v` `[a]`; `keep`
    /// `[b, s]` 1 at real source positions (where `has_keep`); `h0`/`c0`
    /// `[b, h]` every layer's initial state. Returns the top states and the
    /// contexts packed `[b·t·h + b·t·k]`, and the alignment weights `[b, t, s]`.
    #[allow(clippy::too_many_arguments)]
    fn fused_attention_lstm(
        ep: FloatTensor<Self>,
        wc: FloatTensor<Self>,
        u0: FloatTensor<Self>,
        deep: FloatTensor<Self>,
        drop: FloatTensor<Self>,
        has_drop: bool,
        keys: FloatTensor<Self>,
        prep: FloatTensor<Self>,
        ws: FloatTensor<Self>,
        v: FloatTensor<Self>,
        keep: FloatTensor<Self>,
        has_keep: bool,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        layers: usize,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let x = recurrent::DecoderInputs {
            ep,
            wc,
            u0,
            deep,
            drop: has_drop.then_some(drop),
            keys,
            prep,
            ws,
            v,
            keep: has_keep.then_some(keep),
            h0,
            c0,
            layers,
        };
        let (packed, alphas, _, _) = recurrent::attention_lstm_forward::<Self>(x);
        (packed, alphas)
    }
}

/// The CPU backends run the cross-entropy ([`cpu::loss`]) and layer norm's
/// backward pass ([`cpu::layer_norm`]) on the host kernels.
macro_rules! host_ops {
    () => {
        fn fused_layer_norm_backward(
            x: FloatTensor<Self>,
            gamma: FloatTensor<Self>,
            epsilon: f64,
            grad: FloatTensor<Self>,
        ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
            pointwise::layer_norm_backward::<Self>(x, gamma, epsilon, grad)
        }

        fn fused_cross_entropy(logits: FloatTensor<Self>, targets: IntTensor<Self>, weight: FloatTensor<Self>, smoothing: f32) -> (FloatTensor<Self>, FloatTensor<Self>) {
            pointwise::cross_entropy_forward::<Self>(logits, targets, weight, smoothing)
        }

        fn fused_cross_entropy_backward(
            probs: FloatTensor<Self>,
            targets: IntTensor<Self>,
            weight: FloatTensor<Self>,
            smoothing: f32,
            grad: FloatTensor<Self>,
        ) -> FloatTensor<Self> {
            pointwise::cross_entropy_backward::<Self>(probs, targets, weight, smoothing, grad)
        }
    };
}

#[cfg(feature = "flex")]
impl FusedOps for Flex {
    host_ops!();
}
#[cfg(feature = "ndarray")]
#[allow(deprecated)]
impl FusedOps for NdArray {
    host_ops!();
}
#[cfg(feature = "wgpu")]
impl FusedOps for Cube {}

static ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Turns the fused operations off (or back on) for the whole process, so that
/// the plain compositions run instead: for measuring what the fusion buys
/// (`attend bench --unfused`).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Whether the fused operations are used on `device`: they are enabled and this
/// build registered them for its backend (otherwise the Tensor-level functions
/// below compute the plain composition).
pub fn available(device: &Device) -> bool {
    if !ENABLED.load(std::sync::atomic::Ordering::Relaxed) {
        return false;
    }
    let inner = device.clone().inner();
    match inner.as_dispatch() {
        #[cfg(feature = "flex")]
        burn::backend::DispatchDevice::Flex(_) => true,
        #[cfg(feature = "ndarray")]
        burn::backend::DispatchDevice::NdArray(_) => true,
        #[cfg(feature = "wgpu")]
        burn::backend::DispatchDevice::Cube(_) => true,
        _ => false,
    }
}

/// Fused [`FusedOps::fused_attention`] on tensors; see there for the shapes.
pub fn attention(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    mask: Option<Tensor<4, Bool>>,
    keep: Option<Tensor<4>>,
    scale: f32,
) -> (Tensor<4>, Tensor<4>) {
    let device = q.device();
    let (masked, dropped) = (mask.is_some(), keep.is_some());
    let mask = mask.unwrap_or_else(|| Tensor::<4, Bool>::empty([1, 1, 1, 1], &device));
    let keep = keep.unwrap_or_else(|| Tensor::<4>::empty([1, 1, 1, 1], &device));
    let (ctx, w) = <Dispatch as FusedOps>::fused_attention(
        q.into_dispatch(),
        k.into_dispatch(),
        v.into_dispatch(),
        mask.into_dispatch(),
        masked,
        keep.into_dispatch(),
        dropped,
        scale,
    );
    (Tensor::from_dispatch(ctx), Tensor::from_dispatch(w))
}

/// The ε of every LayerNorm attend builds (`LayerNormConfig`'s default; Burn keeps
/// the module's own field private).
pub const LAYER_NORM_EPSILON: f64 = 1e-5;

/// `norm.forward(x)`, fused where the backend has it.
pub fn norm<const D: usize>(norm: &burn::nn::LayerNorm, x: Tensor<D>) -> Tensor<D> {
    if available(&x.device()) {
        layer_norm(x, norm, LAYER_NORM_EPSILON)
    } else {
        norm.forward(x)
    }
}

/// Fused [`FusedOps::fused_layer_norm`] with `norm`'s weights (ε = `epsilon`).
pub fn layer_norm<const D: usize>(x: Tensor<D>, norm: &burn::nn::LayerNorm, epsilon: f64) -> Tensor<D> {
    let (x, gamma) = (x.into_dispatch(), norm.gamma.val().into_dispatch());
    Tensor::from_dispatch(match &norm.beta {
        Some(beta) => <Dispatch as FusedOps>::fused_layer_norm(x, gamma, beta.val().into_dispatch(), epsilon),
        None => <Dispatch as FusedOps>::fused_layer_norm_no_bias(x, gamma, epsilon),
    })
}

/// The mean (label-smoothed) cross-entropy of `logits` `[n, V]` against
/// `targets` `[n]` over the rows whose target is not `pad`: [`cross_entropy`]
/// where the backend has it, else Burn's `CrossEntropyLoss` (the two agree).
pub fn cross_entropy_loss(logits: Tensor<2>, targets: Tensor<1, Int>, smoothing: f32, pad: Option<usize>) -> Tensor<1> {
    if available(&logits.device()) {
        return cross_entropy(logits, targets, smoothing, pad);
    }
    burn::nn::loss::CrossEntropyLossConfig::new()
        .with_pad_tokens(pad.map(|p| vec![p]))
        .with_smoothing((smoothing > 0.0).then_some(smoothing))
        .init(&logits.device())
        .forward(logits, targets)
}

/// Fused [`FusedOps::fused_cross_entropy`]: the mean label-smoothed cross-entropy of
/// `logits` `[n, V]` against `targets` `[n]`, over the rows whose target is not `pad`.
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>, smoothing: f32, pad: Option<usize>) -> Tensor<1> {
    let [n, _] = logits.dims();
    let weight = match pad {
        Some(p) => {
            let kept = targets.clone().not_equal_elem(p as i64).float().reshape([n, 1]); // [n, 1]
            let count = kept.clone().sum().reshape([1, 1]);
            kept / count
        }
        None => Tensor::full([n, 1], 1.0 / n as f32, &logits.device()),
    };
    let (loss, _) = <Dispatch as FusedOps>::fused_cross_entropy(logits.into_dispatch(), targets.into_dispatch(), weight.into_dispatch(), smoothing);
    Tensor::from_dispatch(loss)
}
