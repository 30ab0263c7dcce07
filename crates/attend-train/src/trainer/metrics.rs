//! The run's `metrics.csv`: one row per evaluation, with the columns every
//! run has (step, epoch, training loss since the last row, learning rate,
//! times, tokens/s) around the task's own validation metrics.

use std::io::Write;
use std::path::Path;

use crate::error::{Result, TrainError};

/// One validation metric: its column name, value and printed decimals.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: &'static str,
    pub value: f64,
    pub decimals: usize,
}

impl Column {
    pub fn new(name: &'static str, value: f64, decimals: usize) -> Self {
        Self { name, value, decimals }
    }
}

/// A row of `metrics.csv`.
#[derive(Debug, Clone)]
pub struct MetricsRow {
    pub step: usize,
    pub epoch: usize,
    /// Mean training loss of the steps since the previous row.
    pub train_loss: f64,
    pub lr: f64,
    /// The task's validation metrics.
    pub columns: Vec<Column>,
    pub elapsed_secs: f64,
    pub tokens_per_sec: f64,
    /// Training time so far, evaluation excluded.
    pub train_secs: f64,
}

impl MetricsRow {
    /// The CSV header of this row's columns.
    pub fn header(&self) -> String {
        let mut h = String::from("step,epoch,train_loss,lr");
        for c in &self.columns {
            h.push(',');
            h.push_str(c.name);
        }
        h.push_str(",elapsed_s,tokens_per_s,train_s");
        h
    }

    /// The row as a CSV line.
    pub fn line(&self) -> String {
        let mut l = format!("{},{},{:.5},{:.6e}", self.step, self.epoch, self.train_loss, self.lr);
        for c in &self.columns {
            l.push_str(&format!(",{:.*}", c.decimals, c.value));
        }
        l.push_str(&format!(",{:.1},{:.0},{:.1}", self.elapsed_secs, self.tokens_per_sec, self.train_secs));
        l
    }
}

/// Appends `row` to `path`, writing the header first if the file is new.
pub fn append(path: &Path, row: &MetricsRow) -> Result<()> {
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| TrainError::io(path, e))?;
    let mut text = String::new();
    if new {
        text.push_str(&row.header());
        text.push('\n');
    }
    text.push_str(&row.line());
    text.push('\n');
    f.write_all(text.as_bytes()).map_err(|e| TrainError::io(path, e))
}

/// Drops the rows of steps after `step` (those a killed run wrote after its
/// last checkpoint), so that a resumed run does not count them twice.
pub fn truncate_after(path: &Path, step: usize) -> Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(TrainError::io(path, e)),
    };
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, l)| *i == 0 || l.split(',').next().and_then(|s| s.parse::<usize>().ok()).is_some_and(|s| s <= step))
        .map(|(_, l)| l)
        .collect();
    if kept.len() == text.lines().count() {
        return Ok(());
    }
    let mut out = kept.join("\n");
    out.push('\n');
    crate::trainer::checkpoint::write_atomic(path, out.as_bytes())
}

/// Reads the `(train_s, valid_loss)` of every row of a `metrics.csv`, the
/// columns found by name (the loss curve against training time).
pub fn read_curve(path: &Path) -> Result<Vec<(f64, f64)>> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).ok_or_else(|| TrainError::Invalid(format!("{}: no {name} column", path.display())));
    let (t, l) = (col("train_s")?, col("valid_loss")?);
    lines
        .enumerate()
        .map(|(i, line)| {
            let cells: Vec<&str> = line.split(',').collect();
            let num = |c: usize| cells.get(c).and_then(|v| v.parse::<f64>().ok());
            match (num(t), num(l)) {
                (Some(t), Some(l)) => Ok((t, l)),
                _ => Err(TrainError::Invalid(format!("{}:{}: cannot read train_s and valid_loss", path.display(), i + 2))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: usize) -> MetricsRow {
        MetricsRow {
            step,
            epoch: 1,
            train_loss: 2.5,
            lr: 1e-3,
            columns: vec![Column::new("valid_loss", 2.25, 5), Column::new("valid_bleu", 12.3456, 3)],
            elapsed_secs: 10.04,
            tokens_per_sec: 1234.4,
            train_secs: 9.0,
        }
    }

    #[test]
    fn rows_append_under_one_header_and_read_back_as_a_curve() {
        let dir = std::env::temp_dir().join(format!("attend-metrics-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("metrics.csv");
        append(&path, &row(5)).unwrap();
        append(&path, &row(10)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "step,epoch,train_loss,lr,valid_loss,valid_bleu,elapsed_s,tokens_per_s,train_s\n\
             5,1,2.50000,1.000000e-3,2.25000,12.346,10.0,1234,9.0\n\
             10,1,2.50000,1.000000e-3,2.25000,12.346,10.0,1234,9.0\n"
        );
        assert_eq!(read_curve(&path).unwrap(), vec![(9.0, 2.25), (9.0, 2.25)]);
        truncate_after(&path, 7).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2, "the header and step 5");
        std::fs::write(&path, "step,valid_loss,train_s\n1,2.5,10.0\n2,x,20.5\n").unwrap();
        let err = read_curve(&path).unwrap_err().to_string();
        assert!(err.contains("metrics.csv:3"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
