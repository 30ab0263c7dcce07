//! The language-model side of the CLI: `train --task lm`, `generate`, `eval --text`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use attend::data::lm_text::read_text;
use attend::train::tasks::lm::data::text_loss;
use attend::train::tasks::lm::generate::{generate, SamplingConfig};
use attend::train::tasks::lm::load_lm;
use clap::Args;

#[derive(Args)]
pub struct GenerateArgs {
    /// The run directory of a trained language model.
    #[arg(long, value_name = "RUN_DIR")]
    run: PathBuf,
    /// Text to continue (default: a newline).
    #[arg(long, default_value = "\n")]
    prompt: String,
    /// Tokens to generate.
    #[arg(long, default_value_t = 200)]
    max_tokens: usize,
    /// Sampling temperature (0 = greedy).
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    /// Sample among the k most likely tokens only (0 = all).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Nucleus sampling: the most likely tokens whose probability reaches p (1 = all).
    #[arg(long, default_value_t = 1.0)]
    top_p: f32,
    /// Seed of the sampler (the same seed gives the same text).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Recompute the whole context at every step instead of using the key/value cache.
    #[arg(long)]
    no_cache: bool,
    #[command(flatten)]
    device: crate::DeviceArg,
}

/// Streams generated text to stdout.
pub fn cmd_generate(a: GenerateArgs) -> Result<ExitCode> {
    let device = crate::run_device(&a.run, &a.device)?;
    let lm = load_lm(&a.run, &device).with_context(|| format!("loading run {}", a.run.display()))?;
    let prompt = lm.encode(&a.prompt);
    if prompt.is_empty() {
        bail!("--prompt: no tokens in {:?}", a.prompt);
    }
    let sampling = SamplingConfig::for_text(a.temperature, a.top_k, a.top_p, a.seed);
    let mut out = std::io::stdout().lock();
    write!(out, "{}", a.prompt)?;
    let mut text = lm.tokenizer.detokenizer(&a.prompt);
    let started = std::time::Instant::now();
    let tokens = generate(&lm.model, &prompt, a.max_tokens, &sampling, !a.no_cache, &device, |t, _| {
        let _ = write!(out, "{}", text.piece(lm.vocab.token(t)));
        let _ = out.flush();
    })?;
    let secs = started.elapsed().as_secs_f64();
    writeln!(out)?;
    eprintln!(
        "{} tokens in {:.2}s: {:.1} tokens/s ({})",
        tokens.len(),
        secs,
        tokens.len() as f64 / secs.max(1e-9),
        if a.no_cache {
            "no cache"
        } else if lm.model.windowed() {
            "key/value cache"
        } else {
            "recurrent state carried"
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// `attend eval --run RUN --text FILE` for a language model.
pub fn eval_text(run: &Path, text: &Path, device: burn::prelude::Device) -> Result<ExitCode> {
    let lm = load_lm(run, &device).with_context(|| format!("loading run {}", run.display()))?;
    let body = read_text(text).context("--text")?;
    let ids = lm.encode(&body);
    if ids.len() < 2 {
        bail!("--text {}: fewer than two tokens", text.display());
    }
    let (loss, n) = text_loss(&lm.model, &ids, &device, true)?;
    let (windows_loss, wn) = text_loss(&lm.model, &ids, &device, false)?;
    let chars = body.chars().count().saturating_sub(1).max(1);
    let bpc = loss * n as f64 / std::f64::consts::LN_2 / chars as f64;
    println!(
        "{}: {n} tokens predicted; loss {loss:.4} nats/token, perplexity {:.2}, {bpc:.4} bits/character",
        text.display(),
        loss.exp()
    );
    println!(
        "full {}-token windows only ({wn} tokens): loss {windows_loss:.4} nats/token",
        lm.model.context()
    );
    Ok(ExitCode::SUCCESS)
}
