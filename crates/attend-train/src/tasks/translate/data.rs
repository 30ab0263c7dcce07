//! A translation run's data as encoded examples: reads the corpora (or
//! generates the copy task's strings), trains (or reloads) the subword
//! tokenizers, tokenises, builds (or reloads) the vocabularies, and drops
//! training pairs longer than the model accepts.

use std::path::{Path, PathBuf};

use attend_data::{copy_pairs, read_aligned, read_tsv, BatchBy, Example, Pair, PairTokenizer, TokenizerKind, Vocab};

use super::settings::{CopyConfig, CopyData, EvalSettings, PairData, Seq2SeqSettings, TranslateConfig};
use crate::config::TrainSettings;
use crate::error::{Result, TrainError};
use crate::tasks::subwords::{self, RunTokenizer, TokenizerChoice, TGT_TOKENIZER_FILE, TOKENIZER_FILE};

/// The source vocabulary file of a translation run.
pub const SRC_VOCAB: &str = "vocab.src.json";
/// The target vocabulary file of a translation run.
pub const TGT_VOCAB: &str = "vocab.tgt.json";

/// Where a run's pairs come from.
#[derive(Debug, Clone, Copy)]
pub enum PairSource<'a> {
    /// Files (`[data]` of a translation run).
    Files(&'a PairData),
    /// The copy task's random strings, from the run's seed.
    Copy(&'a CopyData, u64),
}

/// What translation and the copy task share: a view of either config.
#[derive(Debug, Clone, Copy)]
pub struct Seq2SeqRun<'a> {
    pub model: &'a Seq2SeqSettings,
    pub train: &'a TrainSettings,
    pub eval: &'a EvalSettings,
    pub source: PairSource<'a>,
}

impl<'a> From<&'a TranslateConfig> for Seq2SeqRun<'a> {
    fn from(c: &'a TranslateConfig) -> Self {
        Self { model: &c.model, train: &c.train, eval: &c.eval, source: PairSource::Files(&c.data) }
    }
}

impl<'a> From<&'a CopyConfig> for Seq2SeqRun<'a> {
    fn from(c: &'a CopyConfig) -> Self {
        Self { model: &c.model, train: &c.train, eval: &c.eval, source: PairSource::Copy(&c.data, c.train.seed) }
    }
}

impl Seq2SeqRun<'_> {
    /// How each side tokenizes: `(source, target)`; characters for the copy task.
    pub fn tokenizers(&self) -> (TokenizerChoice<'_>, TokenizerChoice<'_>) {
        match self.source {
            PairSource::Files(d) => {
                let src = TokenizerChoice { kind: d.tokenizer, lowercase: d.lowercase, vocab_size: d.vocab_size, file: d.tokenizer_file.as_deref() };
                let tgt = TokenizerChoice { file: d.tgt_tokenizer_file.as_deref().or(src.file), ..src };
                (src, tgt)
            }
            PairSource::Copy(..) => {
                let c = TokenizerChoice { kind: TokenizerKind::Char, lowercase: false, vocab_size: 0, file: None };
                (c, c)
            }
        }
    }

    /// Whether the two sides have tokenizers of their own (subwords only).
    pub fn separate_tokenizers(&self) -> bool {
        match self.source {
            PairSource::Files(d) => {
                let (src, _) = self.tokenizers();
                src.is_subword() && (d.tgt_tokenizer_file.is_some() || (d.tokenizer_file.is_none() && !d.joint_tokenizer))
            }
            PairSource::Copy(..) => false,
        }
    }

    /// The tokenizers of a run that exists (its directory holds their files).
    pub fn saved_tokenizers(&self, run: &Path) -> Result<(RunTokenizer, RunTokenizer)> {
        let (src, tgt) = self.tokenizers();
        let s = subwords::saved(src, run, TOKENIZER_FILE)?;
        let t = if self.separate_tokenizers() { subwords::saved(tgt, run, TGT_TOKENIZER_FILE)? } else { s.clone() };
        Ok((s, t))
    }

    /// The tokenizers of a new run: trained on its training pairs (one for
    /// both sides, or one per side), read from files, or built.
    fn fresh_tokenizers(&self, train: &[Pair]) -> Result<(RunTokenizer, RunTokenizer)> {
        let (src, tgt) = self.tokenizers();
        if !self.separate_tokenizers() {
            let joint = subwords::fresh(src, || train.iter().flat_map(|p| [p.src.clone(), p.tgt.clone()]).collect())?;
            return Ok((joint.clone(), joint));
        }
        let s = subwords::fresh(src, || train.iter().map(|p| p.src.clone()).collect())?;
        let t = subwords::fresh(tgt, || train.iter().map(|p| p.tgt.clone()).collect())?;
        Ok((s, t))
    }

    /// Lowercased text (the run lowercases what it reads)?
    fn lowercase(&self) -> bool {
        self.tokenizers().0.lowercase
    }

    /// `(batch_by, batch_size, bucket)`.
    pub fn batching(&self) -> (BatchBy, usize, bool) {
        match self.source {
            PairSource::Files(d) => (d.batch_by, d.batch_size, d.bucket),
            PairSource::Copy(d, _) => (d.batch_by, d.batch_size, d.bucket),
        }
    }

    /// A reference translation as BLEU should see it: lowercased when the run
    /// lowercases its text (its outputs are lowercase, so cased references
    /// would only measure the casing).
    pub fn reference_text(&self, text: &str) -> String {
        if self.lowercase() {
            text.to_lowercase()
        } else {
            text.to_string()
        }
    }
}

/// Encoded data of a translation-like run.
pub struct Prepared {
    pub tokenizer: PairTokenizer,
    /// The tokenizer files the run directory keeps (subwords only).
    pub tokenizer_files: Vec<(String, Vec<u8>)>,
    pub src_vocab: Vocab,
    pub tgt_vocab: Vocab,
    pub train: Vec<Example>,
    pub valid: Vec<Example>,
    /// Raw validation pairs, aligned with `valid`.
    pub valid_pairs: Vec<Pair>,
    /// Training pairs dropped for exceeding `model.max_len`.
    pub dropped: usize,
}

fn read_pairs(tsv: &Option<PathBuf>, src: &Option<PathBuf>, tgt: &Option<PathBuf>, what: &str) -> Result<Vec<Pair>> {
    match (tsv, src, tgt) {
        (_, Some(s), Some(t)) => Ok(read_aligned(s, t)?),
        (Some(p), None, None) => Ok(read_tsv(p)?),
        (_, Some(_), None) | (_, None, Some(_)) => Err(TrainError::Config(format!("{what}: give both a source and a target file"))),
        (None, None, None) => Err(TrainError::Config(format!("{what}: no data given (a TSV file or source and target files)"))),
    }
}

/// The training and validation pairs of a run.
fn pairs(source: PairSource) -> Result<(Vec<Pair>, Vec<Pair>)> {
    Ok(match source {
        PairSource::Copy(c, seed) => (
            copy_pairs(c.symbols, c.min_len, c.max_len, c.train_size, seed),
            copy_pairs(c.symbols, c.min_len, c.max_len, c.valid_size, seed.wrapping_add(1_000_003)),
        ),
        PairSource::Files(d) => {
            let train = read_pairs(&d.tsv, &d.src, &d.tgt, "training data")?;
            let valid = if d.valid_tsv.is_some() || d.valid_src.is_some() || d.valid_tgt.is_some() {
                read_pairs(&d.valid_tsv, &d.valid_src, &d.valid_tgt, "validation data")?
            } else {
                Vec::new()
            };
            (train, valid)
        }
    })
}

/// Reads and encodes the data of `run`. With `vocab_dir`, the vocabularies
/// are loaded from there (a resumed or finished run) instead of built.
pub fn prepare(run: &Seq2SeqRun, vocab_dir: Option<&Path>) -> Result<Prepared> {
    let (train_pairs, valid_pairs) = pairs(run.source)?;
    let (src_tok, tgt_tok) = match vocab_dir {
        Some(dir) => run.saved_tokenizers(dir)?,
        None => run.fresh_tokenizers(&train_pairs)?,
    };
    let mut tokenizer_files: Vec<_> = src_tok.run_file(TOKENIZER_FILE)?.into_iter().collect();
    if run.separate_tokenizers() {
        tokenizer_files.extend(tgt_tok.run_file(TGT_TOKENIZER_FILE)?);
    }
    let tokenizer = PairTokenizer { src: src_tok.tokenizer.clone(), tgt: tgt_tok.tokenizer.clone() };
    let tok = |pairs: &[Pair]| -> Vec<(Vec<String>, Vec<String>)> {
        pairs.iter().map(|p| (tokenizer.src.tokenize(&p.src), tokenizer.tgt.tokenize(&p.tgt))).collect()
    };
    let train_tok = tok(&train_pairs);
    let valid_tok = tok(&valid_pairs);
    let (src_vocab, tgt_vocab) = match vocab_dir {
        Some(dir) => (Vocab::load(&dir.join(SRC_VOCAB))?, Vocab::load(&dir.join(TGT_VOCAB))?),
        None => {
            let (min, max) = match run.source {
                PairSource::Files(d) if !run.tokenizers().0.is_subword() => (d.min_freq, (d.max_vocab > 0).then_some(d.max_vocab)),
                _ => (1, None),
            };
            if run.model.share_embeddings {
                let all = train_tok.iter().flat_map(|(s, t)| [s, t]);
                let v = src_tok.complete(Vocab::build(all, min, max))?;
                let v = if run.separate_tokenizers() { tgt_tok.complete(v)? } else { v };
                (v.clone(), v)
            } else {
                (
                    src_tok.complete(Vocab::build(train_tok.iter().map(|(s, _)| s), min, max))?,
                    tgt_tok.complete(Vocab::build(train_tok.iter().map(|(_, t)| t), min, max))?,
                )
            }
        }
    };
    let max_len = run.model.max_len;
    let encode = |(s, t): &(Vec<String>, Vec<String>)| Example { src: src_vocab.encode(s, false, true), tgt: tgt_vocab.encode(t, true, true) };
    let mut train = Vec::with_capacity(train_tok.len());
    let mut dropped = 0;
    for pair in &train_tok {
        let ex = encode(pair);
        if ex.src.len() > max_len || ex.tgt.len() > max_len || pair.0.is_empty() {
            dropped += 1;
        } else {
            train.push(ex);
        }
    }
    if train.is_empty() {
        return Err(TrainError::Config(format!("no training pair fits model.max_len = {max_len} tokens (dropped {dropped})")));
    }
    let valid = valid_tok
        .iter()
        .map(|p| {
            let mut ex = encode(p);
            ex.src.truncate(max_len);
            ex.tgt.truncate(max_len);
            ex
        })
        .collect();
    Ok(Prepared { tokenizer, tokenizer_files, src_vocab, tgt_vocab, train, valid, valid_pairs, dropped })
}
