//! Any encoder–decoder of attend behind one type, so the trainer, decoding
//! and the CLI treat the Transformer and the recurrent models alike.

use burn::prelude::*;

use crate::decoder::{DecoderContext, KeyValues};
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
    Transformer(TransformerMemory),
    Recurrent(RecurrentMemory),
}

/// The Transformer's encoded source: the encoder output and its padding, and
/// every decoder layer's cross-attention keys and values of it, projected
/// once per sentence rather than once per decoded token.
#[derive(Debug, Clone)]
pub struct TransformerMemory {
    pub ctx: DecoderContext,
    /// Per decoder layer, `[batch, heads, s_src, d_k]` each.
    pub cross_kv: Vec<KeyValues>,
}

fn select_kv(kv: &[KeyValues], rows: &Tensor<1, Int>) -> Vec<KeyValues> {
    kv.iter().map(|(k, v)| (k.clone().select(0, rows.clone()), v.clone().select(0, rows.clone()))).collect()
}

impl Memory {
    /// The memory of the sentences at `rows` (indices into the batch, repeats
    /// allowed), e.g. each sentence once per beam.
    pub fn select(&self, rows: Tensor<1, Int>) -> Memory {
        match self {
            Memory::Transformer(m) => Memory::Transformer(TransformerMemory {
                ctx: DecoderContext {
                    memory: m.ctx.memory.clone().select(0, rows.clone()),
                    memory_pad: m.ctx.memory_pad.clone().map(|p| p.select(0, rows.clone())),
                    target_pad: None,
                },
                cross_kv: select_kv(&m.cross_kv, &rows),
            }),
            Memory::Recurrent(m) => Memory::Recurrent(RecurrentMemory {
                keys: m.keys.clone().select(0, rows.clone()),
                prepared: m.prepared.clone().map(|p| p.select(0, rows.clone())),
                pad: m.pad.clone().map(|p| p.select(0, rows.clone())),
                init: select_state(&m.init, &rows),
            }),
        }
    }

    fn device(&self) -> Device {
        match self {
            Memory::Transformer(m) => m.ctx.memory.device(),
            Memory::Recurrent(m) => m.keys.device(),
        }
    }
}

fn select_state(s: &RecurrentState, rows: &Tensor<1, Int>) -> RecurrentState {
    RecurrentState { h: s.h.clone().select(0, rows.clone()), c: s.c.clone().map(|c| c.select(0, rows.clone())) }
}

/// What the decoder carries from one token to the next: the Transformer its
/// key/value cache (every layer's self-attention keys and values of the
/// prefix), or, without the cache, the prefix itself as token ids, re-read
/// at every step; a recurrent decoder its states.
#[derive(Debug, Clone)]
pub enum DecoderState {
    /// Per decoder layer; `None` before the first token.
    Cache(Option<Vec<KeyValues>>),
    Prefix(Vec<Vec<i64>>),
    Recurrent(Vec<RecurrentState>),
}

impl DecoderState {
    /// The states of the hypotheses at `rows`, in that order.
    pub fn select(&self, rows: &[usize], device: &Device) -> DecoderState {
        let idx = || {
            let idx: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
            Tensor::<1, Int>::from_data(TensorData::new(idx, [rows.len()]), device)
        };
        match self {
            DecoderState::Cache(None) => DecoderState::Cache(None),
            DecoderState::Cache(Some(kv)) => DecoderState::Cache(Some(select_kv(kv, &idx()))),
            DecoderState::Prefix(p) => DecoderState::Prefix(rows.iter().map(|&r| p[r].clone()).collect()),
            DecoderState::Recurrent(states) => {
                let idx = idx();
                DecoderState::Recurrent(states.iter().map(|s| select_state(s, &idx)).collect())
            }
        }
    }
}

/// One decoding step's result.
#[derive(Debug, Clone)]
pub struct Step {
    /// Next-token logits `[batch, vocab]`.
    pub logits: Tensor<2>,
    /// The state after the fed tokens.
    pub state: DecoderState,
    /// The cross-attention (alignment) weights of the fed tokens, per layer
    /// `[batch, heads, 1, s_src]`; empty for a model without attention.
    pub attention: Vec<Tensor<4>>,
}

impl Seq2SeqModel {
    /// The decoder state before the first token, for `batch` sentences of
    /// `memory`; the Transformer keeps a key/value cache.
    pub fn start(&self, memory: &Memory, _batch: usize) -> Result<DecoderState, ModelError> {
        match (self, memory) {
            (Seq2SeqModel::Transformer(_), Memory::Transformer(_)) => Ok(DecoderState::Cache(None)),
            (Seq2SeqModel::Recurrent(m), Memory::Recurrent(mem)) => Ok(DecoderState::Recurrent(m.start_states(mem))),
            _ => Err(ModelError::Invalid("memory from another kind of model".into())),
        }
    }

    /// Like [`Self::start`], but the Transformer re-reads the whole prefix at
    /// every step instead of caching (the plain decoding the cache replaces;
    /// for tests and benchmarks). Recurrent models carry their states either way.
    pub fn start_uncached(&self, memory: &Memory, batch: usize) -> Result<DecoderState, ModelError> {
        match self {
            Seq2SeqModel::Transformer(_) => {
                self.start(memory, batch)?;
                Ok(DecoderState::Prefix(vec![Vec::new(); batch]))
            }
            Seq2SeqModel::Recurrent(_) => self.start(memory, batch),
        }
    }

    /// Feeds one token per sentence (`tokens`, e.g. `<bos>` first): logits
    /// `[batch, vocab]` of the next token and the state after it.
    pub fn step(&self, tokens: &[u32], state: DecoderState, memory: &Memory) -> Result<(Tensor<2>, DecoderState), ModelError> {
        let s = self.step_attention(tokens, state, memory)?;
        Ok((s.logits, s.state))
    }

    /// [`Self::step`], also returning the cross-attention weights of the fed tokens.
    pub fn step_attention(&self, tokens: &[u32], state: DecoderState, memory: &Memory) -> Result<Step, ModelError> {
        let device = memory.device();
        let batch = tokens.len();
        let ids: Vec<i64> = tokens.iter().map(|&t| t as i64).collect();
        let last = |logits: Tensor<3>| {
            let [b, t, vocab] = logits.dims();
            logits.slice([0..b, t - 1..t, 0..vocab]).reshape([b, vocab]) // [batch, vocab]
        };
        let last_row = |w: Vec<Tensor<4>>| -> Vec<Tensor<4>> {
            w.into_iter()
                .map(|w| {
                    let [b, h, t, s] = w.dims();
                    w.slice([0..b, 0..h, t - 1..t, 0..s])
                })
                .collect()
        };
        match (self, state, memory) {
            (Seq2SeqModel::Transformer(m), DecoderState::Cache(cache), Memory::Transformer(mem)) => {
                let ys = Tensor::<2, Int>::from_data(TensorData::new(ids, [batch, 1]), &device);
                let (logits, attention, cache) = m.decode_cached(ys, cache.as_deref(), &mem.ctx, Some(&mem.cross_kv))?;
                Ok(Step { logits: last(logits), state: DecoderState::Cache(Some(cache)), attention })
            }
            (Seq2SeqModel::Transformer(m), DecoderState::Prefix(mut prefix), Memory::Transformer(mem)) => {
                for (p, &t) in prefix.iter_mut().zip(tokens) {
                    p.push(t as i64);
                }
                let t = prefix.first().map_or(0, |p| p.len());
                let flat: Vec<i64> = prefix.iter().flatten().copied().collect();
                let ys = Tensor::<2, Int>::from_data(TensorData::new(flat, [batch, t]), &device);
                let (logits, weights) = m.decode(ys, &mem.ctx)?; // [batch, t, vocab]
                Ok(Step { logits: last(logits), state: DecoderState::Prefix(prefix), attention: last_row(weights) })
            }
            (Seq2SeqModel::Recurrent(m), DecoderState::Recurrent(states), Memory::Recurrent(mem)) => {
                let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [batch]), &device);
                let (logits, states, alignment) = m.decode_step(ids, states, mem);
                let attention = alignment.into_iter().map(|a| a.unsqueeze_dim::<3>(1).unsqueeze_dim::<4>(1)).collect();
                Ok(Step { logits, state: DecoderState::Recurrent(states), attention })
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
                let cross_kv = m.decoder.cross_kv(memory.clone());
                Memory::Transformer(TransformerMemory { ctx: DecoderContext { memory, memory_pad: src_pad, target_pad: None }, cross_kv })
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
            (Seq2SeqModel::Transformer(m), Memory::Transformer(mem)) => {
                let ctx = DecoderContext { target_pad: tgt_pad, ..mem.ctx.clone() };
                let (logits, weights, _) = m.decode_cached(tgt_in, None, &ctx, Some(&mem.cross_kv))?;
                Ok((logits, weights))
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
