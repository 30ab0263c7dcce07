//! `attend bench`: prints the benchmark rows as a table and as JSON lines.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use attend::device::parse_device;
use attend::train::bench::{run, table, BenchOptions, GROUPS};
use clap::Args;

#[derive(Args)]
pub struct BenchArgs {
    /// Rows to run, comma-separated: groups (transformer-tiny, transformer-small, lstm-tiny,
    /// lstm-small, gpt-char, decode-tiny, decode-small, word2vec) or rows such as
    /// `decode-small/batch1-cached`. Default: every group but word2vec.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    rows: Vec<String>,
    /// Threads of the CPU backends (their rayon and matmul pools) and of word2vec.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: u16,
    /// Device, e.g. `cpu`, `flex`, `wgpu` (see `attend info`).
    #[arg(long, value_name = "DEVICE", default_value = "auto")]
    device: String,
    /// Scale the warm-up and repeat counts (1 = the PyTorch peers' counts).
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    repeat_scale: f64,
    /// Corpus files of the word2vec row.
    #[arg(long, value_name = "FILE", num_args = 1.., default_values_t = [String::from("data/austen/austen.txt")])]
    corpus: Vec<String>,
    /// Text whose characters the GPT row trains on.
    #[arg(long, value_name = "FILE", default_value = "data/tinyshakespeare/train.txt")]
    lm_text: PathBuf,
    /// Run the plain compositions of Burn's operations instead of attend's fused
    /// attention, layer norm and cross-entropy (to measure what the fusion buys).
    #[arg(long)]
    unfused: bool,
    /// Also write the rows as JSON lines to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// Runs the benchmark. The thread counts go into the environment before any
/// tensor work starts the pools (rayon reads RAYON_NUM_THREADS, ndarray's
/// matrixmultiply MATMUL_NUM_THREADS, when they first start).
pub fn cmd_bench(a: BenchArgs) -> Result<ExitCode> {
    if !(a.repeat_scale > 0.0 && a.repeat_scale.is_finite()) {
        bail!("--repeat-scale {}: must be a positive number", a.repeat_scale);
    }
    let threads = a.threads as usize;
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    std::env::set_var("MATMUL_NUM_THREADS", threads.to_string());
    let device = parse_device(&a.device).map_err(anyhow::Error::msg)?;
    attend::model::fused::set_enabled(!a.unfused);
    let rows = if a.rows.is_empty() { GROUPS.iter().filter(|g| **g != "word2vec").map(|g| g.to_string()).collect() } else { a.rows };
    let opts = BenchOptions { rows, threads, repeat_scale: a.repeat_scale, corpus: a.corpus.iter().map(PathBuf::from).collect(), lm_text: a.lm_text };
    let mut json = match &a.json {
        Some(p) => Some(std::fs::File::create(p).with_context(|| format!("--json {}", p.display()))?),
        None => None,
    };
    let fused = if a.unfused { "plain compositions" } else { "fused operations" };
    // gemm picks its kernels at run time among those compiled in (the `avx512` feature).
    let kernels = if cfg!(feature = "avx512") { "gemm AVX-512 kernels where the CPU has them" } else { "gemm without AVX-512 kernels" };
    println!("attend bench on {device:?}, {threads} thread(s), {fused}, {kernels}");
    let mut failed = None;
    let (rows, peak) = crate::pool::in_pool(Some(threads), || run(&opts, &device, |row| {
        let line = serde_json::to_string(row).unwrap_or_default();
        println!("{line}");
        if let Some(f) = json.as_mut() {
            if let Err(e) = writeln!(f, "{line}") {
                failed = Some(e);
            }
        }
    }))??;
    if let (Some(e), Some(p)) = (failed, &a.json) {
        bail!("--json {}: {e}", p.display());
    }
    println!("\nfp32 peak measured on {threads} core(s): {:.1} GFLOP/s", peak / 1e9);
    print!("{}", table(&rows));
    Ok(ExitCode::SUCCESS)
}
