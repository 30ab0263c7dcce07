//! The classifier side of the CLI: `train --task classify`, `classify`, `eval --data`.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{Context, Result};
use attend::train::classify::{encode_text, evaluate, load_classifier, probabilities, read_labeled, train_classifier};
use attend::train::config::RunConfig;
use attend::train::Outcome;
use clap::Args;

#[derive(Args)]
pub struct ClassifyArgs {
    /// The run directory of a trained classifier.
    #[arg(long, value_name = "RUN_DIR")]
    pub run: PathBuf,
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

/// Prints the label and its probability for each text.
pub fn cmd_classify(a: ClassifyArgs, device: burn::prelude::Device) -> Result<ExitCode> {
    let c = load_classifier(&a.run, &device).with_context(|| format!("loading run {}", a.run.display()))?;
    let texts: Vec<String> = if a.texts.is_empty() {
        std::io::stdin().lock().lines().collect::<std::io::Result<_>>().context("reading stdin")?
    } else {
        a.texts.clone()
    };
    let ids: Vec<Vec<u32>> = texts.iter().map(|t| encode_text(&c.cfg, &c.vocab, t)).collect();
    for (text, p) in texts.iter().zip(probabilities(&c.model, &ids, &device)?) {
        let k = p.iter().enumerate().fold(0, |b, (i, &x)| if x > p[b] { i } else { b });
        println!("{}\t{:.4}\t{text}", c.labels[k], p[k]);
    }
    Ok(ExitCode::SUCCESS)
}

/// `attend eval --run RUN --data FILE...` for a classifier.
pub fn cmd_eval(run: &Path, data: &[PathBuf], device: burn::prelude::Device) -> Result<ExitCode> {
    let c = load_classifier(run, &device).with_context(|| format!("loading run {}", run.display()))?;
    let labeled = read_labeled(data).context("--data")?;
    let mut examples = Vec::with_capacity(labeled.len());
    for (i, d) in labeled.iter().enumerate() {
        let k = c.labels.iter().position(|l| *l == d.label).with_context(|| {
            format!("--data: text {} has the label `{}`, which the model does not know ({})", i + 1, d.label, c.labels.join(", "))
        })?;
        examples.push(attend::data::Example { src: encode_text(&c.cfg, &c.vocab, &d.text), tgt: vec![k as u32] });
    }
    println!("{}", evaluate(&c.model, &c.labels, &examples, &device)?.report());
    Ok(ExitCode::SUCCESS)
}
