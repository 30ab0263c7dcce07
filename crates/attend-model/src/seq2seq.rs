//! Any encoder–decoder of attend behind one type, so the trainer, decoding
//! and the CLI treat the Transformer and the recurrent models alike.

use burn::prelude::*;

use crate::decoder::DecoderContext;
use crate::error::ModelError;
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

impl Seq2SeqModel {
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
