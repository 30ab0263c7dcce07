//! A (bi)LSTM classifier (Hochreiter & Schmidhuber, 1997): the final states of
//! the top layer (both directions, taken at each text's true length) are the
//! text's vector, or the mean or the maximum of its outputs over the real
//! positions (max pooling: Collobert et al., 2011; Conneau et al., 2017,
//! "InferSent").

use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig};
use burn::prelude::*;

use super::{pool, ClassifierConfig, Pooling};
use crate::attention::padding_mask;
use crate::error::ModelError;
use crate::recurrent::{CellKind, Recurrent, RecurrentConfig};

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

impl LstmClassifier {
    /// Builds the classifier of `c` (which pools by `final`, `mean` or `max`).
    pub fn init(c: &ClassifierConfig, device: &Device) -> Result<Self, ModelError> {
        if c.pooling == Pooling::Cls {
            return Err(ModelError::Invalid("an LSTM classifier pools by `final`, `mean` or `max`, not `cls`".into()));
        }
        let dirs = if c.bidirectional { 2 } else { 1 };
        Ok(Self {
            embed: EmbeddingConfig::new(c.vocab_size, c.d_model).with_initializer(Initializer::Normal { mean: 0.0, std: 0.1 }).init(device),
            rnn: RecurrentConfig::new(CellKind::Lstm, c.d_model, c.d_model)
                .with_n_layers(c.layers)
                .with_dropout(c.dropout)
                .with_bidirectional(c.bidirectional)
                .init(device),
            dropout: DropoutConfig::new(c.dropout).init(),
            output: LinearConfig::new(dirs * c.d_model, c.classes).init(device),
            pooling: c.pooling,
        })
    }

    /// Class scores `[batch, classes]` of padded ids `[batch, seq]` with true `lengths`.
    pub fn forward(&self, ids: Tensor<2, Int>, lengths: &[usize]) -> Tensor<2> {
        let [_, seq] = ids.dims();
        let pad = padding_mask(lengths, seq, &ids.device());
        let x = crate::fused::dropout(&self.dropout, self.embed.forward(ids)); // [batch, seq, d_model]
        let (h, finals) = self.rnn.forward(x, Some(&pad)); // h: [batch, seq, dirs * d_model]
        let pooled = match self.pooling {
            Pooling::Mean | Pooling::Max => pool(h, &pad, lengths, self.pooling),
            _ => {
                // Final hidden states of the top layer: forward, then backward when bidirectional.
                let layers = self.rnn.forward.len();
                let mut top = vec![finals[layers - 1].h.clone()];
                if !self.rnn.backward.is_empty() {
                    top.push(finals[2 * layers - 1].h.clone());
                }
                Tensor::cat(top, 1) // [batch, dirs * d_model]
            }
        };
        self.output.forward(crate::fused::dropout(&self.dropout, pooled)) // [batch, classes]
    }
}
