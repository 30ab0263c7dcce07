//! Transformer decoder (Vaswani et al., 2017, §3.1): each layer has masked
//! self-attention (position t sees only positions ≤ t, so the model can be
//! trained on whole sentences yet generate one token at a time), then
//! encoder–decoder cross-attention over the source, then a feed-forward
//! network; residuals and LayerNorm as in the encoder (post-LN or pre-LN).

use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig};
use burn::prelude::*;

use crate::attention::causal_mask;
use crate::feed_forward::{Activation, FeedForward, FeedForwardConfig};
use crate::multi_head::{AttentionMasks, MultiHeadAttention, MultiHeadAttentionConfig};

/// Configuration of a [`Decoder`].
#[derive(Config, Debug)]
pub struct DecoderConfig {
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

impl DecoderConfig {
    /// Builds one layer.
    pub fn init_layer(&self, device: &Device) -> DecoderLayer {
        let mha = || {
            MultiHeadAttentionConfig::new(self.d_model, self.n_heads)
                .with_dropout(self.dropout)
                .init(device)
        };
        DecoderLayer {
            self_attn: mha(),
            cross_attn: mha(),
            ff: FeedForwardConfig::new(self.d_model, self.d_ff)
                .with_dropout(self.dropout)
                .with_activation(self.activation)
                .init(device),
            norm_self: LayerNormConfig::new(self.d_model).init(device),
            norm_cross: LayerNormConfig::new(self.d_model).init(device),
            norm_ff: LayerNormConfig::new(self.d_model).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            norm_first: self.norm_first,
        }
    }

    /// Builds the stack (plus the final LayerNorm when pre-LN).
    pub fn init(&self, device: &Device) -> Decoder {
        Decoder {
            layers: (0..self.n_layers).map(|_| self.init_layer(device)).collect(),
            norm: self.norm_first.then(|| LayerNormConfig::new(self.d_model).init(device)),
        }
    }
}

/// Masked self-attention, cross-attention and feed-forward.
#[derive(Module, Debug)]
pub struct DecoderLayer {
    pub self_attn: MultiHeadAttention,
    pub cross_attn: MultiHeadAttention,
    pub ff: FeedForward,
    pub norm_self: LayerNorm,
    pub norm_cross: LayerNorm,
    pub norm_ff: LayerNorm,
    pub dropout: Dropout,
    pub norm_first: bool,
}

/// What a decoder call needs besides its input.
#[derive(Debug, Clone)]
pub struct DecoderContext {
    /// Encoder output `[batch, s_src, d_model]`.
    pub memory: Tensor<3>,
    /// `[batch, s_src]`, `true` at source padding.
    pub memory_pad: Option<Tensor<2, Bool>>,
    /// `[batch, s_tgt]`, `true` at target padding.
    pub target_pad: Option<Tensor<2, Bool>>,
}

impl DecoderLayer {
    /// `x` `[batch, s_tgt, d_model]`; returns the output and the cross-attention
    /// weights `[batch, heads, s_tgt, s_src]`.
    pub fn forward(&self, x: Tensor<3>, ctx: &DecoderContext) -> (Tensor<3>, Tensor<4>) {
        let seq = x.dims()[1];
        let self_masks = AttentionMasks {
            key_pad: ctx.target_pad.clone(),
            attn: Some(causal_mask(seq, &x.device())),
        };
        let cross_masks = AttentionMasks { key_pad: ctx.memory_pad.clone(), attn: None };
        let mem = ctx.memory.clone();
        if self.norm_first {
            let h = self.norm_self.forward(x.clone());
            let (a, _) = self.self_attn.forward(h.clone(), h.clone(), h, self_masks);
            let x = x + self.dropout.forward(a);
            let h = self.norm_cross.forward(x.clone());
            let (c, w) = self.cross_attn.forward(h, mem.clone(), mem, cross_masks);
            let x = x + self.dropout.forward(c);
            let f = self.ff.forward(self.norm_ff.forward(x.clone()));
            (x + self.dropout.forward(f), w)
        } else {
            let (a, _) = self.self_attn.forward(x.clone(), x.clone(), x.clone(), self_masks);
            let x = self.norm_self.forward(x + self.dropout.forward(a));
            let (c, w) = self.cross_attn.forward(x.clone(), mem.clone(), mem, cross_masks);
            let x = self.norm_cross.forward(x + self.dropout.forward(c));
            let f = self.ff.forward(x.clone());
            (self.norm_ff.forward(x + self.dropout.forward(f)), w)
        }
    }
}

/// The decoder stack.
#[derive(Module, Debug)]
pub struct Decoder {
    pub layers: Vec<DecoderLayer>,
    /// Final LayerNorm (pre-LN only).
    pub norm: Option<LayerNorm>,
}

impl Decoder {
    /// `x` `[batch, s_tgt, d_model]` (embedded target prefix) → hidden states
    /// `[batch, s_tgt, d_model]` and each layer's cross-attention weights.
    pub fn forward(&self, mut x: Tensor<3>, ctx: &DecoderContext) -> (Tensor<3>, Vec<Tensor<4>>) {
        let mut weights = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let (y, w) = layer.forward(x, ctx);
            x = y;
            weights.push(w);
        }
        let x = match &self.norm {
            Some(norm) => norm.forward(x),
            None => x,
        };
        (x, weights)
    }
}
