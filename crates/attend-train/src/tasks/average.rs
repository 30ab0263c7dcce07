//! `attend average`: the mean of a run's newest checkpoints as a run of its
//! own (the config and data files of the run, the averaged weights as its
//! `best/`), which translate, eval, generate and classify load like any other.

use std::path::{Path, PathBuf};

use attend_data::Vocab;
use burn::module::Module;
use burn::prelude::*;

use super::classify::{classifier_config, data::read_labels};
use super::lm::{data::VOCAB, lm_config};
use super::spell::SpellTask;
use super::translate::data::{SRC_VOCAB, TGT_VOCAB};
use super::translate::loaded::seq2seq_view;
use super::translate::model_config;
use crate::config::RunConfig;
use crate::error::{Result, TrainError};
use crate::trainer::checkpoint::{self, TrainState};
use crate::trainer::{average, run_dir, Trainable};

/// What [`average_run`] wrote.
#[derive(Debug, Clone)]
pub struct Averaged {
    /// The checkpoints averaged (their steps).
    pub steps: Vec<usize>,
    /// The new run directory.
    pub out: PathBuf,
}

fn mean_of<M: Module>(init: impl Fn() -> Result<M>, dirs: &[PathBuf]) -> Result<M> {
    let models = dirs.iter().map(|d| checkpoint::load_model(init()?, &d.join("model.bpk"))).collect::<Result<Vec<M>>>()?;
    average::average(models)
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
    let bytes = match &cfg {
        RunConfig::Translate(_) | RunConfig::Copy(_) => {
            let view = seq2seq_view(&cfg, run)?;
            let (src, tgt) = (Vocab::load(&run.join(SRC_VOCAB))?, Vocab::load(&run.join(TGT_VOCAB))?);
            let mc = model_config(view.model, src.len(), tgt.len())?;
            checkpoint::model_bytes(&mean_of(|| Ok(mc.init(device)?), &dirs)?)?
        }
        RunConfig::Lm(c) => {
            let vocab = Vocab::load(&run.join(VOCAB))?;
            let mc = lm_config(&c.model, vocab.len());
            checkpoint::model_bytes(&mean_of(|| Ok(mc.init(device)?), &dirs)?)?
        }
        RunConfig::Classify(c) => {
            let vocab = Vocab::load(&run.join(VOCAB))?;
            let mc = classifier_config(c, vocab.len(), read_labels(run)?.len());
            checkpoint::model_bytes(&mean_of(|| Ok(mc.init(device)?), &dirs)?)?
        }
        RunConfig::Spell(c) => {
            let task = SpellTask::new(c, Some(run))?;
            checkpoint::model_bytes(&mean_of(|| task.init_model(device), &dirs)?)?
        }
        RunConfig::Word2vec(_) => return Err(TrainError::Invalid("word2vec runs keep no checkpoints to average".into())),
    };
    // The run's own files (config, vocabularies, labels, held-out texts), then the average as best/.
    std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
    let mut files = Vec::new();
    for entry in std::fs::read_dir(run).map_err(|e| TrainError::io(run, e))?.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if entry.path().is_file() && name != run_dir::CONFIG && name != run_dir::METRICS {
            files.push(name);
        }
    }
    for name in files {
        let bytes = std::fs::read(run.join(&name)).map_err(|e| TrainError::io(&run.join(&name), e))?;
        checkpoint::write_atomic(&out.join(&name), &bytes)?;
    }
    let state: TrainState = checkpoint::read_state(&dirs[dirs.len() - 1])?;
    let state_json = serde_json::to_vec_pretty(&state).map_err(|e| TrainError::Invalid(e.to_string()))?;
    checkpoint::write_dir(&out.join(run_dir::BEST), &[("model.bpk", bytes), ("state.json", state_json)])?;
    cfg.save(&out.join(run_dir::CONFIG))?;
    Ok(Averaged { steps: chosen.iter().map(|(s, _)| *s).collect(), out: out.to_path_buf() })
}
