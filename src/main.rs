//! The `attend` command line. It parses and prints; everything else is in the
//! library (`attend::train`). One grammar for every task: a verb, then flags
//! (`attend train --task lm`, `attend eval --run RUN …`, `attend analogy
//! --vectors V …`); `attend train` with no flags is the main job.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use attend::device::parse_devices;
use attend::model::BeamOptions;
use attend::train::tasks::translate::settings::Seq2SeqArch;
use clap::{Args, Parser, Subcommand};

mod bench_cli;
mod classify_cli;
mod compare_cli;
mod eval_cli;
mod lm_cli;
mod pool;
mod serve_cli;
mod train_cli;
mod translate_cli;
mod tokenizer_cli;
mod word2vec_cli;

#[derive(Parser)]
#[command(name = "attend", version, about = "Sequence models from word2vec to the Transformer, on Burn")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a run: by default the small English→French Transformer on the bundled data;
    /// `--task copy|lm|classify|spell|word2vec` for the others.
    Train(train_cli::TrainArgs),
    /// Translate sentences with a trained run (arguments, or one sentence per stdin line).
    Translate(translate_cli::TranslateArgs),
    /// Continue a text with a trained language model, streaming tokens.
    Generate(lm_cli::GenerateArgs),
    /// Label texts with a trained classifier: label, probability, text.
    Classify(classify_cli::ClassifyArgs),
    /// Score a trained run (translation BLEU, language-model loss, classifier accuracy)
    /// or word vectors (analogies, similarity).
    Eval(eval_cli::EvalArgs),
    /// Score translations against references (BLEU and chrF, with their signatures), no model needed.
    Score(translate_cli::ScoreArgs),
    /// Word vectors: the words nearest to A − B + C (`king man woman` ≈ queen).
    Analogy(word2vec_cli::AnalogyArgs),
    /// Word vectors: the words nearest to each given word.
    Neighbors(word2vec_cli::NeighborsArgs),
    /// Write the token stream word2vec trains on, one sentence per line (to compare with other tools).
    Prepare(word2vec_cli::PrepareArgs),
    /// Subword tokenizers: train a BPE or unigram tokenizer.json, or show how one splits text.
    Tokenizer(tokenizer_cli::TokenizerArgs),
    /// Average the newest checkpoints of a run into a new run (its best/ is the average).
    Average(AverageArgs),
    /// Train RNN, LSTM, GRU, LSTM+attention and Transformer translators on the same data
    /// and budget; print a table and plot BLEU by source length and loss against time.
    Compare(compare_cli::CompareArgs),
    /// Measure training, inference and decoding speed on the PyTorch peers' shapes.
    Bench(bench_cli::BenchArgs),
    /// Write a run's weights as safetensors, with its config, vocabularies and tensor list.
    Export(ExportArgs),
    /// Build a run from a directory that `attend export` wrote.
    Import(ImportArgs),
    /// Serve trained runs over HTTP with JSON (translate, generate, classify) and a web page.
    Serve(serve_cli::ServeArgs),
    /// Print the compiled backends, the device a spec resolves to and the Burn version.
    Info(InfoArgs),
}

/// `--device`, shared by every command that runs a model.
#[derive(Args, Clone, Debug, Default)]
pub struct DeviceArg {
    /// Device: auto, cpu, ndarray, flex, wgpu, wgpu:N, wgpu:cpu, vulkan, metal (see `attend info`);
    /// for training, several comma-separated train data-parallel. Default: the run's own, else auto.
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<String>,
}

/// How encoder–decoders decode, shared by `translate` and `eval`.
#[derive(Args, Clone, Debug)]
pub struct DecodeArgs {
    /// Beam search with N hypotheses per sentence instead of greedy decoding.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub beam: Option<u16>,
    /// With --beam: rank finished hypotheses by log-probability / length^A (0 = no normalisation).
    #[arg(long, value_name = "A", default_value_t = 1.0, requires = "beam")]
    pub length_penalty: f32,
}

impl DecodeArgs {
    /// Beam settings (`None`: greedy).
    pub fn beam(&self) -> Result<Option<BeamOptions>> {
        if !self.length_penalty.is_finite() || self.length_penalty < 0.0 {
            anyhow::bail!("--length-penalty {}: give a number ≥ 0", self.length_penalty);
        }
        Ok(self.beam.map(|size| BeamOptions { size: size as usize, length_penalty: self.length_penalty }))
    }
}

#[derive(Args)]
struct AverageArgs {
    /// The run whose checkpoints to average.
    #[arg(long, value_name = "RUN_DIR")]
    run: PathBuf,
    /// How many of the newest checkpoints.
    #[arg(long, value_name = "N", default_value_t = 5)]
    last: usize,
    /// The new run directory (default: RUN_DIR-avgN).
    #[arg(long, value_name = "RUN_DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    device: DeviceArg,
}

fn cmd_average(a: AverageArgs) -> Result<ExitCode> {
    let out = a.out.clone().unwrap_or_else(|| PathBuf::from(format!("{}-avg{}", a.run.display(), a.last)));
    let device = run_device(&a.run, &a.device)?;
    let done = attend::train::tasks::average::average_run(&a.run, a.last, &out, &device)?;
    let steps: Vec<String> = done.steps.iter().map(|s| s.to_string()).collect();
    println!("averaged the checkpoints of steps {} into {} (its best/)", steps.join(", "), done.out.display());
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
struct ExportArgs {
    /// The run to export (its best weights, else the newest checkpoint).
    #[arg(long, value_name = "RUN_DIR")]
    run: PathBuf,
    /// The weights format.
    #[arg(long, value_name = "FORMAT", default_value = "safetensors", value_parser = ["safetensors"])]
    format: String,
    /// The new directory to write (default: RUN_DIR-safetensors).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    device: DeviceArg,
}

fn cmd_export(a: ExportArgs) -> Result<ExitCode> {
    let out = a.out.clone().unwrap_or_else(|| PathBuf::from(format!("{}-{}", a.run.display(), a.format)));
    let device = run_device(&a.run, &a.device)?;
    let done = attend::train::tasks::interop::export_run(&a.run, &out, &device)?;
    println!(
        "wrote {} tensors ({} parameters) to {}/model.safetensors, with config.toml, the run's data files and tensors.tsv",
        done.tensors,
        done.parameters,
        done.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
struct ImportArgs {
    /// A directory written by `attend export` (config.toml, data files, model.safetensors);
    /// with --pytorch, the run's config.toml and vocabularies only.
    #[arg(long, value_name = "DIR")]
    from: PathBuf,
    /// Take the weights from a PyTorch nn.Transformer translator's state_dict (torch.save)
    /// instead; its keys map as docs/pytorch-mapping.md says.
    #[arg(long, value_name = "FILE.pt")]
    pytorch: Option<PathBuf>,
    /// The new run directory.
    #[arg(long, value_name = "RUN_DIR")]
    out: PathBuf,
    #[command(flatten)]
    device: DeviceArg,
}

fn cmd_import(a: ImportArgs) -> Result<ExitCode> {
    let device = run_device(&a.from, &a.device)?;
    let (out, what) = match &a.pytorch {
        Some(pt) => (attend::train::tasks::translate::pytorch::import_pytorch(pt, &a.from, &a.out, &device)?, pt),
        None => (attend::train::tasks::interop::import_run(&a.from, &a.out, &device)?, &a.from),
    };
    println!("imported {} into the run {} (its best/)", what.display(), out.display());
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
struct InfoArgs {
    #[command(flatten)]
    device: DeviceArg,
}

/// Training allocates and frees the same tensor sizes at every step. glibc's
/// malloc serves blocks above its mmap threshold (128 KiB at first, at most
/// 32 MiB) with fresh pages from the kernel and unmaps them on free, so each
/// step paid page faults and page clearing for its activations (about a tenth
/// of a Transformer step on flex in `perf`). Keeping freed memory in the heap
/// for reuse removes that; peak memory stays what the step needs.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`attend classify … | head`) instead of panicking on the failed write.
    #[cfg(unix)]
    // SAFETY: restores the default disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // A file-size limit (`ulimit -f`) is a full disk to a run: with SIGXFSZ ignored,
    // the write fails with an error naming the file instead of killing the process.
    #[cfg(unix)]
    // SAFETY: sets one signal's disposition before any thread starts.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    keep_freed_memory();
    let command = Cli::parse().command;
    // The benchmark sizes its own pool (--threads); the server gives each model one.
    let result = if matches!(command, Command::Bench(_) | Command::Serve(_)) {
        run(command)
    } else {
        pool::in_pool(None, || run(command)).and_then(|r| r)
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            ExitCode::FAILURE
        }
    }
}

/// Runs one command.
fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Train(a) => train_cli::cmd_train(a),
        Command::Translate(a) => translate_cli::cmd_translate(a),
        Command::Generate(a) => lm_cli::cmd_generate(a),
        Command::Classify(a) => classify_cli::cmd_classify(a),
        Command::Eval(a) => eval_cli::cmd_eval(a),
        Command::Score(a) => translate_cli::cmd_score(a),
        Command::Analogy(a) => word2vec_cli::cmd_analogy(a),
        Command::Neighbors(a) => word2vec_cli::cmd_neighbors(a),
        Command::Prepare(a) => word2vec_cli::cmd_prepare(a),
        Command::Tokenizer(a) => tokenizer_cli::cmd_tokenizer(a),
        Command::Average(a) => cmd_average(a),
        Command::Compare(a) => compare_cli::cmd_compare(a),
        Command::Bench(a) => bench_cli::cmd_bench(a),
        Command::Serve(a) => serve_cli::cmd_serve(a),
        Command::Export(a) => cmd_export(a),
        Command::Import(a) => cmd_import(a),
        Command::Info(a) => cmd_info(a),
    }
}

/// The error and its causes joined by ": ", leaving out a cause whose text
/// the message already holds (typed errors name their source in their own text).
fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

/// The device to load `run` on: `--device`, else the run's own, else auto
/// (a run trained on a backend this binary lacks still loads on the default one).
pub fn run_device(run: &Path, flag: &DeviceArg) -> Result<burn::prelude::Device> {
    if let Some(d) = &flag.device {
        return first_device(d);
    }
    let own = attend::train::trainer::run_dir::config(run).map(|c| c.device().to_string()).unwrap_or_else(|_| "auto".into());
    first_device(&own).or_else(|_| first_device("auto"))
}

/// The first device of a spec (inference runs on one device).
pub fn first_device(spec: &str) -> Result<burn::prelude::Device> {
    let mut devices = parse_devices(spec).map_err(anyhow::Error::msg)?;
    Ok(devices.remove(0))
}

/// The default `--archs` of `attend compare`, as text.
pub fn arch_names(archs: &[Seq2SeqArch]) -> Vec<String> {
    archs.iter().map(|a| a.name().to_string()).collect()
}

/// Reads one item per line from stdin when `given` is empty.
pub fn or_stdin(given: &[String]) -> Result<Vec<String>> {
    use std::io::BufRead;
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    use anyhow::Context;
    std::io::stdin().lock().lines().collect::<std::io::Result<_>>().context("reading stdin")
}

fn cmd_info(a: InfoArgs) -> Result<ExitCode> {
    println!("attend {}", env!("CARGO_PKG_VERSION"));
    println!("burn {}", attend::BURN_VERSION);
    println!("compiled backends: {}", attend::device::compiled_backends().join(", "));
    let spec = a.device.device.unwrap_or_else(|| "auto".into());
    for (i, device) in parse_devices(&spec).map_err(anyhow::Error::msg)?.iter().enumerate() {
        println!("device {i} ({spec}): {device:?}");
    }
    Ok(ExitCode::SUCCESS)
}

/// A path given on the command line must name a file.
pub fn check_file(path: &PathBuf, flag: &str) -> Result<()> {
    if !path.is_file() {
        anyhow::bail!("{flag} {}: no such file", path.display());
    }
    Ok(())
}
