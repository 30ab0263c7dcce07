//! The training loop of a translation (or copy) run: Adam with a learning-rate
//! schedule, label-smoothed loss, global-norm clipping, periodic evaluation and
//! checkpoints, the best checkpoint by validation score, Ctrl-C handling and
//! exact resumption.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use attend_data::{Batcher, Seq2SeqBatch};
use attend_model::{RecurrentSeq2SeqConfig, Seq2SeqConfig, Seq2SeqModel, TransformerConfig, CellKind};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

use crate::checkpoint::{self, TrainState};
use crate::clip::clip_global_norm;
use crate::config::{NormPlacement, RunConfig, Task};
use crate::error::{Result, TrainError};
use crate::metrics::{self, EvalMetrics, MetricsRow};
use crate::prepare::{prepare, Prepared};
use crate::schedule::Schedule;
use crate::seq2seq;

/// Builds the model config of a run from its resolved config and vocabularies.
pub fn model_config(cfg: &RunConfig, src_vocab: usize, tgt_vocab: usize) -> Result<Seq2SeqConfig> {
    let m = &cfg.model;
    let (cell, attention) = match m.arch.as_str() {
        "transformer" => return transformer_config(cfg, src_vocab, tgt_vocab).map(Seq2SeqConfig::Transformer),
        "rnn" => (CellKind::Rnn, false),
        "lstm" => (CellKind::Lstm, false),
        "gru" => (CellKind::Gru, false),
        "rnn-attention" => (CellKind::Rnn, true),
        "lstm-attention" => (CellKind::Lstm, true),
        "gru-attention" => (CellKind::Gru, true),
        other => {
            return Err(TrainError::Config(format!(
                "model.arch = {other:?}: use transformer, rnn, lstm, gru, rnn-attention, lstm-attention or gru-attention"
            )))
        }
    };
    Ok(Seq2SeqConfig::Recurrent(
        RecurrentSeq2SeqConfig::new(src_vocab, tgt_vocab)
            .with_cell(cell)
            .with_d_embed(m.d_model)
            .with_d_hidden(m.d_model)
            .with_encoder_layers(m.encoder_layers)
            .with_decoder_layers(m.decoder_layers)
            .with_dropout(m.dropout)
            .with_bidirectional(m.bidirectional)
            .with_attention(attention.then_some(m.attention_score))
            .with_max_len(m.max_len),
    ))
}

fn transformer_config(cfg: &RunConfig, src_vocab: usize, tgt_vocab: usize) -> Result<TransformerConfig> {
    let m = &cfg.model;
    let c = TransformerConfig::new(src_vocab, tgt_vocab)
        .with_d_model(m.d_model)
        .with_n_heads(m.n_heads)
        .with_d_ff(m.d_ff)
        .with_encoder_layers(m.encoder_layers)
        .with_decoder_layers(m.decoder_layers)
        .with_dropout(m.dropout)
        .with_norm_first(m.norm == NormPlacement::Pre)
        .with_positional(m.positional)
        .with_max_len(m.max_len)
        .with_share_embeddings(m.share_embeddings)
        .with_tie_output(m.tie_output)
        .with_activation(m.activation);
    c.validate()?;
    Ok(c)
}

/// The optimizer of a run: Adam with the configured β and ε.
pub fn optimizer(cfg: &RunConfig) -> ModuleOptimizer {
    AdamConfig::new()
        .with_beta_1(cfg.train.beta1)
        .with_beta_2(cfg.train.beta2)
        .with_epsilon(cfg.train.epsilon)
        .init()
}

/// How a call to [`train`] ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// All epochs (or `max_steps`) done.
    Finished,
    /// Stopped by Ctrl-C after writing a checkpoint.
    Interrupted,
}

/// What a run reports when it stops.
#[derive(Debug, Clone)]
pub struct Report {
    pub outcome: Outcome,
    pub state: TrainState,
    /// The last evaluation, if any.
    pub last_eval: Option<EvalMetrics>,
    /// `(source, output, reference)` samples from the validation data.
    pub samples: Vec<(String, String, String)>,
    pub params: usize,
    pub train_pairs: usize,
    pub dropped_pairs: usize,
    /// Embedding rows taken from `model.init_embeddings`, per table.
    pub init_embeddings: Vec<crate::word2vec::init::InitReport>,
}

/// A reference translation as BLEU should see it: lowercased when the run
/// lowercases its text (its outputs are lowercase, so cased references would
/// only measure the casing).
pub fn reference_text(cfg: &RunConfig, text: &str) -> String {
    if cfg.data.lowercase {
        text.to_lowercase()
    } else {
        text.to_string()
    }
}

fn step_seed(seed: u64, step: usize) -> u64 {
    seed.wrapping_mul(0x2545_F491_4F6C_DD1D).wrapping_add(step as u64).rotate_left(17) ^ 0xA5A5_5A5A
}

/// Files a finished or running run directory holds.
pub struct RunFiles;
impl RunFiles {
    pub const CONFIG: &'static str = "config.toml";
    pub const METRICS: &'static str = "metrics.csv";
    pub const BEST: &'static str = "best";
}

struct Loop<'a> {
    cfg: &'a RunConfig,
    run: &'a Path,
    data: &'a Prepared,
    device: Device,
    schedule: Schedule,
    valid_src: Vec<String>,
    valid_ref: Vec<String>,
}

impl Loop<'_> {
    fn evaluate(&self, model: &Seq2SeqModel) -> Result<EvalMetrics> {
        let valid_model = model.valid();
        let device = self.device.clone().inner();
        seq2seq::evaluate(
            &valid_model,
            &self.data.valid,
            &self.valid_src,
            &self.valid_ref,
            self.data.tokenizer.as_ref(),
            &self.data.src_vocab,
            &self.data.tgt_vocab,
            self.cfg.data.batch_size.max(16),
            self.cfg.train.bleu_sentences,
            self.cfg.train.max_decode_len,
            &device,
        )
    }

    fn score(&self, e: &EvalMetrics) -> f64 {
        match self.cfg.task {
            Task::Copy => e.exact_match * 100.0,
            Task::Translate | Task::Lm | Task::Classify => e.bleu,
        }
    }

    fn save_best(&self, model: &Seq2SeqModel, state: &TrainState) -> Result<()> {
        checkpoint::save_weights(&self.run.join(RunFiles::BEST), model, state)
    }
}

/// Trains the run in `run` (created if new). With `resume`, the config, vocabularies
/// and the newest checkpoint are read from `run` and training continues from there.
/// `interrupt` is polled after every step; when set, a checkpoint is written and
/// the call returns [`Outcome::Interrupted`].
pub fn train(cfg: &RunConfig, run: &Path, resume: bool, device: &Device, interrupt: Arc<AtomicBool>, quiet: bool) -> Result<Report> {
    let data = prepare(cfg, resume.then_some(run))?;
    let model_cfg = model_config(cfg, data.src_vocab.len(), data.tgt_vocab.len())?;
    let device = device.clone().autodiff();
    device.seed(cfg.train.seed);
    let mut model = model_cfg.init(&device)?;
    let mut init_report = Vec::new();
    if let (false, Some(path)) = (resume, &cfg.model.init_embeddings) {
        let vectors = attend_data::WordVectors::read(path, None)?;
        init_report = crate::word2vec::init::init_embeddings(&mut model, &vectors, path, &data.src_vocab, &data.tgt_vocab)?;
    }
    if !resume {
        std::fs::create_dir_all(run).map_err(|e| TrainError::io(run, e))?;
        cfg.save(&run.join(RunFiles::CONFIG))?;
        data.src_vocab.save(&run.join("vocab.src.json"))?;
        data.tgt_vocab.save(&run.join("vocab.tgt.json"))?;
    }
    let mut optim = optimizer(cfg);
    let mut state = TrainState::default();
    if resume {
        let (m, o, s) = checkpoint::load_newest(run, model, optim)?;
        model = m.fork(&device);
        optim = o;
        state = s;
    }
    let batcher = Batcher { size: cfg.data.batch_size, by: cfg.data.batch_by, bucket: cfg.data.bucket, seed: cfg.train.seed };
    let batches_per_epoch = batcher.epoch_batches(&data.train, 0).len();
    let total_steps = if cfg.train.max_steps > 0 {
        cfg.train.max_steps.min(batches_per_epoch * cfg.train.epochs)
    } else {
        batches_per_epoch * cfg.train.epochs
    };
    let schedule = Schedule {
        kind: cfg.train.schedule,
        lr: cfg.train.lr,
        min_lr: cfg.train.min_lr,
        warmup: cfg.train.warmup_steps,
        d_model: cfg.model.d_model,
        total: total_steps,
    };
    let l = Loop {
        cfg,
        run,
        data: &data,
        device: device.clone(),
        schedule,
        valid_src: data.valid_pairs.iter().map(|p| p.src.clone()).collect(),
        valid_ref: data.valid_pairs.iter().map(|p| reference_text(cfg, &p.tgt)).collect(),
    };
    let params = model.num_params();
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(total_steps as u64) };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(state.step as u64);
    let started = Instant::now();
    let elapsed_before = state.elapsed_secs;
    let train_secs_before = state.train_secs();
    let tokens_before = state.tokens;
    let mut last_eval = None;
    let mut window_loss = (0f64, 0usize);
    let mut outcome = Outcome::Finished;
    let within_budget = |s: &TrainState| cfg.train.time_budget_s <= 0.0 || s.train_secs() < cfg.train.time_budget_s;
    'epochs: while state.epoch < cfg.train.epochs && state.step < total_steps && within_budget(&state) {
        let batches = batcher.epoch_batches(&data.train, state.epoch as u64);
        while state.batch_in_epoch < batches.len() {
            if state.step >= total_steps {
                break 'epochs;
            }
            let batch = Seq2SeqBatch::new(&data.train, &batches[state.batch_in_epoch]);
            device.seed(step_seed(cfg.train.seed, state.step));
            let logits = seq2seq::logits(&model, &batch, &device)?;
            let loss = seq2seq::smoothed_loss(logits, &batch.tgt_out, cfg.train.label_smoothing, &device);
            let loss_value: f32 = loss.clone().into_scalar();
            if !loss_value.is_finite() {
                bar.finish_and_clear();
                return Err(TrainError::NonFinite { value: loss_value, step: state.step + 1, run: run.into() });
            }
            let mut grads = GradientsParams::from_grads(loss.backward(), &model);
            if cfg.train.clip_norm > 0.0 {
                clip_global_norm(&model, &mut grads, cfg.train.clip_norm);
            }
            let lr = l.schedule.at(state.step + 1);
            model = optim.step(lr, model, grads);
            let trained_before = state.train_secs();
            state.step += 1;
            state.batch_in_epoch += 1;
            state.tokens += batch.tgt_out.tokens() as u64;
            state.elapsed_secs = elapsed_before + started.elapsed().as_secs_f64();
            window_loss = (window_loss.0 + loss_value as f64, window_loss.1 + 1);
            let trained = state.train_secs();
            let tok_s = (state.tokens - tokens_before) as f64 / (trained - train_secs_before).max(1e-9);
            let budget_hit = !within_budget(&state);
            let every_s = cfg.train.eval_every_s;
            let timed_eval = every_s > 0.0 && (trained / every_s).floor() > (trained_before / every_s).floor();
            bar.set_position(state.step as u64);
            bar.set_message(format!("epoch {} loss {loss_value:.3} lr {lr:.2e} {tok_s:.0} tok/s", state.epoch + 1));
            let epoch_end = state.batch_in_epoch == batches.len();
            if epoch_end {
                state.epoch += 1;
                state.batch_in_epoch = 0;
            }
            let eval_now = (epoch_end && every_s <= 0.0)
                || budget_hit
                || timed_eval
                || state.step == total_steps
                || (cfg.train.eval_every > 0 && state.step % cfg.train.eval_every == 0);
            if eval_now {
                let eval_started = Instant::now();
                let e = l.evaluate(&model)?;
                state.eval_secs += eval_started.elapsed().as_secs_f64();
                state.elapsed_secs = elapsed_before + started.elapsed().as_secs_f64();
                let train_loss = window_loss.0 / window_loss.1.max(1) as f64;
                window_loss = (0.0, 0);
                let row = MetricsRow {
                    step: state.step,
                    epoch: state.epoch,
                    train_loss,
                    lr,
                    eval: e.clone(),
                    elapsed_secs: state.elapsed_secs,
                    tokens_per_sec: tok_s,
                    train_secs: trained,
                };
                metrics::append(&run.join(RunFiles::METRICS), &row)?;
                let line = format!(
                    "step {:>6}  epoch {:>3}  train_loss {:.4}  valid_loss {:.4}  ppl {:.2}  acc {:.3}  BLEU {:.2}  exact {:.3}  {:.0}s",
                    state.step, state.epoch, train_loss, e.loss, e.perplexity, e.token_accuracy, e.bleu, e.exact_match, state.elapsed_secs
                );
                bar.suspend(|| if !quiet { println!("{line}") });
                let score = l.score(&e);
                if state.best_score.is_none_or(|b| score > b) {
                    state.best_score = Some(score);
                    state.best_step = state.step;
                    l.save_best(&model, &state)?;
                }
                last_eval = Some(e);
            }
            let ckpt_now = epoch_end
                || budget_hit
                || state.step == total_steps
                || (cfg.train.checkpoint_every > 0 && state.step % cfg.train.checkpoint_every == 0);
            let interrupted = interrupt.load(Ordering::SeqCst);
            if ckpt_now || interrupted {
                checkpoint::save(&checkpoint::step_dir(run, state.step), &model, &optim, &state)?;
                checkpoint::prune(run, 2);
            }
            if interrupted {
                outcome = Outcome::Interrupted;
                break 'epochs;
            }
            if budget_hit {
                break 'epochs;
            }
        }
    }
    bar.finish_and_clear();
    let samples = if outcome == Outcome::Finished { samples(&l, cfg.train.samples)? } else { Vec::new() };
    Ok(Report {
        outcome,
        state,
        last_eval,
        samples,
        params,
        train_pairs: data.train.len(),
        dropped_pairs: data.dropped,
        init_embeddings: init_report,
    })
}

fn samples(l: &Loop, n: usize) -> Result<Vec<(String, String, String)>> {
    let best = l.run.join(RunFiles::BEST).join("model.bpk");
    if n == 0 || l.valid_src.is_empty() || !best.exists() {
        return Ok(Vec::new());
    }
    let device = l.device.clone().inner();
    let cfg = model_config(l.cfg, l.data.src_vocab.len(), l.data.tgt_vocab.len())?;
    let model = checkpoint::load_model(cfg.init(&device)?, &best)?;
    let step = (l.valid_src.len() / n).max(1);
    let picks: Vec<usize> = (0..l.valid_src.len()).step_by(step).take(n).collect();
    let srcs: Vec<String> = picks.iter().map(|&i| l.valid_src[i].clone()).collect();
    let (outs, _) = seq2seq::translate_text(
        &model,
        l.data.tokenizer.as_ref(),
        &l.data.src_vocab,
        &l.data.tgt_vocab,
        &srcs,
        l.cfg.train.max_decode_len,
        None,
        None,
        &device,
    )?;
    Ok(picks.iter().zip(outs).map(|(&i, o)| (l.valid_src[i].clone(), o, l.valid_ref[i].clone())).collect())
}

/// The directory of a run's weights to translate with: `best/`, else the newest checkpoint.
pub fn weights_dir(run: &Path) -> Result<PathBuf> {
    let best = run.join(RunFiles::BEST);
    if best.join("model.bpk").exists() {
        return Ok(best);
    }
    checkpoint::list(run)
        .pop()
        .map(|(_, d)| d)
        .ok_or_else(|| TrainError::Checkpoint { path: run.into(), reason: "the run has no trained weights yet".into() })
}
