//! Scaled dot-product attention (Vaswani et al., 2017, §3.2.1):
//! Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V.
//! Each query position takes a weighted average of the value vectors, weighted
//! by how well its query matches each key. Masks (`true` = not allowed) keep
//! queries from seeing padding or, in a decoder, the future.

use burn::nn::Dropout;
use burn::prelude::*;
use burn::tensor::activation::softmax;

/// The value written into masked scores before the softmax. Finite, so a row
/// with every key masked gives uniform weights instead of NaN.
pub const MASK_VALUE: f32 = -1.0e9;

/// `true` at padding positions, from per-row lengths: `[batch, seq]`.
pub fn padding_mask(lengths: &[usize], seq: usize, device: &Device) -> Tensor<2, Bool> {
    let mut mask = vec![false; lengths.len() * seq];
    for (r, &len) in lengths.iter().enumerate() {
        for m in &mut mask[r * seq + len.min(seq)..(r + 1) * seq] {
            *m = true;
        }
    }
    Tensor::from_data(TensorData::new(mask, [lengths.len(), seq]), device)
}

/// `true` above the diagonal: position t may not attend to positions after t. `[seq, seq]`.
pub fn causal_mask(seq: usize, device: &Device) -> Tensor<2, Bool> {
    Tensor::<2, Bool>::tril_mask([seq, seq], 0, device)
}

/// softmax(Q Kᵀ / √d_k) V with optional masks.
///
/// - `q` `[batch, heads, s_q, d_k]`, `k` and `v` `[batch, heads, s_k, d_k]`
/// - `key_pad` `[batch, s_k]`: `true` where the key is padding
/// - `attn_mask` `[s_q, s_k]`: `true` where attention is not allowed (e.g. causal)
///
/// Returns the context `[batch, heads, s_q, d_k]` and the weights `[batch, heads, s_q, s_k]`
/// (before dropout; under autodiff they carry no gradient). Runs as one fused
/// operation with its own backward pass ([`crate::fused`]) where the backend has
/// it, else as [`scaled_dot_product_attention_plain`]; the two agree.
pub fn scaled_dot_product_attention(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    key_pad: Option<Tensor<2, Bool>>,
    attn_mask: Option<Tensor<2, Bool>>,
    dropout: &Dropout,
) -> (Tensor<4>, Tensor<4>) {
    let device = q.device();
    if !crate::fused::available(&device) {
        return scaled_dot_product_attention_plain(q, k, v, key_pad, attn_mask, dropout);
    }
    let [batch, heads, s_q, d_k] = q.dims();
    let s_k = k.dims()[2];
    let shape = [batch, heads, s_q, s_k];
    let pad = key_pad.map(|p| p.reshape([batch, 1, 1, s_k]).expand(shape));
    let causal = attn_mask.map(|m| m.reshape([1, 1, s_q, s_k]).expand(shape));
    let mask = match (pad, causal) {
        (Some(p), Some(c)) => Some(p.bool_or(c)),
        (p, c) => p.or(c),
    };
    // The dropout multiplier (0 or 1/(1 − p)), drawn as `crate::fused::dropout` draws it.
    let keep = (dropout.training.is_enabled() && device.is_autodiff() && dropout.prob > 0.0)
        .then(|| crate::fused::dropout_mask(shape, (1.0 - dropout.prob) as f32, &device));
    crate::fused::attention(q, k, v, mask, keep, 1.0 / (d_k as f32).sqrt())
}

/// [`scaled_dot_product_attention`] as the composition of Burn's tensor
/// operations (matmul, mask, softmax, dropout, matmul): the plain version the
/// fused operation replaces, and the reference its tests compare against.
pub fn scaled_dot_product_attention_plain(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    key_pad: Option<Tensor<2, Bool>>,
    attn_mask: Option<Tensor<2, Bool>>,
    dropout: &Dropout,
) -> (Tensor<4>, Tensor<4>) {
    let [batch, _, s_q, d_k] = q.dims();
    let s_k = k.dims()[2];
    let mut scores = q.matmul(k.swap_dims(2, 3)).div_scalar((d_k as f64).sqrt()); // [batch, heads, s_q, s_k]
    if let Some(pad) = key_pad {
        scores = scores.mask_fill(pad.reshape([batch, 1, 1, s_k]), MASK_VALUE);
    }
    if let Some(mask) = attn_mask {
        scores = scores.mask_fill(mask.reshape([1, 1, s_q, s_k]), MASK_VALUE);
    }
    let weights = softmax(scores, 3); // [batch, heads, s_q, s_k]
    let context = crate::fused::dropout(dropout, weights.clone()).matmul(v); // [batch, heads, s_q, d_k]
    (context, weights)
}
