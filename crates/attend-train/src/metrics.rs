//! Validation metrics and the run's `metrics.csv`.

use std::io::Write;
use std::path::Path;

use crate::error::{Result, TrainError};

/// One evaluation of a model on validation data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalMetrics {
    /// Mean cross-entropy per target token (nats, no label smoothing).
    pub loss: f64,
    /// exp(loss).
    pub perplexity: f64,
    /// Fraction of target tokens predicted exactly (teacher forcing).
    pub token_accuracy: f64,
    /// Corpus BLEU of greedy translations (0–100).
    pub bleu: f64,
    /// Fraction of sentences whose greedy output equals a reference exactly.
    pub exact_match: f64,
}

/// A row of `metrics.csv`.
#[derive(Debug, Clone)]
pub struct MetricsRow {
    pub step: usize,
    pub epoch: usize,
    pub train_loss: f64,
    pub lr: f64,
    pub eval: EvalMetrics,
    pub elapsed_secs: f64,
    pub tokens_per_sec: f64,
    /// Training time so far, evaluation excluded.
    pub train_secs: f64,
}

const HEADER: &str =
    "step,epoch,train_loss,lr,valid_loss,valid_ppl,valid_token_acc,valid_bleu,valid_exact,elapsed_s,tokens_per_s,train_s";

/// Appends `row` to `path`, writing the header first if the file is new.
pub fn append(path: &Path, row: &MetricsRow) -> Result<()> {
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| TrainError::io(path, e))?;
    let e = &row.eval;
    let mut line = String::new();
    if new {
        line.push_str(HEADER);
        line.push('\n');
    }
    line.push_str(&format!(
        "{},{},{:.5},{:.6e},{:.5},{:.4},{:.5},{:.3},{:.5},{:.1},{:.0},{:.1}\n",
        row.step,
        row.epoch,
        row.train_loss,
        row.lr,
        e.loss,
        e.perplexity,
        e.token_accuracy,
        e.bleu,
        e.exact_match,
        row.elapsed_secs,
        row.tokens_per_sec,
        row.train_secs
    ));
    f.write_all(line.as_bytes()).map_err(|e| TrainError::io(path, e))
}
