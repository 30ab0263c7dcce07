//! The classifier side of the CLI: `train --task classify`, `classify`, `eval --data`.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{Context, Result};
use attend::train::classify::{argmax, read_labeled, train_classifier};
use attend::train::ensemble::Ensemble;
use attend::train::config::RunConfig;
use attend::train::Outcome;
use clap::Args;

#[derive(Args)]
pub struct ClassifyArgs {
    /// The run directory of a trained classifier; repeat it to average the
    /// probabilities of several runs (an ensemble).
    #[arg(long, value_name = "RUN_DIR", required = true)]
    pub run: Vec<PathBuf>,
    /// Texts to classify (default: one per line from stdin).
    pub texts: Vec<String>,
    /// Device to run on.
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<String>,
}

/// Trains a classification run and prints its summary.
pub fn train(cfg: &RunConfig, run: &Path, resume: bool, device: &burn::prelude::Device, interrupt: Arc<AtomicBool>, quiet: bool) -> Result<ExitCode> {
    let r = train_classifier(cfg, run, resume, device, interrupt, quiet).with_context(|| format!("training run {}", run.display()))?;
    for e in &r.init_embeddings {
        println!("embedding: {} of {} tokens initialised from word vectors", e.found, e.total);
    }
    println!(
        "{} parameters, {} training and {} validation texts, {} steps in {:.0}s",
        r.params, r.train_texts, r.valid_texts, r.state.step, r.state.elapsed_secs
    );
    if let Some(best) = &r.best {
        println!("best validation epoch (step {}): {}", r.state.best_step, best.report());
    }
    match r.outcome {
        Outcome::Finished => {
            println!("classify with: attend classify --run {} \"a gripping, beautifully acted film\"", run.display());
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Interrupted => {
            println!("interrupted at step {}; continue with: attend train --resume {}", r.state.step, run.display());
            Ok(ExitCode::from(130))
        }
    }
}

/// Prints the label and its probability for each text (with several runs,
/// the mean of their probabilities).
pub fn cmd_classify(a: ClassifyArgs, device: burn::prelude::Device) -> Result<ExitCode> {
    let e = load(&a.run, &device)?;
    let texts: Vec<String> = if a.texts.is_empty() {
        std::io::stdin().lock().lines().collect::<std::io::Result<_>>().context("reading stdin")?
    } else {
        a.texts.clone()
    };
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
pub fn cmd_eval(runs: &[PathBuf], data: &[PathBuf], device: burn::prelude::Device) -> Result<ExitCode> {
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
