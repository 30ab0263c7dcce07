//! A bag of n-grams (Joulin et al., 2017, "Bag of Tricks for Efficient Text
//! Classification", the fastText classifier): the mean (or maximum) of the
//! embeddings of the text's words and word n-grams, with no encoder, so word
//! order enters only through the n-grams. A fast, strong baseline on short
//! texts, and a different kind of model to ensemble with the others.

use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig};
use burn::prelude::*;

use super::{pool, ClassifierConfig, Pooling};
use crate::attention::padding_mask;
use crate::error::ModelError;

/// Bag of n-grams: embeddings + pooling + linear layer.
#[derive(Module, Debug)]
pub struct BagClassifier {
    pub embed: Embedding,
    pub dropout: Dropout,
    pub output: Linear,
    #[module(skip)]
    pub pooling: Pooling,
}

impl BagClassifier {
    /// Builds the classifier of `c` (which pools by `mean` or `max`).
    pub fn init(c: &ClassifierConfig, device: &Device) -> Result<Self, ModelError> {
        if !matches!(c.pooling, Pooling::Mean | Pooling::Max) {
            return Err(ModelError::Invalid("a bag-of-n-grams classifier pools by `mean` or `max`".into()));
        }
        Ok(Self {
            embed: EmbeddingConfig::new(c.vocab_size, c.d_model).with_initializer(Initializer::Normal { mean: 0.0, std: 0.1 }).init(device),
            dropout: DropoutConfig::new(c.dropout).init(),
            output: LinearConfig::new(c.d_model, c.classes).init(device),
            pooling: c.pooling,
        })
    }

    /// Class scores `[batch, classes]` of padded ids `[batch, seq]` with true `lengths`.
    pub fn forward(&self, ids: Tensor<2, Int>, lengths: &[usize]) -> Tensor<2> {
        let [_, seq] = ids.dims();
        let pad = padding_mask(lengths, seq, &ids.device());
        let pooled = pool(self.embed.forward(ids), &pad, lengths, self.pooling); // [batch, d_model]
        self.output.forward(crate::fused::dropout(&self.dropout, pooled)) // [batch, classes]
    }
}
