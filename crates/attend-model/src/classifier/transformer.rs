//! A Transformer-encoder classifier (Vaswani et al., 2017): token embeddings
//! and sinusoidal positions, a stack of encoder layers, then the mean or the
//! maximum of the outputs over the real tokens, or a classification token put
//! in front whose output is the text's vector (Devlin et al., 2019, "BERT").

use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig};
use burn::prelude::*;

use super::{pool, ClassifierConfig, Pooling};
use crate::attention::padding_mask;
use crate::embedding::{TokenEmbedding, TokenEmbeddingConfig};
use crate::encoder::{Encoder, EncoderConfig};
use crate::error::ModelError;
use crate::positional::{PositionalEncoding, PositionalEncodingConfig, PositionalKind};

/// Transformer encoder + pooling + linear layer.
#[derive(Module, Debug)]
pub struct TransformerClassifier {
    pub embed: TokenEmbedding,
    pub positional: PositionalEncoding,
    pub encoder: Encoder,
    /// The classification token's vector (used with `Pooling::Cls`).
    pub cls: Embedding,
    pub dropout: Dropout,
    pub output: Linear,
    #[module(skip)]
    pub pooling: Pooling,
}

impl TransformerClassifier {
    /// Builds the classifier of `c` (which pools by `mean`, `max` or `cls`).
    pub fn init(c: &ClassifierConfig, device: &Device) -> Result<Self, ModelError> {
        if c.pooling == Pooling::Final {
            return Err(ModelError::Invalid("a Transformer classifier pools by `mean`, `max` or `cls`, not `final`".into()));
        }
        if c.n_heads == 0 || c.d_model % c.n_heads != 0 {
            return Err(ModelError::Invalid(format!("d_model {} must be divisible by n_heads {}", c.d_model, c.n_heads)));
        }
        Ok(Self {
            embed: TokenEmbeddingConfig::new(c.vocab_size, c.d_model).init(device),
            positional: PositionalEncodingConfig::new(c.d_model)
                .with_max_len(c.max_len + 1)
                .with_kind(PositionalKind::Sinusoidal)
                .init(device),
            encoder: EncoderConfig::new(c.d_model, c.n_heads, c.d_ff, c.layers)
                .with_dropout(c.dropout)
                .with_norm_first(c.norm_first)
                .init(device),
            cls: EmbeddingConfig::new(1, c.d_model).with_initializer(Initializer::Normal { mean: 0.0, std: 0.02 }).init(device),
            dropout: DropoutConfig::new(c.dropout).init(),
            output: LinearConfig::new(c.d_model, c.classes).init(device),
            pooling: c.pooling,
        })
    }

    /// Class scores `[batch, classes]` of padded ids `[batch, seq]` with true `lengths`.
    pub fn forward(&self, ids: Tensor<2, Int>, lengths: &[usize]) -> Tensor<2> {
        let [batch, seq] = ids.dims();
        let device = ids.device();
        let x = self.embed.forward(ids); // [batch, seq, d_model]
        let d = x.dims()[2];
        let (x, pad, lengths): (Tensor<3>, _, Vec<usize>) = match self.pooling {
            Pooling::Mean | Pooling::Max | Pooling::Final => (x, padding_mask(lengths, seq, &device), lengths.to_vec()),
            Pooling::Cls => {
                let cls = self.cls.weight.val().reshape([1, 1, d]).repeat_dim(0, batch); // [batch, 1, d_model]
                let with: Vec<usize> = lengths.iter().map(|l| l + 1).collect();
                (Tensor::cat(vec![cls, x], 1), padding_mask(&with, seq + 1, &device), with)
            }
        };
        let h = self.encoder.forward(crate::fused::dropout(&self.dropout, self.positional.forward(x, 0)), Some(pad.clone())); // [batch, s, d_model]
        let pooled = match self.pooling {
            Pooling::Cls => h.slice([0..batch, 0..1, 0..d]).reshape([batch, d]), // [batch, d_model]
            _ => pool(h, &pad, &lengths, self.pooling),
        };
        self.output.forward(crate::fused::dropout(&self.dropout, pooled)) // [batch, classes]
    }
}
