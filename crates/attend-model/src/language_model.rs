//! One type for the language models attend trains: the GPT-style decoder-only
//! Transformer ([`Gpt`]) and the recurrent language model ([`RecurrentLm`]).
//! Both map token ids to next-token logits; each has its own way to continue a
//! text without recomputing it (a key/value cache or the recurrent state).

use burn::prelude::*;

use crate::error::ModelError;
use crate::gpt::{Gpt, GptConfig, KvCache};
use crate::recurrent::RecurrentState;
use crate::recurrent_lm::{RecurrentLm, RecurrentLmConfig};

/// The config of either language model.
#[derive(Debug, Clone)]
pub enum LanguageModelConfig {
    Gpt(GptConfig),
    Recurrent(RecurrentLmConfig),
}

impl LanguageModelConfig {
    /// Builds the model.
    pub fn init(&self, device: &Device) -> Result<LanguageModel, ModelError> {
        Ok(match self {
            Self::Gpt(c) => LanguageModel::Gpt(c.init(device)?),
            Self::Recurrent(c) => LanguageModel::Recurrent(c.init(device)?),
        })
    }
}

/// A GPT or a recurrent language model.
#[derive(Module, Debug)]
pub enum LanguageModel {
    Gpt(Gpt),
    Recurrent(RecurrentLm),
}

/// What a language model keeps between calls while generating.
#[derive(Debug, Clone)]
pub enum LmCache {
    /// Keys and values of every position in the window (GPT).
    Kv(KvCache),
    /// The recurrent state after the tokens fed so far.
    State(Vec<RecurrentState>),
}

impl LanguageModel {
    /// Tokens the model is trained and evaluated on at once.
    pub fn context(&self) -> usize {
        match self {
            Self::Gpt(m) => m.context,
            Self::Recurrent(m) => m.context,
        }
    }

    /// Whether generation must keep to a window of [`context`](Self::context)
    /// tokens (a Transformer's positions end there; a recurrent state does not).
    pub fn windowed(&self) -> bool {
        matches!(self, Self::Gpt(_))
    }

    /// Next-token logits `[batch, seq, vocab]` of `ids` `[batch, seq]`.
    pub fn forward(&self, ids: Tensor<2, Int>) -> Result<Tensor<3>, ModelError> {
        match self {
            Self::Gpt(m) => m.forward(ids),
            Self::Recurrent(m) => Ok(m.forward(ids)),
        }
    }

    /// Logits of `ids`, the tokens that follow those already in `cache`;
    /// updates the cache.
    pub fn forward_cached(&self, ids: Tensor<2, Int>, cache: &mut Option<LmCache>) -> Result<Tensor<3>, ModelError> {
        match self {
            Self::Gpt(m) => {
                let mut kv = match cache.take() {
                    Some(LmCache::Kv(kv)) => Some(kv),
                    _ => None,
                };
                let logits = m.forward_cached(ids, &mut kv)?;
                *cache = kv.map(LmCache::Kv);
                Ok(logits)
            }
            Self::Recurrent(m) => {
                let state = match cache.take() {
                    Some(LmCache::State(s)) => Some(s),
                    _ => None,
                };
                let (logits, state) = m.forward_state(ids, state);
                *cache = Some(LmCache::State(state));
                Ok(logits)
            }
        }
    }
}
