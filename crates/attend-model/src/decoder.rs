//! Transformer decoder (Vaswani et al., 2017, §3.1): each layer has masked
//! self-attention (position t sees only positions ≤ t, so the model can be
//! trained on whole sentences yet generate one token at a time), then
//! encoder–decoder cross-attention over the source, then a feed-forward
//! network; residuals and LayerNorm as in the encoder (post-LN or pre-LN).

use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig};
use burn::prelude::*;

use crate::fused::norm;

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

/// Keys and values of one attention call, `[batch, heads, seq, d_k]` each.
pub type KeyValues = (Tensor<4>, Tensor<4>);

impl DecoderLayer {
    /// `x` `[batch, s_tgt, d_model]`; returns the output and the cross-attention
    /// weights `[batch, heads, s_tgt, s_src]`.
    pub fn forward(&self, x: Tensor<3>, ctx: &DecoderContext) -> (Tensor<3>, Tensor<4>) {
        let (out, weights, _) = self.forward_cached(x, None, ctx, None);
        (out, weights)
    }

    /// The cross-attention keys and values of the encoder output, computed
    /// once per sentence for incremental decoding.
    pub fn cross_kv(&self, memory: Tensor<3>) -> KeyValues {
        self.cross_attn.project_kv(memory.clone(), memory)
    }

    /// The new positions `x` `[batch, n, d_model]` after the `p` positions
    /// whose self-attention keys and values are in `past` (as this returned
    /// them before): the key/value cache of incremental decoding, where `n`
    /// is 1 at every step after the first. `cross` holds this layer's
    /// [`Self::cross_kv`] of `ctx.memory` (projected here when `None`);
    /// `ctx.target_pad`, when given, covers all `p + n` positions. Returns the
    /// output `[batch, n, d_model]`, the cross-attention weights
    /// `[batch, heads, n, s_src]` and the self-attention keys and values of all
    /// `p + n` positions. With no past this is the plain teacher-forced layer.
    pub fn forward_cached(
        &self,
        x: Tensor<3>,
        past: Option<KeyValues>,
        ctx: &DecoderContext,
        cross: Option<KeyValues>,
    ) -> (Tensor<3>, Tensor<4>, KeyValues) {
        let n = x.dims()[1];
        let p = past.as_ref().map_or(0, |(k, _)| k.dims()[2]);
        // New position i (absolute p + i) sees keys 0..=p + i; one new position sees them all.
        let self_masks = AttentionMasks {
            key_pad: ctx.target_pad.clone(),
            attn: (n > 1).then(|| causal_mask_after(n, p, &x.device())),
        };
        let cross_masks = AttentionMasks { key_pad: ctx.memory_pad.clone(), attn: None };
        let (ck, cv) = cross.unwrap_or_else(|| self.cross_kv(ctx.memory.clone()));
        let self_attend = |h: Tensor<3>| {
            let (k, v) = self.self_attn.project_kv(h.clone(), h.clone()); // [batch, heads, n, d_k]
            let (k, v) = match past {
                Some((pk, pv)) => (Tensor::cat(vec![pk, k], 2), Tensor::cat(vec![pv, v], 2)), // [batch, heads, p+n, d_k]
                None => (k, v),
            };
            let (a, _) = self.self_attn.forward_projected(h, k.clone(), v.clone(), self_masks);
            (a, (k, v))
        };
        if self.norm_first {
            let (a, kv) = self_attend(norm(&self.norm_self, x.clone()));
            let x = x + crate::fused::dropout(&self.dropout, a);
            let h = norm(&self.norm_cross, x.clone());
            let (c, w) = self.cross_attn.forward_projected(h, ck, cv, cross_masks);
            let x = x + crate::fused::dropout(&self.dropout, c);
            let f = self.ff.forward(norm(&self.norm_ff, x.clone()));
            (x + crate::fused::dropout(&self.dropout, f), w, kv)
        } else {
            let (a, kv) = self_attend(x.clone());
            let x = norm(&self.norm_self, x + crate::fused::dropout(&self.dropout, a));
            let (c, w) = self.cross_attn.forward_projected(x.clone(), ck, cv, cross_masks);
            let x = norm(&self.norm_cross, x + crate::fused::dropout(&self.dropout, c));
            let f = self.ff.forward(x.clone());
            (norm(&self.norm_ff, x + crate::fused::dropout(&self.dropout, f)), w, kv)
        }
    }
}

/// The causal mask of `n` new positions after `past` cached ones: `[n, past + n]`,
/// `true` where a key lies in the query's future.
fn causal_mask_after(n: usize, past: usize, device: &Device) -> Tensor<2, Bool> {
    if past == 0 {
        causal_mask(n, device)
    } else {
        Tensor::<2, Bool>::tril_mask([n, past + n], past as i64, device)
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
    pub fn forward(&self, x: Tensor<3>, ctx: &DecoderContext) -> (Tensor<3>, Vec<Tensor<4>>) {
        let (h, weights, _) = self.forward_cached(x, None, ctx, None);
        (h, weights)
    }

    /// Every layer's [`DecoderLayer::cross_kv`] of the encoder output.
    pub fn cross_kv(&self, memory: Tensor<3>) -> Vec<KeyValues> {
        self.layers.iter().map(|l| l.cross_kv(memory.clone())).collect()
    }

    /// The stack over new positions `x` `[batch, n, d_model]`, given each
    /// layer's self-attention keys and values of the earlier positions (`past`)
    /// and, optionally, its cross-attention keys and values (`cross`, from
    /// [`Self::cross_kv`]). Returns the hidden states, each layer's
    /// cross-attention weights and each layer's keys and values of all positions.
    pub fn forward_cached(
        &self,
        mut x: Tensor<3>,
        past: Option<&[KeyValues]>,
        ctx: &DecoderContext,
        cross: Option<&[KeyValues]>,
    ) -> (Tensor<3>, Vec<Tensor<4>>, Vec<KeyValues>) {
        let mut weights = Vec::with_capacity(self.layers.len());
        let mut cache = Vec::with_capacity(self.layers.len());
        for (l, layer) in self.layers.iter().enumerate() {
            let (y, w, kv) = layer.forward_cached(x, past.map(|p| p[l].clone()), ctx, cross.map(|c| c[l].clone()));
            x = y;
            weights.push(w);
            cache.push(kv);
        }
        let x = match &self.norm {
            Some(n) => norm(n, x),
            None => x,
        };
        (x, weights, cache)
    }
}
