//! The encoder–decoder Transformer of "Attention Is All You Need" (Vaswani et
//! al., 2017): source and target embeddings (optionally shared) plus positional
//! encoding, an encoder stack, a decoder stack, and a projection to the target
//! vocabulary (optionally tied to the target embedding, §3.4).

use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;

use crate::decoder::{Decoder, DecoderConfig, DecoderContext, KeyValues};
use crate::embedding::{TokenEmbedding, TokenEmbeddingConfig};
use crate::encoder::{Encoder, EncoderConfig};
use crate::error::ModelError;
use crate::feed_forward::Activation;
use crate::positional::{PositionalEncoding, PositionalEncodingConfig, PositionalKind};

/// Configuration of a [`Transformer`].
#[derive(Config, Debug, PartialEq)]
pub struct TransformerConfig {
    /// Source vocabulary size.
    pub src_vocab: usize,
    /// Target vocabulary size.
    pub tgt_vocab: usize,
    /// Model width.
    #[config(default = 512)]
    pub d_model: usize,
    /// Attention heads.
    #[config(default = 8)]
    pub n_heads: usize,
    /// Feed-forward inner width.
    #[config(default = 2048)]
    pub d_ff: usize,
    /// Encoder layers.
    #[config(default = 6)]
    pub encoder_layers: usize,
    /// Decoder layers.
    #[config(default = 6)]
    pub decoder_layers: usize,
    /// Dropout (embeddings, residuals, attention weights, feed-forward).
    #[config(default = 0.1)]
    pub dropout: f64,
    /// Pre-LN instead of the paper's post-LN.
    #[config(default = false)]
    pub norm_first: bool,
    /// Sinusoidal or learned positions.
    #[config(default = "PositionalKind::Sinusoidal")]
    pub positional: PositionalKind,
    /// Longest sequence (source or target) the model accepts.
    #[config(default = 256)]
    pub max_len: usize,
    /// One embedding table for source and target (needs one joint vocabulary).
    #[config(default = false)]
    pub share_embeddings: bool,
    /// Use the target embedding as the output projection.
    #[config(default = true)]
    pub tie_output: bool,
    /// Feed-forward activation.
    #[config(default = "Activation::Relu")]
    pub activation: Activation,
}

impl TransformerConfig {
    /// Checks the configuration without building anything.
    pub fn validate(&self) -> Result<(), ModelError> {
        crate::error::check_dropout(self.dropout)?;
        crate::size::check_fits(self.param_count().saturating_add(self.position_table()), 4, "the model's weights and position table")?;
        for (name, v) in [
            ("d_model", self.d_model),
            ("n_heads", self.n_heads),
            ("d_ff", self.d_ff),
            ("max_len", self.max_len),
            ("src_vocab", self.src_vocab),
            ("tgt_vocab", self.tgt_vocab),
        ] {
            if v == 0 {
                return Err(ModelError::Zero { name });
            }
        }
        if self.d_model % self.n_heads != 0 {
            return Err(ModelError::HeadsDontDivide { d_model: self.d_model, n_heads: self.n_heads });
        }
        if self.share_embeddings && self.src_vocab != self.tgt_vocab {
            return Err(ModelError::SharedVocabMismatch { src: self.src_vocab, tgt: self.tgt_vocab });
        }
        Ok(())
    }

    /// Builds the model on `device`.
    pub fn init(&self, device: &Device) -> Result<Transformer, ModelError> {
        self.validate()?;
        let src_embed = TokenEmbeddingConfig::new(self.src_vocab, self.d_model).init(device);
        let tgt_embed = (!self.share_embeddings)
            .then(|| TokenEmbeddingConfig::new(self.tgt_vocab, self.d_model).init(device));
        let output = (!self.tie_output).then(|| LinearConfig::new(self.d_model, self.tgt_vocab).init(device));
        let encoder = EncoderConfig::new(self.d_model, self.n_heads, self.d_ff, self.encoder_layers)
            .with_dropout(self.dropout)
            .with_norm_first(self.norm_first)
            .with_activation(self.activation)
            .init(device);
        let decoder = DecoderConfig::new(self.d_model, self.n_heads, self.d_ff, self.decoder_layers)
            .with_dropout(self.dropout)
            .with_norm_first(self.norm_first)
            .with_activation(self.activation)
            .init(device);
        let positional = PositionalEncodingConfig::new(self.d_model)
            .with_max_len(self.max_len)
            .with_kind(self.positional)
            .init(device);
        Ok(Transformer {
            src_embed,
            tgt_embed,
            positional,
            embed_dropout: DropoutConfig::new(self.dropout).init(),
            encoder,
            decoder,
            output,
            max_len: self.max_len,
        })
    }
}

/// The encoder–decoder Transformer.
#[derive(Module, Debug)]
pub struct Transformer {
    pub src_embed: TokenEmbedding,
    /// `None` when the source embedding is shared.
    pub tgt_embed: Option<TokenEmbedding>,
    pub positional: PositionalEncoding,
    pub embed_dropout: Dropout,
    pub encoder: Encoder,
    pub decoder: Decoder,
    /// `None` when the output projection is tied to the target embedding.
    pub output: Option<Linear>,
    pub max_len: usize,
}

impl Transformer {
    fn target_embedding(&self) -> &TokenEmbedding {
        self.tgt_embed.as_ref().unwrap_or(&self.src_embed)
    }

    fn check_len(&self, len: usize) -> Result<(), ModelError> {
        if len > self.max_len {
            return Err(ModelError::TooLong { len, max_len: self.max_len });
        }
        Ok(())
    }

    /// Encodes source ids `[batch, s_src]` into memory `[batch, s_src, d_model]`.
    pub fn encode(&self, src: Tensor<2, Int>, src_pad: Option<Tensor<2, Bool>>) -> Result<Tensor<3>, ModelError> {
        self.check_len(src.dims()[1])?;
        let x = self.positional.forward(self.src_embed.forward(src), 0); // [batch, s_src, d_model]
        Ok(self.encoder.forward(crate::fused::dropout(&self.embed_dropout, x), src_pad))
    }

    /// Decodes a target prefix `[batch, s_tgt]` against `ctx.memory`: logits
    /// `[batch, s_tgt, tgt_vocab]` and each decoder layer's cross-attention weights.
    pub fn decode(&self, tgt_in: Tensor<2, Int>, ctx: &DecoderContext) -> Result<(Tensor<3>, Vec<Tensor<4>>), ModelError> {
        let (logits, weights, _) = self.decode_cached(tgt_in, None, ctx, None)?;
        Ok((logits, weights))
    }

    /// Decodes the target tokens `tgt` `[batch, n]` that follow the prefix
    /// whose self-attention keys and values are in `cache` (one entry per
    /// decoder layer, as this returned them), with the cross-attention keys and
    /// values `cross` of [`Decoder::cross_kv`] (projected from `ctx.memory`
    /// when `None`). Returns the logits `[batch, n, tgt_vocab]` of the new
    /// positions, the cross-attention weights and the extended cache. Feeding
    /// one token at a time gives the logits of [`Self::decode`] over the
    /// whole prefix while each step costs one position.
    pub fn decode_cached(
        &self,
        tgt: Tensor<2, Int>,
        cache: Option<&[KeyValues]>,
        ctx: &DecoderContext,
        cross: Option<&[KeyValues]>,
    ) -> Result<(Tensor<3>, Vec<Tensor<4>>, Vec<KeyValues>), ModelError> {
        let past = cache.and_then(|c| c.first()).map_or(0, |(k, _)| k.dims()[2]);
        self.check_len(past + tgt.dims()[1])?;
        let embed = self.target_embedding();
        let y = self.positional.forward(embed.forward(tgt), past); // [batch, n, d_model]
        let (h, weights, cache) = self.decoder.forward_cached(crate::fused::dropout(&self.embed_dropout, y), cache, ctx, cross);
        let logits = match &self.output {
            Some(linear) => crate::dense::linear(linear, h),
            None => embed.project(h),
        }; // [batch, n, tgt_vocab]
        Ok((logits, weights, cache))
    }

    /// Teacher-forced logits `[batch, s_tgt, tgt_vocab]` for training.
    pub fn forward(
        &self,
        src: Tensor<2, Int>,
        src_pad: Option<Tensor<2, Bool>>,
        tgt_in: Tensor<2, Int>,
        tgt_pad: Option<Tensor<2, Bool>>,
    ) -> Result<Tensor<3>, ModelError> {
        let memory = self.encode(src, src_pad.clone())?;
        let ctx = DecoderContext { memory, memory_pad: src_pad, target_pad: tgt_pad };
        Ok(self.decode(tgt_in, &ctx)?.0)
    }
}
