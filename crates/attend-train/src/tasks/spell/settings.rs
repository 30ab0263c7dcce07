//! The config sections of speller runs (`task = "spell"`): a recurrent
//! decoder learns to write a word from its word vector.

use std::path::PathBuf;

use attend_model::CellKind;
use serde::{Deserialize, Serialize};

use crate::config::TrainSettings;
use crate::trainer::schedule::ScheduleKind;

/// `[model]` of a speller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpellModel {
    /// `rnn`, `lstm` or `gru`.
    pub cell: CellKind,
    /// Hidden width.
    pub d_hidden: usize,
    /// Dropout probability.
    pub dropout: f64,
}

impl Default for SpellModel {
    fn default() -> Self {
        Self { cell: CellKind::Gru, d_hidden: 256, dropout: 0.1 }
    }
}

/// `[data]` of a speller: (vector, word) pairs from a word-vector file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpellData {
    /// Word vectors (word2vec text or binary, or GloVe): the words are the
    /// sequences, read as characters.
    pub vectors: Option<PathBuf>,
    /// Share of the words held out for evaluation.
    pub valid_fraction: f64,
    /// Longest word kept (characters); longer words are left out.
    pub max_len: usize,
    /// Scale every vector to the same length, √dim, first (so its entries
    /// are ±1 on average; word2vec norms mostly encode frequency).
    pub unit_vectors: bool,
    /// Words per batch.
    pub batch_size: usize,
}

impl Default for SpellData {
    fn default() -> Self {
        Self { vectors: None, valid_fraction: 0.1, max_len: 20, unit_vectors: true, batch_size: 32 }
    }
}

/// A speller run (`task = "spell"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpellConfig {
    pub model: SpellModel,
    pub data: SpellData,
    pub train: TrainSettings,
}

impl Default for SpellConfig {
    fn default() -> Self {
        Self {
            model: SpellModel::default(),
            data: SpellData::default(),
            train: TrainSettings {
                seed: 1,
                epochs: 20,
                schedule: ScheduleKind::Constant,
                lr: 3e-3,
                warmup_steps: 0,
                beta2: 0.999,
                epsilon: 1e-5,
                label_smoothing: 0.0,
                checkpoint_every: 0,
                ..TrainSettings::default()
            },
        }
    }
}
