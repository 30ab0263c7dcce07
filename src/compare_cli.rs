//! `attend compare`: trains several encoder–decoders on the same data with the
//! same training-time budget and prints one table; writes two plots.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use attend::device::parse_devices;
use attend::train::config::Override;
use attend::train::tasks::translate::compare::{compare, configs, multi30k_overrides, table, CompareOptions, DEFAULT_ARCHS};
use attend::train::tasks::translate::settings::Seq2SeqArch;
use attend::train::trainer::{interrupt, FitOptions};
use clap::Args;

/// Benchmarks `--data` names.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Benchmark {
    /// The default run's data: the bundled Tatoeba English→French pairs.
    Tatoeba,
    /// Multi30k German→English from ../shared/data/multi30k, in the Multi30k
    /// Transformer recipe's subwords and batches (configs/multi30k-transformer.toml).
    Multi30k,
}

#[derive(Args)]
pub struct CompareArgs {
    /// A TOML config for the data and shared settings (default: the bundled Tatoeba run).
    #[arg(long, value_name = "FILE", conflicts_with = "data")]
    config: Option<PathBuf>,
    /// A benchmark's data instead of a config: `tatoeba` (the default run's) or `multi30k`.
    #[arg(long, value_enum, value_name = "NAME")]
    data: Option<Benchmark>,
    /// Override one config value for every model, e.g. `--set data.batch_size=32` (repeatable).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    sets: Vec<String>,
    /// Architectures to compare, comma-separated (values of model.arch).
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_ARCHS)]
    archs: Vec<Seq2SeqArch>,
    /// Training seconds per model (evaluation time excluded).
    #[arg(long, value_name = "SECS", default_value_t = 300.0)]
    budget: f64,
    /// Evaluations per model within its budget (points of the loss-against-time curve).
    #[arg(long, value_name = "N", default_value_t = 5)]
    evals: usize,
    /// Match every other model's parameter count to this architecture's by choosing its
    /// width (`auto`: the Transformer if compared, else the first; `none`: use the configs as they are).
    #[arg(long = "match", value_name = "ARCH", default_value = "auto")]
    match_to: String,
    /// Source-length buckets of the BLEU-by-length plot.
    #[arg(long, value_name = "N", default_value_t = 4)]
    buckets: usize,
    /// Output directory: one run per model, compare.md, compare.csv and the plots.
    /// Running the same command again resumes it.
    #[arg(long, value_name = "DIR", default_value = "runs/compare")]
    out: PathBuf,
    /// Device, e.g. `cpu`, `wgpu` (see `attend info`); several, comma-separated, train data-parallel.
    #[arg(long, value_name = "DEVICE", default_value = "auto")]
    device: String,
    /// Only print the comparison, not each run's progress.
    #[arg(long)]
    quiet: bool,
}

pub fn cmd_compare(a: CompareArgs) -> Result<ExitCode> {
    if let Some(c) = &a.config {
        crate::check_file(c, "--config")?;
    }
    if !(a.budget > 0.0) {
        bail!("--budget {}: must be a positive number of seconds", a.budget);
    }
    if a.archs.is_empty() {
        bail!("--archs: name at least one architecture");
    }
    let mut sets: Vec<Override> = match a.data {
        Some(Benchmark::Multi30k) => multi30k_overrides()?,
        Some(Benchmark::Tatoeba) | None => Vec::new(),
    };
    for s in &a.sets {
        sets.push(Override::parse_set(s)?);
    }
    let match_to = match a.match_to.as_str() {
        "none" => None,
        "auto" if a.archs.contains(&Seq2SeqArch::Transformer) => Some(Seq2SeqArch::Transformer),
        "auto" => a.archs.first().copied(),
        other => Some(other.parse::<Seq2SeqArch>().map_err(|e| anyhow::anyhow!("--match {e}"))?),
    };
    let opts = CompareOptions {
        archs: a.archs.clone(),
        budget_s: a.budget,
        evals: a.evals.max(1),
        match_to,
        buckets: a.buckets.max(1),
        out: a.out.clone(),
        quiet: a.quiet,
    };
    let devices = parse_devices(&a.device).map_err(anyhow::Error::msg)?;
    let cfgs = configs(a.config.as_deref(), &sets, &opts, &devices[0]).context("resolving the compared configs")?;
    println!(
        "comparing {} on {devices:?}: {:.0} s of training each, {} evaluations, output in {}",
        crate::arch_names(&opts.archs).join(", "),
        opts.budget_s,
        opts.evals,
        opts.out.display()
    );
    let fit = FitOptions { quiet: a.quiet, interrupt: interrupt::install("this step")? };
    let Some(cmp) = compare(&cfgs, &opts, &devices, &fit).context("comparing")? else {
        println!("interrupted; run the same command again to continue");
        return Ok(ExitCode::from(130));
    };
    println!("\n{}", table(&cmp));
    for f in &cmp.files {
        println!("wrote {}", f.display());
    }
    Ok(ExitCode::SUCCESS)
}
