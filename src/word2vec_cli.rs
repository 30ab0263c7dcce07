//! `attend word2vec …`: train word vectors, query them, score them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use attend::data::word_corpus::{corpus_files, write_prepared};
use attend::data::{VectorFormat, WordVectors};
use attend::device::parse_device;
use attend::train::word2vec::eval::{analogies, similarity, Unit};
use attend::train::word2vec::{train, Architecture, Engine, TrainOptions, Word2VecConfig};
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum W2vCommand {
    /// Train word vectors on text files (skip-gram or CBOW with negative sampling).
    Train(W2vTrainArgs),
    /// Words nearest to A − B + C (`analogy king man woman` ≈ queen).
    Analogy(AnalogyArgs),
    /// Words nearest to each given word.
    Neighbors(NeighborsArgs),
    /// Score vectors on an analogy file and word-similarity files.
    Eval(W2vEvalArgs),
    /// Write the token stream the trainer sees, one sentence per line (to compare with other tools).
    Prepare(PrepareArgs),
}

#[derive(Args)]
pub struct W2vTrainArgs {
    /// Text files, or folders whose *.txt files are read in name order (a blank line ends a sentence).
    #[arg(long, value_name = "PATH", num_args = 1.., required = true)]
    corpus: Vec<PathBuf>,
    /// Where to write the vectors (.bin: word2vec binary, otherwise word2vec text).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Output format: text, binary or glove (default from the file name).
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// skipgram or cbow.
    #[arg(long, default_value = "skipgram")]
    arch: String,
    /// Vector width.
    #[arg(long, default_value_t = 100)]
    dim: usize,
    /// Context window (shrunk at random per word).
    #[arg(long, default_value_t = 5)]
    window: usize,
    /// Noise words per true word.
    #[arg(long, default_value_t = 5)]
    negative: usize,
    /// Drop words seen fewer times.
    #[arg(long, default_value_t = 5)]
    min_count: u64,
    /// Subsampling threshold of frequent words (0 = off).
    #[arg(long, default_value_t = 1e-3)]
    sample: f64,
    /// Start learning rate (decays linearly to --min-alpha).
    #[arg(long, default_value_t = 0.025)]
    alpha: f64,
    /// End learning rate.
    #[arg(long, default_value_t = 0.0001)]
    min_alpha: f64,
    /// Passes over the corpus.
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Worker threads (CPU engine).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Parts of the corpus read side by side, one job from each in turn, so that training sees a
    /// mixed stream of distant text, as word2vec.c's threads and gensim's corpus_file workers each
    /// read their own part (1: in order). Part of the run's settings, unlike --threads.
    #[arg(long, default_value_t = 16)]
    streams: usize,
    /// Decay the learning rate by each part's own progress, as gensim's corpus_file workers do:
    /// with --streams N each epoch takes it only 1/N of its way down, so it ends above --min-alpha
    /// (--streams W --part-decay is gensim's schedule with W workers).
    #[arg(long)]
    part_decay: bool,
    /// Seed (one thread: the same vectors every time).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// `cpu` (sparse lock-free updates, the fast path) or a Burn device for batched tensor
    /// training: wgpu, wgpu:N, ndarray, flex, vulkan, metal.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Examples per tensor step (non-cpu devices).
    #[arg(long, default_value_t = 1024)]
    batch: usize,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Continue an interrupted run from OUT.checkpoint (same corpus and settings).
    #[arg(long)]
    resume: bool,
}

#[derive(Args)]
pub struct AnalogyArgs {
    /// Vector file (word2vec text/binary or GloVe; the format is detected).
    #[arg(long, value_name = "FILE")]
    vectors: PathBuf,
    /// A B C: the answer is nearest to A − B + C.
    #[arg(num_args = 3, required = true, value_names = ["A", "B", "C"])]
    words: Vec<String>,
    /// How many answers.
    #[arg(long, default_value_t = 10)]
    top: usize,
}

#[derive(Args)]
pub struct NeighborsArgs {
    /// Vector file.
    #[arg(long, value_name = "FILE")]
    vectors: PathBuf,
    /// Words to look up.
    #[arg(required = true)]
    words: Vec<String>,
    /// How many neighbours.
    #[arg(long, default_value_t = 10)]
    top: usize,
}

#[derive(Args)]
pub struct W2vEvalArgs {
    /// Vector file.
    #[arg(long, value_name = "FILE")]
    vectors: PathBuf,
    /// Analogy questions (`: section` lines and `a b c d` lines, as questions-words.txt).
    #[arg(long, value_name = "FILE")]
    analogies: Option<PathBuf>,
    /// Word-similarity files (`word1<TAB>word2<TAB>score`, `#` comments).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    similarity: Vec<PathBuf>,
    /// Only the most frequent words take part in analogies (gensim's restrict_vocab).
    #[arg(long, default_value_t = 30_000)]
    restrict_vocab: usize,
}

#[derive(Args)]
pub struct PrepareArgs {
    /// Text files or folders, as for `train`.
    #[arg(long, value_name = "PATH", num_args = 1.., required = true)]
    corpus: Vec<PathBuf>,
    /// Output file.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

pub fn run(cmd: W2vCommand) -> Result<ExitCode> {
    match cmd {
        W2vCommand::Train(a) => cmd_train(a),
        W2vCommand::Analogy(a) => cmd_analogy(a),
        W2vCommand::Neighbors(a) => cmd_neighbors(a),
        W2vCommand::Eval(a) => cmd_eval(a),
        W2vCommand::Prepare(a) => {
            let files = corpus_files(&a.corpus)?;
            let (sentences, tokens) = write_prepared(&files, &a.out)?;
            println!("wrote {} ({sentences} sentences, {tokens} tokens)", a.out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load(path: &PathBuf) -> Result<WordVectors> {
    WordVectors::read(path, None).with_context(|| "--vectors: cannot load the vectors")
}

fn cmd_train(a: W2vTrainArgs) -> Result<ExitCode> {
    let format = match &a.format {
        Some(f) => f.parse::<VectorFormat>().context("--format")?,
        None => VectorFormat::for_output(&a.out),
    };
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            bail!("--out: folder {} does not exist", dir.display());
        }
    }
    let cfg = Word2VecConfig::new()
        .with_arch(a.arch.parse::<Architecture>().context("--arch")?)
        .with_dim(a.dim)
        .with_window(a.window)
        .with_negative(a.negative)
        .with_min_count(a.min_count)
        .with_sample(a.sample)
        .with_alpha(a.alpha)
        .with_min_alpha(a.min_alpha)
        .with_epochs(a.epochs)
        .with_threads(a.threads)
        .with_streams(a.streams)
        .with_part_decay(a.part_decay)
        .with_seed(a.seed)
        .with_batch(a.batch);
    let engine = if a.device == "cpu" {
        Engine::Cpu
    } else {
        Engine::Tensor(parse_device(&a.device).map_err(anyhow::Error::msg).context("--device")?)
    };
    let files = corpus_files(&a.corpus).context("--corpus")?;
    let ckpt = PathBuf::from(format!("{}.checkpoint", a.out.display()));
    if a.resume && !ckpt.join("state.json").exists() {
        bail!("--resume: no checkpoint at {}", ckpt.display());
    }
    if !a.resume && ckpt.exists() {
        bail!("{} holds a checkpoint of an interrupted run: add --resume to continue it, or delete it", ckpt.display());
    }
    let interrupt = crate::install_interrupt("the jobs in hand")?;
    let opts = TrainOptions {
        progress: !a.quiet,
        interrupt: Some(interrupt),
        checkpoint: Some(ckpt.clone()),
        resume: a.resume,
        stop_after_jobs: None,
    };
    let trained = train(&cfg, &files, &engine, &opts)?;
    if !trained.finished {
        eprintln!(
            "interrupted after {} words: checkpoint in {}; continue with the same command and --resume",
            trained.stats.raw_words,
            ckpt.display()
        );
        return Ok(ExitCode::from(130));
    }
    trained.vectors.write(&a.out, format)?;
    let _ = std::fs::remove_dir_all(&ckpt);
    let s = &trained.stats;
    let engine_name = match engine {
        Engine::Cpu => format!("cpu, {} thread(s)", cfg.threads),
        Engine::Tensor(_) => format!("{} tensors, batch {}", a.device, cfg.batch),
    };
    println!(
        "corpus: {} file(s), {} words, {} sentences; vocabulary {} words (min-count {}), counted in {:.1} s",
        files.len(),
        s.corpus_words,
        s.sentences,
        s.vocab,
        cfg.min_count,
        s.vocab_s
    );
    println!(
        "trained {:?} dim {} for {} epoch(s) on {engine_name} in {:.1} s: {:.0} words/s ({:.0} effective words/s after subsampling)",
        cfg.arch,
        cfg.dim,
        cfg.epochs,
        s.train_s,
        s.words_per_s(),
        s.effective_words as f64 / s.train_s.max(1e-9)
    );
    if let Some(loss) = s.last_loss {
        println!("mean negative-sampling loss per example, last epoch: {loss:.4}");
    }
    println!("wrote {} ({} words × {})", a.out.display(), trained.vectors.len(), cfg.dim);
    Ok(ExitCode::SUCCESS)
}

fn cmd_analogy(a: AnalogyArgs) -> Result<ExitCode> {
    let unit = Unit::new(&load(&a.vectors)?);
    let (x, y, z) = (&a.words[0], &a.words[1], &a.words[2]);
    println!("{x} − {y} + {z} ≈");
    for (w, s) in unit.most_similar(&[x, z], &[y], a.top, None)? {
        println!("  {w:<20} {s:.4}");
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_neighbors(a: NeighborsArgs) -> Result<ExitCode> {
    let unit = Unit::new(&load(&a.vectors)?);
    for word in &a.words {
        println!("{word}:");
        for (w, s) in unit.most_similar(&[word], &[], a.top, None)? {
            println!("  {w:<20} {s:.4}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_eval(a: W2vEvalArgs) -> Result<ExitCode> {
    if a.analogies.is_none() && a.similarity.is_empty() {
        bail!("give --analogies FILE and/or --similarity FILE...");
    }
    let vectors = load(&a.vectors)?;
    let unit = Unit::new(&vectors);
    println!("{}: {} words × {}", a.vectors.display(), vectors.len(), vectors.dim());
    if let Some(path) = &a.analogies {
        let scores = analogies(&unit, path, a.restrict_vocab).context("--analogies")?;
        println!("analogies ({}; the {} most frequent words):", path.display(), a.restrict_vocab);
        println!("  {:<30} {:>8} {:>10} {:>10} {:>8} {:>9}", "section", "correct", "evaluated", "questions", "skipped", "accuracy");
        for s in &scores {
            let acc = s.accuracy().map_or("-".to_string(), |x| format!("{:.2}%", 100.0 * x));
            println!(
                "  {:<30} {:>8} {:>10} {:>10} {:>8} {:>9}",
                s.name,
                s.correct,
                s.evaluated,
                s.questions,
                s.skipped(),
                acc
            );
        }
    }
    for path in &a.similarity {
        let s = similarity(&unit, path).context("--similarity")?;
        println!(
            "similarity {}: Spearman {:.4}, Pearson {:.4} on {}/{} pairs ({} skipped for unknown words)",
            path.display(),
            s.spearman,
            s.pearson,
            s.evaluated,
            s.pairs,
            s.pairs - s.evaluated
        );
    }
    Ok(ExitCode::SUCCESS)
}
