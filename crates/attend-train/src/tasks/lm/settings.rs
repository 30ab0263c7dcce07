//! The config sections of language-model runs (`task = "lm"`). The defaults
//! are nanoGPT's CPU recipe for character-level Tiny Shakespeare: context 64,
//! batch 12, 4 layers, 4 heads, width 128, 2000 steps, no dropout, AdamW
//! (lr 1e-3 → 1e-4 cosine after 100 warm-up steps, β₂ 0.99, weight decay 0.1
//! of the matrices), gradients clipped at norm 1.

use std::path::PathBuf;

use attend_data::TokenizerKind;
use attend_model::PositionalKind;
use serde::{Deserialize, Serialize};

use crate::config::TrainSettings;
use crate::trainer::schedule::ScheduleKind;

/// Language-model architectures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LmArch {
    /// A decoder-only Transformer (Radford et al., 2018).
    Gpt,
    /// Recurrent language models.
    Rnn,
    Lstm,
    Gru,
}

/// `[model]` of a language model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmModel {
    /// `gpt`, or a recurrent `rnn`, `lstm`, `gru`.
    pub arch: LmArch,
    /// Model width.
    pub d_model: usize,
    /// Attention heads (GPT).
    pub n_heads: usize,
    /// Feed-forward inner width (GPT).
    pub d_ff: usize,
    /// Blocks (GPT) or recurrent layers.
    pub layers: usize,
    /// Dropout probability.
    pub dropout: f64,
    /// `learned` (GPT) or `sinusoidal` positions (GPT).
    pub positional: PositionalKind,
    /// Context: tokens per training window and the longest the model reads.
    pub context: usize,
    /// Biases in the Linear and LayerNorm layers (GPT; `false` gives
    /// nanoGPT's default architecture, `bias = False`).
    pub bias: bool,
}

impl Default for LmModel {
    fn default() -> Self {
        Self {
            arch: LmArch::Gpt,
            d_model: 128,
            n_heads: 4,
            d_ff: 512,
            layers: 4,
            dropout: 0.0,
            positional: PositionalKind::Learned,
            context: 64,
            bias: true,
        }
    }
}

/// `[data]` of a language model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmData {
    /// Training text files (UTF-8).
    pub train: Vec<PathBuf>,
    /// Validation text (default: the last tenth of `train`, cut at a line break).
    pub valid: Option<PathBuf>,
    /// `char`, `word`, or subwords (`bpe`, `unigram`) trained on the training text.
    pub tokenizer: TokenizerKind,
    /// Subword vocabulary size (`bpe`, `unigram`), the 256 bytes included.
    #[serde(default = "crate::tasks::subwords::default_vocab_size")]
    pub vocab_size: usize,
    /// A Hugging Face tokenizer.json to use instead of training one
    /// (`tokenizer` and `vocab_size` are then not used).
    pub tokenizer_file: Option<PathBuf>,
    /// Lowercase all text.
    pub lowercase: bool,
    /// Word models: keep words seen at least this often (char models keep every character).
    pub min_freq: usize,
    /// Largest vocabulary (specials included); 0 = no limit.
    pub max_vocab: usize,
    /// Windows per batch.
    pub batch_size: usize,
}

impl Default for LmData {
    fn default() -> Self {
        Self {
            train: vec!["data/tinyshakespeare/train.txt".into()],
            valid: Some("data/tinyshakespeare/valid.txt".into()),
            tokenizer: TokenizerKind::Char,
            vocab_size: crate::tasks::subwords::default_vocab_size(),
            tokenizer_file: None,
            lowercase: false,
            min_freq: 2,
            max_vocab: 0,
            batch_size: 12,
        }
    }
}

/// A language-model run (`task = "lm"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmConfig {
    pub model: LmModel,
    pub data: LmData,
    pub train: TrainSettings,
}

impl Default for LmConfig {
    fn default() -> Self {
        Self {
            model: LmModel::default(),
            data: LmData::default(),
            train: TrainSettings {
                epochs: 0,
                max_steps: 2000,
                schedule: ScheduleKind::Cosine,
                lr: 1e-3,
                min_lr: 1e-4,
                warmup_steps: 100,
                beta2: 0.99,
                epsilon: 1e-8,
                weight_decay: 0.1,
                label_smoothing: 0.0,
                eval_every: 250,
                checkpoint_every: 250,
                ..TrainSettings::default()
            },
        }
    }
}
