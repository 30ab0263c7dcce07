//! Turns a run's `[data]` section into encoded examples: reads the corpora,
//! tokenises, builds (or reloads) the vocabularies, and for the copy task
//! generates random symbol strings.

use std::path::Path;

use attend_data::{read_aligned, read_tsv, Example, Pair, Tokenizer, TokenizerSpec, Vocab};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::{RunConfig, Task};
use crate::error::{Result, TrainError};

/// Encoded data of a translation-like run.
pub struct Prepared {
    pub tokenizer: Box<dyn Tokenizer + Send + Sync>,
    pub src_vocab: Vocab,
    pub tgt_vocab: Vocab,
    pub train: Vec<Example>,
    pub valid: Vec<Example>,
    /// Raw validation pairs, aligned with `valid`.
    pub valid_pairs: Vec<Pair>,
    /// Training pairs dropped for exceeding `model.max_len`.
    pub dropped: usize,
}

/// The tokenizer a config describes.
pub fn tokenizer_spec(cfg: &RunConfig) -> TokenizerSpec {
    TokenizerSpec { kind: cfg.data.tokenizer, lowercase: cfg.data.lowercase }
}

fn read_pairs(tsv: &Option<std::path::PathBuf>, src: &Option<std::path::PathBuf>, tgt: &Option<std::path::PathBuf>, what: &str) -> Result<Vec<Pair>> {
    match (tsv, src, tgt) {
        (_, Some(s), Some(t)) => Ok(read_aligned(s, t)?),
        (Some(p), None, None) => Ok(read_tsv(p)?),
        (_, Some(_), None) | (_, None, Some(_)) => {
            Err(TrainError::Config(format!("{what}: give both a source and a target file")))
        }
        (None, None, None) => Err(TrainError::Config(format!("{what}: no data given (a TSV file or source and target files)"))),
    }
}

/// Generates the copy task's pairs: random strings over `symbols` letters.
pub fn copy_pairs(cfg: &RunConfig, n: usize, seed: u64) -> Vec<Pair> {
    let c = &cfg.copy;
    let mut rng = StdRng::seed_from_u64(seed);
    let alphabet: Vec<char> = ('a'..='z').chain('A'..='Z').take(c.symbols.clamp(2, 52)).collect();
    (0..n)
        .map(|_| {
            let len = rng.random_range(c.min_len.max(1)..=c.max_len.max(c.min_len.max(1)));
            let s: String = (0..len).map(|_| alphabet[rng.random_range(0..alphabet.len())]).collect();
            Pair { src: s.clone(), tgt: s }
        })
        .collect()
}

/// Reads and encodes the data of `cfg`. With `vocab_dir`, the vocabularies are
/// loaded from there (a resumed or finished run) instead of built.
pub fn prepare(cfg: &RunConfig, vocab_dir: Option<&Path>) -> Result<Prepared> {
    let (train_pairs, valid_pairs) = match cfg.task {
        Task::Lm | Task::Classify => {
            return Err(TrainError::Config("language-model and classifier runs have no translation pairs".into()))
        }
        Task::Copy => (
            copy_pairs(cfg, cfg.copy.train_size, cfg.train.seed),
            copy_pairs(cfg, cfg.copy.valid_size, cfg.train.seed.wrapping_add(1_000_003)),
        ),
        Task::Translate => {
            let d = &cfg.data;
            let train = read_pairs(&d.tsv, &d.src, &d.tgt, "training data")?;
            let valid = if d.valid_tsv.is_some() || d.valid_src.is_some() || d.valid_tgt.is_some() {
                read_pairs(&d.valid_tsv, &d.valid_src, &d.valid_tgt, "validation data")?
            } else {
                Vec::new()
            };
            (train, valid)
        }
    };
    let tokenizer = tokenizer_spec(cfg).build();
    let tok = |pairs: &[Pair]| -> Vec<(Vec<String>, Vec<String>)> {
        pairs.iter().map(|p| (tokenizer.tokenize(&p.src), tokenizer.tokenize(&p.tgt))).collect()
    };
    let train_tok = tok(&train_pairs);
    let valid_tok = tok(&valid_pairs);
    let (src_vocab, tgt_vocab) = match vocab_dir {
        Some(dir) => (
            Vocab::load(&dir.join("vocab.src.json"))?,
            Vocab::load(&dir.join("vocab.tgt.json"))?,
        ),
        None => {
            let max = (cfg.data.max_vocab > 0).then_some(cfg.data.max_vocab);
            let min = cfg.data.min_freq;
            if cfg.model.share_embeddings {
                let all = train_tok.iter().flat_map(|(s, t)| [s, t]);
                let v = Vocab::build(all, min, max);
                (v.clone(), v)
            } else {
                (
                    Vocab::build(train_tok.iter().map(|(s, _)| s), min, max),
                    Vocab::build(train_tok.iter().map(|(_, t)| t), min, max),
                )
            }
        }
    };
    let max_len = cfg.model.max_len;
    let encode = |(s, t): &(Vec<String>, Vec<String>)| Example {
        src: src_vocab.encode(s, false, true),
        tgt: tgt_vocab.encode(t, true, true),
    };
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
        return Err(TrainError::Config(format!(
            "no training pair fits model.max_len = {max_len} tokens (dropped {dropped})"
        )));
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
    Ok(Prepared { tokenizer, src_vocab, tgt_vocab, train, valid, valid_pairs, dropped })
}
