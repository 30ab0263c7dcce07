//! The config sections of translation runs (`task = "translate"`) and of the
//! synthetic copy task (`task = "copy"`): `[model]`, `[data]`, `[train]` and
//! `[eval]`, with each recipe's defaults.

use std::path::PathBuf;

use attend_data::{BatchBy, TokenizerKind};
use attend_model::{Activation, PositionalKind, Score};
use serde::{Deserialize, Serialize};

use crate::config::{NormPlacement, TrainSettings};
use crate::trainer::schedule::ScheduleKind;

/// Encoder–decoder architectures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Seq2SeqArch {
    /// The Transformer (Vaswani et al., 2017).
    Transformer,
    /// Recurrent encoder–decoders without attention (Sutskever et al., 2014).
    Rnn,
    Lstm,
    Gru,
    /// Recurrent encoder–decoders with attention (Bahdanau et al., 2015).
    RnnAttention,
    LstmAttention,
    GruAttention,
}

impl Seq2SeqArch {
    /// Every architecture, as `model.arch` names them.
    pub const ALL: [Seq2SeqArch; 7] = [
        Self::Transformer,
        Self::Rnn,
        Self::Lstm,
        Self::Gru,
        Self::RnnAttention,
        Self::LstmAttention,
        Self::GruAttention,
    ];

    /// The name `model.arch` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Transformer => "transformer",
            Self::Rnn => "rnn",
            Self::Lstm => "lstm",
            Self::Gru => "gru",
            Self::RnnAttention => "rnn-attention",
            Self::LstmAttention => "lstm-attention",
            Self::GruAttention => "gru-attention",
        }
    }
}

impl Seq2SeqArch {
    /// Whether its decoder attends to the source (all but the plain recurrent encoder–decoders).
    pub fn has_attention(self) -> bool {
        !matches!(self, Self::Rnn | Self::Lstm | Self::Gru)
    }
}

impl std::fmt::Display for Seq2SeqArch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Seq2SeqArch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| {
            format!("`{s}`: use {}", Self::ALL.map(|a| a.name()).join(", "))
        })
    }
}

/// `[model]` of an encoder–decoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seq2SeqSettings {
    /// `transformer`, `rnn`, `lstm`, `gru` (no attention) or `rnn-attention`,
    /// `lstm-attention`, `gru-attention`.
    pub arch: Seq2SeqArch,
    /// Model width (recurrent models: embedding and hidden width).
    pub d_model: usize,
    /// Attention heads (Transformer).
    pub n_heads: usize,
    /// Feed-forward inner width (Transformer).
    pub d_ff: usize,
    /// Encoder layers.
    pub encoder_layers: usize,
    /// Decoder layers.
    pub decoder_layers: usize,
    /// Dropout probability.
    pub dropout: f64,
    /// `post` (the paper) or `pre` LayerNorm placement (Transformer).
    pub norm: NormPlacement,
    /// `sinusoidal` or `learned` positions (Transformer).
    pub positional: PositionalKind,
    /// `relu` (the paper) or `gelu` (Transformer).
    pub activation: Activation,
    /// Longest sequence the model accepts (tokens, with `<bos>`/`<eos>`).
    pub max_len: usize,
    /// One embedding (and one vocabulary) for source and target.
    pub share_embeddings: bool,
    /// Tie the output projection to the target embedding.
    pub tie_output: bool,
    /// Recurrent models: read the source in both directions.
    pub bidirectional: bool,
    /// Recurrent models with attention: `additive` (Bahdanau), `dot` or `general` (Luong).
    pub attention_score: Score,
    /// Word vectors (word2vec text or binary, or GloVe) that initialise the rows of
    /// the source and target embeddings whose words they contain; their dimension
    /// must equal the embedding width.
    pub init_embeddings: Option<PathBuf>,
}

impl Default for Seq2SeqSettings {
    fn default() -> Self {
        Self {
            arch: Seq2SeqArch::Transformer,
            d_model: 128,
            n_heads: 4,
            d_ff: 512,
            encoder_layers: 2,
            decoder_layers: 2,
            dropout: 0.1,
            norm: NormPlacement::Post,
            positional: PositionalKind::Sinusoidal,
            activation: Activation::Relu,
            max_len: 64,
            share_embeddings: false,
            tie_output: true,
            bidirectional: false,
            attention_score: Score::Additive,
            init_embeddings: None,
        }
    }
}

/// `[data]` of a translation run: parallel text, tokenisation and batching.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairData {
    /// Training pairs as `source<TAB>target` lines.
    pub tsv: Option<PathBuf>,
    /// Training source file (line-aligned with `tgt`).
    pub src: Option<PathBuf>,
    /// Training target file.
    pub tgt: Option<PathBuf>,
    /// Validation pairs as TSV.
    pub valid_tsv: Option<PathBuf>,
    /// Validation source file.
    pub valid_src: Option<PathBuf>,
    /// Validation target file.
    pub valid_tgt: Option<PathBuf>,
    /// `bpe`, `unigram` (subwords, trained on the training pairs), `word` or `char`.
    pub tokenizer: TokenizerKind,
    /// Subword vocabulary size (`bpe`, `unigram`), the 256 bytes included.
    #[serde(default = "crate::tasks::subwords::default_vocab_size")]
    pub vocab_size: usize,
    /// One subword tokenizer for both languages (`true`) or one per side.
    #[serde(default = "crate::tasks::subwords::default_joint")]
    pub joint_tokenizer: bool,
    /// A Hugging Face tokenizer.json to use instead of training one (both
    /// sides, or the source side when `tgt_tokenizer_file` is given);
    /// `tokenizer` and `vocab_size` are then not used.
    pub tokenizer_file: Option<PathBuf>,
    /// The target side's tokenizer.json, when it differs from the source's.
    pub tgt_tokenizer_file: Option<PathBuf>,
    /// Lowercase all text.
    pub lowercase: bool,
    /// Keep tokens seen at least this often (word and char tokenizers).
    pub min_freq: usize,
    /// Largest vocabulary (specials included); 0 = no limit (word and char tokenizers).
    pub max_vocab: usize,
    /// `sentences` or `tokens`.
    pub batch_by: BatchBy,
    /// Sentences or tokens per batch.
    pub batch_size: usize,
    /// Sort by length inside shuffled pools.
    pub bucket: bool,
}

impl Default for PairData {
    fn default() -> Self {
        Self {
            tsv: Some("data/tatoeba-eng-fra/train.tsv.gz".into()),
            src: None,
            tgt: None,
            valid_tsv: Some("data/tatoeba-eng-fra/valid.tsv".into()),
            valid_src: None,
            valid_tgt: None,
            tokenizer: TokenizerKind::Bpe,
            vocab_size: crate::tasks::subwords::default_vocab_size(),
            joint_tokenizer: true,
            tokenizer_file: None,
            tgt_tokenizer_file: None,
            lowercase: false,
            min_freq: 2,
            max_vocab: 0,
            batch_by: BatchBy::Sentences,
            batch_size: 96,
            bucket: true,
        }
    }
}

/// `[data]` of the copy task: random strings over a small alphabet, read as characters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyData {
    /// Distinct symbols (2 to 52 letters).
    pub symbols: usize,
    /// Shortest string.
    pub min_len: usize,
    /// Longest string.
    pub max_len: usize,
    /// Training strings.
    pub train_size: usize,
    /// Held-out strings.
    pub valid_size: usize,
    /// `sentences` or `tokens`.
    pub batch_by: BatchBy,
    /// Strings or tokens per batch.
    pub batch_size: usize,
    /// Sort by length inside shuffled pools.
    pub bucket: bool,
}

impl Default for CopyData {
    fn default() -> Self {
        Self { symbols: 10, min_len: 3, max_len: 10, train_size: 20000, valid_size: 500, batch_by: BatchBy::Sentences, batch_size: 64, bucket: true }
    }
}

/// `[eval]`: how a translation run is scored while it trains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSettings {
    /// Distinct validation sources translated for BLEU (0 = all).
    pub bleu_sentences: usize,
    /// Longest translation, in tokens (also for `attend translate`).
    pub max_decode_len: usize,
    /// Sample translations printed after training.
    pub samples: usize,
}

impl Default for EvalSettings {
    fn default() -> Self {
        Self { bleu_sentences: 0, max_decode_len: 40, samples: 5 }
    }
}

/// A translation run (`task = "translate"`): the default run is a small
/// Transformer on the whole bundled English→French Tatoeba training split
/// (128,566 pairs) in 8,000 joint BPE tokens, one embedding table for both
/// languages and the output; 3 epochs of 96-sentence batches, Noam schedule
/// with 1,000 warm-up steps, stopped after 14 minutes in any case (13.5 on
/// the 2-core machine of BENCHMARKS.md, which it never reaches there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranslateConfig {
    pub model: Seq2SeqSettings,
    pub data: PairData,
    pub train: TrainSettings,
    pub eval: EvalSettings,
}

impl Default for TranslateConfig {
    fn default() -> Self {
        Self {
            model: Seq2SeqSettings { share_embeddings: true, ..Seq2SeqSettings::default() },
            data: PairData::default(),
            train: TrainSettings { epochs: 3, warmup_steps: 1000, time_budget_s: 840.0, ..TrainSettings::default() },
            eval: EvalSettings { bleu_sentences: 500, ..EvalSettings::default() },
        }
    }
}

/// The copy task (`task = "copy"`): a small Transformer learns to copy
/// random strings; a quick check that the whole stack learns. Adam at 1e-3
/// after 100 warm-up steps, cosine decay to 1e-4: at a constant rate the last
/// epochs wander between 94 and 98 % exact; decayed, two seeds end at 100 %.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyConfig {
    pub model: Seq2SeqSettings,
    pub data: CopyData,
    pub train: TrainSettings,
    pub eval: EvalSettings,
}

impl Default for CopyConfig {
    fn default() -> Self {
        Self {
            model: Seq2SeqSettings { d_model: 64, d_ff: 128, dropout: 0.0, max_len: 32, ..Seq2SeqSettings::default() },
            data: CopyData::default(),
            train: TrainSettings {
                epochs: 4,
                warmup_steps: 100,
                schedule: ScheduleKind::Cosine,
                lr: 1e-3,
                min_lr: 1e-4,
                label_smoothing: 0.0,
                checkpoint_every: 0,
                ..TrainSettings::default()
            },
            eval: EvalSettings::default(),
        }
    }
}
