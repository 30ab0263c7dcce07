//! `attend tokenizer train` and `attend tokenizer encode`: subword tokenizers
//! (BPE, unigram) as Hugging Face tokenizer.json files, for a run's
//! `data.tokenizer_file` or any other program that reads them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use attend::data::{Subword, Tokenizer, TokenizerKind};
use attend::train::tasks::subwords::{train_on_files, Columns};
use clap::{Args, Subcommand, ValueEnum};

#[derive(Subcommand, Debug)]
pub enum TokenizerCommand {
    /// Train a byte-level BPE or unigram tokenizer on text files and write its tokenizer.json.
    Train(TrainArgs),
    /// Print the subword pieces of each text (arguments, or one text per stdin line).
    Encode(EncodeArgs),
}

#[derive(Args, Debug)]
pub struct TokenizerArgs {
    #[command(subcommand)]
    command: TokenizerCommand,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Kind {
    Bpe,
    Unigram,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Column {
    /// Both columns: one vocabulary for source and target.
    Both,
    /// The first (source) column only.
    Src,
    /// The second (target) column only.
    Tgt,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Text files (one text per line) or `source<TAB>target` files (.tsv, .tsv.gz).
    #[arg(long, value_name = "FILE", num_args = 1.., required = true)]
    input: Vec<PathBuf>,
    /// Where to write the tokenizer.json.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// The subword model.
    #[arg(long, value_enum, default_value_t = Kind::Bpe)]
    kind: Kind,
    /// Vocabulary size, the 256 bytes included.
    #[arg(long, default_value_t = 8000)]
    vocab_size: usize,
    /// Lowercase the text (the tokenizer lowercases what it reads later too).
    #[arg(long)]
    lowercase: bool,
    /// Which columns of TSV files to learn from: both (a joint vocabulary), src or tgt.
    #[arg(long, value_enum, default_value_t = Column::Both)]
    column: Column,
}

#[derive(Args, Debug)]
pub struct EncodeArgs {
    /// A tokenizer.json (one `attend tokenizer train` wrote, a run's, or any Hugging Face one).
    #[arg(long, value_name = "FILE")]
    tokenizer: PathBuf,
    /// Texts to split; none: one per stdin line.
    texts: Vec<String>,
}

pub fn cmd_tokenizer(a: TokenizerArgs) -> Result<ExitCode> {
    match a.command {
        TokenizerCommand::Train(a) => train(a),
        TokenizerCommand::Encode(a) => encode(a),
    }
}

fn train(a: TrainArgs) -> Result<ExitCode> {
    for f in &a.input {
        crate::check_file(f, "--input")?;
    }
    let kind = match a.kind {
        Kind::Bpe => TokenizerKind::Bpe,
        Kind::Unigram => TokenizerKind::Unigram,
    };
    let columns = match a.column {
        Column::Both => Columns::Both,
        Column::Src => Columns::Source,
        Column::Tgt => Columns::Target,
    };
    let started = std::time::Instant::now();
    let t = train_on_files(&a.input, columns, kind, a.vocab_size, a.lowercase)?;
    let json = t.to_json()?;
    std::fs::write(&a.out, json).with_context(|| format!("writing {}", a.out.display()))?;
    println!("{} tokens, trained in {:.1} s: {}", t.tokens().len(), started.elapsed().as_secs_f64(), a.out.display());
    Ok(ExitCode::SUCCESS)
}

fn encode(a: EncodeArgs) -> Result<ExitCode> {
    let t = Subword::load(&a.tokenizer)?;
    for text in crate::or_stdin(&a.texts)? {
        println!("{}", t.tokenize(&text).join(" "));
    }
    Ok(ExitCode::SUCCESS)
}
