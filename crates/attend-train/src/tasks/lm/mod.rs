//! Language-model runs (`task = "lm"`): a GPT-style decoder-only Transformer
//! (or a recurrent language model) trained to predict the next token of a
//! text. The batch of step s is `batch_size` random windows drawn from a
//! generator seeded by (seed, s), so a resumed run sees the batches a
//! straight run would; an epoch is as many steps as the training text has
//! windows' worth of tokens. Each evaluation estimates the training and
//! validation loss on 20 random batches each (as nanoGPT does); `best/` keeps
//! the weights with the lowest validation estimate, and a finished run also
//! reports the exact loss over every full window of the validation text.

pub mod data;
pub mod generate;
pub mod settings;

use std::ops::Range;
use std::path::Path;

use attend_data::Vocab;
use attend_model::gpt::GptConfig;
use attend_model::{CellKind, LanguageModel, LanguageModelConfig, RecurrentLmConfig};
use burn::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::config::RunConfig;
use crate::error::{Result, TrainError};
use crate::trainer::metrics::Column;
use crate::trainer::{self, checkpoint, run_dir, Evaluation, FitOptions, Fitted, Loss, Outcome, Start, Trainable};
use data::{loss_of, prepare, text_loss, windows, LmText, VOCAB};
use settings::{LmArch, LmConfig, LmModel};

/// The model config of a language-model run: the decoder-only Transformer
/// (`gpt`) or a recurrent language model of `layers` layers trained on
/// windows of `context` tokens.
pub fn lm_config(m: &LmModel, vocab: usize) -> LanguageModelConfig {
    let cell = match m.arch {
        LmArch::Gpt => {
            return LanguageModelConfig::Gpt(
                GptConfig::new(vocab)
                    .with_context(m.context)
                    .with_d_model(m.d_model)
                    .with_n_heads(m.n_heads)
                    .with_n_layers(m.layers)
                    .with_d_ff(m.d_ff)
                    .with_dropout(m.dropout)
                    .with_positional(m.positional)
                    .with_bias(m.bias),
            )
        }
        LmArch::Rnn => CellKind::Rnn,
        LmArch::Lstm => CellKind::Lstm,
        LmArch::Gru => CellKind::Gru,
    };
    LanguageModelConfig::Recurrent(
        RecurrentLmConfig::new(vocab)
            .with_cell(cell)
            .with_d_model(m.d_model)
            .with_n_layers(m.layers)
            .with_dropout(m.dropout)
            .with_context(m.context),
    )
}

/// The generator of step `step`'s windows (`stream` 0) and of the
/// evaluation batches at that step (1: training text, 2: validation text).
fn window_rng(seed: u64, step: usize, stream: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream.rotate_left(32))
}

/// Batches the evaluation estimates each loss on.
const ESTIMATE_BATCHES: usize = 20;

/// One training batch: step `step`'s windows, or the rows `rows` of them (a share).
#[derive(Debug, Clone, PartialEq)]
pub struct LmBatch {
    pub step: usize,
    pub rows: Range<usize>,
}

/// A language-model run as the trainer sees it.
pub struct LmTask<'a> {
    cfg: &'a LmConfig,
    text: LmText,
    per_epoch: usize,
}

impl<'a> LmTask<'a> {
    /// Reads the text of `cfg` (the vocabulary from `vocab_dir` when resuming).
    pub fn new(cfg: &'a LmConfig, vocab_dir: Option<&Path>) -> Result<Self> {
        let text = prepare(&cfg.data, cfg.model.context, vocab_dir)?;
        if cfg.data.batch_size == 0 {
            return Err(TrainError::Config("data.batch_size = 0: a batch needs at least one window".into()));
        }
        let per_epoch = text.train.len().div_ceil(cfg.data.batch_size * cfg.model.context).max(1);
        Ok(Self { cfg, text, per_epoch })
    }

    /// The encoded text and its vocabulary.
    pub fn text(&self) -> &LmText {
        &self.text
    }
}

impl Trainable for LmTask<'_> {
    type Model = LanguageModel;
    type Batch = LmBatch;

    fn init_model(&self, device: &Device) -> Result<LanguageModel> {
        Ok(lm_config(&self.cfg.model, self.text.vocab.len()).init(device)?)
    }

    fn size(&self) -> Result<(u128, String)> {
        let (m, v) = (&self.cfg.model, self.text.vocab.len());
        let count = lm_config(m, v).param_count();
        Ok((count, format!("the model (model.d_model = {}, model.d_ff = {}, model.layers = {}, model.context = {}, a vocabulary of {v})", m.d_model, m.d_ff, m.layers, m.context)))
    }

    fn run_files(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let mut files = vec![(VOCAB.into(), self.text.vocab.to_json()?)];
        files.extend(self.text.tokenizer.run_file()?);
        Ok(files)
    }

    fn width(&self) -> usize {
        self.cfg.model.d_model
    }

    fn epoch(&self, epoch: usize) -> Vec<LmBatch> {
        let rows = 0..self.cfg.data.batch_size;
        (epoch * self.per_epoch..(epoch + 1) * self.per_epoch).map(|step| LmBatch { step, rows: rows.clone() }).collect()
    }

    fn loss(&self, model: &LanguageModel, b: &LmBatch, device: &Device) -> Result<Loss> {
        let ctx = self.cfg.model.context;
        let mut rng = window_rng(self.cfg.train.seed, b.step, 0);
        let (x, y) = windows(&self.text.train, self.cfg.data.batch_size, ctx, &mut rng, device);
        let (x, y) = if b.rows == (0..self.cfg.data.batch_size) { (x, y) } else { (x.slice([b.rows.clone(), 0..ctx]), y.slice([b.rows.clone(), 0..ctx])) };
        let value = loss_of(model, x, y, self.cfg.train.label_smoothing)?;
        let tokens = b.rows.len() * ctx;
        Ok(Loss { value, terms: tokens, tokens })
    }

    fn split(&self, b: &LmBatch, parts: usize) -> Vec<LmBatch> {
        let n = b.rows.len();
        let parts = parts.clamp(1, n.max(1));
        (0..parts)
            .map(|i| LmBatch { step: b.step, rows: b.rows.start + i * n / parts..b.rows.start + (i + 1) * n / parts })
            .filter(|s| !s.rows.is_empty())
            .collect()
    }

    fn evaluate(&self, model: &LanguageModel, device: &Device, step: usize) -> Result<Evaluation> {
        let (batch, ctx) = (self.cfg.data.batch_size, self.cfg.model.context);
        let mut est = [0f64; 2];
        for (k, ids) in [&self.text.train, &self.text.valid].into_iter().enumerate() {
            let mut rng = window_rng(self.cfg.train.seed, step, 1 + k as u64);
            let ids_ctx = ctx.min(ids.len() - 1);
            for _ in 0..ESTIMATE_BATCHES {
                let (x, y) = windows(ids, batch, ids_ctx, &mut rng, device);
                est[k] += loss_of(model, x, y, 0.0)?.into_scalar::<f32>() as f64 / ESTIMATE_BATCHES as f64;
            }
        }
        Ok(Evaluation {
            columns: vec![Column::new("valid_loss", est[1], 5), Column::new("train_loss_est", est[0], 5)],
            score: -est[1],
            summary: format!("valid_loss {:.4}  (train {:.4}; estimates on {ESTIMATE_BATCHES} batches)", est[1], est[0]),
        })
    }
}

/// What a language-model run did.
pub struct LmReport {
    pub fitted: Fitted<LanguageModel>,
    /// Mean loss of the final weights over every full context window of the
    /// validation text (nats per token), when the run finished.
    pub valid_loss_full: Option<f64>,
    pub train_tokens: usize,
    pub vocab: usize,
}

/// Trains (or resumes) the language-model run `cfg` in the run directory `dir`.
pub fn train(whole: &RunConfig, cfg: &LmConfig, dir: &Path, resume: bool, devices: &[Device], opts: &FitOptions) -> Result<LmReport> {
    let task = LmTask::new(cfg, resume.then_some(dir))?;
    let start = if resume { Start::Resume } else { Start::New(whole) };
    let fitted = trainer::fit(&task, &cfg.train, dir, start, devices, opts)?;
    let valid_loss_full = match fitted.outcome {
        Outcome::Finished => Some(text_loss(&fitted.model, &task.text.valid, &devices[0].clone().inner(), false)?.0),
        Outcome::Interrupted => None,
    };
    Ok(LmReport { valid_loss_full, train_tokens: task.text.train.len(), vocab: task.text.vocab.len(), fitted })
}

/// A trained language model and what it needs to read and write text.
pub struct LoadedLm {
    pub cfg: LmConfig,
    pub tokenizer: data::LmTokenizer,
    pub vocab: Vocab,
    pub model: LanguageModel,
}

impl LoadedLm {
    /// Token ids of `text` in the run's vocabulary.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        self.tokenizer.encode(&self.vocab, text)
    }
}

/// Loads the best weights of a language-model run (its `best/`, else the
/// newest checkpoint) on `device`.
pub fn load_lm(run: &Path, device: &Device) -> Result<LoadedLm> {
    let cfg = match run_dir::config(run)? {
        RunConfig::Lm(cfg) => cfg,
        other => return Err(other.wrong_kind(run, "language-model")),
    };
    let tokenizer = data::saved_tokenizer(&cfg.data, run)?;
    let vocab = Vocab::load(&run.join(VOCAB))?;
    let model = lm_config(&cfg.model, vocab.len()).init(device)?;
    let model = checkpoint::load_model(model, &run_dir::weights_dir(run)?.join("model.bpk"))?;
    Ok(LoadedLm { cfg, tokenizer, vocab, model })
}
