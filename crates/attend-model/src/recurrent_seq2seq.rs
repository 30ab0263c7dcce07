//! Recurrent encoder–decoders, the models the Transformer replaced.
//!
//! - Without attention (Sutskever, Vinyals & Le, 2014): the encoder's final
//!   state is the only thing the decoder learns about the source — the whole
//!   input squeezed into one vector.
//! - With attention by alignment (Bahdanau et al., 2014): at each step the
//!   decoder scores its previous state against every encoder state, reads a
//!   context vector, and feeds it to the cell and the output layer.
//!
//! Cells: RNN, LSTM or GRU; the encoder may be bidirectional.

use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::tanh;

use crate::additive_attention::{AlignmentAttention, AlignmentAttentionConfig, Score};
use crate::error::ModelError;
use crate::recurrent::{Cell, CellKind, Recurrent, RecurrentConfig, RecurrentState};

/// Configuration of a [`RecurrentSeq2Seq`].
#[derive(Config, Debug, PartialEq)]
pub struct RecurrentSeq2SeqConfig {
    /// Source vocabulary size.
    pub src_vocab: usize,
    /// Target vocabulary size.
    pub tgt_vocab: usize,
    /// The recurrent cell.
    #[config(default = "CellKind::Lstm")]
    pub cell: CellKind,
    /// Embedding width.
    #[config(default = 256)]
    pub d_embed: usize,
    /// Hidden width of every layer (per direction in the encoder).
    #[config(default = 256)]
    pub d_hidden: usize,
    /// Encoder layers.
    #[config(default = 1)]
    pub encoder_layers: usize,
    /// Decoder layers.
    #[config(default = 1)]
    pub decoder_layers: usize,
    /// Dropout on embeddings, between layers and before the output layer.
    #[config(default = 0.1)]
    pub dropout: f64,
    /// Read the source in both directions.
    #[config(default = false)]
    pub bidirectional: bool,
    /// Attention score, or `None` for no attention.
    pub attention: Option<Score>,
    /// Longest sequence accepted.
    #[config(default = 256)]
    pub max_len: usize,
}

impl RecurrentSeq2SeqConfig {
    /// Builds the model on `device`.
    pub fn init(&self, device: &Device) -> Result<RecurrentSeq2Seq, ModelError> {
        crate::error::check_dropout(self.dropout)?;
        crate::size::check_fits(self.param_count(), 4, "the model's weights")?;
        for (name, v) in [("d_embed", self.d_embed), ("d_hidden", self.d_hidden), ("encoder_layers", self.encoder_layers), ("decoder_layers", self.decoder_layers)] {
            if v == 0 {
                return Err(ModelError::Zero { name });
            }
        }
        let d_enc = self.d_hidden * if self.bidirectional { 2 } else { 1 };
        let ctx = if self.attention.is_some() { d_enc } else { 0 };
        if self.attention == Some(Score::Dot) && d_enc != self.d_hidden {
            return Err(ModelError::Invalid("dot attention needs equal encoder and decoder widths (no bidirectional encoder)".into()));
        }
        let embed = |n| EmbeddingConfig::new(n, self.d_embed).with_initializer(Initializer::Normal { mean: 0.0, std: 0.1 }).init(device);
        Ok(RecurrentSeq2Seq {
            src_embed: embed(self.src_vocab),
            tgt_embed: embed(self.tgt_vocab),
            encoder: RecurrentConfig::new(self.cell, self.d_embed, self.d_hidden)
                .with_n_layers(self.encoder_layers)
                .with_dropout(self.dropout)
                .with_bidirectional(self.bidirectional)
                .init(device),
            bridge: LinearConfig::new(d_enc, self.d_hidden).init(device),
            decoder: (0..self.decoder_layers)
                .map(|l| Cell::new(self.cell, if l == 0 { self.d_embed + ctx } else { self.d_hidden }, self.d_hidden, device))
                .collect(),
            attention: self.attention.map(|score| {
                AlignmentAttentionConfig::new(self.d_hidden, d_enc, self.d_hidden).with_score(score).init(device)
            }),
            output: LinearConfig::new(self.d_hidden + ctx, self.tgt_vocab).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            encoder_layers: self.encoder_layers,
            max_len: self.max_len,
        })
    }
}

/// A recurrent encoder–decoder, with or without attention.
#[derive(Module, Debug)]
pub struct RecurrentSeq2Seq {
    pub src_embed: Embedding,
    pub tgt_embed: Embedding,
    pub encoder: Recurrent,
    /// Maps the encoder's final state to the decoder's initial state.
    pub bridge: Linear,
    pub decoder: Vec<Cell>,
    pub attention: Option<AlignmentAttention>,
    pub output: Linear,
    pub dropout: Dropout,
    pub encoder_layers: usize,
    pub max_len: usize,
}

/// What the decoder needs from the encoder.
#[derive(Debug, Clone)]
pub struct RecurrentMemory {
    /// Encoder outputs `[batch, s_src, d_enc]`.
    pub keys: Tensor<3>,
    /// Key-side part of the attention scores, computed once.
    pub prepared: Option<Tensor<3>>,
    /// `[batch, s_src]`, `true` at padding.
    pub pad: Option<Tensor<2, Bool>>,
    /// The decoder's initial state.
    pub init: RecurrentState,
}

impl RecurrentSeq2Seq {
    /// Encodes source ids `[batch, s_src]`.
    pub fn encode(&self, src: Tensor<2, Int>, pad: Option<Tensor<2, Bool>>) -> Result<RecurrentMemory, ModelError> {
        let len = src.dims()[1];
        if len > self.max_len {
            return Err(ModelError::TooLong { len, max_len: self.max_len });
        }
        let x = crate::fused::dropout(&self.dropout, self.src_embed.forward(src)); // [batch, s_src, d_embed]
        let (keys, finals) = self.encoder.forward(x, pad.as_ref()); // [batch, s_src, d_enc]
        // The top layer's final state (both directions concatenated).
        let top = self.encoder_layers - 1;
        let mut tops = vec![finals[top].clone()];
        if finals.len() > self.encoder_layers {
            tops.push(finals[self.encoder_layers + top].clone());
        }
        let h = Tensor::cat(tops.iter().map(|s| s.h.clone()).collect(), 1); // [batch, d_enc]
        let c = tops[0].c.as_ref().map(|_| Tensor::cat(tops.iter().filter_map(|s| s.c.clone()).collect(), 1));
        let init = RecurrentState { h: tanh(self.bridge.forward(h)), c: c.map(|c| self.bridge.forward(c)) };
        let prepared = self.attention.as_ref().map(|a| a.prepare_keys(keys.clone()));
        Ok(RecurrentMemory { keys, prepared, pad, init })
    }

    /// The decoder's states before the first token: the bridged encoder state in every layer.
    pub fn start_states(&self, memory: &RecurrentMemory) -> Vec<RecurrentState> {
        vec![memory.init.clone(); self.decoder.len()]
    }

    /// One decoder step: the embedded previous token `input` `[batch, d_embed]`
    /// and the states → the features the output layer reads `[batch, d_out]`
    /// (top state, with the attention context when there is attention), the
    /// new states, and the alignment weights `[batch, s_src]`.
    fn step(&self, mut input: Tensor<2>, mut states: Vec<RecurrentState>, memory: &RecurrentMemory) -> (Tensor<2>, Vec<RecurrentState>, Option<Tensor<2>>) {
        let batch = input.dims()[0];
        let mut context = None;
        let mut alignment = None;
        if let (Some(att), Some(prepared)) = (&self.attention, &memory.prepared) {
            let top = states.last().map(|s| s.h.clone()).unwrap_or_else(|| memory.init.h.clone());
            let (ctx, alpha) = att.forward(top, memory.keys.clone(), prepared.clone(), memory.pad.as_ref());
            input = Tensor::cat(vec![input, ctx.clone()], 1);
            context = Some(ctx);
            alignment = Some(alpha); // [batch, s_src]
        }
        for (l, cell) in self.decoder.iter().enumerate() {
            let d_in = input.dims()[1];
            let xs: Vec<Tensor<2>> = cell
                .project(input.clone().reshape([batch, 1, d_in]))
                .into_iter()
                .map(|p| {
                    let d = p.dims()[2];
                    p.reshape([batch, d])
                })
                .collect();
            states[l] = cell.step(&xs, states[l].clone());
            input = crate::fused::dropout(&self.dropout, states[l].h.clone());
        }
        let top = states.last().map(|s| s.h.clone()).expect("at least one decoder layer");
        let out = match context {
            Some(ctx) => Tensor::cat(vec![top, ctx], 1),
            None => top,
        };
        (out, states, alignment)
    }

    /// Decodes one token per sentence, `token` `[batch]`, from `states`:
    /// logits `[batch, vocab]` of the next token, the new states (the
    /// recurrent state carries the prefix, so each step costs the same) and,
    /// with attention, the alignment weights `[batch, s_src]` of this step.
    pub fn decode_step(&self, token: Tensor<1, Int>, states: Vec<RecurrentState>, memory: &RecurrentMemory) -> (Tensor<2>, Vec<RecurrentState>, Option<Tensor<2>>) {
        let batch = token.dims()[0];
        let emb = crate::fused::dropout(&self.dropout, self.tgt_embed.forward(token.reshape([batch, 1]))); // [batch, 1, d_embed]
        let d_embed = emb.dims()[2];
        let (out, states, alignment) = self.step(emb.reshape([batch, d_embed]), states, memory);
        (self.output.forward(crate::fused::dropout(&self.dropout, out)), states, alignment) // [batch, vocab]
    }

    /// Teacher-forced decoding of `tgt_in` `[batch, s_tgt]`: logits `[batch, s_tgt, vocab]`
    /// and the alignment weights `[batch, 1, s_tgt, s_src]` (one "layer" and "head").
    pub fn decode(&self, tgt_in: Tensor<2, Int>, memory: &RecurrentMemory) -> Result<(Tensor<3>, Vec<Tensor<4>>), ModelError> {
        let s_tgt = tgt_in.dims()[1];
        if s_tgt > self.max_len {
            return Err(ModelError::TooLong { len: s_tgt, max_len: self.max_len });
        }
        if let Some(out) = self.decode_fused(tgt_in.clone(), memory) {
            return Ok(out);
        }
        self.decode_plain(tgt_in, memory)
    }

    /// [`Self::decode`] as the loop of per-step tensor operations: the plain
    /// version the fused decoder replaces, and the reference its tests compare against.
    pub fn decode_plain(&self, tgt_in: Tensor<2, Int>, memory: &RecurrentMemory) -> Result<(Tensor<3>, Vec<Tensor<4>>), ModelError> {
        let [batch, s_tgt] = tgt_in.dims();
        let emb = crate::fused::dropout(&self.dropout, self.tgt_embed.forward(tgt_in)); // [batch, s_tgt, d_embed]
        let d_embed = emb.dims()[2];
        let mut states = self.start_states(memory);
        let mut outputs = Vec::with_capacity(s_tgt);
        let mut alignments = Vec::new();
        for t in 0..s_tgt {
            let input = emb.clone().slice([0..batch, t..t + 1, 0..d_embed]).reshape([batch, d_embed]);
            let (out, next, alpha) = self.step(input, states, memory);
            states = next;
            outputs.push(out);
            alignments.extend(alpha);
        }
        let out = crate::fused::dropout(&self.dropout, Tensor::stack::<3>(outputs, 1)); // [batch, s_tgt, d_out]
        let logits = crate::dense::linear(&self.output, out); // [batch, s_tgt, vocab]
        let weights = if alignments.is_empty() {
            Vec::new()
        } else {
            vec![Tensor::stack::<3>(alignments, 1).unsqueeze_dim::<4>(1)] // [batch, 1, s_tgt, s_src]
        };
        Ok((logits, weights))
    }

    /// The teacher-forced decoder as one fused operation
    /// ([`crate::fused::attention_lstm`]) where it applies: LSTM cells, the
    /// additive score, a CPU backend. Same values and gradients as
    /// [`Self::decode_plain`]; the dropout between layers draws its masks
    /// for all steps at once (the same distribution, another order of draws).
    fn decode_fused(&self, tgt_in: Tensor<2, Int>, memory: &RecurrentMemory) -> Option<(Tensor<3>, Vec<Tensor<4>>)> {
        let att = self.attention.as_ref()?;
        let (w, v, prepared) = (att.w.as_ref()?, att.v.as_ref()?, memory.prepared.clone()?);
        let cells: Vec<&crate::lstm::LstmCell> = self.decoder.iter().map(|c| if let Cell::Lstm(c) = c { Some(c) } else { None }).collect::<Option<_>>()?;
        if att.score != Score::Additive || !crate::fused::host_kernels(&tgt_in.device()) {
            return None;
        }
        let [batch, s_tgt] = tgt_in.dims();
        let device = tgt_in.device();
        let emb = crate::fused::dropout(&self.dropout, self.tgt_embed.forward(tgt_in)); // [batch, s_tgt, d_embed]
        let d_embed = emb.dims()[2];
        let d_key = memory.keys.dims()[2];
        let (w0, b0, u0) = cells[0].stacked(); // [d_embed + d_key, 4h], [4h], [h, 4h]
        let g4 = u0.dims()[1];
        let w_emb = w0.clone().slice([0..d_embed, 0..g4]);
        let wc = w0.slice([d_embed..d_embed + d_key, 0..g4]);
        let ep = crate::dense::linear_with(emb, w_emb, Some(b0)); // [batch, s_tgt, 4h]
        let h = g4 / 4;
        let deep = (cells.len() > 1).then(|| {
            let layers = cells[1..].iter().map(|c| {
                let (w, b, u) = c.stacked();
                Tensor::cat(vec![w, u, b.reshape([1, g4])], 0) // [2h + 1, 4h]
            });
            Tensor::stack::<3>(layers.collect(), 0) // [layers − 1, 2h + 1, 4h]
        });
        let d = &self.dropout;
        let drop = (cells.len() > 1 && d.prob > 0.0 && d.training.is_enabled() && device.is_autodiff()).then(|| {
            let p_keep = 1.0 - d.prob;
            let shape = [cells.len() - 1, s_tgt, batch, h];
            crate::fused::dropout_mask(shape, p_keep as f32, &device)
        });
        let init = &memory.init;
        let x = crate::fused::AttentionLstmInputs {
            ep,
            wc,
            u0,
            deep,
            drop,
            keys: memory.keys.clone(),
            prep: prepared,
            ws: w.weight.val(),
            v: v.weight.val().reshape([-1]),
            keep: memory.pad.clone().map(|p| p.bool_not().float()),
            h0: init.h.clone(),
            c0: init.c.clone().unwrap_or_else(|| init.h.zeros_like()),
        };
        let (hs, ctxs, alphas) = crate::fused::attention_lstm(x); // [batch, s_tgt, h], [batch, s_tgt, d_key], [batch, s_tgt, s_src]
        let out = crate::fused::dropout(&self.dropout, Tensor::cat(vec![hs, ctxs], 2)); // [batch, s_tgt, h + d_key]
        Some((crate::dense::linear(&self.output, out), vec![alphas.unsqueeze_dim::<4>(1)]))
    }
}
