//! What every trained run shares, whatever its task: building its model from
//! its config and data files ([`with_model`]), reading its own files, and
//! writing a run from weights (used by `attend average` and `attend import`).

use std::path::Path;

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
use crate::trainer::{integrity, run_dir, Trainable};

/// Something to do with a run's model, whatever its type.
pub trait WithModel {
    type Out;
    /// `init` builds the run's model, freshly initialised, on the device.
    fn with<M: Module>(self, init: impl Fn() -> Result<M>) -> Result<Self::Out>;
}

/// Calls `w` with the model of the run whose config is `cfg` and whose data
/// files (vocabularies, labels) are in `run`.
pub fn with_model<W: WithModel>(cfg: &RunConfig, run: &Path, device: &Device, w: W) -> Result<W::Out> {
    match cfg {
        RunConfig::Translate(_) | RunConfig::Copy(_) => {
            let view = seq2seq_view(cfg, run)?;
            let (src, tgt) = (Vocab::load(&run.join(SRC_VOCAB))?, Vocab::load(&run.join(TGT_VOCAB))?);
            let mc = model_config(view.model, src.len(), tgt.len())?;
            w.with(|| Ok(mc.init(device)?))
        }
        RunConfig::Lm(c) => {
            let mc = lm_config(&c.model, Vocab::load(&run.join(VOCAB))?.len());
            w.with(|| Ok(mc.init(device)?))
        }
        RunConfig::Classify(c) => {
            let mc = classifier_config(c, Vocab::load(&run.join(VOCAB))?.len(), read_labels(run)?.len());
            w.with(|| Ok(mc.init(device)?))
        }
        RunConfig::Spell(c) => {
            let task = SpellTask::new(c, Some(run))?;
            w.with(|| task.init_model(device))
        }
        RunConfig::Word2vec(_) => Err(cfg.wrong_kind(run, "translation, language-model, classification or speller")),
    }
}

/// The run's own top-level files (vocabularies, labels, held-out texts…):
/// not its config, metrics, checksums, lock or leftovers of killed writes.
pub fn own_files(run: &Path, skip: &[&str]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(run).map_err(|e| TrainError::io(run, e))?.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let special = [run_dir::CONFIG, run_dir::METRICS, integrity::CHECKSUMS].contains(&name.as_str()) || name.starts_with('.');
        if entry.path().is_file() && !special && !skip.contains(&name.as_str()) {
            let bytes = std::fs::read(entry.path()).map_err(|e| TrainError::io(&entry.path(), e))?;
            files.push((name, bytes));
        }
    }
    files.sort();
    Ok(files)
}

/// Writes a new run at `out`: `files`, then `best/` with `model` (burnpack
/// bytes) and `state`, then the config (a directory with a config is a
/// complete run).
pub fn write_run(out: &Path, cfg: &RunConfig, files: &[(String, Vec<u8>)], model: Vec<u8>, state: &TrainState) -> Result<()> {
    if out.join(run_dir::CONFIG).exists() {
        return Err(TrainError::Config(format!("--out {}: already holds a run", out.display())));
    }
    std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
    for (name, bytes) in files {
        checkpoint::write_atomic(&out.join(name), bytes)?;
    }
    let state_json = serde_json::to_vec_pretty(state).map_err(|e| TrainError::Invalid(e.to_string()))?;
    checkpoint::write_dir(&out.join(run_dir::BEST), &[("model.bpk", model), ("state.json", state_json)])?;
    cfg.save(&out.join(run_dir::CONFIG))
}
