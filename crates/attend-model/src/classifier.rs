//! Sequence → vector: judging a whole text, e.g. its sentiment. The text is
//! encoded, pooled into one vector and mapped to class scores.
//!
//! - Transformer encoder (Vaswani et al., 2017) with mean pooling over the real
//!   tokens, or a classification token in front whose output is the text's
//!   vector (Devlin et al., 2019, "BERT").
//! - (Bi)LSTM (Hochreiter & Schmidhuber, 1997) whose final states (both
//!   directions, taken at each text's true length) are the text's vector, or
//!   the mean or the maximum of its outputs over the real positions (max
//!   pooling: Collobert et al., 2011; Conneau et al., 2017, "InferSent").
//! - A bag of n-grams (Joulin et al., 2017, "Bag of Tricks for Efficient Text
//!   Classification", the fastText classifier): the mean (or maximum) of the
//!   embeddings of the text's words and word n-grams, with no encoder, so word
//!   order enters only through the n-grams. A fast, strong baseline on short
//!   texts, and a different kind of model to ensemble with the others.

use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::attention::padding_mask;
use crate::embedding::{TokenEmbedding, TokenEmbeddingConfig};
use crate::encoder::{Encoder, EncoderConfig};
use crate::error::ModelError;
use crate::positional::{PositionalEncoding, PositionalEncodingConfig, PositionalKind};
use crate::recurrent::{CellKind, Recurrent, RecurrentConfig};

/// How a classifier turns token vectors into one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Mean of the outputs at the real (non-padding) positions.
    #[default]
    Mean,
    /// The output at a classification token put in front of the text (Transformer).
    Cls,
    /// Element-wise maximum of the outputs over the real positions.
    Max,
    /// The final states of the top layer (both directions) at each text's
    /// true length (LSTM).
    Final,
}

/// Which encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassifierArch {
    Transformer,
    Lstm,
    /// Bag of n-grams (fastText): embeddings pooled with no encoder.
    Bag,
}

/// Configuration of a [`Classifier`].
#[derive(Config, Debug)]
pub struct ClassifierConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Number of classes.
    pub classes: usize,
    /// Transformer, LSTM or bag of n-grams.
    #[config(default = "ClassifierArch::Transformer")]
    pub arch: ClassifierArch,
    /// Width of embeddings and hidden states.
    #[config(default = 128)]
    pub d_model: usize,
    /// Attention heads (Transformer).
    #[config(default = 4)]
    pub n_heads: usize,
    /// Feed-forward width (Transformer).
    #[config(default = 256)]
    pub d_ff: usize,
    /// Encoder layers.
    #[config(default = 2)]
    pub layers: usize,
    /// Dropout.
    #[config(default = 0.3)]
    pub dropout: f64,
    /// Longest text in tokens (Transformer positions).
    #[config(default = 128)]
    pub max_len: usize,
    /// Pooling: `mean` or `max` (both), `cls` (Transformer) or `final` (LSTM).
    #[config(default = "Pooling::Mean")]
    pub pooling: Pooling,
    /// Read the text in both directions (LSTM).
    #[config(default = true)]
    pub bidirectional: bool,
    /// Pre-LN Transformer layers.
    #[config(default = true)]
    pub norm_first: bool,
}

/// A text classifier.
#[derive(Module, Debug)]
pub enum Classifier {
    Transformer(TransformerClassifier),
    Lstm(LstmClassifier),
    Bag(BagClassifier),
}

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

/// (Bi)LSTM + pooling + linear layer.
#[derive(Module, Debug)]
pub struct LstmClassifier {
    pub embed: Embedding,
    pub rnn: Recurrent,
    pub dropout: Dropout,
    pub output: Linear,
    #[module(skip)]
    pub pooling: Pooling,
}

/// Bag of n-grams: embeddings + pooling + linear layer.
#[derive(Module, Debug)]
pub struct BagClassifier {
    pub embed: Embedding,
    pub dropout: Dropout,
    pub output: Linear,
    #[module(skip)]
    pub pooling: Pooling,
}

impl ClassifierConfig {
    /// Builds the classifier.
    pub fn init(&self, device: &Device) -> Result<Classifier, ModelError> {
        if self.classes < 2 || self.vocab_size == 0 || self.layers == 0 || self.d_model == 0 {
            return Err(ModelError::Invalid("a classifier needs ≥ 2 classes, a vocabulary, ≥ 1 layer and d_model ≥ 1".into()));
        }
        let dropout = DropoutConfig::new(self.dropout).init();
        Ok(match self.arch {
            ClassifierArch::Transformer => {
                if self.pooling == Pooling::Final {
                    return Err(ModelError::Invalid("a Transformer classifier pools by `mean`, `max` or `cls`, not `final`".into()));
                }
                if self.n_heads == 0 || self.d_model % self.n_heads != 0 {
                    return Err(ModelError::Invalid(format!("d_model {} must be divisible by n_heads {}", self.d_model, self.n_heads)));
                }
                Classifier::Transformer(TransformerClassifier {
                    embed: TokenEmbeddingConfig::new(self.vocab_size, self.d_model).init(device),
                    positional: PositionalEncodingConfig::new(self.d_model)
                        .with_max_len(self.max_len + 1)
                        .with_kind(PositionalKind::Sinusoidal)
                        .init(device),
                    encoder: EncoderConfig::new(self.d_model, self.n_heads, self.d_ff, self.layers)
                        .with_dropout(self.dropout)
                        .with_norm_first(self.norm_first)
                        .init(device),
                    cls: EmbeddingConfig::new(1, self.d_model).with_initializer(Initializer::Normal { mean: 0.0, std: 0.02 }).init(device),
                    dropout,
                    output: LinearConfig::new(self.d_model, self.classes).init(device),
                    pooling: self.pooling,
                })
            }
            ClassifierArch::Lstm => {
                if self.pooling == Pooling::Cls {
                    return Err(ModelError::Invalid("an LSTM classifier pools by `final`, `mean` or `max`, not `cls`".into()));
                }
                let dirs = if self.bidirectional { 2 } else { 1 };
                Classifier::Lstm(LstmClassifier {
                    embed: EmbeddingConfig::new(self.vocab_size, self.d_model)
                        .with_initializer(Initializer::Normal { mean: 0.0, std: 0.1 })
                        .init(device),
                    rnn: RecurrentConfig::new(CellKind::Lstm, self.d_model, self.d_model)
                        .with_n_layers(self.layers)
                        .with_dropout(self.dropout)
                        .with_bidirectional(self.bidirectional)
                        .init(device),
                    dropout,
                    output: LinearConfig::new(dirs * self.d_model, self.classes).init(device),
                    pooling: self.pooling,
                })
            }
            ClassifierArch::Bag => {
                if !matches!(self.pooling, Pooling::Mean | Pooling::Max) {
                    return Err(ModelError::Invalid("a bag-of-n-grams classifier pools by `mean` or `max`".into()));
                }
                Classifier::Bag(BagClassifier {
                    embed: EmbeddingConfig::new(self.vocab_size, self.d_model)
                        .with_initializer(Initializer::Normal { mean: 0.0, std: 0.1 })
                        .init(device),
                    dropout,
                    output: LinearConfig::new(self.d_model, self.classes).init(device),
                    pooling: self.pooling,
                })
            }
        })
    }
}

/// Mean or maximum of `h` `[batch, seq, d]` over the positions where `pad`
/// `[batch, seq]` is false (each text's `lengths`) → `[batch, d]`.
fn pool(h: Tensor<3>, pad: &Tensor<2, Bool>, lengths: &[usize], how: Pooling) -> Tensor<2> {
    let [batch, seq, d] = h.dims();
    let pad = pad.clone().reshape([batch, seq, 1]).expand([batch, seq, d]); // [batch, seq, d]
    if how == Pooling::Max {
        return h.mask_fill(pad, f32::NEG_INFINITY).max_dim(1).reshape([batch, d]); // [batch, d]
    }
    let n: Vec<f32> = lengths.iter().map(|&l| l.max(1) as f32).collect();
    let n = Tensor::<1>::from_data(TensorData::new(n, [batch]), &h.device()).reshape([batch, 1]);
    h.mask_fill(pad, 0.0).sum_dim(1).reshape([batch, d]) / n // [batch, d]
}

impl Classifier {
    /// Class scores `[batch, classes]` of padded token ids `[batch, seq]`
    /// whose true lengths are `lengths`.
    pub fn forward(&self, ids: Tensor<2, Int>, lengths: &[usize]) -> Tensor<2> {
        let [batch, seq] = ids.dims();
        let device = ids.device();
        match self {
            Classifier::Transformer(m) => {
                let x = m.embed.forward(ids); // [batch, seq, d_model]
                let d = x.dims()[2];
                let (x, pad, lengths): (Tensor<3>, _, Vec<usize>) = match m.pooling {
                    Pooling::Mean | Pooling::Max | Pooling::Final => (x, padding_mask(lengths, seq, &device), lengths.to_vec()),
                    Pooling::Cls => {
                        let cls = m.cls.weight.val().reshape([1, 1, d]).repeat_dim(0, batch); // [batch, 1, d_model]
                        let with: Vec<usize> = lengths.iter().map(|l| l + 1).collect();
                        (Tensor::cat(vec![cls, x], 1), padding_mask(&with, seq + 1, &device), with)
                    }
                };
                let h = m.encoder.forward(m.dropout.forward(m.positional.forward(x, 0)), Some(pad.clone())); // [batch, s, d_model]
                let pooled = match m.pooling {
                    Pooling::Cls => h.slice([0..batch, 0..1, 0..d]).reshape([batch, d]),
                    _ => pool(h, &pad, &lengths, m.pooling),
                };
                m.output.forward(m.dropout.forward(pooled))
            }
            Classifier::Lstm(m) => {
                let pad = padding_mask(lengths, seq, &device);
                let x = m.dropout.forward(m.embed.forward(ids)); // [batch, seq, d_model]
                let (h, finals) = m.rnn.forward(x, Some(&pad)); // h: [batch, seq, dirs * d_model]
                let pooled = match m.pooling {
                    Pooling::Mean | Pooling::Max => pool(h, &pad, lengths, m.pooling),
                    _ => {
                        // Final hidden states of the top layer: forward, then backward when bidirectional.
                        let layers = m.rnn.forward.len();
                        let mut top = vec![finals[layers - 1].h.clone()];
                        if !m.rnn.backward.is_empty() {
                            top.push(finals[2 * layers - 1].h.clone());
                        }
                        Tensor::cat(top, 1) // [batch, dirs * d_model]
                    }
                };
                m.output.forward(m.dropout.forward(pooled)) // [batch, classes]
            }
            Classifier::Bag(m) => {
                let pad = padding_mask(lengths, seq, &device);
                let pooled = pool(m.embed.forward(ids), &pad, lengths, m.pooling); // [batch, d_model]
                m.output.forward(m.dropout.forward(pooled)) // [batch, classes]
            }
        }
    }
}
