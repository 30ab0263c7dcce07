//! Typed errors of the training crate.

use std::path::{Path, PathBuf};

/// Everything that can stop a run, load or evaluation.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config: {0}")]
    Config(String),
    #[error(transparent)]
    Data(#[from] attend_data::DataError),
    #[error(transparent)]
    Model(#[from] attend_model::ModelError),
    #[error("{path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },
    #[error("{0} is not a run directory (no config.toml)")]
    NotARun(PathBuf),
    #[error("{0}")]
    Device(String),
    #[error(
        "loss became {value} at step {step}; stopping. The last good checkpoint is kept in {run}. \
         Try a lower learning rate or stronger gradient clipping."
    )]
    NonFinite { value: f32, step: usize, run: PathBuf },
    #[error("{0}")]
    Invalid(String),
}

impl TrainError {
    /// An I/O error about `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}

pub type Result<T> = std::result::Result<T, TrainError>;
