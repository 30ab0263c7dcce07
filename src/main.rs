//! The `attend` command line: train, translate, evaluate, inspect.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use attend::device::{compiled_backends, parse_device};
use attend::train::config::{classify_overrides, copy_task_overrides, lm_overrides, parse_value, RunConfig, Task};
use attend::model::{AttentionPick, BeamOptions};
use attend::train::{LoadedRun, Outcome};
use clap::{Args, Parser, Subcommand};

mod bench_cli;
mod classify_cli;
mod compare_cli;
mod lm_cli;
mod word2vec_cli;

#[derive(Parser)]
#[command(name = "attend", version, about = "Sequence models from word2vec to the Transformer, on Burn")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model (by default: the small English→French Transformer on the bundled data).
    Train(TrainArgs),
    /// Translate sentences with a trained run (arguments, or one sentence per stdin line).
    Translate(TranslateArgs),
    /// Score a trained run on a source file against a reference file (corpus BLEU).
    Eval(EvalArgs),
    /// Print the compiled backends, the device that will be used and the Burn version.
    Info(InfoArgs),
    /// Label texts with a trained classifier (`train --task classify`): label, probability, text.
    Classify(classify_cli::ClassifyArgs),
    /// Continue a text with a trained language model (`train --task lm`), streaming tokens.
    Generate(lm_cli::GenerateArgs),
    /// Train RNN, LSTM, GRU, LSTM+attention and Transformer translators on the same data
    /// and budget; print a table and plot BLEU by source length and loss against time.
    Compare(compare_cli::CompareArgs),
    /// Measure training, inference and decoding speed on the PyTorch peers' shapes.
    Bench(bench_cli::BenchArgs),
    /// Word vectors: train word2vec, query analogies and neighbours, evaluate.
    #[command(subcommand)]
    Word2vec(word2vec_cli::W2vCommand),
}

#[derive(Args)]
struct TrainArgs {
    /// A TOML config (see configs/); defaults are used for everything it leaves out.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Override one config value, e.g. `--set model.d_model=128` (repeatable; applied after --config).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    sets: Vec<String>,
    /// What to train: `translate` (parallel text), `copy` (synthetic copy task, a quick check)
    /// `lm` (a GPT-style language model; nanoGPT's Tiny Shakespeare recipe by default)
    /// or `classify` (a text classifier; rt-polarity sentiment by default).
    #[arg(long, value_name = "TASK")]
    task: Option<String>,
    /// Training source file, line-aligned with --tgt.
    #[arg(long, value_name = "FILE", requires = "tgt", conflicts_with = "tsv")]
    src: Option<PathBuf>,
    /// Training target file, line-aligned with --src.
    #[arg(long, value_name = "FILE", requires = "src")]
    tgt: Option<PathBuf>,
    /// Training pairs as `source<TAB>target` lines.
    #[arg(long, value_name = "FILE")]
    tsv: Option<PathBuf>,
    /// Language models: training text files; classifiers: `label<TAB>text` files or .pos/.neg pairs.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    data: Vec<PathBuf>,
    /// Language models and classifiers: validation file (default: a tenth of --data).
    #[arg(long, value_name = "FILE")]
    valid: Option<PathBuf>,
    /// Validation source file, line-aligned with --valid-tgt.
    #[arg(long, value_name = "FILE", requires = "valid_tgt", conflicts_with = "valid_tsv")]
    valid_src: Option<PathBuf>,
    /// Validation target file.
    #[arg(long, value_name = "FILE", requires = "valid_src")]
    valid_tgt: Option<PathBuf>,
    /// Validation pairs as TSV.
    #[arg(long, value_name = "FILE")]
    valid_tsv: Option<PathBuf>,
    /// Run directory to create (default: runs/<task>-<UTC time>).
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "resume")]
    out: Option<PathBuf>,
    /// Continue the run in RUN_DIR from its newest checkpoint.
    #[arg(long, value_name = "RUN_DIR")]
    resume: Option<PathBuf>,
    /// Device: auto, cpu, ndarray, flex, wgpu, wgpu:N, wgpu:cpu, vulkan, metal (overrides train.device).
    #[arg(long, value_name = "DEVICE")]
    device: Option<String>,
    /// No progress bar and no per-evaluation lines.
    #[arg(long)]
    quiet: bool,
    /// Word vectors (word2vec text/binary or GloVe) to initialise the embeddings from
    /// (sets model.init_embeddings; their dimension must equal the embedding width).
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    init_embeddings: Option<PathBuf>,
}

#[derive(Args)]
struct TranslateArgs {
    /// The run directory of a trained model.
    #[arg(long, value_name = "RUN_DIR")]
    run: PathBuf,
    /// Sentences to translate; without any, lines are read from stdin.
    text: Vec<String>,
    /// Device to run on (default: the run's own, else auto).
    #[arg(long, value_name = "DEVICE")]
    device: Option<String>,
    /// Draw the cross-attention of each translation as a PNG heatmap (source across,
    /// target down); with several sentences, FILE-1.png, FILE-2.png, ….
    #[arg(long, value_name = "FILE.png")]
    attention: Option<PathBuf>,
    /// Transformer: the decoder layer (0-based) to draw; default: the mean of all layers and heads.
    #[arg(long, value_name = "N", requires = "attention")]
    layer: Option<usize>,
    /// Transformer: the head (0-based) of --layer to draw; default: the mean of its heads.
    #[arg(long, value_name = "N", requires = "layer")]
    head: Option<usize>,
    /// Beam search with N hypotheses per sentence instead of greedy decoding.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256), conflicts_with = "attention")]
    beam: Option<u16>,
    /// With --beam: rank finished hypotheses by log-probability / length^A (0 = no normalisation).
    #[arg(long, value_name = "A", default_value_t = 1.0, requires = "beam")]
    length_penalty: f32,
}

#[derive(Args)]
struct EvalArgs {
    /// The run directory of a trained model; classifiers (--data) take it
    /// repeated, to score the mean probabilities of several runs (an ensemble).
    #[arg(long, value_name = "RUN_DIR", required = true)]
    run: Vec<PathBuf>,
    /// Source sentences, one per line.
    #[arg(long, value_name = "FILE", requires = "reference", conflicts_with = "tsv")]
    src: Option<PathBuf>,
    /// Reference translations, line-aligned with --src.
    #[arg(long = "ref", value_name = "FILE")]
    reference: Option<PathBuf>,
    /// Or: `source<TAB>reference` pairs.
    #[arg(long, value_name = "FILE")]
    tsv: Option<PathBuf>,
    /// Classifiers: labelled files to score (accuracy, precision/recall/F1, confusion matrix).
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with_all = ["src", "tsv"])]
    data: Vec<PathBuf>,
    /// Language models: a text file to score (loss, perplexity, bits per character).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["src", "tsv"])]
    text: Option<PathBuf>,
    /// Beam search with N hypotheses per sentence instead of greedy decoding.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256), conflicts_with_all = ["data", "text"])]
    beam: Option<u16>,
    /// With --beam: rank finished hypotheses by log-probability / length^A (0 = no normalisation).
    #[arg(long, value_name = "A", default_value_t = 1.0, requires = "beam")]
    length_penalty: f32,
    /// Device to run on.
    #[arg(long, value_name = "DEVICE")]
    device: Option<String>,
}

#[derive(Args)]
struct InfoArgs {
    /// The device spec to resolve.
    #[arg(long, value_name = "DEVICE", default_value = "auto")]
    device: String,
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
    keep_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(a) => cmd_train(a),
        Command::Translate(a) => cmd_translate(a),
        Command::Eval(a) => cmd_eval(a),
        Command::Info(a) => cmd_info(a),
        Command::Word2vec(c) => word2vec_cli::run(c),
        Command::Compare(a) => compare_cli::cmd_compare(a),
        Command::Bench(a) => bench_cli::cmd_bench(a),
        Command::Classify(a) => run_device(&a.run[0].clone(), &a.device.clone()).and_then(|d| classify_cli::cmd_classify(a, d)),
        Command::Generate(a) => run_device(a.run_dir(), a.device()).and_then(|d| lm_cli::cmd_generate(a, d)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A flag raised by the first Ctrl-C (training then finishes `what` and writes a
/// checkpoint); a second Ctrl-C exits at once with status 130.
fn install_interrupt(what: &'static str) -> Result<Arc<AtomicBool>> {
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("\nsecond interrupt: exiting without a checkpoint");
            std::process::exit(130);
        }
        eprintln!("\ninterrupt: finishing {what} and writing a checkpoint (Ctrl-C again to quit at once)");
    })
    .context("installing the Ctrl-C handler")?;
    Ok(interrupt)
}

fn parse_sets(sets: &[String]) -> Result<Vec<(String, toml::Value)>> {
    sets.iter()
        .map(|s| {
            let (k, v) = s
                .split_once('=')
                .with_context(|| format!("--set {s}: expected SECTION.KEY=VALUE"))?;
            Ok((k.trim().to_string(), parse_value(v.trim())))
        })
        .collect()
}

fn utc_stamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86400, secs % 86400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}-{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn check_file(path: &Path, flag: &str) -> Result<()> {
    if !path.is_file() {
        bail!("{flag} {}: no such file", path.display());
    }
    Ok(())
}

fn cmd_train(a: TrainArgs) -> Result<ExitCode> {
    let mut sets = Vec::new();
    if let Some(task) = &a.task {
        match task.as_str() {
            "copy" => {
                sets.push(("task".to_string(), toml::Value::String("copy".into())));
                for (k, v) in copy_task_overrides() {
                    sets.push((k.to_string(), parse_value(v)));
                }
            }
            "translate" => sets.push(("task".to_string(), toml::Value::String("translate".into()))),
            "classify" => {
                for (k, v) in classify_overrides() {
                    sets.push((k.to_string(), parse_value(v)));
                }
            }
            "lm" => {
                for (k, v) in lm_overrides() {
                    sets.push((k.to_string(), parse_value(v)));
                }
            }
            other => bail!("--task {other}: unknown task; use translate, copy, lm or classify"),
        }
    }
    sets.extend(parse_sets(&a.sets)?);
    if let Some(c) = &a.config {
        check_file(c, "--config")?;
    }
    let (mut cfg, run, resume) = match &a.resume {
        Some(run) => {
            let path = run.join("config.toml");
            if !path.exists() {
                bail!("--resume {}: not a run directory (no config.toml)", run.display());
            }
            if a.config.is_some() || a.src.is_some() || a.tsv.is_some() || a.task.is_some() {
                bail!("--resume takes the run's own config and data; only --set train.* and --device may be given");
            }
            if let Some((k, _)) = sets.iter().find(|(k, _)| !k.starts_with("train.")) {
                bail!("--resume: --set {k} would change the model or data of a run; only train.* settings may change");
            }
            let cfg = RunConfig::resolve(Some(&path), &sets)?;
            (cfg, run.clone(), true)
        }
        None => {
            let mut cfg = RunConfig::resolve(a.config.as_deref(), &sets)?;
            if let Some(t) = &a.tsv {
                check_file(t, "--tsv")?;
                (cfg.data.tsv, cfg.data.src, cfg.data.tgt) = (Some(t.clone()), None, None);
            }
            if let (Some(s), Some(t)) = (&a.src, &a.tgt) {
                check_file(s, "--src")?;
                check_file(t, "--tgt")?;
                (cfg.data.tsv, cfg.data.src, cfg.data.tgt) = (None, Some(s.clone()), Some(t.clone()));
            }
            if let Some(t) = &a.valid_tsv {
                check_file(t, "--valid-tsv")?;
                (cfg.data.valid_tsv, cfg.data.valid_src, cfg.data.valid_tgt) = (Some(t.clone()), None, None);
            }
            if let (Some(s), Some(t)) = (&a.valid_src, &a.valid_tgt) {
                check_file(s, "--valid-src")?;
                check_file(t, "--valid-tgt")?;
                (cfg.data.valid_tsv, cfg.data.valid_src, cfg.data.valid_tgt) = (None, Some(s.clone()), Some(t.clone()));
            }
            if !a.data.is_empty() {
                for d in &a.data {
                    check_file(d, "--data")?;
                }
                cfg.data.text = a.data.clone();
                if a.valid.is_none() {
                    cfg.data.valid_text = None;
                }
            }
            if let Some(v) = &a.valid {
                check_file(v, "--valid")?;
                cfg.data.valid_text = Some(v.clone());
            }
            if let Some(v) = &a.init_embeddings {
                check_file(v, "--init-embeddings")?;
                cfg.model.init_embeddings = Some(v.clone());
            }
            let task = match cfg.task {
                Task::Copy => "copy",
                Task::Translate => "translate",
                Task::Lm => "lm",
                Task::Classify => "classify",
            };
            let run = a.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(format!("{task}-{}", utc_stamp())));
            if run.join("config.toml").exists() {
                bail!("--out {}: already holds a run; use --resume to continue it or pick another directory", run.display());
            }
            (cfg, run, false)
        }
    };
    if let Some(d) = &a.device {
        cfg.train.device = d.clone();
    }
    let device = parse_device(&cfg.train.device).map_err(anyhow::Error::msg)?;
    let interrupt = install_interrupt("this step")?;
    println!(
        "{} run {} on {device:?} (--device {}; compiled: {})",
        if resume { "resuming" } else { "training" },
        run.display(),
        cfg.train.device,
        compiled_backends().join(", ")
    );
    if cfg.task == Task::Lm {
        return lm_cli::train(&cfg, &run, resume, &device, interrupt, a.quiet);
    }
    if cfg.task == Task::Classify {
        return classify_cli::train(&cfg, &run, resume, &device, interrupt, a.quiet);
    }
    let report = attend::train::train(&cfg, &run, resume, &device, interrupt, a.quiet)
        .with_context(|| format!("training run {}", run.display()))?;
    for r in &report.init_embeddings {
        println!("{} embedding: {} of {} tokens initialised from word vectors", r.table, r.found, r.total);
    }
    println!(
        "{} parameters, {} training pairs ({} longer than model.max_len dropped), {} steps in {:.0}s",
        report.params, report.train_pairs, report.dropped_pairs, report.state.step, report.state.elapsed_secs
    );
    if let Some(e) = &report.last_eval {
        let score = match cfg.task {
            Task::Copy => format!("exact match {:.3}", e.exact_match),
            Task::Translate | Task::Lm | Task::Classify => format!("BLEU {:.2}  exact match {:.3}", e.bleu, e.exact_match),
        };
        println!(
            "validation: loss {:.4}  perplexity {:.2}  token accuracy {:.3}  {score}",
            e.loss, e.perplexity, e.token_accuracy
        );
    }
    if let Some(best) = report.state.best_score {
        let what = if cfg.task == Task::Copy { "exact match %" } else { "BLEU" };
        println!("best validation {what} {best:.2} at step {} (saved in {}/best)", report.state.best_step, run.display());
    }
    for (src, out, reference) in &report.samples {
        println!("  {src}\n    → {out}\n    ref {reference}");
    }
    match report.outcome {
        Outcome::Finished => {
            let example = if cfg.task == Task::Copy { "abcabc" } else { "I am a manager." };
            println!("translate with: attend translate --run {} \"{example}\"", run.display());
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Interrupted => {
            println!("interrupted at step {}; continue with: attend train --resume {}", report.state.step, run.display());
            Ok(ExitCode::from(130))
        }
    }
}

fn run_device(run: &Path, flag: &Option<String>) -> Result<burn::prelude::Device> {
    let spec = match flag {
        Some(d) => d.clone(),
        None => RunConfig::load(&run.join("config.toml")).map(|c| c.train.device).unwrap_or_else(|_| "auto".into()),
    };
    // A run trained on a backend this binary lacks still loads on the default one.
    parse_device(&spec).or_else(|e| if flag.is_some() { Err(e) } else { parse_device("auto") }).map_err(anyhow::Error::msg)
}

fn cmd_translate(a: TranslateArgs) -> Result<ExitCode> {
    let device = run_device(&a.run, &a.device)?;
    let mut run = LoadedRun::load(&a.run, &device).with_context(|| format!("loading run {}", a.run.display()))?;
    run.beam = beam_options(a.beam, a.length_penalty)?;
    let sentences: Vec<String> = if a.text.is_empty() {
        std::io::stdin().lock().lines().collect::<std::io::Result<_>>().context("reading stdin")?
    } else {
        a.text.clone()
    };
    let m = &run.config.model;
    if let Some(layer) = a.layer {
        if m.arch != "transformer" {
            bail!("--layer: only the Transformer has several attention layers; this run is {}", m.arch);
        }
        if layer >= m.decoder_layers {
            bail!("--layer {layer}: the model has {} decoder layers (counted from 0)", m.decoder_layers);
        }
    }
    if let Some(head) = a.head {
        if head >= m.n_heads {
            bail!("--head {head}: the model has {} heads (counted from 0)", m.n_heads);
        }
    }
    let pick = a.attention.as_ref().map(|_| match a.layer {
        Some(layer) => AttentionPick::LayerHead { layer, head: a.head },
        None => AttentionPick::Mean,
    });
    let (out, decoded) = run.translate(&sentences, pick)?;
    for line in &out {
        println!("{line}");
    }
    if let Some(path) = &a.attention {
        let Some(weights) = decoded.attention else {
            bail!("--attention: this model ({}) has no attention to draw", run.config.model.arch);
        };
        for (i, sentence) in sentences.iter().enumerate() {
            let file = if sentences.len() == 1 {
                path.clone()
            } else {
                let stem = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
                path.with_file_name(format!("{stem}-{}.png", i + 1))
            };
            let (Some(rows), Some(ids)) = (weights.get(i), decoded.ids.get(i)) else { continue };
            let source = run.source_tokens(sentence);
            let mut target: Vec<String> = run.tgt_vocab.decode(ids);
            target.truncate(rows.len());
            let title = format!("{} → {}", sentence, out[i]);
            attend::train::plot::attention_heatmap(&file, &source, &target, rows, &title)?;
            eprintln!("attention written to {}", file.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_eval(a: EvalArgs) -> Result<ExitCode> {
    if !a.data.is_empty() {
        for d in &a.data {
            check_file(d, "--data")?;
        }
        return classify_cli::cmd_eval(&a.run, &a.data, run_device(&a.run[0], &a.device)?);
    }
    if a.run.len() > 1 {
        bail!("--run given {} times: several runs (an ensemble) are only for classifiers, with --data", a.run.len());
    }
    let run_dir = a.run[0].clone();
    if let Some(text) = &a.text {
        check_file(text, "--text")?;
        return lm_cli::cmd_eval_text(&run_dir, text, run_device(&run_dir, &a.device)?);
    }
    let pairs = match (&a.src, &a.reference, &a.tsv) {
        (Some(s), Some(r), None) => attend::data::read_aligned(s, r)?,
        (None, None, Some(t)) => attend::data::read_tsv(t)?,
        _ => bail!("give --src FILE --ref FILE, or --tsv FILE"),
    };
    let device = run_device(&run_dir, &a.device)?;
    let mut run = LoadedRun::load(&run_dir, &device).with_context(|| format!("loading run {}", run_dir.display()))?;
    run.beam = beam_options(a.beam, a.length_penalty)?;
    let srcs: Vec<String> = pairs.iter().map(|p| p.src.clone()).collect();
    let refs: Vec<String> = pairs.iter().map(|p| p.tgt.clone()).collect();
    let (bleu, distinct) = run.bleu(&srcs, &refs)?;
    let decoding = match run.beam {
        Some(b) => format!("beam {}, length penalty {}", b.size, b.length_penalty),
        None => "greedy".into(),
    };
    println!(
        "BLEU {:.2}  ({} sentences, {} distinct sources; {decoding}; 13a tokens, exp smoothing; precisions {}; sys_len {} ref_len {})",
        bleu.score,
        pairs.len(),
        distinct,
        bleu.counts
            .iter()
            .zip(bleu.totals)
            .map(|(c, t)| format!("{:.1}", 100.0 * *c as f64 / t.max(1) as f64))
            .collect::<Vec<_>>()
            .join("/"),
        bleu.sys_len,
        bleu.ref_len
    );
    Ok(ExitCode::SUCCESS)
}

/// `--beam N --length-penalty A` as decoding settings (`None`: greedy).
fn beam_options(beam: Option<u16>, length_penalty: f32) -> Result<Option<BeamOptions>> {
    if !length_penalty.is_finite() || length_penalty < 0.0 {
        bail!("--length-penalty {length_penalty}: give a number ≥ 0");
    }
    Ok(beam.map(|size| BeamOptions { size: size as usize, length_penalty }))
}

fn cmd_info(a: InfoArgs) -> Result<ExitCode> {
    println!("attend {}", env!("CARGO_PKG_VERSION"));
    println!("burn {}", attend::BURN_VERSION);
    println!("compiled backends: {}", compiled_backends().join(", "));
    let device = parse_device(&a.device).map_err(anyhow::Error::msg)?;
    println!("device ({}): {:?}", a.device, device);
    Ok(ExitCode::SUCCESS)
}
