//! `attend eval`: scores whatever it is given — a translation run on
//! parallel text (BLEU), a language model on a text (loss, perplexity, bits
//! per character), a classifier or an ensemble on labelled files (accuracy,
//! precision/recall/F1, confusion matrix), or word vectors on analogy and
//! similarity sets.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;

#[derive(Args)]
pub struct EvalArgs {
    /// The run directory of a trained model; classifiers (--data) take it repeated,
    /// to score the mean probabilities of several runs (an ensemble).
    #[arg(long, value_name = "RUN_DIR")]
    run: Vec<PathBuf>,
    /// Translation: source sentences, one per line.
    #[arg(long, value_name = "FILE", requires = "reference", conflicts_with = "tsv")]
    src: Option<PathBuf>,
    /// Translation: reference translations, line-aligned with --src.
    #[arg(long = "ref", value_name = "FILE")]
    reference: Option<PathBuf>,
    /// Translation: `source<TAB>reference` pairs.
    #[arg(long, value_name = "FILE")]
    tsv: Option<PathBuf>,
    /// Classifiers: labelled files to score.
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with_all = ["src", "tsv"])]
    data: Vec<PathBuf>,
    /// Language models: a text file to score.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["src", "tsv", "data"])]
    text: Option<PathBuf>,
    /// Word vectors to score (a vectors file or a word2vec run directory), instead of --run.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["run", "src", "tsv", "data", "text"])]
    vectors: Option<PathBuf>,
    /// Word vectors: analogy questions (`: section` lines and `a b c d` lines, as questions-words.txt).
    #[arg(long, value_name = "FILE", requires = "vectors")]
    analogies: Option<PathBuf>,
    /// Word vectors: word-similarity files (`word1<TAB>word2<TAB>score`, `#` comments).
    #[arg(long, value_name = "FILE", num_args = 1.., requires = "vectors")]
    similarity: Vec<PathBuf>,
    /// Word vectors: only the most frequent words take part in analogies (gensim's restrict_vocab).
    #[arg(long, default_value_t = 30_000, requires = "vectors")]
    restrict_vocab: usize,
    #[command(flatten)]
    decode: crate::DecodeArgs,
    #[command(flatten)]
    device: crate::DeviceArg,
}

pub fn cmd_eval(a: EvalArgs) -> Result<ExitCode> {
    if let Some(v) = &a.vectors {
        return crate::word2vec_cli::eval_vectors(v, a.analogies.as_ref(), &a.similarity, a.restrict_vocab);
    }
    let Some(first) = a.run.first().cloned() else {
        bail!("give --run RUN_DIR (a trained run) or --vectors FILE (word vectors)");
    };
    if a.decode.beam.is_some() && (!a.data.is_empty() || a.text.is_some()) {
        bail!("--beam: only translation runs decode");
    }
    if !a.data.is_empty() {
        for d in &a.data {
            crate::check_file(d, "--data")?;
        }
        return crate::classify_cli::eval_data(&a.run, &a.data, crate::run_device(&first, &a.device)?);
    }
    if a.run.len() > 1 {
        bail!("--run given {} times: several runs (an ensemble) are only for classifiers, with --data", a.run.len());
    }
    if let Some(text) = &a.text {
        crate::check_file(text, "--text")?;
        return crate::lm_cli::eval_text(&first, text, crate::run_device(&first, &a.device)?);
    }
    let pairs = match (&a.src, &a.reference, &a.tsv) {
        (Some(s), Some(r), None) => attend::data::read_aligned(s, r)?,
        (None, None, Some(t)) => attend::data::read_tsv(t)?,
        _ => bail!("give what to score: --src FILE --ref FILE or --tsv FILE (translation), --data FILE (classifier), --text FILE (language model)"),
    };
    crate::translate_cli::eval_bleu(&first, &pairs, &a.device, &a.decode)
}
