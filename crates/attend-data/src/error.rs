//! Typed errors of the data crate. Each names the file (and line) it is about.

use std::path::PathBuf;

/// Everything that can go wrong while reading corpora, vocabularies or batching.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: invalid UTF-8")]
    InvalidUtf8 { path: PathBuf, line: usize },
    #[error("{path}:{line}: {reason}")]
    BadLine { path: PathBuf, line: usize, reason: String },
    #[error("{path}:{line}: expected `source<TAB>target`, found no tab")]
    MissingTab { path: PathBuf, line: usize },
    #[error("{path} is empty")]
    Empty { path: PathBuf },
    #[error("line counts differ: {src} has {src_lines} lines, {tgt} has {tgt_lines}")]
    LineCountMismatch {
        src: PathBuf,
        src_lines: usize,
        tgt: PathBuf,
        tgt_lines: usize,
    },
    #[error("{path}: invalid vocabulary file: {reason}")]
    BadVocab { path: PathBuf, reason: String },
    #[error("{path}:{line}: {reason}")]
    BadVectorsAt { path: PathBuf, line: usize, reason: String },
    #[error("{path}: {reason}")]
    BadVectors { path: PathBuf, reason: String },
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, DataError>;
