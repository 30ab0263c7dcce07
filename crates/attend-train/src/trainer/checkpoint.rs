//! Checkpoints: everything needed to continue a run exactly where it stopped.
//!
//! A checkpoint is a directory `checkpoints/step-NNNNNNNN/` holding the model
//! (`model.bpk`), the optimizer state (`optim.bpk`, Adam's moments keyed by
//! parameter id), `state.json` (step, epoch, batch position, best score) and,
//! with weight averaging, the average (`ema.bpk`).
//! The learning rate is a pure function of the step and the random streams
//! (dropout, batch order) are reseeded from `(seed, step)` / `(seed, epoch)`,
//! so the step and data position restore them too. A checkpoint is written
//! into a hidden temporary directory and renamed into place: a crash leaves
//! either the old checkpoint or the new one, never half of one.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::{ModuleOptimizer, OptimizerRecord};
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// Where a run is in its training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TrainState {
    /// Optimizer steps taken.
    pub step: usize,
    /// Current epoch (0-based).
    pub epoch: usize,
    /// Batches of `epoch` already trained on.
    pub batch_in_epoch: usize,
    /// Best validation score so far (BLEU or accuracy) and its step.
    pub best_score: Option<f64>,
    pub best_step: usize,
    /// Seconds of training so far (across resumes).
    pub elapsed_secs: f64,
    /// Target tokens trained on so far.
    pub tokens: u64,
    /// Seconds of `elapsed_secs` spent evaluating (so training time is the difference).
    #[serde(default)]
    pub eval_secs: f64,
    /// Sum of the training losses since the last evaluation, and their number
    /// (the next `metrics.csv` row's train loss continues across a resume).
    #[serde(default)]
    pub window_loss: f64,
    #[serde(default)]
    pub window_steps: usize,
    /// Evaluations since the best one (for `train.patience`).
    #[serde(default)]
    pub evals_since_best: usize,
}

impl TrainState {
    /// Seconds spent training, evaluation excluded.
    pub fn train_secs(&self) -> f64 {
        (self.elapsed_secs - self.eval_secs).max(0.0)
    }
}

/// Writes `bytes` to `path` and waits until they are on disk.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(|e| TrainError::io(path, e))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| TrainError::io(path, e))?;
    fault_pause();
    Ok(())
}

/// For fault tests: `ATTEND_SLOW_WRITES_MS=N` waits N ms after every file a
/// checkpoint writes, so that a kill lands inside a write often enough to test
/// (tests/faults.rs). Unset, it costs one cached environment lookup.
fn fault_pause() {
    static PAUSE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let ms = *PAUSE.get_or_init(|| std::env::var("ATTEND_SLOW_WRITES_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(0));
    if ms > 0 {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!(
        "{}tmp",
        path.extension().map(|e| format!("{}.", e.to_string_lossy())).unwrap_or_default()
    ));
    write_synced(&tmp, bytes)?;
    std::fs::rename(&tmp, path).map_err(|e| TrainError::io(path, e))
}

fn ckpt_err(path: &Path, reason: impl ToString) -> TrainError {
    TrainError::Checkpoint { path: path.into(), reason: reason.to_string() }
}

/// Serialises a module's weights (burnpack, parameter ids kept).
pub fn model_bytes<M: Module>(model: &M) -> Result<Vec<u8>> {
    let bytes = model.clone().into_record().into_bytes().map_err(|e| ckpt_err(Path::new("model"), format!("{e:?}")))?;
    Ok(bytes.to_vec())
}

/// Loads weights written by [`model_bytes`] into `model`; a shape or name
/// mismatch (another architecture or vocabulary) is an error naming `path`.
pub fn load_model<M: Module>(model: M, path: &Path) -> Result<M> {
    let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
    load_model_bytes(model, bytes, path)
}

/// Loads weights from bytes written by [`model_bytes`]; errors name `origin`.
pub fn load_model_bytes<M: Module>(model: M, bytes: Vec<u8>, origin: &Path) -> Result<M> {
    let path = origin;
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)).map_err(|e| ckpt_err(path, format!("{e:?}")))?;
    model.try_load_record(record).map_err(|e| {
        let detail = format!("{e:?}");
        let detail = if detail.chars().count() > 240 {
            format!("{}…", detail.chars().take(240).collect::<String>())
        } else {
            detail
        };
        ckpt_err(path, format!("does not fit this model (architecture or vocabulary differs): {detail}"))
    })
}

/// Writes `files` (name, bytes) as the directory `dir`, atomically: they go
/// into a hidden temporary directory that then replaces `dir`.
pub fn write_dir(dir: &Path, files: &[(&str, Vec<u8>)]) -> Result<()> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = parent.join(format!(".tmp-{name}"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    for (file, bytes) in files {
        let p = tmp.join(file);
        write_synced(&p, bytes)?;
    }
    // Last, the checksums of the files, so that damage on disk is found when the directory is read.
    let sums = super::integrity::checksums(files.iter().map(|(n, b)| (*n, b.as_slice())));
    write_synced(&tmp.join(super::integrity::CHECKSUMS), &sums)?;
    // Replace an existing directory of the same name: move it aside, move the new one in.
    let old = parent.join(format!(".old-{name}"));
    if dir.exists() {
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(dir, &old).map_err(|e| TrainError::io(dir, e))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| TrainError::io(dir, e))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

fn state_json(state: &TrainState, dir: &Path) -> Result<Vec<u8>> {
    Ok(serde_json::to_string_pretty(state).map_err(|e| ckpt_err(dir, e))?.into_bytes())
}

/// Writes a checkpoint (model, optimizer, state) atomically.
pub fn save<M: Module>(dir: &Path, model: &M, optim: &ModuleOptimizer, state: &TrainState) -> Result<()> {
    save_with(dir, model, optim, state, Vec::new())
}

/// As [`save`], with `extra` files (name, bytes) in the same atomic directory.
pub fn save_with<M: Module>(dir: &Path, model: &M, optim: &ModuleOptimizer, state: &TrainState, extra: Vec<(&str, Vec<u8>)>) -> Result<()> {
    let optim_bytes = optim.to_record().into_bytes().map_err(|e| ckpt_err(dir, format!("{e:?}")))?;
    let mut files = vec![("model.bpk", model_bytes(model)?), ("optim.bpk", optim_bytes.to_vec()), ("state.json", state_json(state, dir)?)];
    files.extend(extra);
    write_dir(dir, &files)
}

/// Writes the weights and state of the best model so far (no optimizer state).
pub fn save_weights<M: Module>(dir: &Path, model: &M, state: &TrainState) -> Result<()> {
    write_dir(dir, &[("model.bpk", model_bytes(model)?), ("state.json", state_json(state, dir)?)])
}

/// The file of a checkpoint that holds the averaged weights (`train.ema`).
pub const EMA_FILE: &str = "ema.bpk";

/// Loads a checkpoint into `model` and `optim`.
pub fn load<M: Module>(dir: &Path, model: M, optim: ModuleOptimizer) -> Result<(M, ModuleOptimizer, TrainState)> {
    let model = load_model(model, &dir.join("model.bpk"))?;
    let path = dir.join("optim.bpk");
    let bytes = std::fs::read(&path).map_err(|e| TrainError::io(&path, e))?;
    let record = OptimizerRecord::from_bytes(Bytes::from_bytes_vec(bytes)).map_err(|e| ckpt_err(&path, format!("{e:?}")))?;
    let optim = optim.load_record(record);
    Ok((model, optim, read_state(dir)?))
}

/// The newest complete checkpoint of `run` (an error when there is none).
pub fn newest(run: &Path) -> Result<PathBuf> {
    list(run)
        .pop()
        .map(|(_, dir)| dir)
        .ok_or_else(|| TrainError::Checkpoint { path: run.join("checkpoints"), reason: "no checkpoint to resume from".into() })
}

/// The directory name of the checkpoint at `step`.
pub fn step_dir(run: &Path, step: usize) -> PathBuf {
    run.join("checkpoints").join(format!("step-{step:08}"))
}

/// Complete checkpoints of a run, oldest first.
pub fn list(run: &Path) -> Vec<(usize, PathBuf)> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(run.join("checkpoints")) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(step) = name.strip_prefix("step-").and_then(|s| s.parse::<usize>().ok()) {
                if e.path().join("state.json").exists() {
                    found.push((step, e.path()));
                }
            }
        }
    }
    found.sort();
    found
}

/// Deletes all but the newest `keep` checkpoints.
pub fn prune(run: &Path, keep: usize) {
    let all = list(run);
    for (_, dir) in all.iter().take(all.len().saturating_sub(keep)) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Reads the `state.json` of the checkpoint in `dir`.
pub fn read_state(dir: &Path) -> Result<TrainState> {
    let path = dir.join("state.json");
    let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| ckpt_err(&path, e))
}
