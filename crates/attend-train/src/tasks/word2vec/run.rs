//! A word2vec run directory (`task = "word2vec"`): the resolved config,
//! the checkpoint of an unfinished run (`checkpoint/`, after every epoch and
//! on Ctrl-C) and, when training ends, the vectors (`vectors.bin`, word2vec
//! binary format), which replace the checkpoint.
//!
//! ```text
//! RUN/
//!   config.toml   the resolved config ([word2vec], [data], [train])
//!   checkpoint/   tables and position of an unfinished run (state.json, tables.f32)
//!   vectors.bin   the word vectors, when finished
//! ```

use std::path::{Path, PathBuf};

use attend_data::{corpus_files, VectorFormat};
use burn::prelude::*;

use super::settings::Word2vecRunConfig;
use super::{train as train_vectors, Engine, TrainOptions, Trained};
use crate::config::RunConfig;
use crate::error::{Result, TrainError};
use crate::trainer::{run_dir, FitOptions};

/// The checkpoint folder of an unfinished run.
pub const CHECKPOINT: &str = "checkpoint";
/// The vectors of a finished run.
pub const VECTORS: &str = "vectors.bin";

/// What a word2vec run did.
pub struct W2vRunReport {
    pub trained: Trained,
    /// Corpus files read.
    pub files: usize,
    /// The vectors file written (when the run finished).
    pub vectors: Option<PathBuf>,
    /// The engine's description ("cpu, 2 thread(s)", "flex tensors, batch 1024").
    pub engine: String,
}

/// The vectors file of `path`: `path` itself, or the vectors of the run
/// directory `path`.
pub fn vectors_path(path: &Path) -> PathBuf {
    if path.join(run_dir::CONFIG).is_file() {
        path.join(VECTORS)
    } else {
        path.to_path_buf()
    }
}

/// Trains (or resumes) the word2vec run `cfg` in the run directory `dir`, on
/// the CPU engine (`device` `None`) or in tensors on `device`.
pub fn train(whole: &RunConfig, cfg: &Word2vecRunConfig, dir: &Path, resume: bool, device: Option<&Device>, opts: &FitOptions) -> Result<W2vRunReport> {
    let w = &cfg.word2vec;
    w.validate()?;
    if cfg.data.corpus.is_empty() {
        return Err(TrainError::Config("word2vec needs a corpus: data.corpus (--data FILE_OR_FOLDER...)".into()));
    }
    let files = corpus_files(&cfg.data.corpus)?;
    let ckpt = dir.join(CHECKPOINT);
    if resume && !ckpt.join("state.json").exists() {
        let why = if dir.join(VECTORS).exists() { "it has finished" } else { "it has no checkpoint" };
        return Err(TrainError::Config(format!("--resume {}: nothing to continue, {why}", dir.display())));
    }
    if !resume {
        run_dir::create(dir, whole, &[])?;
    }
    let _lock = crate::trainer::lock::RunLock::acquire(dir)?;
    if resume {
        crate::trainer::integrity::clean_up(dir);
        crate::trainer::integrity::verify(&ckpt)?;
    }
    let (engine, engine_name) = match device {
        None => (Engine::Cpu, format!("cpu, {} thread(s)", w.threads)),
        Some(d) => (Engine::Tensor(d.clone()), format!("{} tensors, batch {}", cfg.train.device, w.batch)),
    };
    let options = TrainOptions { progress: !opts.quiet, interrupt: Some(opts.interrupt.clone()), checkpoint: Some(ckpt.clone()), resume, stop_after_jobs: None };
    let trained = train_vectors(w, &files, &engine, &options)?;
    let vectors = if trained.finished {
        let path = dir.join(VECTORS);
        let tmp = dir.join(".vectors.bin.tmp");
        trained.vectors.write(&tmp, VectorFormat::Word2VecBinary)?;
        std::fs::rename(&tmp, &path).map_err(|e| TrainError::io(&path, e))?;
        let _ = std::fs::remove_dir_all(&ckpt);
        Some(path)
    } else {
        None
    };
    Ok(W2vRunReport { trained, files: files.len(), vectors, engine: engine_name })
}
