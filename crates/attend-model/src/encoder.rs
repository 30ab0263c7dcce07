//! Transformer encoder (Vaswani et al., 2017, §3.1): a stack of identical
//! layers, each self-attention then a feed-forward network, each sub-layer
//! wrapped in a residual connection and layer normalisation.
//!
//! Post-LN (the paper): x = LN(x + Dropout(Sublayer(x))).
//! Pre-LN (Xiong et al., 2020, easier to train deep): x = x + Dropout(Sublayer(LN(x))),
//! with a final LayerNorm after the stack.

use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig};
use burn::prelude::*;

use crate::fused::norm;

use crate::feed_forward::{Activation, FeedForward, FeedForwardConfig};
use crate::multi_head::{AttentionMasks, MultiHeadAttention, MultiHeadAttentionConfig};

/// Configuration of an [`Encoder`] (also used for one [`EncoderLayer`]).
#[derive(Config, Debug)]
pub struct EncoderConfig {
    /// Model width.
    pub d_model: usize,
    /// Attention heads.
    pub n_heads: usize,
    /// Feed-forward inner width.
    pub d_ff: usize,
    /// Number of layers.
    pub n_layers: usize,
    /// Dropout on residual branches, attention weights and the feed-forward.
    #[config(default = 0.1)]
    pub dropout: f64,
    /// Pre-LN instead of the paper's post-LN.
    #[config(default = false)]
    pub norm_first: bool,
    /// Feed-forward activation.
    #[config(default = "Activation::Relu")]
    pub activation: Activation,
}

impl EncoderConfig {
    /// Builds one layer.
    pub fn init_layer(&self, device: &Device) -> EncoderLayer {
        EncoderLayer {
            self_attn: MultiHeadAttentionConfig::new(self.d_model, self.n_heads)
                .with_dropout(self.dropout)
                .init(device),
            ff: FeedForwardConfig::new(self.d_model, self.d_ff)
                .with_dropout(self.dropout)
                .with_activation(self.activation)
                .init(device),
            norm_attn: LayerNormConfig::new(self.d_model).init(device),
            norm_ff: LayerNormConfig::new(self.d_model).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            norm_first: self.norm_first,
        }
    }

    /// Builds the stack (plus the final LayerNorm when pre-LN).
    pub fn init(&self, device: &Device) -> Encoder {
        Encoder {
            layers: (0..self.n_layers).map(|_| self.init_layer(device)).collect(),
            norm: self.norm_first.then(|| LayerNormConfig::new(self.d_model).init(device)),
        }
    }
}

/// Self-attention and feed-forward, each with residual and LayerNorm.
#[derive(Module, Debug)]
pub struct EncoderLayer {
    pub self_attn: MultiHeadAttention,
    pub ff: FeedForward,
    /// LayerNorm of the attention sub-layer.
    pub norm_attn: LayerNorm,
    /// LayerNorm of the feed-forward sub-layer.
    pub norm_ff: LayerNorm,
    pub dropout: Dropout,
    pub norm_first: bool,
}

impl EncoderLayer {
    /// `x` `[batch, seq, d_model]`, `pad` `[batch, seq]` (`true` = padding).
    pub fn forward(&self, x: Tensor<3>, pad: Option<Tensor<2, Bool>>) -> Tensor<3> {
        self.forward_masked(x, AttentionMasks { key_pad: pad, attn: None })
    }

    /// Like [`Self::forward`] with any masks (a causal mask makes this a GPT block).
    pub fn forward_masked(&self, x: Tensor<3>, masks: AttentionMasks) -> Tensor<3> {
        self.forward_cached(x, None, masks).0
    }

    /// Self-attention of the new positions `x` `[batch, n, d_model]` over the
    /// keys and values of earlier positions (`past`, `[batch, heads, p, d_k]`
    /// each, as this returned them before) and their own: the key/value cache
    /// of incremental decoding. `masks.attn` is `[n, p + n]`. Returns the
    /// output and the keys and values of all `p + n` positions.
    pub fn forward_cached(&self, x: Tensor<3>, past: Option<(Tensor<4>, Tensor<4>)>, masks: AttentionMasks) -> (Tensor<3>, (Tensor<4>, Tensor<4>)) {
        let h = if self.norm_first { norm(&self.norm_attn, x.clone()) } else { x.clone() };
        let (k, v) = self.self_attn.project_kv(h.clone(), h.clone()); // [batch, heads, n, d_k]
        let (k, v) = match past {
            Some((pk, pv)) => (Tensor::cat(vec![pk, k], 2), Tensor::cat(vec![pv, v], 2)), // [batch, heads, p+n, d_k]
            None => (k, v),
        };
        let (a, _) = self.self_attn.forward_projected(h, k.clone(), v.clone(), masks);
        let out = if self.norm_first {
            let x = x + crate::fused::dropout(&self.dropout, a);
            let f = self.ff.forward(norm(&self.norm_ff, x.clone()));
            x + crate::fused::dropout(&self.dropout, f) // [batch, n, d_model]
        } else {
            let x = norm(&self.norm_attn, x + crate::fused::dropout(&self.dropout, a));
            let f = self.ff.forward(x.clone());
            norm(&self.norm_ff, x + crate::fused::dropout(&self.dropout, f)) // [batch, n, d_model]
        };
        (out, (k, v))
    }
}

/// The encoder stack.
#[derive(Module, Debug)]
pub struct Encoder {
    pub layers: Vec<EncoderLayer>,
    /// Final LayerNorm (pre-LN only).
    pub norm: Option<LayerNorm>,
}

impl Encoder {
    /// `x` `[batch, seq, d_model]` (embedded input) → `[batch, seq, d_model]`.
    pub fn forward(&self, mut x: Tensor<3>, pad: Option<Tensor<2, Bool>>) -> Tensor<3> {
        for layer in &self.layers {
            x = layer.forward(x, pad.clone());
        }
        match &self.norm {
            Some(n) => norm(n, x),
            None => x,
        }
    }
}
