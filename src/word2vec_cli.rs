//! Word vectors on the command line: what a word2vec run prints when it
//! ends (`attend train --task word2vec`), `analogy`, `neighbors`, `eval
//! --vectors` and `prepare`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use attend::data::word_corpus::{corpus_files, write_prepared};
use attend::data::WordVectors;
use attend::train::tasks::word2vec::eval::{analogies, similarity, Unit};
use attend::train::tasks::word2vec::run::{vectors_path, W2vRunReport};
use attend::train::tasks::Plan;
use attend::train::RunConfig;
use clap::Args;

#[derive(Args)]
pub struct AnalogyArgs {
    /// Word vectors: a file (word2vec text/binary or GloVe; the format is detected) or a word2vec run.
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
    /// Word vectors: a file or a word2vec run.
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
pub struct PrepareArgs {
    /// Text files, or folders whose *.txt files are read in name order.
    #[arg(long, value_name = "PATH", num_args = 1.., required = true)]
    corpus: Vec<PathBuf>,
    /// Output file.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

fn load(path: &Path) -> Result<WordVectors> {
    let file = vectors_path(path);
    WordVectors::read(&file, None).with_context(|| format!("--vectors {}: cannot load the vectors", file.display()))
}

/// The summary of a finished (or interrupted) word2vec run.
pub fn print_trained(plan: &Plan, r: &W2vRunReport) -> ExitCode {
    let RunConfig::Word2vec(c) = &plan.config else { return ExitCode::FAILURE };
    let (cfg, s) = (&c.word2vec, &r.trained.stats);
    let Some(vectors) = &r.vectors else {
        eprintln!(
            "interrupted after {} words: checkpoint in {}; continue with: attend train --resume {}",
            s.raw_words,
            plan.run.join(attend::train::tasks::word2vec::run::CHECKPOINT).display(),
            plan.run.display()
        );
        return ExitCode::from(130);
    };
    println!(
        "corpus: {} file(s), {} words, {} sentences; vocabulary {} words (min-count {}), counted in {:.1} s",
        r.files, s.corpus_words, s.sentences, s.vocab, cfg.min_count, s.vocab_s
    );
    println!(
        "trained {:?} dim {} for {} epoch(s) on {} in {:.1} s: {:.0} words/s ({:.0} effective words/s after subsampling)",
        cfg.arch,
        cfg.dim,
        cfg.epochs,
        r.engine,
        s.train_s,
        s.words_per_s(),
        s.effective_words as f64 / s.train_s.max(1e-9)
    );
    if let Some(loss) = s.last_loss {
        println!("mean negative-sampling loss per example, last epoch: {loss:.4}");
    }
    println!("wrote {} ({} words × {})", vectors.display(), r.trained.vectors.len(), cfg.dim);
    println!("query with: attend analogy --vectors {} king man woman", plan.run.display());
    ExitCode::SUCCESS
}

pub fn cmd_analogy(a: AnalogyArgs) -> Result<ExitCode> {
    let unit = Unit::new(&load(&a.vectors)?);
    let (x, y, z) = (&a.words[0], &a.words[1], &a.words[2]);
    println!("{x} − {y} + {z} ≈");
    for (w, s) in unit.most_similar(&[x, z], &[y], a.top, None)? {
        println!("  {w:<20} {s:.4}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn cmd_neighbors(a: NeighborsArgs) -> Result<ExitCode> {
    let unit = Unit::new(&load(&a.vectors)?);
    for word in &a.words {
        println!("{word}:");
        for (w, s) in unit.most_similar(&[word], &[], a.top, None)? {
            println!("  {w:<20} {s:.4}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn cmd_prepare(a: PrepareArgs) -> Result<ExitCode> {
    let files = corpus_files(&a.corpus).context("--corpus")?;
    let (sentences, tokens) = write_prepared(&files, &a.out)?;
    println!("wrote {} ({sentences} sentences, {tokens} tokens)", a.out.display());
    Ok(ExitCode::SUCCESS)
}

/// `attend eval --vectors V [--analogies FILE] [--similarity FILE...]`.
pub fn eval_vectors(path: &Path, analogy_file: Option<&PathBuf>, similarity_files: &[PathBuf], restrict_vocab: usize) -> Result<ExitCode> {
    if analogy_file.is_none() && similarity_files.is_empty() {
        bail!("give --analogies FILE and/or --similarity FILE...");
    }
    let vectors = load(path)?;
    let unit = Unit::new(&vectors);
    println!("{}: {} words × {}", vectors_path(path).display(), vectors.len(), vectors.dim());
    if let Some(file) = analogy_file {
        let scores = analogies(&unit, file, restrict_vocab).context("--analogies")?;
        println!("analogies ({}; the {restrict_vocab} most frequent words):", file.display());
        println!("  {:<30} {:>8} {:>10} {:>10} {:>8} {:>9}", "section", "correct", "evaluated", "questions", "skipped", "accuracy");
        for s in &scores {
            let acc = s.accuracy().map_or("-".to_string(), |x| format!("{:.2}%", 100.0 * x));
            println!("  {:<30} {:>8} {:>10} {:>10} {:>8} {:>9}", s.name, s.correct, s.evaluated, s.questions, s.skipped(), acc);
        }
    }
    for file in similarity_files {
        let s = similarity(&unit, file).context("--similarity")?;
        println!(
            "similarity {}: Spearman {:.4}, Pearson {:.4} on {}/{} pairs ({} skipped for unknown words)",
            file.display(),
            s.spearman,
            s.pearson,
            s.evaluated,
            s.pairs,
            s.pairs - s.evaluated
        );
    }
    Ok(ExitCode::SUCCESS)
}
