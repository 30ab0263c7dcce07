//! Decoder-only Transformer language model (Radford et al., 2018, "Improving
//! Language Understanding by Generative Pre-Training"; pre-LN as GPT-2): token
//! and position embeddings, a stack of self-attention blocks under a causal
//! mask (each position sees only itself and the past), a final LayerNorm and
//! an output projection tied to the token embedding. It predicts the next
//! token at every position.
//!
//! Generation feeds one token at a time; a key/value cache keeps every
//! block's keys and values of the past positions so that a step costs one
//! position, not the whole prefix ([`Gpt::forward_cached`]).

use burn::module::Param;
use burn::nn::{Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig};
use burn::prelude::*;

use crate::fused::norm;

use crate::encoder::{EncoderConfig, EncoderLayer};
use crate::error::ModelError;
use crate::feed_forward::Activation;
use crate::multi_head::AttentionMasks;
use crate::positional::{PositionalEncoding, PositionalEncodingConfig, PositionalKind};

/// Configuration of a [`Gpt`].
#[derive(Config, Debug)]
pub struct GptConfig {
    /// Number of tokens in the vocabulary.
    pub vocab_size: usize,
    /// Longest context, in tokens (the block size).
    #[config(default = 64)]
    pub context: usize,
    /// Model width.
    #[config(default = 128)]
    pub d_model: usize,
    /// Attention heads.
    #[config(default = 4)]
    pub n_heads: usize,
    /// Blocks.
    #[config(default = 4)]
    pub n_layers: usize,
    /// Feed-forward inner width.
    #[config(default = 512)]
    pub d_ff: usize,
    /// Dropout on embeddings, attention weights and residual branches.
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Learned (GPT) or sinusoidal positions.
    #[config(default = "PositionalKind::Learned")]
    pub positional: PositionalKind,
    /// Biases in the Linear and LayerNorm layers (GPT-2 has them; nanoGPT's
    /// default leaves them out, "a bit better and faster").
    #[config(default = true)]
    pub bias: bool,
}

// `Param::from_tensor` marks the new values as trainable (a bare
// `Param::initialized` would leave them out of autodiff).
fn normal(p: &mut Param<Tensor<2>>, std: f64, device: &Device) {
    *p = Param::from_tensor(Tensor::random(p.dims(), burn::tensor::Distribution::Normal(0.0, std), device));
}

// Zero bias, or none at all without biases.
fn zero(p: &mut Option<Param<Tensor<1>>>, bias: bool, device: &Device) {
    match p {
        Some(b) if bias => *b = Param::from_tensor(Tensor::zeros(b.dims(), device)),
        _ => *p = None,
    }
}

impl GptConfig {
    /// Builds the model with GPT-2's initialisation: weights N(0, 0.02), the
    /// two residual output projections of each block N(0, 0.02/√(2·layers)),
    /// biases zero (or none, with `bias = false`).
    pub fn init(&self, device: &Device) -> Result<Gpt, ModelError> {
        crate::error::check_dropout(self.dropout)?;
        crate::size::check_fits(self.param_count(), 4, "the model's weights")?;
        if self.d_model == 0 || self.d_ff == 0 {
            return Err(ModelError::Invalid("d_model and d_ff must be at least 1".into()));
        }
        if self.vocab_size == 0 || self.context == 0 || self.n_layers == 0 {
            return Err(ModelError::Invalid("vocab_size, context and n_layers must be at least 1".into()));
        }
        if self.n_heads == 0 || self.d_model % self.n_heads != 0 {
            return Err(ModelError::Invalid(format!(
                "d_model {} must be divisible by n_heads {}",
                self.d_model, self.n_heads
            )));
        }
        let block = EncoderConfig::new(self.d_model, self.n_heads, self.d_ff, self.n_layers)
            .with_dropout(self.dropout)
            .with_norm_first(true)
            .with_activation(Activation::Gelu);
        let residual_std = 0.02 / (2.0 * self.n_layers as f64).sqrt();
        let blocks = (0..self.n_layers)
            .map(|_| {
                let mut b = block.init_layer(device);
                let a = &mut b.self_attn;
                for (lin, std) in [(&mut a.query, 0.02), (&mut a.key, 0.02), (&mut a.value, 0.02), (&mut a.output, residual_std)] {
                    normal(&mut lin.weight, std, device);
                    zero(&mut lin.bias, self.bias, device);
                }
                normal(&mut b.ff.linear_inner.weight, 0.02, device);
                zero(&mut b.ff.linear_inner.bias, self.bias, device);
                normal(&mut b.ff.linear_outer.weight, residual_std, device);
                zero(&mut b.ff.linear_outer.bias, self.bias, device);
                zero(&mut b.norm_attn.beta, self.bias, device);
                zero(&mut b.norm_ff.beta, self.bias, device);
                b
            })
            .collect();
        Ok(Gpt {
            token: EmbeddingConfig::new(self.vocab_size, self.d_model)
                .with_initializer(Initializer::Normal { mean: 0.0, std: 0.02 })
                .init(device),
            positions: PositionalEncodingConfig::new(self.d_model).with_max_len(self.context).with_kind(self.positional).init(device),
            blocks,
            norm: LayerNormConfig::new(self.d_model).with_bias(self.bias).init(device),
            dropout: burn::nn::DropoutConfig::new(self.dropout).init(),
            context: self.context,
        })
    }
}

/// A GPT-style language model.
#[derive(Module, Debug)]
pub struct Gpt {
    /// Token vectors, also the output projection.
    pub token: Embedding,
    pub positions: PositionalEncoding,
    pub blocks: Vec<EncoderLayer>,
    /// The final LayerNorm.
    pub norm: LayerNorm,
    pub dropout: burn::nn::Dropout,
    pub context: usize,
}

/// Keys and values of the positions seen so far, per block.
#[derive(Debug, Clone)]
pub struct KvCache {
    layers: Vec<(Tensor<4>, Tensor<4>)>,
    len: usize,
}

impl KvCache {
    /// Positions held.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether no position is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Gpt {
    fn logits(&self, h: Tensor<3>) -> Tensor<3> {
        crate::embedding::tied_logits(norm(&self.norm, h), self.token.weight.val()) // [batch, seq, vocab]
    }

    fn check(&self, start: usize, n: usize) -> Result<(), ModelError> {
        if start + n > self.context {
            return Err(ModelError::Invalid(format!(
                "{} positions exceed the model's context of {}",
                start + n,
                self.context
            )));
        }
        Ok(())
    }

    /// Next-token logits at every position of `ids` `[batch, seq]`: `[batch, seq, vocab]`.
    pub fn forward(&self, ids: Tensor<2, Int>) -> Result<Tensor<3>, ModelError> {
        let [_, seq] = ids.dims();
        self.check(0, seq)?;
        let device = ids.device();
        let mut x = crate::fused::dropout(&self.dropout, self.positions.forward(self.token.forward(ids), 0)); // [batch, seq, d_model]
        let mask = crate::attention::causal_mask(seq, &device);
        for block in &self.blocks {
            x = block.forward_masked(x, AttentionMasks { key_pad: None, attn: Some(mask.clone()) });
        }
        Ok(self.logits(x))
    }

    /// Logits of the new tokens `ids` `[batch, n]` that follow the positions
    /// in `cache` (none when `cache` is `None`), which is extended with them.
    /// Gives the same logits as [`Self::forward`] over the whole sequence.
    pub fn forward_cached(&self, ids: Tensor<2, Int>, cache: &mut Option<KvCache>) -> Result<Tensor<3>, ModelError> {
        let [_, n] = ids.dims();
        let past = cache.as_ref().map_or(0, |c| c.len);
        self.check(past, n)?;
        let device = ids.device();
        let mut x = crate::fused::dropout(&self.dropout, self.positions.forward(self.token.forward(ids), past)); // [batch, n, d_model]
        // New position i (absolute past + i) may see keys 0..=past + i.
        let mask = Tensor::<2, Bool>::tril_mask([n, past + n], past as i64, &device); // [n, past+n]
        let mut layers = Vec::with_capacity(self.blocks.len());
        for (l, block) in self.blocks.iter().enumerate() {
            let kv = cache.as_ref().map(|c| c.layers[l].clone());
            let (y, kv) = block.forward_cached(x, kv, AttentionMasks { key_pad: None, attn: Some(mask.clone()) });
            x = y;
            layers.push(kv);
        }
        *cache = Some(KvCache { layers, len: past + n });
        Ok(self.logits(x))
    }
}
