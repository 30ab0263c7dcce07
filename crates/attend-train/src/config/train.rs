//! `[train]`: the settings the trainer reads for every task it fits
//! (translation, copy, language model, classifier, speller). Each task's
//! defaults start from [`TrainSettings::default`] and change what its recipe
//! changes, in one place: the task's own `Default`.

use serde::{Deserialize, Serialize};

use crate::trainer::schedule::ScheduleKind;

/// The most batches one optimizer step may accumulate.
pub const MAX_ACCUMULATE: usize = 1024;

/// `[train]`: optimisation, evaluation and checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSettings {
    /// Seed of initialisation, dropout and batch order.
    pub seed: u64,
    /// Epochs over the training data (0 = no limit; then `max_steps` ends the run).
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
    /// Decoupled weight decay (AdamW, Loshchilov & Hutter, 2019) of the
    /// weight matrices and embeddings; biases and norms are not decayed.
    pub weight_decay: f32,
    /// Evaluate and keep an exponential moving average of the weights with
    /// this decay per step, e.g. 0.999 (0 = off; see `trainer/ema.rs`).
    pub ema: f64,
    /// Clip the global gradient norm to this (0 = off).
    pub clip_norm: f32,
    /// Batches whose gradients are summed before each optimizer step
    /// (gradient accumulation: a k times larger batch at the memory of one).
    #[serde(default = "one")]
    pub accumulate: usize,
    /// Stop when this many evaluations in a row have not improved the best
    /// validation score (early stopping; 0 = off).
    #[serde(default)]
    pub patience: usize,
    /// Label smoothing ε_ls of the cross-entropy (Szegedy et al., 2016).
    pub label_smoothing: f32,
    /// Evaluate every N steps (0 = at epoch ends, unless `eval_every_s` is set).
    pub eval_every: usize,
    /// Evaluate every N seconds of training time (0 = off; evaluation time
    /// is not training time).
    pub eval_every_s: f64,
    /// Stop after this many seconds of training time, evaluation excluded (0 = no
    /// limit); the run then evaluates and checkpoints as at its last step.
    pub time_budget_s: f64,
    /// Checkpoint every N steps (0 = at epoch ends). A checkpoint is also
    /// written at the last step, when the time budget ends and on Ctrl-C.
    pub checkpoint_every: usize,
    /// Checkpoints kept (the newest); older ones are deleted.
    pub keep_checkpoints: usize,
    /// Device: `auto`, `cpu`, `ndarray`, `flex`, `wgpu`, `wgpu:N`, … (see
    /// `attend info`); several, comma-separated (`wgpu:0,wgpu:1`), train
    /// data-parallel, one share of each batch per device.
    pub device: String,
}

fn one() -> usize {
    1
}

impl Default for TrainSettings {
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
            weight_decay: 0.0,
            ema: 0.0,
            clip_norm: 1.0,
            accumulate: 1,
            patience: 0,
            label_smoothing: 0.1,
            eval_every: 0,
            eval_every_s: 0.0,
            time_budget_s: 0.0,
            checkpoint_every: 200,
            keep_checkpoints: 2,
            device: "auto".into(),
        }
    }
}

impl TrainSettings {
    /// Checks the values that no type rules out.
    pub fn validate(&self) -> Result<(), String> {
        if self.epochs == 0 && self.max_steps == 0 {
            return Err("train.epochs and train.max_steps are both 0: set one of them to end the run".into());
        }
        if !(0.0..1.0).contains(&self.ema) {
            return Err(format!("train.ema = {}: the averaging decay must be in [0, 1) (0 = off)", self.ema));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err(format!("train.label_smoothing = {}: must be in [0, 1)", self.label_smoothing));
        }
        use super::checks::{finite_non_negative, finite_positive};
        finite_positive("train.lr", self.lr)?;
        finite_non_negative("train.min_lr", self.min_lr)?;
        for (key, beta) in [("train.beta1", self.beta1), ("train.beta2", self.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                return Err(format!("{key} = {beta}: Adam's decay rates must be in [0, 1)"));
            }
        }
        finite_positive("train.epsilon", self.epsilon as f64)?;
        if self.accumulate == 0 {
            return Err("train.accumulate = 0: a step needs at least one batch".into());
        }
        if self.accumulate > MAX_ACCUMULATE {
            return Err(format!("train.accumulate = {}: at most {MAX_ACCUMULATE} batches per optimizer step (raise data.batch_size instead)", self.accumulate));
        }
        if self.keep_checkpoints == 0 {
            return Err("train.keep_checkpoints = 0: keep at least the newest checkpoint".into());
        }
        finite_non_negative("train.time_budget_s", self.time_budget_s)?;
        finite_non_negative("train.eval_every_s", self.eval_every_s)?;
        finite_non_negative("train.weight_decay", self.weight_decay as f64)?;
        finite_non_negative("train.clip_norm", self.clip_norm as f64)?;
        Ok(())
    }
}
