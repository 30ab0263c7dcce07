//! `attend average`: the mean of a run's newest checkpoints as a run of its
//! own (the config and data files of the run, the averaged weights as its
//! `best/`), which translate, eval, generate and classify load like any other.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;

use super::runs::{own_files, with_model, write_run, WithModel};
use crate::error::{Result, TrainError};
use crate::trainer::checkpoint::{self, TrainState};
use crate::trainer::{average, run_dir};

/// What [`average_run`] wrote.
#[derive(Debug, Clone)]
pub struct Averaged {
    /// The checkpoints averaged (their steps).
    pub steps: Vec<usize>,
    /// The new run directory.
    pub out: PathBuf,
}

/// The mean of the weights in `dirs`, as burnpack bytes.
struct MeanOf<'a>(&'a [PathBuf]);

impl WithModel for MeanOf<'_> {
    type Out = Vec<u8>;
    fn with<M: Module>(self, init: impl Fn() -> Result<M>) -> Result<Vec<u8>> {
        let models = self.0.iter().map(|d| checkpoint::load_model(init()?, &d.join("model.bpk"))).collect::<Result<Vec<M>>>()?;
        checkpoint::model_bytes(&average::average(models)?)
    }
}

/// Averages the newest `last` checkpoints of `run` into the new run directory `out`.
pub fn average_run(run: &Path, last: usize, out: &Path, device: &Device) -> Result<Averaged> {
    let cfg = run_dir::config(run)?;
    if cfg.task() == crate::config::Task::Word2vec {
        return Err(cfg.wrong_kind(run, "translation, language-model or classification"));
    }
    let all = checkpoint::list(run);
    if last == 0 || all.len() < last {
        return Err(TrainError::Config(format!(
            "--last {last}: {} holds {} checkpoint(s); keep more with train.keep_checkpoints (and train.checkpoint_every)",
            run.display(),
            all.len()
        )));
    }
    if out.join(run_dir::CONFIG).exists() {
        return Err(TrainError::Config(format!("--out {}: already holds a run", out.display())));
    }
    let chosen = &all[all.len() - last..];
    let dirs: Vec<PathBuf> = chosen.iter().map(|(_, d)| d.clone()).collect();
    let bytes = with_model(&cfg, run, device, MeanOf(&dirs))?;
    // The run's own files (vocabularies, labels, held-out texts), then the average as best/.
    let state: TrainState = checkpoint::read_state(&dirs[dirs.len() - 1])?;
    write_run(out, &cfg, &own_files(run, &[])?, bytes, &state)?;
    Ok(Averaged { steps: chosen.iter().map(|(s, _)| *s).collect(), out: out.to_path_buf() })
}
