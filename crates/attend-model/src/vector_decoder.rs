//! Vector → sequence: a recurrent decoder that writes a sequence from one
//! given vector — the mode of image captioning (Vinyals et al., 2015, "Show
//! and Tell"), here used to spell a word from its word2vec vector. The vector,
//! through a linear bridge, is the decoder's initial state, and it is also
//! fed again at every step next to the previous token, so the decoder can
//! consult it throughout instead of having to carry it in its state.

use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::tanh;

use crate::error::ModelError;
use crate::recurrent::{Cell, CellKind, RecurrentState};

/// Configuration of a [`VectorDecoder`].
#[derive(Config, Debug)]
pub struct VectorDecoderConfig {
    /// Width of the given vectors.
    pub d_vector: usize,
    /// Output vocabulary size (specials included).
    pub vocab: usize,
    /// The cell.
    #[config(default = "CellKind::Gru")]
    pub cell: CellKind,
    /// Width of the output-token embeddings.
    #[config(default = 32)]
    pub d_embed: usize,
    /// Hidden width.
    #[config(default = 256)]
    pub d_hidden: usize,
    /// Stacked layers.
    #[config(default = 1)]
    pub n_layers: usize,
    /// Dropout on the inputs and outputs of the layers.
    #[config(default = 0.1)]
    pub dropout: f64,
}

impl VectorDecoderConfig {
    /// Builds the decoder.
    pub fn init(&self, device: &Device) -> Result<VectorDecoder, ModelError> {
        crate::error::check_dropout(self.dropout)?;
        crate::size::check_fits(self.param_count(), 4, "the model's weights")?;
        if self.d_vector == 0 || self.vocab == 0 || self.d_hidden == 0 || self.n_layers == 0 {
            return Err(ModelError::Invalid("a vector decoder needs d_vector, vocab, d_hidden and n_layers above 0".into()));
        }
        let width = |l: usize| if l == 0 { self.d_embed + self.d_vector } else { self.d_hidden };
        Ok(VectorDecoder {
            bridge: LinearConfig::new(self.d_vector, self.d_hidden).init(device),
            embed: EmbeddingConfig::new(self.vocab, self.d_embed).init(device),
            cells: (0..self.n_layers).map(|l| Cell::new(self.cell, width(l), self.d_hidden, device)).collect(),
            output: LinearConfig::new(self.d_hidden, self.vocab).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
        })
    }
}

/// Bridge → recurrent cells → token logits.
#[derive(Module, Debug)]
pub struct VectorDecoder {
    /// Maps the vector to the initial hidden state.
    pub bridge: Linear,
    pub embed: Embedding,
    pub cells: Vec<Cell>,
    pub output: Linear,
    pub dropout: Dropout,
}

impl VectorDecoder {
    fn initial(&self, vectors: &Tensor<2>) -> RecurrentState {
        let h = tanh(self.bridge.forward(vectors.clone())); // [batch, d_hidden]
        let c = (self.cells[0].kind() == CellKind::Lstm).then(|| h.zeros_like());
        RecurrentState { h, c }
    }

    /// Teacher-forced logits `[batch, seq, vocab]` for `vectors` `[batch, d_vector]`
    /// and decoder inputs `tgt_in` `[batch, seq]` (`<bos> y1 … yn`); `pad`
    /// `[batch, seq]` marks padding.
    pub fn forward(&self, vectors: Tensor<2>, tgt_in: Tensor<2, Int>, pad: Option<&Tensor<2, Bool>>) -> Tensor<3> {
        let [batch, seq] = tgt_in.dims();
        let d_vector = vectors.dims()[1];
        let emb = self.embed.forward(tgt_in); // [batch, seq, d_embed]
        let repeated = vectors.clone().unsqueeze_dim::<3>(1).expand([batch, seq, d_vector]); // [batch, seq, d_vector]
        let mut input = crate::fused::dropout(&self.dropout, Tensor::cat(vec![emb, repeated], 2)); // [batch, seq, d_embed + d_vector]
        let init = self.initial(&vectors);
        for cell in &self.cells {
            let (out, _) = cell.run(input, pad, false, init.clone()); // [batch, seq, d_hidden]
            input = crate::fused::dropout(&self.dropout, out);
        }
        crate::dense::linear(&self.output, input) // [batch, seq, vocab]
    }

    /// Greedy decoding: for each vector, the tokens after `bos` up to (not
    /// including) `eos`, at most `max_len` of them.
    pub fn greedy(&self, vectors: Tensor<2>, bos: u32, eos: u32, max_len: usize) -> Result<Vec<Vec<u32>>, ModelError> {
        let [batch, _] = vectors.dims();
        let device = vectors.device();
        let mut states = vec![self.initial(&vectors); self.cells.len()];
        let mut token = Tensor::<1, Int>::full([batch], bos as i64, &device);
        let mut out: Vec<Vec<u32>> = vec![Vec::new(); batch];
        let mut done = vec![false; batch];
        for _ in 0..max_len {
            let emb = self.embed.forward(token.reshape([batch, 1])); // [batch, 1, d_embed]
            let mut input = Tensor::cat(vec![emb, vectors.clone().unsqueeze_dim::<3>(1)], 2); // [batch, 1, d_in]
            for (l, cell) in self.cells.iter().enumerate() {
                let xs: Vec<Tensor<2>> = cell.project(input).into_iter().map(|p| p.squeeze_dim::<2>(1)).collect();
                states[l] = cell.step(&xs, states[l].clone());
                input = states[l].h.clone().unsqueeze_dim::<3>(1);
            }
            let logits = self.output.forward(input.squeeze_dim::<2>(1)); // [batch, vocab]
            token = logits.argmax(1).reshape([batch]);
            let ids: Vec<i64> = token.clone().try_to_vec_as::<i64>().map_err(|e| ModelError::Invalid(format!("reading decoded tokens: {e:?}")))?;
            for (b, &id) in ids.iter().enumerate() {
                if done[b] {
                    continue;
                }
                if id as u32 == eos {
                    done[b] = true;
                } else {
                    out[b].push(id as u32);
                }
            }
            if done.iter().all(|&d| d) {
                break;
            }
        }
        Ok(out)
    }
}
