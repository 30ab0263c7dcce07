//! The classifier side of the CLI: `train --task classify`, `classify`, `eval --data`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use attend::data::read_labeled;
use attend::train::tasks::classify::ensemble::Ensemble;
use attend::train::tasks::classify::scores::argmax;
use clap::Args;

#[derive(Args)]
pub struct ClassifyArgs {
    /// The run directory of a trained classifier; repeat it to average the
    /// probabilities of several runs (an ensemble).
    #[arg(long, value_name = "RUN_DIR", required = true)]
    pub run: Vec<PathBuf>,
    /// Texts to classify (default: one per line from stdin).
    pub texts: Vec<String>,
    #[command(flatten)]
    pub device: crate::DeviceArg,
}

/// Prints the label and its probability for each text (with several runs,
/// the mean of their probabilities).
pub fn cmd_classify(a: ClassifyArgs) -> Result<ExitCode> {
    let device = crate::run_device(&a.run[0], &a.device)?;
    let e = load(&a.run, &device)?;
    let texts = crate::or_stdin(&a.texts)?;
    for (text, p) in texts.iter().zip(e.probabilities(&texts, &device)?) {
        let k = argmax(&p);
        println!("{}\t{:.4}\t{text}", e.labels()[k], p[k]);
    }
    Ok(ExitCode::SUCCESS)
}

fn load(runs: &[PathBuf], device: &burn::prelude::Device) -> Result<Ensemble> {
    let what = runs.iter().map(|r| r.display().to_string()).collect::<Vec<_>>().join(", ");
    Ensemble::load(runs, device).with_context(|| format!("loading run{} {what}", if runs.len() > 1 { "s" } else { "" }))
}

/// `attend eval --run RUN... --data FILE...` for a classifier (or an ensemble).
pub fn eval_data(runs: &[PathBuf], data: &[PathBuf], device: burn::prelude::Device) -> Result<ExitCode> {
    let e = load(runs, &device)?;
    let source = data.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(" + ");
    let labeled = read_labeled(data).context("--data")?;
    let scores = e.evaluate(&labeled, &source, &device).context("--data")?;
    if e.len() > 1 {
        println!("ensemble of {} runs (mean of their probabilities)", e.len());
    }
    println!("{}", scores.report());
    Ok(ExitCode::SUCCESS)
}
