//! The run directory: everything one training run writes, so that it can be
//! resumed, evaluated and used later.
//!
//! ```text
//! RUN/
//!   config.toml          the full resolved config (everything else is rebuilt from it)
//!   vocab*.json, …       what the task's data needs (vocabularies, labels, held-out texts)
//!   metrics.csv          one row per evaluation
//!   checkpoints/step-N/  the newest checkpoints (model, optimizer, state)
//!   best/                the weights with the best validation score so far
//! ```

use std::path::{Path, PathBuf};

use crate::config::{RunConfig, Task};
use crate::error::{Result, TrainError};
use crate::trainer::checkpoint;

/// The resolved config.
pub const CONFIG: &str = "config.toml";
/// One row per evaluation.
pub const METRICS: &str = "metrics.csv";
/// The best weights so far.
pub const BEST: &str = "best";

/// The default directory of a new run: `runs/<task>-<UTC time>`.
pub fn default_path(task: Task) -> PathBuf {
    PathBuf::from("runs").join(format!("{}-{}", task.name(), utc_stamp()))
}

/// `YYYYMMDD-HHMMSS` in UTC.
pub fn utc_stamp() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86400, secs % 86400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}-{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Creates the directory of a new run: its config and the task's files
/// (name, bytes), each written atomically. A directory that already holds a
/// run is refused.
pub fn create(run: &Path, cfg: &RunConfig, files: &[(String, Vec<u8>)]) -> Result<()> {
    if run.join(CONFIG).exists() {
        return Err(TrainError::Config(format!(
            "{} already holds a run; resume it (attend train --resume {}) or pick another directory",
            run.display(),
            run.display()
        )));
    }
    std::fs::create_dir_all(run).map_err(|e| TrainError::io(run, e))?;
    for (name, bytes) in files {
        checkpoint::write_atomic(&run.join(name), bytes)?;
    }
    // The config last: a directory with a config.toml is a run whose files are all there.
    cfg.save(&run.join(CONFIG))
}

/// The resolved config of the run directory `run` (an error when it is none).
pub fn config(run: &Path) -> Result<RunConfig> {
    let path = run.join(CONFIG);
    if !path.exists() {
        return Err(TrainError::NotARun(run.into()));
    }
    RunConfig::load(&path)
}

/// The directory of a run's weights to use: `best/`, else the newest
/// checkpoint; its files are checked against their checksums first.
pub fn weights_dir(run: &Path) -> Result<PathBuf> {
    let best = run.join(BEST);
    let dir = if best.join("model.bpk").exists() {
        best
    } else {
        checkpoint::list(run)
            .pop()
            .map(|(_, d)| d)
            .ok_or_else(|| TrainError::Checkpoint { path: run.into(), reason: "the run has no trained weights yet".into() })?
    };
    super::integrity::verify(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trainer::checkpoint::{save_weights, step_dir, write_dir, TrainState};

    #[test]
    fn a_run_directory_is_created_once_and_its_weights_found() {
        let dir = std::env::temp_dir().join(format!("attend-rundir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = RunConfig::default();
        create(&dir, &cfg, &[("vocab.json".into(), b"{}".to_vec())]).unwrap();
        assert_eq!(config(&dir).unwrap(), cfg);
        assert_eq!(std::fs::read(dir.join("vocab.json")).unwrap(), b"{}");
        let again = create(&dir, &cfg, &[]).unwrap_err().to_string();
        assert!(again.contains("already holds a run"), "{again}");
        assert!(matches!(config(&dir.join("nothing")), Err(TrainError::NotARun(_))));
        // No weights yet; then the newest checkpoint; then best/.
        assert!(weights_dir(&dir).unwrap_err().to_string().contains("no trained weights"));
        let ckpt = step_dir(&dir, 5);
        std::fs::create_dir_all(ckpt.parent().unwrap()).unwrap();
        write_dir(&ckpt, &[("state.json", b"{}".to_vec()), ("model.bpk", vec![])]).unwrap();
        assert_eq!(weights_dir(&dir).unwrap(), ckpt);
        #[allow(deprecated)]
        let model = burn::nn::LinearConfig::new(2, 2).init(&burn::prelude::Device::ndarray());
        save_weights(&dir.join(BEST), &model, &TrainState::default()).unwrap();
        assert_eq!(weights_dir(&dir).unwrap(), dir.join(BEST));
        std::fs::remove_dir_all(&dir).unwrap();
        let name = default_path(Task::Lm).display().to_string();
        assert!(name.starts_with("runs/lm-2") && name.len() == "runs/lm-20261203-081606".len(), "{name}");
    }
}
