//! A recurrent language model (Mikolov et al., 2010; the LSTM language model
//! of Zaremba et al., 2014): embed each token, run a (stacked) RNN, LSTM or
//! GRU over the text, and predict the next token from each hidden state —
//! the sequence → sequence mode of the tutorial. Its state carries the whole
//! past, so generation needs no window: the state after the prompt is its
//! "cache", and feeding one token at a time continues it exactly.

use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;

use crate::error::ModelError;
use crate::recurrent::{CellKind, Recurrent, RecurrentConfig, RecurrentState};

/// Configuration of a [`RecurrentLm`].
#[derive(Config, Debug)]
pub struct RecurrentLmConfig {
    /// Vocabulary size.
    pub vocab: usize,
    /// The cell.
    #[config(default = "CellKind::Lstm")]
    pub cell: CellKind,
    /// Embedding and hidden width.
    #[config(default = 256)]
    pub d_model: usize,
    /// Stacked recurrent layers.
    #[config(default = 2)]
    pub n_layers: usize,
    /// Dropout on the embeddings, between layers and before the output.
    #[config(default = 0.2)]
    pub dropout: f64,
    /// Training window (tokens); also the window of windowed evaluation.
    #[config(default = 128)]
    pub context: usize,
}

impl RecurrentLmConfig {
    /// Builds the model.
    pub fn init(&self, device: &Device) -> Result<RecurrentLm, ModelError> {
        crate::error::check_dropout(self.dropout)?;
        crate::size::check_fits(self.param_count(), 4, "the model's weights")?;
        if self.vocab == 0 || self.d_model == 0 || self.n_layers == 0 || self.context == 0 {
            return Err(ModelError::Invalid("a recurrent language model needs vocab, d_model, n_layers and context above 0".into()));
        }
        Ok(RecurrentLm {
            embed: EmbeddingConfig::new(self.vocab, self.d_model).init(device),
            rnn: RecurrentConfig::new(self.cell, self.d_model, self.d_model)
                .with_n_layers(self.n_layers)
                .with_dropout(self.dropout)
                .init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            output: LinearConfig::new(self.d_model, self.vocab).init(device),
            context: self.context,
        })
    }
}

/// Embedding → recurrent layers → next-token logits.
#[derive(Module, Debug)]
pub struct RecurrentLm {
    pub embed: Embedding,
    pub rnn: Recurrent,
    pub dropout: Dropout,
    pub output: Linear,
    pub context: usize,
}

impl RecurrentLm {
    /// Next-token logits `[batch, seq, vocab]` of `ids` `[batch, seq]` from zero states.
    pub fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.forward_state(ids, None).0
    }

    /// As [`forward`](Self::forward), continuing from `state` (the states a
    /// previous call returned); returns the logits and the new states.
    pub fn forward_state(&self, ids: Tensor<2, Int>, state: Option<Vec<RecurrentState>>) -> (Tensor<3>, Vec<RecurrentState>) {
        let x = crate::fused::dropout(&self.dropout, self.embed.forward(ids)); // [batch, seq, d_model]
        let (h, finals) = self.rnn.forward_from(x, None, state); // [batch, seq, d_model]
        (crate::dense::linear(&self.output, crate::fused::dropout(&self.dropout, h)), finals) // [batch, seq, vocab]
    }
}
