//! The config sections of text-classification runs (`task = "classify"`).
//! The defaults: a small pre-LN Transformer encoder with mean pooling over
//! lowercased words, Adam at a constant 5e-4, 8 epochs on the bundled
//! rt-polarity sentences with a tenth held out.

use std::path::PathBuf;

use attend_data::TokenizerKind;
use attend_model::classifier::{ClassifierArch, Pooling};
use serde::{Deserialize, Serialize};

use crate::config::{NormPlacement, TrainSettings};
use crate::trainer::schedule::ScheduleKind;

/// `[model]` of a classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierModel {
    /// `transformer`, `lstm` or `bag` (of n-grams).
    pub arch: ClassifierArch,
    /// Width of embeddings and hidden states.
    pub d_model: usize,
    /// Attention heads (Transformer).
    pub n_heads: usize,
    /// Feed-forward inner width (Transformer).
    pub d_ff: usize,
    /// Encoder layers (Transformer, LSTM).
    pub layers: usize,
    /// Dropout probability.
    pub dropout: f64,
    /// Longest text in tokens (longer texts are cut).
    pub max_len: usize,
    /// `mean` or `max` pooling (all), a `cls` token (Transformer) or the `final` states (LSTM).
    pub pooling: Pooling,
    /// Read the text in both directions (LSTM).
    pub bidirectional: bool,
    /// `post` or `pre` LayerNorm placement (Transformer).
    pub norm: NormPlacement,
    /// Word vectors (word2vec text or binary, or GloVe) that initialise the
    /// rows of the embedding whose words they contain (their dimension must
    /// equal `d_model`).
    pub init_embeddings: Option<PathBuf>,
}

impl Default for ClassifierModel {
    fn default() -> Self {
        Self {
            arch: ClassifierArch::Transformer,
            d_model: 128,
            n_heads: 4,
            d_ff: 256,
            layers: 2,
            dropout: 0.3,
            max_len: 128,
            pooling: Pooling::Mean,
            bidirectional: true,
            norm: NormPlacement::Pre,
            init_embeddings: None,
        }
    }
}

/// `[data]` of a classifier: labelled texts, tokenisation and batching.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabeledData {
    /// Training files: `label<TAB>text` lines, `label text` lines, or `.pos`/`.neg` pairs.
    pub train: Vec<PathBuf>,
    /// Validation file (default: a held-out tenth of `train`, or one fold of it).
    pub valid: Option<PathBuf>,
    /// `word`, `char`, or subwords (`bpe`, `unigram`) trained on the training texts.
    pub tokenizer: TokenizerKind,
    /// Subword vocabulary size (`bpe`, `unigram`), the 256 bytes included.
    #[serde(default = "crate::tasks::subwords::default_vocab_size")]
    pub vocab_size: usize,
    /// A Hugging Face tokenizer.json to use instead of training one
    /// (`tokenizer` and `vocab_size` are then not used).
    pub tokenizer_file: Option<PathBuf>,
    /// Lowercase all text.
    pub lowercase: bool,
    /// Keep tokens seen at least this often (word and char tokenizers).
    pub min_freq: usize,
    /// Largest vocabulary (specials included); 0 = no limit (word and char tokenizers).
    pub max_vocab: usize,
    /// Texts per batch.
    pub batch_size: usize,
    /// Sort by length inside shuffled pools.
    pub bucket: bool,
    /// Without `valid`: the seed that picks the held-out texts (default:
    /// `train.seed`). Fix it to train several seeds on one split, for an
    /// ensemble or a fair comparison.
    pub split_seed: Option<u64>,
    /// Without `valid`: hold out fold `fold` (0-based) of `folds` equal parts
    /// of the shuffled data instead of its last tenth, for k-fold
    /// cross-validation (train once per fold, same `split_seed`).
    pub fold: Option<usize>,
    /// Number of folds that `fold` picks from.
    pub folds: usize,
    /// Bags (`model.arch = "bag"`): besides its words, a text is read as
    /// every run of 2..=`ngrams` adjacent words (1 = words only).
    pub ngrams: usize,
}

impl Default for LabeledData {
    fn default() -> Self {
        Self {
            train: vec!["data/rt-polarity/train.pos".into(), "data/rt-polarity/train.neg".into()],
            valid: None,
            tokenizer: TokenizerKind::Word,
            vocab_size: crate::tasks::subwords::default_vocab_size(),
            tokenizer_file: None,
            lowercase: true,
            min_freq: 1,
            max_vocab: 0,
            batch_size: 32,
            bucket: true,
            split_seed: None,
            fold: None,
            folds: 10,
            ngrams: 1,
        }
    }
}

/// A classification run (`task = "classify"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifyConfig {
    pub model: ClassifierModel,
    pub data: LabeledData,
    pub train: TrainSettings,
}

impl Default for ClassifyConfig {
    fn default() -> Self {
        Self {
            model: ClassifierModel::default(),
            data: LabeledData::default(),
            train: TrainSettings {
                epochs: 8,
                schedule: ScheduleKind::Constant,
                lr: 5e-4,
                warmup_steps: 100,
                beta2: 0.999,
                epsilon: 1e-8,
                label_smoothing: 0.0,
                checkpoint_every: 0,
                ..TrainSettings::default()
            },
        }
    }
}
