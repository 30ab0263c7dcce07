//! `attend bench`: the speed of attend's training steps, forward passes,
//! greedy decoding and word2vec, on exactly the shapes of the PyTorch and
//! gensim peer scripts (`../shared/peers/bench_*.py`), so that the two can be
//! set side by side as ratios (`benches/vs-pytorch.sh`).
//!
//! Every row reports its rate (target tokens/s, ms per decoded sentence, or
//! corpus words/s), the achieved GFLOP/s of its matmuls (counted with the
//! peers' formulas, [`flops`]) and that as a fraction of the CPU's fp32 peak,
//! measured on the spot by [`peak`].

pub mod flops;
pub mod peak;
mod steps;

use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use serde::Serialize;

use crate::error::{Result, TrainError};

/// The rows `attend bench` can run, by group (`--rows` takes groups or row names).
pub const GROUPS: &[&str] = &["transformer-tiny", "transformer-small", "lstm-tiny", "lstm-small", "gpt-char", "decode-tiny", "decode-small", "word2vec"];

/// What to run, and where.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Groups or row names to run (see [`GROUPS`]); empty runs every group.
    pub rows: Vec<String>,
    /// Threads the CPU backends and word2vec use (recorded in the rows; the
    /// caller sizes the thread pools before any tensor work).
    pub threads: usize,
    /// Scales the peers' warm-up and repeat counts (1 = theirs).
    pub repeat_scale: f64,
    /// Text files for the word2vec row (the bundled Austen novels by default).
    pub corpus: Vec<PathBuf>,
    /// Training text of the GPT row (its windows are drawn from it).
    pub lm_text: PathBuf,
}

/// One measured row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// E.g. `transformer-small/train`.
    pub row: String,
    /// `tok/s`, `ms/sentence` or `words/s`.
    pub unit: &'static str,
    /// The rate in `unit` (from the median time).
    pub value: f64,
    /// Median and fastest seconds of one timed repetition.
    pub median_s: f64,
    pub min_s: f64,
    pub repeats: usize,
    /// Matmul FLOP of one repetition (the peers' count; 0 where not counted).
    pub flop: f64,
    /// Achieved matmul GFLOP/s at the median time.
    pub gflops: f64,
    /// `gflops` over the measured fp32 peak of `threads` cores.
    pub peak_fraction: f64,
    /// Trainable parameters of the model (0 for word2vec).
    pub params: usize,
    pub threads: usize,
    pub device: String,
    /// Row-specific facts (e.g. whether cached and plain decoding agreed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Timings of `repeats` runs of `f` after `warmup` untimed ones (as the peers' `time_fn`).
pub fn time_runs(warmup: usize, repeats: usize, mut f: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
    for _ in 0..warmup {
        f()?;
    }
    let mut ts = Vec::with_capacity(repeats);
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        f()?;
        ts.push(t.elapsed().as_secs_f64());
    }
    Ok(ts)
}

/// The median of `ts` (the mean of the middle two for an even count, as Python's `statistics.median`).
pub fn median(ts: &[f64]) -> f64 {
    let mut v = ts.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The rows of a group (after its `group/`).
fn row_names(group: &str) -> &'static [&'static str] {
    match group {
        g if g.starts_with("decode-") => &["batched-cached", "batch1-cached", "batched-full", "batch1-full"],
        "gpt-char" | "word2vec" => &["train"],
        _ => &["train", "forward"],
    }
}

/// Whether `opts` asks for any row of `group`.
fn wanted(opts: &BenchOptions, group: &str) -> bool {
    opts.rows.is_empty() || opts.rows.iter().any(|r| r == group || r.starts_with(&format!("{group}/")))
}

fn row_wanted(opts: &BenchOptions, group: &str, name: &str) -> bool {
    opts.rows.is_empty() || opts.rows.iter().any(|r| r == group || r == &format!("{group}/{name}"))
}

/// Builds rows from timings: `per_rep` units of work per repetition
/// (tokens, sentences or words) and `flop` matmul FLOP per repetition.
struct RowMaker<'a> {
    opts: &'a BenchOptions,
    device: &'a Device,
    peak_flops: f64,
}

impl RowMaker<'_> {
    #[allow(clippy::too_many_arguments)]
    fn make(&self, row: String, unit: &'static str, per_rep: f64, ts: &[f64], flop: f64, params: usize, note: Option<String>) -> Row {
        let med = median(ts);
        let value = if unit == "ms/sentence" { 1e3 * med / per_rep } else { per_rep / med };
        let gflops = flop / med / 1e9;
        Row {
            row,
            unit,
            value,
            median_s: med,
            min_s: ts.iter().copied().fold(f64::INFINITY, f64::min),
            repeats: ts.len(),
            flop,
            gflops,
            peak_fraction: if self.peak_flops > 0.0 { gflops * 1e9 / self.peak_flops } else { 0.0 },
            params,
            threads: self.opts.threads,
            device: format!("{:?}", self.device),
            note,
        }
    }
}

/// Runs the asked-for rows on `device`, calling `report` with each row as it
/// is measured; returns them all and the measured fp32 peak (FLOP/s).
pub fn run(opts: &BenchOptions, device: &Device, mut report: impl FnMut(&Row)) -> Result<(Vec<Row>, f64)> {
    for r in &opts.rows {
        let (group, name) = r.split_once('/').unwrap_or((r.as_str(), ""));
        if !GROUPS.contains(&group) {
            return Err(TrainError::Config(format!("--rows {r}: unknown row; groups are {}", GROUPS.join(", "))));
        }
        let names = row_names(group);
        if !name.is_empty() && !names.contains(&name) {
            return Err(TrainError::Config(format!("--rows {r}: {group} has the rows {}", names.join(", "))));
        }
    }
    let peak_flops = peak::peak_flops(opts.threads, 0.3);
    let maker = RowMaker { opts, device, peak_flops };
    let mut rows = Vec::new();
    let mut push = |row: Row, rows: &mut Vec<Row>| {
        report(&row);
        rows.push(row);
    };
    for (group, shape) in [("transformer-tiny", flops::TRANSFORMER_TINY), ("transformer-small", flops::TRANSFORMER_SMALL)] {
        if wanted(opts, group) {
            for row in steps::transformer(opts, &maker, group, &shape)? {
                push(row, &mut rows);
            }
        }
    }
    for (group, shape) in [("lstm-tiny", flops::LSTM_TINY), ("lstm-small", flops::LSTM_SMALL)] {
        if wanted(opts, group) {
            for row in steps::lstm(opts, &maker, group, &shape)? {
                push(row, &mut rows);
            }
        }
    }
    if wanted(opts, "gpt-char") {
        push(steps::gpt_char(opts, &maker)?, &mut rows);
    }
    for (group, shape) in [("decode-tiny", flops::TRANSFORMER_TINY), ("decode-small", flops::TRANSFORMER_SMALL)] {
        if wanted(opts, group) {
            for row in steps::decode(opts, &maker, group, &shape)? {
                push(row, &mut rows);
            }
        }
    }
    if wanted(opts, "word2vec") {
        push(steps::word2vec(opts, &maker)?, &mut rows);
    }
    Ok((rows, peak_flops))
}

/// The rows as an aligned text table.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!("{:<34} {:>12} {:<12} {:>10} {:>9} {:>7}\n", "row", "value", "unit", "median_s", "GFLOP/s", "peak");
    for r in rows {
        let (g, p) = if r.flop > 0.0 { (format!("{:.1}", r.gflops), format!("{:.1}%", 100.0 * r.peak_fraction)) } else { ("-".into(), "-".into()) };
        out.push_str(&format!("{:<34} {:>12.2} {:<12} {:>10.4} {:>9} {:>7}\n", r.row, r.value, r.unit, r.median_s, g, p));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_is_pythons() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn rows_are_chosen_by_group_or_name() {
        let opts = BenchOptions {
            rows: vec!["lstm-tiny".into(), "decode-small/batch1-cached".into()],
            threads: 1,
            repeat_scale: 1.0,
            corpus: Vec::new(),
            lm_text: PathBuf::new(),
        };
        assert!(wanted(&opts, "lstm-tiny") && row_wanted(&opts, "lstm-tiny", "train"));
        assert!(wanted(&opts, "decode-small") && row_wanted(&opts, "decode-small", "batch1-cached"));
        assert!(!row_wanted(&opts, "decode-small", "batched-full"));
        assert!(!wanted(&opts, "transformer-tiny"));
    }
}
