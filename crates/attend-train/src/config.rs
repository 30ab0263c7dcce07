//! The resolved configuration of a run, as TOML. Every field has a default,
//! unknown keys are rejected, and the whole resolved config is written to the
//! run directory so that `translate`, `eval` and `--resume` rebuild the same run.

use std::path::{Path, PathBuf};

use attend_data::{BatchBy, TokenizerKind};
use attend_model::classifier::Pooling;
use attend_model::{Activation, PositionalKind, Score};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::schedule::ScheduleKind;

/// What a run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Translation of parallel text.
    #[default]
    Translate,
    /// Copy random digit sequences (a quick synthetic check).
    Copy,
    /// Language modelling: predict the next token of a text (decoder-only Transformer).
    Lm,
    /// Text classification: a label per text (Transformer encoder or LSTM).
    Classify,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// `translate` or `copy`.
    pub task: Task,
    pub model: ModelSection,
    pub data: DataSection,
    pub train: TrainSection,
    pub copy: CopySection,
}

/// `[model]`: the architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSection {
    /// Architecture: `transformer`, `rnn`, `lstm`, `gru` (encoder–decoder without
    /// attention) or `rnn-attention`, `lstm-attention`, `gru-attention`;
    /// language models `gpt` or a cell; classifiers `transformer`, `lstm` or
    /// `bag` (of n-grams).
    pub arch: String,
    /// Model width (for recurrent models: embedding and hidden width).
    pub d_model: usize,
    /// Attention heads.
    pub n_heads: usize,
    /// Feed-forward inner width.
    pub d_ff: usize,
    /// Encoder layers.
    pub encoder_layers: usize,
    /// Decoder layers.
    pub decoder_layers: usize,
    /// Dropout probability.
    pub dropout: f64,
    /// `post` (the paper) or `pre` LayerNorm placement.
    pub norm: NormPlacement,
    /// `sinusoidal` or `learned` positions.
    pub positional: PositionalKind,
    /// `relu` (the paper) or `gelu`.
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
    /// Classifiers: `mean` or `max` pooling (both), a `cls` token (Transformer) or the `final` states (LSTM).
    pub pooling: Pooling,
    /// Decoder-only language models: biases in the Linear and LayerNorm layers
    /// (`false` gives nanoGPT's default architecture, `bias = False`).
    pub bias: bool,
}

/// LayerNorm placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NormPlacement {
    Post,
    Pre,
}

impl Default for ModelSection {
    fn default() -> Self {
        Self {
            arch: "transformer".into(),
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
            pooling: Pooling::Mean,
            bias: true,
        }
    }
}

/// `[data]`: corpora, tokenisation and batching.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataSection {
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
    /// Language models: training text files.
    pub text: Vec<PathBuf>,
    /// Language models: validation text (default: the last tenth of `text`).
    pub valid_text: Option<PathBuf>,
    /// `word` or `char`.
    pub tokenizer: TokenizerKind,
    /// Lowercase all text.
    pub lowercase: bool,
    /// Keep tokens seen at least this often.
    pub min_freq: usize,
    /// Largest vocabulary (specials included); 0 = no limit.
    pub max_vocab: usize,
    /// `sentences` or `tokens`.
    pub batch_by: BatchBy,
    /// Sentences or tokens per batch.
    pub batch_size: usize,
    /// Sort by length inside shuffled pools.
    pub bucket: bool,
    /// Classifiers without `valid_text`: the seed that picks the held-out tenth
    /// (default: `train.seed`). Fix it to train several seeds on one split, for
    /// an ensemble or a fair comparison.
    pub split_seed: Option<u64>,
    /// Classifiers without `valid_text`: hold out fold `fold` (0-based) of
    /// `folds` equal parts of the shuffled data instead of its last tenth,
    /// for k-fold cross-validation (train once per fold, same `split_seed`).
    pub fold: Option<usize>,
    /// Number of folds that `fold` picks from.
    pub folds: usize,
    /// Classifiers with `model.arch = "bag"`: besides its words, a text is
    /// read as every run of 2..=`ngrams` adjacent words (1 = words only).
    pub ngrams: usize,
}

impl Default for DataSection {
    fn default() -> Self {
        Self {
            tsv: Some("data/tatoeba-eng-fra/train.tsv".into()),
            src: None,
            tgt: None,
            valid_tsv: Some("data/tatoeba-eng-fra/valid.tsv".into()),
            valid_src: None,
            valid_tgt: None,
            text: Vec::new(),
            valid_text: None,
            tokenizer: TokenizerKind::Word,
            lowercase: false,
            min_freq: 2,
            max_vocab: 0,
            batch_by: BatchBy::Sentences,
            batch_size: 64,
            bucket: true,
            split_seed: None,
            fold: None,
            folds: 10,
            ngrams: 1,
        }
    }
}

/// `[train]`: optimisation, evaluation and checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSection {
    /// Seed of initialisation, dropout and batch order.
    pub seed: u64,
    /// Epochs over the training data.
    pub epochs: usize,
    /// Stop after this many steps (0 = run all epochs).
    pub max_steps: usize,
    /// `noam`, `constant` or `cosine`.
    pub schedule: ScheduleKind,
    /// Peak learning rate (constant/cosine) or the Noam factor.
    pub lr: f64,
    /// Learning-rate warm-up steps.
    pub warmup_steps: usize,
    /// Floor of the cosine schedule.
    pub min_lr: f64,
    /// Adam β₁.
    pub beta1: f32,
    /// Adam β₂.
    pub beta2: f32,
    /// Adam ε.
    pub epsilon: f32,
    /// Label smoothing ε_ls.
    pub label_smoothing: f32,
    /// Decoupled weight decay (AdamW) of the matrices of language models and
    /// classifiers; translation uses Adam.
    pub weight_decay: f32,
    /// Classifiers: evaluate and keep an exponential moving average of the
    /// weights with this decay per step, e.g. 0.999 (0 = off; see `ema.rs`).
    pub ema: f64,
    /// Clip the global gradient norm to this (0 = off).
    pub clip_norm: f32,
    /// Evaluate every N steps (0 = only at epoch ends).
    pub eval_every: usize,
    /// Evaluate every N seconds of training time instead of at epoch ends (0 = off;
    /// evaluation time is not training time).
    pub eval_every_s: f64,
    /// Stop after this many seconds of training time, evaluation excluded (0 = no
    /// limit); the run then evaluates and checkpoints as at its last step.
    pub time_budget_s: f64,
    /// Checkpoint every N steps (0 = only at epoch ends).
    pub checkpoint_every: usize,
    /// Validation sentences translated for BLEU (0 = all).
    pub bleu_sentences: usize,
    /// Longest greedy translation, in tokens.
    pub max_decode_len: usize,
    /// Sample translations printed after training.
    pub samples: usize,
    /// Device: `auto`, `cpu`, `ndarray`, `flex`, `wgpu`, `wgpu:N`, … (see `attend info`).
    pub device: String,
}

impl Default for TrainSection {
    fn default() -> Self {
        Self {
            seed: 42,
            epochs: 12,
            max_steps: 0,
            schedule: ScheduleKind::Noam,
            lr: 1.0,
            warmup_steps: 400,
            min_lr: 0.0,
            beta1: 0.9,
            beta2: 0.98,
            epsilon: 1e-9,
            label_smoothing: 0.1,
            weight_decay: 0.0,
            ema: 0.0,
            clip_norm: 1.0,
            eval_every: 0,
            eval_every_s: 0.0,
            time_budget_s: 0.0,
            checkpoint_every: 200,
            bleu_sentences: 0,
            max_decode_len: 40,
            samples: 5,
            device: "auto".into(),
        }
    }
}

/// `[copy]`: the synthetic copy task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CopySection {
    /// Distinct symbols.
    pub symbols: usize,
    /// Shortest sequence.
    pub min_len: usize,
    /// Longest sequence.
    pub max_len: usize,
    /// Training sequences.
    pub train_size: usize,
    /// Held-out sequences.
    pub valid_size: usize,
}

impl Default for CopySection {
    fn default() -> Self {
        Self { symbols: 10, min_len: 3, max_len: 10, train_size: 20000, valid_size: 500 }
    }
}

/// Settings that make the copy task a quick check.
pub fn copy_task_overrides() -> &'static [(&'static str, &'static str)] {
    &[
        ("model.d_model", "64"),
        ("model.n_heads", "4"),
        ("model.d_ff", "128"),
        ("model.encoder_layers", "2"),
        ("model.decoder_layers", "2"),
        ("model.dropout", "0.0"),
        ("model.max_len", "32"),
        ("data.tokenizer", "\"char\""),
        ("train.epochs", "4"),
        ("train.warmup_steps", "100"),
        ("train.schedule", "\"constant\""),
        ("train.lr", "0.001"),
        ("train.label_smoothing", "0.0"),
        ("train.checkpoint_every", "0"),
    ]
}

/// Settings of `--task lm`: nanoGPT's CPU recipe for character-level Tiny
/// Shakespeare (context 64, batch 12, 4 layers, 4 heads, width 128, 2000
/// steps, dropout 0, AdamW lr 1e-3 → 1e-4 cosine, β₂ 0.99, weight decay 0.1).
pub fn lm_overrides() -> &'static [(&'static str, &'static str)] {
    &[
        ("task", "\"lm\""),
        ("model.arch", "\"gpt\""),
        ("model.d_model", "128"),
        ("model.n_heads", "4"),
        ("model.d_ff", "512"),
        ("model.decoder_layers", "4"),
        ("model.dropout", "0.0"),
        ("model.max_len", "64"),
        ("model.positional", "\"learned\""),
        ("model.norm", "\"pre\""),
        ("model.activation", "\"gelu\""),
        ("data.text", "[\"data/tinyshakespeare/train.txt\"]"),
        ("data.valid_text", "\"data/tinyshakespeare/valid.txt\""),
        ("data.tokenizer", "\"char\""),
        ("data.batch_size", "12"),
        ("train.max_steps", "2000"),
        ("train.schedule", "\"cosine\""),
        ("train.lr", "0.001"),
        ("train.min_lr", "0.0001"),
        ("train.warmup_steps", "100"),
        ("train.beta1", "0.9"),
        ("train.beta2", "0.99"),
        ("train.epsilon", "1e-8"),
        ("train.weight_decay", "0.1"),
        ("train.label_smoothing", "0.0"),
        ("train.clip_norm", "1.0"),
        ("train.eval_every", "250"),
        ("train.checkpoint_every", "250"),
    ]
}

/// Settings of `--task classify`: a small pre-LN Transformer encoder with
/// mean pooling over word tokens, Adam with a constant learning rate; with
/// `model.arch = "lstm"` a bidirectional LSTM.
pub fn classify_overrides() -> &'static [(&'static str, &'static str)] {
    &[
        ("task", "\"classify\""),
        ("model.arch", "\"transformer\""),
        ("model.d_model", "128"),
        ("model.n_heads", "4"),
        ("model.d_ff", "256"),
        ("model.encoder_layers", "2"),
        ("model.dropout", "0.3"),
        ("model.max_len", "128"),
        ("model.norm", "\"pre\""),
        ("model.bidirectional", "true"),
        ("data.text", "[\"data/rt-polarity/train.pos\", \"data/rt-polarity/train.neg\"]"),
        ("data.lowercase", "true"),
        ("data.min_freq", "1"),
        ("data.batch_size", "32"),
        ("train.epochs", "8"),
        ("train.schedule", "\"constant\""),
        ("train.lr", "0.0005"),
        ("train.warmup_steps", "100"),
        ("train.beta2", "0.999"),
        ("train.epsilon", "1e-8"),
        ("train.label_smoothing", "0.0"),
        ("train.clip_norm", "1.0"),
    ]
}

fn set_path(root: &mut toml::Value, key: &str, value: toml::Value) -> Result<()> {
    let parts: Vec<&str> = key.split('.').collect();
    let mut cur = root;
    for (i, part) in parts.iter().enumerate() {
        let table = cur
            .as_table_mut()
            .ok_or_else(|| TrainError::Config(format!("--set {key}: `{}` is not a section", parts[..i].join("."))))?;
        if i + 1 == parts.len() {
            table.insert(part.to_string(), value);
            return Ok(());
        }
        cur = table.entry(part.to_string()).or_insert_with(|| toml::Value::Table(Default::default()));
    }
    Ok(())
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Parses a `--set` value: a TOML literal (`0.1`, `true`, `"word"`), else a bare string.
pub fn parse_value(text: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

impl RunConfig {
    /// Resolves defaults ← `file` ← `sets` (`section.key=value`, in order).
    pub fn resolve(file: Option<&Path>, sets: &[(String, toml::Value)]) -> Result<Self> {
        let mut value = toml::Value::try_from(RunConfig::default()).map_err(|e| TrainError::Config(e.to_string()))?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
            let over: toml::Value = toml::from_str(&text)
                .map_err(|e| TrainError::Config(format!("{}: {}", path.display(), e.message())))?;
            Self::check(over.clone(), &path.display().to_string())?;
            merge(&mut value, over);
        }
        for (key, v) in sets {
            set_path(&mut value, key, v.clone())?;
            Self::check(value.clone(), &format!("--set {key}"))?;
        }
        Self::check(value, "config")
    }

    fn check(value: toml::Value, origin: &str) -> Result<Self> {
        let text = toml::to_string(&value).map_err(|e| TrainError::Config(e.to_string()))?;
        toml::from_str::<RunConfig>(&text).map_err(|e| TrainError::Config(format!("{origin}: {}", e.message())))
    }

    /// Reads a resolved config written by [`RunConfig::save`].
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        toml::from_str(&text).map_err(|e| TrainError::Config(format!("{}: {}", path.display(), e.message())))
    }

    /// Writes the resolved config as TOML.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string_pretty(self).map_err(|e| TrainError::Config(e.to_string()))?;
        crate::checkpoint::write_atomic(path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_override_and_unknown_keys_are_rejected() {
        let sets = vec![("model.d_model".to_string(), parse_value("128")), ("data.tokenizer".into(), parse_value("char"))];
        let c = RunConfig::resolve(None, &sets).unwrap();
        assert_eq!(c.model.d_model, 128);
        assert_eq!(c.data.tokenizer, TokenizerKind::Char);
        let bad = vec![("model.d_modle".to_string(), parse_value("128"))];
        let e = RunConfig::resolve(None, &bad).unwrap_err().to_string();
        assert!(e.contains("d_modle"), "{e}");
        let bad = vec![("train.lr".to_string(), parse_value("fast"))];
        assert!(RunConfig::resolve(None, &bad).is_err());
    }

    #[test]
    fn the_default_recipe_file_is_the_built_in_default() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/tatoeba-small.toml");
        assert_eq!(RunConfig::resolve(Some(&path), &[]).unwrap(), RunConfig::default());
    }

    #[test]
    fn round_trips_through_toml() {
        let c = RunConfig::default();
        let text = toml::to_string_pretty(&c).unwrap();
        assert_eq!(toml::from_str::<RunConfig>(&text).unwrap(), c);
    }
}
