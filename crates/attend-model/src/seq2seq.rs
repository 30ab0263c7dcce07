//! Any encoder–decoder of attend behind one type, so the trainer, decoding
//! and the CLI treat the Transformer and the recurrent models alike.

use burn::prelude::*;

use crate::decoder::DecoderContext;
use crate::error::ModelError;
use crate::recurrent::RecurrentState;
use crate::recurrent_seq2seq::{RecurrentMemory, RecurrentSeq2Seq, RecurrentSeq2SeqConfig};
use crate::transformer::{Transformer, TransformerConfig};

/// The configuration of any encoder–decoder.
#[derive(Debug, Clone, PartialEq)]
pub enum Seq2SeqConfig {
    Transformer(TransformerConfig),
    Recurrent(RecurrentSeq2SeqConfig),
}

impl Seq2SeqConfig {
    /// Builds the model on `device`.
    pub fn init(&self, device: &Device) -> Result<Seq2SeqModel, ModelError> {
        Ok(match self {
            Seq2SeqConfig::Transformer(c) => Seq2SeqModel::Transformer(c.init(device)?),
            Seq2SeqConfig::Recurrent(c) => Seq2SeqModel::Recurrent(c.init(device)?),
        })
    }
}

/// A Transformer or a recurrent encoder–decoder.
#[derive(Module, Debug)]
pub enum Seq2SeqModel {
    Transformer(Transformer),
    Recurrent(RecurrentSeq2Seq),
}

/// The encoded source, as the decoder of each model needs it.
#[derive(Debug, Clone)]
pub enum Memory {
    Transformer(DecoderContext),
    Recurrent(RecurrentMemory),
}

impl Memory {
    /// The memory of the sentences at `rows` (indices into the batch, repeats
    /// allowed), e.g. each sentence once per beam.
    pub fn select(&self, rows: Tensor<1, Int>) -> Memory {
        match self {
            Memory::Transformer(c) => Memory::Transformer(DecoderContext {
                memory: c.memory.clone().select(0, rows.clone()),
                memory_pad: c.memory_pad.clone().map(|p| p.select(0, rows)),
                target_pad: None,
            }),
            Memory::Recurrent(m) => Memory::Recurrent(RecurrentMemory {
                keys: m.keys.clone().select(0, rows.clone()),
                prepared: m.prepared.clone().map(|p| p.select(0, rows.clone())),
                pad: m.pad.clone().map(|p| p.select(0, rows.clone())),
                init: select_state(&m.init, &rows),
            }),
        }
    }
}

fn select_state(s: &RecurrentState, rows: &Tensor<1, Int>) -> RecurrentState {
    RecurrentState { h: s.h.clone().select(0, rows.clone()), c: s.c.clone().map(|c| c.select(0, rows.clone())) }
}

/// What the decoder carries from one token to the next: the Transformer
/// re-reads the whole prefix (kept here as token ids), a recurrent decoder
/// only its states.
#[derive(Debug, Clone)]
pub enum DecoderState {
    Prefix(Vec<Vec<i64>>),
    Recurrent(Vec<RecurrentState>),
}

impl DecoderState {
    /// The states of the hypotheses at `rows`, in that order.
    pub fn select(&self, rows: &[usize], device: &Device) -> DecoderState {
        match self {
            DecoderState::Prefix(p) => DecoderState::Prefix(rows.iter().map(|&r| p[r].clone()).collect()),
            DecoderState::Recurrent(states) => {
                let idx: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
                let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [rows.len()]), device);
                DecoderState::Recurrent(states.iter().map(|s| select_state(s, &idx)).collect())
            }
        }
    }
}

impl Seq2SeqModel {
    /// The decoder state before the first token, for `batch` sentences of `memory`.
    pub fn start(&self, memory: &Memory, batch: usize) -> Result<DecoderState, ModelError> {
        match (self, memory) {
            (Seq2SeqModel::Transformer(_), Memory::Transformer(_)) => Ok(DecoderState::Prefix(vec![Vec::new(); batch])),
            (Seq2SeqModel::Recurrent(m), Memory::Recurrent(mem)) => Ok(DecoderState::Recurrent(m.start_states(mem))),
            _ => Err(ModelError::Invalid("memory from another kind of model".into())),
        }
    }

    /// Feeds one token per sentence (`tokens`, e.g. `<bos>` first): logits
    /// `[batch, vocab]` of the next token and the state after it.
    pub fn step(&self, tokens: &[u32], state: DecoderState, memory: &Memory) -> Result<(Tensor<2>, DecoderState), ModelError> {
        let device = match memory {
            Memory::Transformer(c) => c.memory.device(),
            Memory::Recurrent(m) => m.keys.device(),
        };
        let batch = tokens.len();
        match (self, state, memory) {
            (Seq2SeqModel::Transformer(m), DecoderState::Prefix(mut prefix), Memory::Transformer(ctx)) => {
                for (p, &t) in prefix.iter_mut().zip(tokens) {
                    p.push(t as i64);
                }
                let t = prefix.first().map_or(0, |p| p.len());
                let flat: Vec<i64> = prefix.iter().flatten().copied().collect();
                let ys = Tensor::<2, Int>::from_data(TensorData::new(flat, [batch, t]), &device);
                let (logits, _) = m.decode(ys, ctx)?; // [batch, t, vocab]
                let vocab = logits.dims()[2];
                Ok((logits.slice([0..batch, t - 1..t, 0..vocab]).reshape([batch, vocab]), DecoderState::Prefix(prefix)))
            }
            (Seq2SeqModel::Recurrent(m), DecoderState::Recurrent(states), Memory::Recurrent(mem)) => {
                let ids: Vec<i64> = tokens.iter().map(|&t| t as i64).collect();
                let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [batch]), &device);
                let (logits, states) = m.decode_step(ids, states, mem);
                Ok((logits, DecoderState::Recurrent(states)))
            }
            _ => Err(ModelError::Invalid("decoder state or memory from another kind of model".into())),
        }
    }

    /// The token embedding tables by role: `source`, and `target` unless the
    /// model shares one table for both (e.g. to load word2vec vectors).
    pub fn embeddings_mut(&mut self) -> Vec<(&'static str, &mut burn::nn::Embedding)> {
        match self {
            Seq2SeqModel::Transformer(m) => {
                let mut v = vec![("source", &mut m.src_embed.embedding)];
                if let Some(t) = m.tgt_embed.as_mut() {
                    v.push(("target", &mut t.embedding));
                }
                v
            }
            Seq2SeqModel::Recurrent(m) => vec![("source", &mut m.src_embed), ("target", &mut m.tgt_embed)],
        }
    }

    /// Longest sequence accepted.
    pub fn max_len(&self) -> usize {
        match self {
            Seq2SeqModel::Transformer(m) => m.max_len,
            Seq2SeqModel::Recurrent(m) => m.max_len,
        }
    }

    /// Encodes source ids `[batch, s_src]` (padding marked in `src_pad`).
    pub fn encode(&self, src: Tensor<2, Int>, src_pad: Option<Tensor<2, Bool>>) -> Result<Memory, ModelError> {
        Ok(match self {
            Seq2SeqModel::Transformer(m) => {
                let memory = m.encode(src, src_pad.clone())?;
                Memory::Transformer(DecoderContext { memory, memory_pad: src_pad, target_pad: None })
            }
            Seq2SeqModel::Recurrent(m) => Memory::Recurrent(m.encode(src, src_pad)?),
        })
    }

    /// Logits `[batch, s_tgt, vocab]` for a target prefix, and the cross-attention
    /// weights (`[batch, heads, s_tgt, s_src]` per layer; empty without attention).
    pub fn decode(
        &self,
        tgt_in: Tensor<2, Int>,
        tgt_pad: Option<Tensor<2, Bool>>,
        memory: &Memory,
    ) -> Result<(Tensor<3>, Vec<Tensor<4>>), ModelError> {
        match (self, memory) {
            (Seq2SeqModel::Transformer(m), Memory::Transformer(ctx)) => {
                let ctx = DecoderContext { target_pad: tgt_pad, ..ctx.clone() };
                m.decode(tgt_in, &ctx)
            }
            (Seq2SeqModel::Recurrent(m), Memory::Recurrent(mem)) => m.decode(tgt_in, mem),
            _ => Err(ModelError::Invalid("memory from another kind of model".into())),
        }
    }

    /// Teacher-forced logits `[batch, s_tgt, vocab]`.
    pub fn forward(
        &self,
        src: Tensor<2, Int>,
        src_pad: Option<Tensor<2, Bool>>,
        tgt_in: Tensor<2, Int>,
        tgt_pad: Option<Tensor<2, Bool>>,
    ) -> Result<Tensor<3>, ModelError> {
        let memory = self.encode(src, src_pad)?;
        Ok(self.decode(tgt_in, tgt_pad, &memory)?.0)
    }
}
