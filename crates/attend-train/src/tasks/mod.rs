//! The tasks attend trains, one folder each, over the one trainer
//! (`crate::trainer`): translation and the copy task, language models,
//! classifiers, spellers (vector → sequence) and word2vec. Each folder holds
//! the task's config sections (`settings.rs`, with its recipe's defaults), its
//! data, its [`Trainable`](crate::trainer::Trainable) and how a trained run
//! is loaded and used.
//!
//! This module turns a request — what the command line was given — into a
//! run ([`plan`]: task, config, run directory, resume rules) and trains it
//! ([`train`]).

pub mod average;
pub mod interop;
pub mod runs;
pub mod classify;
pub mod lm;
pub mod spell;
pub mod subwords;
pub mod translate;
pub mod word2vec;

use std::path::{Path, PathBuf};

use burn::prelude::*;

use crate::config::{Override, RunConfig, Task};
use crate::error::{Result, TrainError};
use crate::trainer::{run_dir, FitOptions};

/// `items` cut into at most `parts` contiguous, near-equal, non-empty shares.
pub fn split_even<T: Clone>(items: &[T], parts: usize) -> Vec<Vec<T>> {
    let n = items.len();
    let parts = parts.clamp(1, n.max(1));
    (0..parts).map(|i| items[i * n / parts..(i + 1) * n / parts].to_vec()).filter(|s| !s.is_empty()).collect()
}

/// Data named on the command line; each flag stands for a config key of the
/// tasks that have it.
#[derive(Debug, Clone, Default)]
pub struct DataFlags {
    /// `--tsv`: translation pairs, `source<TAB>target` lines.
    pub tsv: Option<PathBuf>,
    /// `--src` and `--tgt`: line-aligned translation files.
    pub src: Option<PathBuf>,
    pub tgt: Option<PathBuf>,
    /// `--valid-tsv`, `--valid-src`, `--valid-tgt`: validation pairs.
    pub valid_tsv: Option<PathBuf>,
    pub valid_src: Option<PathBuf>,
    pub valid_tgt: Option<PathBuf>,
    /// `--data`: a language model's text, a classifier's labelled files, a
    /// speller's word vectors, word2vec's corpus (files or folders).
    pub data: Vec<PathBuf>,
    /// `--valid`: a language model's or classifier's validation file.
    pub valid: Option<PathBuf>,
    /// `--init-embeddings`: word vectors for a translator's or classifier's embeddings.
    pub init_embeddings: Option<PathBuf>,
}

impl DataFlags {
    /// The flags given, by name.
    fn given(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        for (flag, set) in [
            ("--tsv", self.tsv.is_some()),
            ("--src", self.src.is_some()),
            ("--tgt", self.tgt.is_some()),
            ("--valid-tsv", self.valid_tsv.is_some()),
            ("--valid-src", self.valid_src.is_some()),
            ("--valid-tgt", self.valid_tgt.is_some()),
            ("--data", !self.data.is_empty()),
            ("--valid", self.valid.is_some()),
            ("--init-embeddings", self.init_embeddings.is_some()),
        ] {
            if set {
                v.push(flag);
            }
        }
        v
    }
}

/// What `attend train` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct TrainRequest {
    /// `--task`.
    pub task: Option<Task>,
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// `--set SECTION.KEY=VALUE`, in order.
    pub sets: Vec<String>,
    pub data: DataFlags,
    /// `--out RUN`.
    pub out: Option<PathBuf>,
    /// `--resume RUN`.
    pub resume: Option<PathBuf>,
    /// `--device SPEC`.
    pub device: Option<String>,
}

/// A run ready to train.
#[derive(Debug, Clone)]
pub struct Plan {
    pub config: RunConfig,
    pub run: PathBuf,
    pub resume: bool,
}

fn check_file(path: &Path, flag: &str, dir_ok: bool) -> Result<()> {
    if path.is_file() || (dir_ok && path.is_dir()) {
        return Ok(());
    }
    Err(TrainError::Config(format!("{flag} {}: no such file", path.display())))
}

/// Settings that may change when a run resumes: how it trains from here on
/// (`train.*`) and, for word2vec, its threads and batch, which change speed only.
fn changeable_on_resume(task: Task, key: &str) -> bool {
    key.starts_with("train.") || (task == Task::Word2vec && (key == "word2vec.threads" || key == "word2vec.batch"))
}

/// The config keys each data flag sets, for `task` (`None`: the task has no such data).
fn flag_keys(task: Task, flag: &str) -> Option<&'static str> {
    Some(match (task, flag) {
        (Task::Translate, "--tsv") => "data.tsv",
        (Task::Translate, "--src") => "data.src",
        (Task::Translate, "--tgt") => "data.tgt",
        (Task::Translate, "--valid-tsv") => "data.valid_tsv",
        (Task::Translate, "--valid-src") => "data.valid_src",
        (Task::Translate, "--valid-tgt") => "data.valid_tgt",
        (Task::Lm | Task::Classify, "--data") => "data.train",
        (Task::Lm | Task::Classify, "--valid") => "data.valid",
        (Task::Spell, "--data") => "data.vectors",
        (Task::Word2vec, "--data") => "data.corpus",
        (Task::Translate | Task::Classify, "--init-embeddings") => "model.init_embeddings",
        _ => return None,
    })
}

fn path_value(p: &Path) -> toml::Value {
    toml::Value::String(p.display().to_string())
}

/// Resolves a request into a run: the task, its config (defaults ← `--config`
/// ← data flags ← `--set`), the run directory, and whether it resumes. A
/// resumed run keeps its own config and data; only how it trains may change.
pub fn plan(req: &TrainRequest) -> Result<Plan> {
    let mut sets: Vec<Override> = req.sets.iter().map(|s| Override::parse_set(s)).collect::<Result<_>>()?;
    if let Some(d) = &req.device {
        sets.push(Override::flag("train.device", toml::Value::String(d.clone()), "--device"));
    }
    if let Some(run) = &req.resume {
        let mut refused: Vec<&str> = req.data.given();
        for (flag, given) in [("--config", req.config.is_some()), ("--task", req.task.is_some()), ("--out", req.out.is_some())] {
            if given {
                refused.push(flag);
            }
        }
        if let Some(flag) = refused.first() {
            return Err(TrainError::Config(format!(
                "--resume takes the run's own config and data; {flag} cannot be given with it (only --set train.* and --device)"
            )));
        }
        let saved = run_dir::config(run).map_err(|e| match e {
            TrainError::NotARun(p) => TrainError::Config(format!("--resume {}: not a run directory (no config.toml)", p.display())),
            other => other,
        })?;
        let task = saved.task();
        if let Some(o) = sets.iter().find(|o| !changeable_on_resume(task, &o.key)) {
            return Err(TrainError::Config(format!(
                "--resume: {} would change the model or data of the run; only train.* settings may change",
                o.origin
            )));
        }
        let config = saved.apply(&sets)?;
        return Ok(Plan { config, run: run.clone(), resume: true });
    }
    if let Some(c) = &req.config {
        check_file(c, "--config", false)?;
    }
    // The task decides which keys the data flags set, so find it first.
    let task = match req.task {
        Some(t) => t,
        None => RunConfig::resolve(None, req.config.as_deref(), &sets)?.task(),
    };
    let d = &req.data;
    let mut flags: Vec<Override> = Vec::new();
    for flag in d.given() {
        let key = flag_keys(task, flag).ok_or_else(|| TrainError::Config(format!("{flag}: a {task} run takes no such data")))?;
        let value = match flag {
            "--tsv" => path_value(d.tsv.as_ref().expect("given")),
            "--src" => path_value(d.src.as_ref().expect("given")),
            "--tgt" => path_value(d.tgt.as_ref().expect("given")),
            "--valid-tsv" => path_value(d.valid_tsv.as_ref().expect("given")),
            "--valid-src" => path_value(d.valid_src.as_ref().expect("given")),
            "--valid-tgt" => path_value(d.valid_tgt.as_ref().expect("given")),
            "--valid" => path_value(d.valid.as_ref().expect("given")),
            "--init-embeddings" => path_value(d.init_embeddings.as_ref().expect("given")),
            _ if task == Task::Spell => {
                if d.data.len() != 1 {
                    return Err(TrainError::Config("--data: a speller reads one word-vector file".into()));
                }
                path_value(&d.data[0])
            }
            _ => toml::Value::Array(d.data.iter().map(|p| path_value(p)).collect()),
        };
        flags.push(Override::flag(key, value, flag));
    }
    for (path, flag) in [(&d.tsv, "--tsv"), (&d.src, "--src"), (&d.tgt, "--tgt"), (&d.valid_tsv, "--valid-tsv"), (&d.valid_src, "--valid-src")]
        .into_iter()
        .chain([(&d.valid_tgt, "--valid-tgt"), (&d.valid, "--valid"), (&d.init_embeddings, "--init-embeddings")])
    {
        if let Some(p) = path {
            check_file(p, flag, false)?;
        }
    }
    for p in &d.data {
        check_file(p, "--data", task == Task::Word2vec)?;
    }
    flags.extend(sets);
    let mut config = RunConfig::resolve(Some(task), req.config.as_deref(), &flags)?;
    // A training (or validation) source given as a flag replaces the other form of it.
    if let RunConfig::Translate(c) = &mut config {
        if d.tsv.is_some() {
            (c.data.src, c.data.tgt) = (None, None);
        } else if d.src.is_some() {
            c.data.tsv = None;
        }
        if d.valid_tsv.is_some() {
            (c.data.valid_src, c.data.valid_tgt) = (None, None);
        } else if d.valid_src.is_some() {
            c.data.valid_tsv = None;
        }
    }
    // `--data` without `--valid` holds out part of the new data rather than reading the default validation file.
    match &mut config {
        RunConfig::Lm(c) if !d.data.is_empty() && d.valid.is_none() => c.data.valid = None,
        RunConfig::Classify(c) if !d.data.is_empty() && d.valid.is_none() => c.data.valid = None,
        _ => {}
    }
    let run = req.out.clone().unwrap_or_else(|| run_dir::default_path(task));
    if run.join(run_dir::CONFIG).exists() {
        return Err(TrainError::Config(format!(
            "--out {}: already holds a run; use --resume to continue it or pick another directory",
            run.display()
        )));
    }
    Ok(Plan { config, run, resume: false })
}

/// Whether a run trains on Burn devices (every task but word2vec on its CPU
/// engine, `train.device = "cpu"`).
pub fn uses_devices(config: &RunConfig) -> bool {
    !matches!(config, RunConfig::Word2vec(c) if c.train.device.trim() == "cpu")
}

/// What a run reports when it stops.
pub enum TrainReport {
    Translate(translate::TranslateReport),
    Lm(lm::LmReport),
    Classify(classify::ClassReport),
    Spell(spell::SpellReport),
    Word2vec(word2vec::run::W2vRunReport),
}

/// Trains the planned run on `devices` (for word2vec's CPU engine, none).
pub fn train(plan: &Plan, devices: &[Device], opts: &FitOptions) -> Result<TrainReport> {
    let (cfg, dir, resume) = (&plan.config, plan.run.as_path(), plan.resume);
    if uses_devices(cfg) && devices.is_empty() {
        return Err(TrainError::Device("no device to train on".into()));
    }
    Ok(match cfg {
        RunConfig::Translate(c) => TrainReport::Translate(translate::train(cfg, c.into(), dir, resume, devices, opts)?),
        RunConfig::Copy(c) => TrainReport::Translate(translate::train(cfg, c.into(), dir, resume, devices, opts)?),
        RunConfig::Lm(c) => TrainReport::Lm(lm::train(cfg, c, dir, resume, devices, opts)?),
        RunConfig::Classify(c) => TrainReport::Classify(classify::train(cfg, c, dir, resume, devices, opts)?),
        RunConfig::Spell(c) => TrainReport::Spell(spell::train(cfg, c, dir, resume, devices, opts)?),
        RunConfig::Word2vec(c) => TrainReport::Word2vec(word2vec::run::train(cfg, c, dir, resume, devices.first(), opts)?),
    })
}
