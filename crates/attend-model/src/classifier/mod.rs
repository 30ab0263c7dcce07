//! Sequence → vector: judging a whole text, e.g. its sentiment. The text is
//! encoded, pooled into one vector and mapped to class scores, by one of three
//! architectures, each in its own file:
//!
//! - [`transformer`]: a Transformer encoder (Vaswani et al., 2017) with mean or
//!   max pooling, or a classification token (Devlin et al., 2019, "BERT");
//! - [`lstm`]: a (bi)LSTM (Hochreiter & Schmidhuber, 1997) whose final states,
//!   or the mean or maximum of its outputs, are the text's vector;
//! - [`bag`]: a bag of n-grams (Joulin et al., 2017, the fastText classifier).

pub mod bag;
pub mod lstm;
pub mod transformer;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

pub use bag::BagClassifier;
pub use lstm::LstmClassifier;
pub use transformer::TransformerClassifier;

use crate::error::ModelError;

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

impl ClassifierConfig {
    /// Builds the classifier.
    pub fn init(&self, device: &Device) -> Result<Classifier, ModelError> {
        crate::error::check_dropout(self.dropout)?;
        crate::size::check_fits(self.param_count().saturating_add(self.position_table()), 4, "the model's weights and position table")?;
        if self.classes < 2 || self.vocab_size == 0 || self.layers == 0 || self.d_model == 0 {
            return Err(ModelError::Invalid("a classifier needs ≥ 2 classes, a vocabulary, ≥ 1 layer and d_model ≥ 1".into()));
        }
        Ok(match self.arch {
            ClassifierArch::Transformer => Classifier::Transformer(TransformerClassifier::init(self, device)?),
            ClassifierArch::Lstm => Classifier::Lstm(LstmClassifier::init(self, device)?),
            ClassifierArch::Bag => Classifier::Bag(BagClassifier::init(self, device)?),
        })
    }
}

/// Mean or maximum of `h` `[batch, seq, d]` over the positions where `pad`
/// `[batch, seq]` is false (each text's `lengths`) → `[batch, d]`.
pub(crate) fn pool(h: Tensor<3>, pad: &Tensor<2, Bool>, lengths: &[usize], how: Pooling) -> Tensor<2> {
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
        match self {
            Classifier::Transformer(m) => m.forward(ids, lengths),
            Classifier::Lstm(m) => m.forward(ids, lengths),
            Classifier::Bag(m) => m.forward(ids, lengths),
        }
    }
}
