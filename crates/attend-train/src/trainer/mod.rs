//! The one training loop. Every task that learns by gradient descent — the
//! translator, the copy task, the language model, the classifier and the
//! speller — is a [`Trainable`]: it builds its model, lists the batches of an
//! epoch, computes a batch's loss and evaluates a model. [`fit`] owns the
//! rest, the same for every task: the optimizer (Adam, with decoupled weight
//! decay) and its learning-rate schedule, per-step seeding of the device's
//! random numbers, gradient clipping, the guard against a non-finite loss,
//! the evaluation cadence (epoch ends, every N steps or N seconds, the end of
//! the time budget), `metrics.csv`, `best/` by the task's own score, an
//! exponential moving average of the weights, checkpoints and their pruning,
//! exact resumption (optimizer, schedule, step, random streams, data
//! position, average), Ctrl-C, the progress bar, and data-parallel training
//! over several devices.
//!
//! Why not burn-train's `Learner`: its checkpoints are written per epoch and
//! hold neither the shuffling state nor the position inside the epoch, so a
//! run stopped mid-epoch cannot continue exactly where it stopped; attend
//! promises that it does. word2vec keeps a loop of its own (sparse lock-free
//! updates, no autodiff) and shares the run directory, atomic writes, Ctrl-C
//! and the progress display with this one.

pub mod average;
pub mod checkpoint;
pub mod clip;
pub mod ema;
pub mod integrity;
pub mod interrupt;
pub mod lock;
pub mod metrics;
pub mod optim;
pub mod parallel;
pub mod progress;
pub mod run_dir;
pub mod schedule;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;

use crate::config::TrainSettings;
use crate::error::{Result, TrainError};
use checkpoint::TrainState;
use ema::Ema;
use metrics::{Column, MetricsRow};
use optim::step_seed;
use schedule::Schedule;

/// A batch's loss, as [`Trainable::loss`] returns it.
pub struct Loss {
    /// The mean loss over the batch's terms `[1]` (on the autodiff device).
    pub value: Tensor<1>,
    /// How many terms the mean is over (target tokens, windows' tokens,
    /// texts): the weight of this share when a batch is split over devices.
    pub terms: usize,
    /// Tokens the batch trains on (for tokens/s).
    pub tokens: usize,
}

/// One evaluation of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The task's metrics, in `metrics.csv` order.
    pub columns: Vec<Column>,
    /// Higher is better: `best/` keeps the weights with the highest score.
    pub score: f64,
    /// The metrics as printed after each evaluation.
    pub summary: String,
}

impl Evaluation {
    /// The value of the column `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.columns.iter().find(|c| c.name == name).map(|c| c.value)
    }
}

/// A task the trainer can fit (shared by the threads that train a step's
/// shares side by side, hence `Sync`).
pub trait Trainable: Sync {
    /// The model it trains.
    type Model: Module + Sync;
    /// One batch, cheap to hold (e.g. the indices of its examples); the data
    /// behind it is read in [`Trainable::loss`].
    type Batch: Sync;

    /// A freshly initialised model on `device` (its random numbers come from
    /// the device, seeded with `train.seed` just before).
    fn init_model(&self, device: &Device) -> Result<Self::Model>;

    /// The parameters [`Trainable::init_model`] will allocate, counted
    /// without allocating them, and the settings that decide the number (for
    /// the error that refuses a model the machine cannot train).
    fn size(&self) -> Result<(u128, String)>;

    /// Work done once on a new run's fresh model, e.g. embeddings initialised
    /// from word vectors; returns lines to report.
    fn prepare_fresh(&self, _model: &mut Self::Model) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// The files a new run directory holds besides its config (name, bytes):
    /// vocabularies, labels and the like.
    fn run_files(&self) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(Vec::new())
    }

    /// The width the Noam schedule scales by (`d_model`).
    fn width(&self) -> usize;

    /// The batches of `epoch` in training order: a pure function of the
    /// seed and the epoch, so that a resumed run sees the batches a straight
    /// run would. Every epoch has the same number of batches.
    fn epoch(&self, epoch: usize) -> Vec<Self::Batch>;

    /// The mean loss of `batch` under `model` (in training mode, on `device`).
    fn loss(&self, model: &Self::Model, batch: &Self::Batch, device: &Device) -> Result<Loss>;

    /// `batch` cut into `parts` shares (for data-parallel training; a share may be empty).
    fn split(&self, batch: &Self::Batch, parts: usize) -> Vec<Self::Batch>;

    /// Scores `model` (in validation mode) on the validation data; `step` seeds
    /// any sampling the evaluation does.
    fn evaluate(&self, model: &Self::Model, device: &Device, step: usize) -> Result<Evaluation>;
}

/// Where [`fit`] starts.
#[derive(Debug, Clone, Copy)]
pub enum Start<'a> {
    /// A new run with this config: its directory is created once the model
    /// is ready (a run that fails to start leaves nothing behind).
    New(&'a crate::config::RunConfig),
    /// The newest checkpoint of the run directory.
    Resume,
}

/// How a call to [`fit`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// All epochs (or `max_steps`, or the time budget) done.
    Finished,
    /// Stopped by Ctrl-C after writing a checkpoint.
    Interrupted,
}

/// How to run [`fit`] besides the settings.
#[derive(Debug, Clone, Default)]
pub struct FitOptions {
    /// No progress bar and no lines printed.
    pub quiet: bool,
    /// Raised (by Ctrl-C) to stop after the current step with a checkpoint.
    pub interrupt: Arc<AtomicBool>,
}

/// What [`fit`] did.
#[derive(Debug, Clone)]
pub struct Fitted<M> {
    /// The weights at the end (the average, with `train.ema`).
    pub model: M,
    pub outcome: Outcome,
    pub state: TrainState,
    /// The last evaluation, if any.
    pub last_eval: Option<Evaluation>,
    /// Parameters of the model.
    pub params: usize,
    /// Lines reported by [`Trainable::prepare_fresh`].
    pub notes: Vec<String>,
    /// Whether `train.patience` ended the run before its last step.
    pub stopped_early: bool,
}

/// Initialises every parameter of `model` now. Burn draws some parameters
/// (embedding tables, for one) lazily, at their first use: without this they
/// would take their values from whatever the device's generator holds at the
/// first training step (the step's own seed), not from `train.seed`.
fn initialise_now<M: Module>(model: &M) {
    struct Touch;
    impl ModuleVisitor for Touch {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let _ = param.val();
        }
    }
    model.visit(&mut Touch);
}

/// Total optimizer steps of a run with `per_epoch` batches per epoch.
pub fn total_steps(s: &TrainSettings, per_epoch: usize) -> usize {
    let by_epochs = if s.epochs > 0 { per_epoch * s.epochs } else { usize::MAX };
    if s.max_steps > 0 {
        s.max_steps.min(by_epochs)
    } else {
        by_epochs
    }
}

/// The model the trainer evaluates and keeps: the average, or the weights in validation mode.
fn kept<M: Module>(model: &M, ema: &Option<Ema<M>>) -> M {
    match ema {
        Some(e) => e.model.clone(),
        None => model.valid(),
    }
}

/// Bytes a trained f32 parameter holds: its value, its gradient and Adam's two moments.
pub const TRAINING_BYTES_PER_PARAM: u128 = 16;

/// Trains `task` in the run directory `run` (new, or resumed from its newest
/// checkpoint) on `devices` (several: data-parallel, one share of every batch
/// each; the first holds the weights).
pub fn fit<T: Trainable>(task: &T, s: &TrainSettings, run: &Path, start: Start, devices: &[Device], opts: &FitOptions) -> Result<Fitted<T::Model>> {
    let first = devices.first().ok_or_else(|| TrainError::Device("no device to train on".into()))?;
    let device = first.clone().autodiff();
    let replicas: Vec<Device> = devices.iter().map(|d| d.clone().autodiff()).collect();
    let inner = first.clone().inner();
    device.seed(s.seed);
    let (params, what) = task.size()?;
    attend_model::size::check_fits(params, TRAINING_BYTES_PER_PARAM, &format!("{what}, trained (weights, gradients and Adam's two moments)"))?;
    let mut model = task.init_model(&device)?;
    initialise_now(&model);
    let mut optim = optim::adam(s);
    let mut state = TrainState::default();
    let mut notes = Vec::new();
    let mut ema = None;
    // A resumed run holds its directory's lock from the start; a new one once its directory exists.
    let mut run_lock = match start {
        Start::Resume => Some(lock::RunLock::acquire(run)?),
        Start::New(_) => None,
    };
    // A run killed before its first checkpoint starts over (from the same seed: the same run).
    let fresh = matches!(start, Start::New(_)) || checkpoint::list(run).is_empty();
    if fresh {
        if let Start::Resume = start {
            progress::say(&progress::steps(0, false), opts.quiet, "the run has no checkpoint yet: starting it over from step 0");
            metrics::truncate_after(&run.join(run_dir::METRICS), 0)?;
        }
        notes = task.prepare_fresh(&mut model)?;
        if s.ema > 0.0 {
            ema = Some(Ema::new(model.valid(), s.ema, 0));
        }
    } else {
        // What a killed run left half-written goes; a damaged checkpoint is passed over, loudly.
        integrity::clean_up(&run.join("checkpoints"));
        integrity::clean_up(run);
        let (dir, skipped) = integrity::newest_valid(run)?;
        for (bad, why) in &skipped {
            eprintln!("warning: {why}; resuming from the checkpoint before it ({}) instead of {}", dir.display(), bad.display());
        }
        let (m, o, st) = checkpoint::load(&dir, model, optim)?;
        (model, optim, state) = (m.fork(&device), o, st);
        // Rows a killed run wrote after this checkpoint are written again as the steps are redone.
        metrics::truncate_after(&run.join(run_dir::METRICS), state.step)?;
        if s.ema > 0.0 {
            // The average saved with the checkpoint continues; a checkpoint without one starts it here.
            let saved = dir.join(checkpoint::EMA_FILE);
            ema = Some(if saved.exists() {
                Ema::new(checkpoint::load_model(task.init_model(&inner)?, &saved)?, s.ema, state.step)
            } else {
                Ema::new(model.valid(), s.ema, 0)
            });
        }
    }
    if let Start::New(cfg) = start {
        run_dir::create(run, cfg, &task.run_files()?)?;
        run_lock = Some(lock::RunLock::acquire(run)?);
    }
    let _run_lock = run_lock;
    let per_epoch = task.epoch(0).len();
    if per_epoch == 0 {
        return Err(TrainError::Invalid("the training data gives no batch".into()));
    }
    let total = total_steps(s, per_epoch.div_ceil(s.accumulate));
    let schedule = Schedule { kind: s.schedule, lr: s.lr, min_lr: s.min_lr, warmup: s.warmup_steps, d_model: task.width(), total };
    let params = model.num_params();
    let bar = progress::steps(total as u64, !opts.quiet);
    bar.set_position(state.step as u64);
    let started = Instant::now();
    let (elapsed_before, train_secs_before, tokens_before) = (state.elapsed_secs, state.train_secs(), state.tokens);
    let mut last_eval = None;
    let mut outcome = Outcome::Finished;
    let mut stopped_early = false;
    let within_budget = |st: &TrainState| s.time_budget_s <= 0.0 || st.train_secs() < s.time_budget_s;
    let metrics_path = run.join(run_dir::METRICS);
    // On one CPU device with several threads, each batch is cut into one share per thread.
    let host_shares = parallel::host_shares(&device);
    'epochs: while (s.epochs == 0 || state.epoch < s.epochs) && state.step < total && within_budget(&state) {
        let batches = task.epoch(state.epoch);
        while state.batch_in_epoch < batches.len() {
            if state.step >= total {
                break 'epochs;
            }
            let group = &batches[state.batch_in_epoch..(state.batch_in_epoch + s.accumulate).min(batches.len())];
            let seed = step_seed(s.seed, state.step);
            let (value, tokens, grads) = if replicas.len() == 1 && host_shares > 1 {
                parallel::host_gradients(task, &model, group, host_shares, &device, seed)?
            } else if replicas.len() == 1 && group.len() == 1 {
                device.seed(seed);
                let loss = task.loss(&model, &group[0], &device)?;
                let value: f32 = loss.value.clone().into_scalar();
                let tokens = loss.tokens;
                if value.is_finite() {
                    (value, tokens, GradientsParams::from_grads(loss.value.backward(), &model))
                } else {
                    (value, tokens, GradientsParams::new())
                }
            } else {
                parallel::gradients(task, &model, group, &replicas, seed)?
            };
            if !value.is_finite() {
                bar.finish_and_clear();
                return Err(TrainError::NonFinite { value, step: state.step + 1, run: run.into() });
            }
            let lr = schedule.at(state.step + 1);
            model = optim::update(model, &mut optim, grads, s, lr);
            if let Some(ema) = &mut ema {
                ema.update(&model.valid());
            }
            let trained_before = state.train_secs();
            state.step += 1;
            state.batch_in_epoch += group.len();
            state.tokens += tokens as u64;
            state.elapsed_secs = elapsed_before + started.elapsed().as_secs_f64();
            state.window_loss += value as f64;
            state.window_steps += 1;
            let trained = state.train_secs();
            let tok_s = (state.tokens - tokens_before) as f64 / (trained - train_secs_before).max(1e-9);
            let budget_hit = !within_budget(&state);
            let timed_eval = s.eval_every_s > 0.0 && (trained / s.eval_every_s).floor() > (trained_before / s.eval_every_s).floor();
            bar.set_position(state.step as u64);
            bar.set_message(format!("epoch {} loss {value:.3} lr {lr:.2e} {tok_s:.0} tok/s", state.epoch + 1));
            let epoch_end = state.batch_in_epoch == batches.len();
            if epoch_end {
                state.epoch += 1;
                state.batch_in_epoch = 0;
            }
            let at_end = state.step == total || budget_hit;
            let eval_now = at_end
                || timed_eval
                || (s.eval_every > 0 && state.step % s.eval_every == 0)
                || (epoch_end && s.eval_every == 0 && s.eval_every_s <= 0.0);
            if eval_now {
                let eval_started = Instant::now();
                let kept_model = kept(&model, &ema);
                let e = task.evaluate(&kept_model, &inner, state.step)?;
                let last_weights = match (&ema, opts.quiet) {
                    (Some(_), false) => format!("  (last weights: score {:.4})", task.evaluate(&model.valid(), &inner, state.step)?.score),
                    _ => String::new(),
                };
                state.eval_secs += eval_started.elapsed().as_secs_f64();
                state.elapsed_secs = elapsed_before + started.elapsed().as_secs_f64();
                let train_loss = state.window_loss / state.window_steps.max(1) as f64;
                (state.window_loss, state.window_steps) = (0.0, 0);
                let row = MetricsRow {
                    step: state.step,
                    epoch: state.epoch,
                    train_loss,
                    lr,
                    columns: e.columns.clone(),
                    elapsed_secs: state.elapsed_secs,
                    tokens_per_sec: tok_s,
                    train_secs: trained,
                };
                metrics::append(&metrics_path, &row)?;
                let line = format!(
                    "step {:>6}  epoch {:>3}  train_loss {train_loss:.4}  {}{last_weights}  {:.0}s",
                    state.step, state.epoch, e.summary, state.elapsed_secs
                );
                progress::say(&bar, opts.quiet, &line);
                if state.best_score.is_none_or(|b| e.score > b) {
                    state.best_score = Some(e.score);
                    state.best_step = state.step;
                    state.evals_since_best = 0;
                    checkpoint::save_weights(&run.join(run_dir::BEST), &kept_model, &state)?;
                } else {
                    state.evals_since_best += 1;
                }
                last_eval = Some(e);
            }
            let patience_out = s.patience > 0 && state.evals_since_best >= s.patience;
            if patience_out {
                stopped_early = true;
                progress::say(&bar, opts.quiet, &format!("stopping early: {} evaluations without a better validation score", s.patience));
            }
            let interrupted = opts.interrupt.load(Ordering::SeqCst);
            let ckpt_now = at_end || patience_out || (s.checkpoint_every > 0 && state.step % s.checkpoint_every == 0) || (epoch_end && s.checkpoint_every == 0);
            if ckpt_now || interrupted {
                let extra = match &ema {
                    Some(e) => vec![(checkpoint::EMA_FILE, checkpoint::model_bytes(&e.model)?)],
                    None => Vec::new(),
                };
                checkpoint::save_with(&checkpoint::step_dir(run, state.step), &model, &optim, &state, extra)?;
                checkpoint::prune(run, s.keep_checkpoints);
            }
            if interrupted {
                outcome = Outcome::Interrupted;
                break 'epochs;
            }
            if budget_hit || patience_out {
                break 'epochs;
            }
            if epoch_end {
                break; // the next epoch's batches, in its own order
            }
        }
    }
    bar.finish_and_clear();
    let model = kept(&model, &ema);
    Ok(Fitted { model, outcome, state, last_eval, params, notes, stopped_early })
}
