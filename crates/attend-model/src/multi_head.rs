//! Multi-head attention (Vaswani et al., 2017, §3.2.2): project queries, keys
//! and values `h` times into `d_model/h` dimensions, attend in each head in
//! parallel, concatenate, and project back. One module serves as encoder
//! self-attention, masked decoder self-attention and encoder–decoder
//! (cross) attention: only its inputs and masks differ.

use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::prelude::*;

use crate::attention::scaled_dot_product_attention;
use crate::dense::linear;

/// Configuration of a [`MultiHeadAttention`].
#[derive(Config, Debug)]
pub struct MultiHeadAttentionConfig {
    /// Model width; must be divisible by `n_heads`.
    pub d_model: usize,
    /// Number of attention heads.
    pub n_heads: usize,
    /// Dropout on the attention weights.
    #[config(default = 0.1)]
    pub dropout: f64,
}

impl MultiHeadAttentionConfig {
    /// Builds the module (Xavier-uniform projections, zero biases).
    pub fn init(&self, device: &Device) -> MultiHeadAttention {
        let linear = || {
            LinearConfig::new(self.d_model, self.d_model)
                .with_initializer(Initializer::XavierUniform { gain: 1.0 })
                .init(device)
        };
        MultiHeadAttention {
            query: linear(),
            key: linear(),
            value: linear(),
            output: linear(),
            dropout: DropoutConfig::new(self.dropout).init(),
            n_heads: self.n_heads,
        }
    }
}

/// Multi-head attention with its four projections.
#[derive(Module, Debug)]
pub struct MultiHeadAttention {
    pub query: Linear,
    pub key: Linear,
    pub value: Linear,
    pub output: Linear,
    pub dropout: Dropout,
    pub n_heads: usize,
}

/// Masks for one attention call (`true` = not allowed).
#[derive(Debug, Clone, Default)]
pub struct AttentionMasks {
    /// `[batch, s_k]`: padding among the keys.
    pub key_pad: Option<Tensor<2, Bool>>,
    /// `[s_q, s_k]`: e.g. the causal mask.
    pub attn: Option<Tensor<2, Bool>>,
}

impl MultiHeadAttention {
    fn split_heads(&self, x: Tensor<3>) -> Tensor<4> {
        let [batch, seq, d_model] = x.dims();
        x.reshape([batch, seq, self.n_heads, d_model / self.n_heads]).swap_dims(1, 2) // [batch, heads, seq, d_k]
    }

    /// Projects keys and values once, e.g. the encoder output for cross-attention:
    /// `[batch, heads, s_k, d_k]` each.
    pub fn project_kv(&self, key: Tensor<3>, value: Tensor<3>) -> (Tensor<4>, Tensor<4>) {
        (self.split_heads(linear(&self.key, key)), self.split_heads(linear(&self.value, value)))
    }

    /// Attends from `query` `[batch, s_q, d_model]` over already projected keys and values.
    /// Returns the output `[batch, s_q, d_model]` and the weights `[batch, heads, s_q, s_k]`.
    pub fn forward_projected(
        &self,
        query: Tensor<3>,
        k: Tensor<4>,
        v: Tensor<4>,
        masks: AttentionMasks,
    ) -> (Tensor<3>, Tensor<4>) {
        let [batch, s_q, d_model] = query.dims();
        let q = self.split_heads(linear(&self.query, query)); // [batch, heads, s_q, d_k]
        if crate::fused::host_kernels(&q.device()) {
            // One fused operation reading the heads in place, the context merged.
            let (context, weights) = crate::fused::attention_heads(q, k, v, masks.key_pad, masks.attn, &self.dropout);
            return (linear(&self.output, context), weights); // [batch, s_q, d_model]
        }
        let (context, weights) =
            scaled_dot_product_attention(q, k, v, masks.key_pad, masks.attn, &self.dropout);
        let context = context.swap_dims(1, 2).reshape([batch, s_q, d_model]); // [batch, s_q, d_model]
        (linear(&self.output, context), weights)
    }

    /// Full attention: `query` `[batch, s_q, d_model]`, `key`/`value` `[batch, s_k, d_model]`.
    pub fn forward(
        &self,
        query: Tensor<3>,
        key: Tensor<3>,
        value: Tensor<3>,
        masks: AttentionMasks,
    ) -> (Tensor<3>, Tensor<4>) {
        let (k, v) = self.project_kv(key, value);
        self.forward_projected(query, k, v, masks)
    }
}
