//! `attend train`: builds the request from the flags, lets the library plan
//! and train the run, and prints its report.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use attend::device::{compiled_backends, parse_devices};
use attend::train::config::Task;
use attend::train::tasks::{self, DataFlags, Plan, TrainReport, TrainRequest};
use attend::train::trainer::{interrupt, FitOptions, Outcome};
use clap::Args;

#[derive(Args)]
pub struct TrainArgs {
    /// What to train: translate (parallel text; the default), copy (a quick synthetic check),
    /// lm (a language model; nanoGPT's Tiny Shakespeare recipe by default), classify (a text
    /// classifier; rt-polarity by default), spell (a word's spelling from its vector) or
    /// word2vec (word vectors).
    #[arg(long, value_name = "TASK")]
    task: Option<Task>,
    /// A TOML config (see configs/); the task's defaults are used for everything it leaves out.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Override one config value, e.g. `--set model.d_model=128` (repeatable; applied after --config).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    sets: Vec<String>,
    /// Translation: training pairs as `source<TAB>target` lines.
    #[arg(long, value_name = "FILE")]
    tsv: Option<PathBuf>,
    /// Translation: training source file, line-aligned with --tgt.
    #[arg(long, value_name = "FILE", requires = "tgt", conflicts_with = "tsv")]
    src: Option<PathBuf>,
    /// Translation: training target file, line-aligned with --src.
    #[arg(long, value_name = "FILE", requires = "src")]
    tgt: Option<PathBuf>,
    /// Translation: validation pairs as TSV.
    #[arg(long, value_name = "FILE")]
    valid_tsv: Option<PathBuf>,
    /// Translation: validation source file, line-aligned with --valid-tgt.
    #[arg(long, value_name = "FILE", requires = "valid_tgt", conflicts_with = "valid_tsv")]
    valid_src: Option<PathBuf>,
    /// Translation: validation target file.
    #[arg(long, value_name = "FILE", requires = "valid_src")]
    valid_tgt: Option<PathBuf>,
    /// Training data of the other tasks: a language model's text files, a classifier's
    /// `label<TAB>text` files or .pos/.neg pairs, a speller's word vectors, word2vec's
    /// corpus (files or folders of *.txt).
    #[arg(long, value_name = "PATH", num_args = 1..)]
    data: Vec<PathBuf>,
    /// Language models and classifiers: validation file (default: a tenth of --data).
    #[arg(long, value_name = "FILE")]
    valid: Option<PathBuf>,
    /// Translation and classifiers: word vectors (word2vec text/binary or GloVe) to start the
    /// embeddings from (their dimension must equal the embedding width).
    #[arg(long, value_name = "FILE")]
    init_embeddings: Option<PathBuf>,
    /// Run directory to create (default: runs/<task>-<UTC time>).
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "resume")]
    out: Option<PathBuf>,
    /// Continue the run in RUN_DIR from its newest checkpoint.
    #[arg(long, value_name = "RUN_DIR")]
    resume: Option<PathBuf>,
    #[command(flatten)]
    device: crate::DeviceArg,
    /// No progress bar and no per-evaluation lines.
    #[arg(long)]
    quiet: bool,
}

impl TrainArgs {
    fn request(self) -> TrainRequest {
        TrainRequest {
            task: self.task,
            config: self.config,
            sets: self.sets,
            data: DataFlags {
                tsv: self.tsv,
                src: self.src,
                tgt: self.tgt,
                valid_tsv: self.valid_tsv,
                valid_src: self.valid_src,
                valid_tgt: self.valid_tgt,
                data: self.data,
                valid: self.valid,
                init_embeddings: self.init_embeddings,
            },
            out: self.out,
            resume: self.resume,
            device: self.device.device,
        }
    }
}

pub fn cmd_train(a: TrainArgs) -> Result<ExitCode> {
    let quiet = a.quiet;
    let plan = tasks::plan(&a.request())?;
    let spec = plan.config.device().to_string();
    let devices = if tasks::uses_devices(&plan.config) { parse_devices(&spec).map_err(anyhow::Error::msg)? } else { Vec::new() };
    let what = if plan.config.task() == Task::Word2vec { "the jobs in hand" } else { "this step" };
    let opts = FitOptions { quiet, interrupt: interrupt::install(what)? };
    let on = if devices.is_empty() { "the CPU engine".to_string() } else { devices.iter().map(|d| format!("{d:?}")).collect::<Vec<_>>().join(", ") };
    println!(
        "{} {} run {} on {on} (--device {spec}; compiled: {})",
        if plan.resume { "resuming" } else { "training" },
        plan.config.task(),
        plan.run.display(),
        compiled_backends().join(", ")
    );
    let report = tasks::train(&plan, &devices, &opts).with_context(|| format!("training run {}", plan.run.display()))?;
    print_report(&plan, &report)
}

fn ended(plan: &Plan, outcome: Outcome, step: impl std::fmt::Display, next: &str) -> ExitCode {
    match outcome {
        Outcome::Finished => {
            if !next.is_empty() {
                println!("{next}");
            }
            ExitCode::SUCCESS
        }
        Outcome::Interrupted => {
            println!("interrupted at step {step}; continue with: attend train --resume {}", plan.run.display());
            ExitCode::from(130)
        }
    }
}

fn print_report(plan: &Plan, report: &TrainReport) -> Result<ExitCode> {
    let run = plan.run.display();
    Ok(match report {
        TrainReport::Translate(r) => {
            let f = &r.fitted;
            f.notes.iter().for_each(|n| println!("{n}"));
            println!(
                "{} parameters, {} training pairs ({} longer than model.max_len dropped), {} steps in {:.0}s",
                f.params, r.train_pairs, r.dropped_pairs, f.state.step, f.state.elapsed_secs
            );
            if let Some(e) = &f.last_eval {
                let num = |n: &str| e.get(n).unwrap_or(f64::NAN);
                let score = if r.copy {
                    format!("exact match {:.3}", num("valid_exact"))
                } else {
                    format!("BLEU {:.2}  exact match {:.3}", num("valid_bleu"), num("valid_exact"))
                };
                println!(
                    "validation: loss {:.4}  perplexity {:.2}  token accuracy {:.3}  {score}",
                    num("valid_loss"),
                    num("valid_ppl"),
                    num("valid_token_acc")
                );
            }
            if let Some(best) = f.state.best_score {
                let what = if r.copy { "exact match %" } else { "BLEU" };
                println!("best validation {what} {best:.2} at step {} (saved in {run}/best)", f.state.best_step);
            }
            for (src, out, reference) in &r.samples {
                println!("  {src}\n    → {out}\n    ref {reference}");
            }
            let example = if r.copy { "abcabc" } else { "I am a manager." };
            ended(plan, f.outcome, f.state.step, &format!("translate with: attend translate --run {run} \"{example}\""))
        }
        TrainReport::Lm(r) => {
            let f = &r.fitted;
            println!(
                "{} parameters, vocabulary {}, {} training tokens, {} steps in {:.0}s ({:.1}s in training steps, {:.0} tokens/s)",
                f.params,
                r.vocab,
                r.train_tokens,
                f.state.step,
                f.state.elapsed_secs,
                f.state.train_secs(),
                f.state.tokens as f64 / f.state.train_secs().max(1e-9)
            );
            if let Some(l) = r.valid_loss_full {
                let ctx = match &plan.config {
                    attend::train::RunConfig::Lm(c) => c.model.context,
                    _ => 0,
                };
                println!("validation loss over every full {ctx}-token window: {l:.4} nats/token (perplexity {:.2})", l.exp());
            }
            ended(plan, f.outcome, f.state.step, &format!("generate with: attend generate --run {run} --prompt \"ROMEO:\""))
        }
        TrainReport::Classify(r) => {
            let f = &r.fitted;
            f.notes.iter().for_each(|n| println!("{n}"));
            println!(
                "{} parameters, {} training and {} validation texts, {} steps in {:.0}s",
                f.params, r.train_texts, r.valid_texts, f.state.step, f.state.elapsed_secs
            );
            if let Some(best) = &r.best {
                println!("best validation weights (step {}): {}", f.state.best_step, best.report());
            }
            ended(plan, f.outcome, f.state.step, &format!("classify with: attend classify --run {run} \"a gripping, beautifully acted film\""))
        }
        TrainReport::Spell(r) => {
            let f = &r.fitted;
            println!(
                "{} parameters; {} training and {} held-out words ({} too long left out); {} characters; {} steps in {:.0}s",
                f.params, r.train_pairs, r.valid_pairs, r.too_long, r.characters, f.state.step, f.state.elapsed_secs
            );
            println!("held-out words (never seen spelled) → spelling from the vector (best weights, step {}):", f.state.best_step);
            for (word, spelled) in &r.samples {
                println!("  {word:>14} → {spelled}{}", if word == spelled { "  ✓" } else { "" });
            }
            ended(plan, f.outcome, f.state.step, "")
        }
        TrainReport::Word2vec(r) => crate::word2vec_cli::print_trained(plan, r),
    })
}
