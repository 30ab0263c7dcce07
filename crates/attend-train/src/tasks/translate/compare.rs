//! `attend compare`: the road to the Transformer, measured. Trains recurrent
//! encoder–decoders (RNN, LSTM, GRU; Sutskever et al., 2014), an LSTM with
//! Bahdanau attention (Bahdanau et al., 2014) and a Transformer (Vaswani et
//! al., 2017) on the same translation data, with parameter counts matched to
//! one reference model and the same training-time budget, then tabulates
//! parameters, time, tokens/s, validation loss and BLEU, and draws BLEU by
//! source length (does a model without attention forget long inputs?) and
//! validation loss against training time (does the Transformer train faster?).
//!
//! Each model is an ordinary run in `OUT/<arch>/`: running the same command
//! again resumes unfinished runs and reuses finished ones.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;

use super::bleu::corpus_bleu;
use super::data::{prepare, Seq2SeqRun};
use super::loaded::LoadedRun;
use super::model_config;
use super::settings::{Seq2SeqArch, TranslateConfig};
use crate::config::{Override, RunConfig, Task};
use crate::error::{Result, TrainError};
use crate::trainer::{checkpoint, metrics::read_curve, run_dir, FitOptions, Outcome};

/// The architectures compared by default, from oldest idea to newest.
/// Where `attend compare --data multi30k` reads Multi30k German→English.
pub const MULTI30K: &str = "../shared/data/multi30k";

/// The settings that put every compared model on Multi30k German→English
/// (the Multi30k Transformer recipe's data section; each architecture keeps
/// its own model and optimiser settings); an error names a missing file.
pub fn multi30k_overrides() -> Result<Vec<Override>> {
    for f in ["train.de", "train.en", "val.de", "val.en"] {
        let path = Path::new(MULTI30K).join(f);
        if !path.is_file() {
            return Err(TrainError::Config(format!(
                "--data multi30k: {} is missing (Multi30k is read from {MULTI30K}; give your own copy with --config and data.src/tgt)",
                path.display()
            )));
        }
    }
    [
        format!("data.src=\"{MULTI30K}/train.de\""),
        format!("data.tgt=\"{MULTI30K}/train.en\""),
        format!("data.valid_src=\"{MULTI30K}/val.de\""),
        format!("data.valid_tgt=\"{MULTI30K}/val.en\""),
        "data.batch_size=128".into(),
        "model.max_len=100".into(),
        "eval.max_decode_len=100".into(),
    ]
    .iter()
    .map(|s| Override::parse_set(s))
    .collect()
}

pub const DEFAULT_ARCHS: [Seq2SeqArch; 5] = [Seq2SeqArch::Rnn, Seq2SeqArch::Lstm, Seq2SeqArch::Gru, Seq2SeqArch::LstmAttention, Seq2SeqArch::Transformer];

/// The training recipe of an architecture, applied before the user's own
/// settings. Recurrent models read the source in both directions and train
/// with Adam at a constant 2e-3 (after 100 warm-up steps) — the recipe of
/// BENCHMARKS.md's first LSTM run; the Transformer keeps the default Noam
/// schedule of the tuned default run.
pub fn recipe(arch: Seq2SeqArch) -> Vec<Override> {
    let set = |key: &str, value: toml::Value| Override::flag(key, value, &format!("attend compare's {arch} recipe"));
    let mut sets = vec![set("model.arch", toml::Value::String(arch.name().into()))];
    if arch != Seq2SeqArch::Transformer {
        sets.extend([
            set("model.bidirectional", toml::Value::Boolean(true)),
            set("model.dropout", toml::Value::Float(0.2)),
            set("train.schedule", toml::Value::String("constant".into())),
            set("train.lr", toml::Value::Float(0.002)),
            set("train.warmup_steps", toml::Value::Integer(100)),
        ]);
    }
    sets
}

/// What to compare and how.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Architectures, in table order.
    pub archs: Vec<Seq2SeqArch>,
    /// Training seconds per model (evaluation excluded).
    pub budget_s: f64,
    /// Evaluations per model during its budget (points of the loss curve).
    pub evals: usize,
    /// Match every other model's parameter count to this architecture's (by
    /// choosing its width), or use the configs as they are when `None`.
    pub match_to: Option<Seq2SeqArch>,
    /// Source-length buckets of the BLEU-by-length plot.
    pub buckets: usize,
    /// Where the runs, the table and the plots go.
    pub out: PathBuf,
    /// Hide the per-run output.
    pub quiet: bool,
}

/// One model's line of the table.
#[derive(Debug, Clone)]
pub struct CompareRow {
    pub arch: Seq2SeqArch,
    pub d_model: usize,
    pub params: usize,
    pub steps: usize,
    pub train_secs: f64,
    pub tokens_per_sec: f64,
    pub valid_loss: f64,
    pub bleu: f64,
    /// BLEU of each source-length bucket.
    pub bucket_bleu: Vec<f64>,
    /// `(training seconds, validation loss)` at each evaluation.
    pub curve: Vec<(f64, f64)>,
}

/// The finished comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub rows: Vec<CompareRow>,
    /// Inclusive source-length ranges (tokens) and their sentence counts.
    pub buckets: Vec<(usize, usize, usize)>,
    /// Files written (table, CSV, plots).
    pub files: Vec<PathBuf>,
}

/// Splits `lengths` into at most `n` ranges `(lo, hi)` of whole lengths holding
/// about equally many items each.
pub fn length_buckets(lengths: &[usize], n: usize) -> Vec<(usize, usize)> {
    let mut sorted = lengths.to_vec();
    sorted.sort_unstable();
    let (total, n) = (sorted.len(), n.max(1));
    let mut buckets: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < total {
        let lo = sorted[i];
        let want = (buckets.len() + 1) * total / n; // cumulative count at this bucket's end
        let mut j = i;
        // Take whole lengths until the bucket holds its share (the last one takes the rest).
        while j < total && (j < want.max(i + 1) || buckets.len() + 1 == n || sorted[j] == sorted[j - 1]) {
            j += 1;
        }
        buckets.push((lo, sorted[j - 1]));
        i = j;
    }
    buckets
}

/// The width (`model.d_model`, a multiple of 8 up to 2048) that brings `cfg`'s
/// parameter count closest to `target`, and that count.
fn matched_width(cfg: &TranslateConfig, target: usize, vocab: (usize, usize), device: &Device) -> Result<(usize, usize)> {
    let count = |d: usize| -> Result<usize> {
        let mut m = cfg.model.clone();
        m.d_model = d;
        Ok(model_config(&m, vocab.0, vocab.1)?.init(device)?.num_params())
    };
    let (mut lo, mut hi) = (1usize, 256usize); // in units of 8
    while lo < hi {
        let mid = (lo + hi) / 2;
        if count(mid * 8)? < target {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let mut best = (lo * 8, count(lo * 8)?);
    if lo > 1 {
        let below = count((lo - 1) * 8)?;
        if target.abs_diff(below) < target.abs_diff(best.1) {
            best = ((lo - 1) * 8, below);
        }
    }
    Ok(best)
}

/// Resolves the config of every architecture: its recipe, then the user's
/// `--config` file and overrides, then the matched width.
pub fn configs(file: Option<&Path>, sets: &[Override], opts: &CompareOptions, device: &Device) -> Result<Vec<TranslateConfig>> {
    let evals = opts.evals.max(1) as f64;
    let mut cfgs = Vec::new();
    for &arch in &opts.archs {
        let mut all = recipe(arch);
        all.extend(sets.iter().cloned());
        all.push(Override::flag("model.arch", toml::Value::String(arch.name().into()), "--archs"));
        let RunConfig::Translate(mut cfg) = RunConfig::resolve(Some(Task::Translate), file, &all)? else {
            unreachable!("the task is translate")
        };
        cfg.train.time_budget_s = opts.budget_s;
        cfg.train.eval_every_s = opts.budget_s / evals;
        cfg.train.epochs = cfg.train.epochs.max(10_000); // the budget ends training
        cfg.train.max_steps = 0;
        cfg.eval.samples = 0;
        cfgs.push(cfg);
    }
    let Some(reference) = opts.match_to else { return Ok(cfgs) };
    let Some(r) = opts.archs.iter().position(|&a| a == reference) else {
        return Err(TrainError::Config(format!("--match {reference}: not one of the compared architectures")));
    };
    let data = prepare(&Seq2SeqRun::from(&cfgs[r]), None)?;
    let vocab = (data.src_vocab.len(), data.tgt_vocab.len());
    let device = device.clone().inner();
    let target = model_config(&cfgs[r].model, vocab.0, vocab.1)?.init(&device)?.num_params();
    for (i, cfg) in cfgs.iter_mut().enumerate() {
        if i != r && cfg.model.arch != Seq2SeqArch::Transformer {
            cfg.model.d_model = matched_width(cfg, target, vocab, &device)?.0;
        }
    }
    Ok(cfgs)
}

/// Trains every configured model (resuming runs already in `opts.out`) and
/// compares them. Returns `None` when Ctrl-C stopped a run (its checkpoint is
/// written; the same call continues it).
pub fn compare(cfgs: &[TranslateConfig], opts: &CompareOptions, devices: &[Device], fit: &FitOptions) -> Result<Option<Comparison>> {
    std::fs::create_dir_all(&opts.out).map_err(|e| TrainError::io(&opts.out, e))?;
    for cfg in cfgs {
        let dir = opts.out.join(cfg.model.arch.name());
        let resume = dir.join(run_dir::CONFIG).exists();
        let whole = RunConfig::Translate(cfg.clone());
        if resume && run_dir::config(&dir)? != whole {
            return Err(TrainError::Config(format!(
                "{} holds a {} run with other settings; pick another output directory or delete it",
                dir.display(),
                cfg.model.arch
            )));
        }
        if !opts.quiet {
            println!("== {} (d_model {}) {}", cfg.model.arch, cfg.model.d_model, if resume { "(resuming)" } else { "" });
        }
        let fit = FitOptions { quiet: opts.quiet, interrupt: fit.interrupt.clone() };
        let report = super::train(&whole, Seq2SeqRun::from(cfg), &dir, resume, devices, &fit)?;
        if report.fitted.outcome == Outcome::Interrupted {
            return Ok(None);
        }
    }
    let mut rows = Vec::new();
    let mut buckets = Vec::new();
    for cfg in cfgs {
        let (row, b) = measure(cfg, &opts.out.join(cfg.model.arch.name()), opts.buckets, &devices[0])?;
        rows.push(row);
        buckets = b;
    }
    let mut cmp = Comparison { rows, buckets, files: Vec::new() };
    cmp.files = write(&cmp, &opts.out)?;
    Ok(Some(cmp))
}

/// Measures a finished run: its last state, its loss curve, and BLEU of its
/// final weights overall and by source length.
fn measure(cfg: &TranslateConfig, dir: &Path, n_buckets: usize, device: &Device) -> Result<(CompareRow, Vec<(usize, usize, usize)>)> {
    let newest = checkpoint::newest(dir)?;
    let state = checkpoint::read_state(&newest)?;
    let run = LoadedRun::load_weights(dir, &newest.join("model.bpk"), device)?;
    let view = Seq2SeqRun::from(cfg);
    let data = prepare(&view, Some(dir))?;
    let srcs: Vec<String> = data.valid_pairs.iter().map(|p| p.src.clone()).collect();
    let refs: Vec<String> = data.valid_pairs.iter().map(|p| view.reference_text(&p.tgt)).collect();
    let (sources, references) = super::batch::group_references(&srcs, &refs);
    let (hyps, _) = run.translate(&sources, None)?;
    let lengths: Vec<usize> = sources.iter().map(|s| run.tokenizer.src.tokenize(s).len()).collect();
    let ranges = length_buckets(&lengths, n_buckets);
    let mut bucket_bleu = Vec::new();
    let mut buckets = Vec::new();
    for &(lo, hi) in &ranges {
        let pick: Vec<usize> = (0..sources.len()).filter(|&i| (lo..=hi).contains(&lengths[i])).collect();
        let h: Vec<&String> = pick.iter().map(|&i| &hyps[i]).collect();
        let r: Vec<Vec<String>> = pick.iter().map(|&i| references[i].clone()).collect();
        bucket_bleu.push(corpus_bleu(&h, &r).score);
        buckets.push((lo, hi, pick.len()));
    }
    let curve = read_curve(&dir.join(run_dir::METRICS))?;
    let row = CompareRow {
        arch: cfg.model.arch,
        d_model: cfg.model.d_model,
        params: run.model.num_params(),
        steps: state.step,
        train_secs: state.train_secs(),
        tokens_per_sec: state.tokens as f64 / state.train_secs().max(1e-9),
        valid_loss: curve.last().map(|p| p.1).unwrap_or(f64::NAN),
        bleu: corpus_bleu(&hyps, &references).score,
        bucket_bleu,
        curve,
    };
    Ok((row, buckets))
}

fn range_label(lo: usize, hi: usize) -> String {
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}–{hi}")
    }
}

/// The table as Markdown.
pub fn table(cmp: &Comparison) -> String {
    let mut s = String::from(
        "| model | d_model | parameters | steps | training time | tokens/s | valid loss | valid BLEU |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in &cmp.rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {:.0} s | {:.0} | {:.4} | {:.2} |\n",
            r.arch, r.d_model, r.params, r.steps, r.train_secs, r.tokens_per_sec, r.valid_loss, r.bleu
        ));
    }
    s.push_str("\nBLEU by source length (tokens):\n\n| model |");
    for &(lo, hi, n) in &cmp.buckets {
        s.push_str(&format!(" {} ({n}) |", range_label(lo, hi)));
    }
    s.push_str("\n|---|");
    s.push_str(&"---:|".repeat(cmp.buckets.len()));
    s.push('\n');
    for r in &cmp.rows {
        s.push_str(&format!("| {} |", r.arch));
        for b in &r.bucket_bleu {
            s.push_str(&format!(" {b:.2} |"));
        }
        s.push('\n');
    }
    s
}

fn write(cmp: &Comparison, out: &Path) -> Result<Vec<PathBuf>> {
    let md = out.join("compare.md");
    checkpoint::write_atomic(&md, table(cmp).as_bytes())?;
    let csv = out.join("compare.csv");
    let mut text = String::from("arch,d_model,params,steps,train_s,tokens_per_s,valid_loss,valid_bleu");
    for (lo, hi, _) in &cmp.buckets {
        text.push_str(&format!(",bleu_len_{lo}_{hi}"));
    }
    text.push('\n');
    for r in &cmp.rows {
        text.push_str(&format!(
            "{},{},{},{},{:.1},{:.0},{:.5},{:.3}",
            r.arch, r.d_model, r.params, r.steps, r.train_secs, r.tokens_per_sec, r.valid_loss, r.bleu
        ));
        for b in &r.bucket_bleu {
            text.push_str(&format!(",{b:.3}"));
        }
        text.push('\n');
    }
    checkpoint::write_atomic(&csv, text.as_bytes())?;
    let bars = out.join("bleu_by_length.png");
    let categories: Vec<String> =
        cmp.buckets.iter().map(|&(lo, hi, n)| format!("{} tokens ({n} sentences)", range_label(lo, hi))).collect();
    let series: Vec<(String, Vec<f64>)> = cmp.rows.iter().map(|r| (r.arch.to_string(), r.bucket_bleu.clone())).collect();
    crate::plot::grouped_bars(&bars, "Validation BLEU by source-sentence length", "BLEU", &categories, &series)?;
    let curves = out.join("valid_loss_vs_time.png");
    let series: Vec<(String, Vec<(f64, f64)>)> = cmp.rows.iter().map(|r| (r.arch.to_string(), r.curve.clone())).collect();
    crate::plot::line_curves(&curves, "Validation loss against training time", "training time (s)", "validation loss (nats/token)", &series)?;
    Ok(vec![md, csv, bars, curves])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_split_evenly_and_keep_lengths_whole() {
        let lengths: Vec<usize> = (1..=100).collect();
        assert_eq!(length_buckets(&lengths, 4), vec![(1, 25), (26, 50), (51, 75), (76, 100)]);
        // Ties stay in one bucket; every length is covered exactly once.
        let lengths = [3, 3, 3, 3, 3, 4, 5, 9, 9, 12];
        let b = length_buckets(&lengths, 3);
        assert_eq!(b.first().map(|r| r.0), Some(3));
        assert_eq!(b.last().map(|r| r.1), Some(12));
        for w in b.windows(2) {
            assert!(w[0].1 < w[1].0, "{b:?}");
        }
        assert_eq!(b[0], (3, 3));
        assert_eq!(length_buckets(&[], 4), vec![]);
        assert_eq!(length_buckets(&[7, 7, 7], 4), vec![(7, 7)]);
    }
}
