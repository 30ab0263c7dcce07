//! A classifier's data: labelled texts read (`attend_data::labeled`),
//! split into training and validation texts (a seeded tenth, one fold of k,
//! or a file of its own), tokenised (words, and their n-grams for bags) and
//! encoded with the run's vocabulary and labels.

use std::path::Path;

use attend_data::{read_labeled, Example, Labeled, Tokenizer, Vocab};
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::settings::{ClassifyConfig, LabeledData};
use crate::error::{Result, TrainError};
use crate::tasks::lm::data::VOCAB;
use crate::tasks::subwords::{self, RunTokenizer, TokenizerChoice, TOKENIZER_FILE};

/// The labels file of a classification run.
pub const LABELS: &str = "labels.json";

/// The held-out validation texts of a run without `data.valid`, as
/// `label<TAB>text` lines, so that `eval --data RUN/valid.tsv` scores any run
/// or ensemble on them.
pub const HELD_OUT: &str = "valid.tsv";

/// A run's vocabulary, labels and encoded data.
pub struct ClassData {
    pub tokenizer: RunTokenizer,
    pub vocab: Vocab,
    pub labels: Vec<String>,
    pub train: Vec<Example>,
    pub valid: Vec<Example>,
    /// The texts held out of the training data for validation (none with `data.valid`).
    pub held_out: Vec<Labeled>,
}

impl ClassData {
    /// The files a new run directory holds besides its config: vocabulary,
    /// labels and the held-out texts.
    pub fn run_files(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let labels = serde_json::to_vec(&self.labels).map_err(|e| TrainError::Invalid(e.to_string()))?;
        let mut files = vec![(VOCAB.to_string(), self.vocab.to_json()?), (LABELS.to_string(), labels)];
        files.extend(self.tokenizer.run_file(TOKENIZER_FILE)?);
        if !self.held_out.is_empty() {
            let mut out = String::from("label\ttext\n");
            for t in &self.held_out {
                out.push_str(&format!("{}\t{}\n", t.label, t.text));
            }
            files.push((HELD_OUT.to_string(), out.into_bytes()));
        }
        Ok(files)
    }
}

/// Reads the labels a run wrote.
pub fn read_labels(run: &Path) -> Result<Vec<String>> {
    let path = run.join(LABELS);
    let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint { path, reason: e.to_string() })
}

/// How a classifier tokenizes, from its config.
pub fn tokenizer_choice(data: &LabeledData) -> TokenizerChoice<'_> {
    TokenizerChoice { kind: data.tokenizer, lowercase: data.lowercase, vocab_size: data.vocab_size, file: data.tokenizer_file.as_deref() }
}

/// `words` followed, for `n` > 1, by every run of 2..=n adjacent words joined
/// by a space (a word token never holds one), the bag-of-n-grams classifier's
/// tokens.
pub fn with_ngrams(words: Vec<String>, n: usize) -> Vec<String> {
    if n < 2 {
        return words;
    }
    let grams: Vec<String> = (2..=n).flat_map(|k| words.windows(k).map(|w| w.join(" ")).collect::<Vec<_>>()).collect();
    let mut tokens = words;
    tokens.extend(grams);
    tokens
}

/// Token ids of a text: its first `model.max_len` tokens (and their n-grams).
pub fn encode_text(cfg: &ClassifyConfig, tokenizer: &dyn Tokenizer, vocab: &Vocab, text: &str) -> Vec<u32> {
    let mut words = tokenizer.tokenize(text);
    words.truncate(cfg.model.max_len);
    let mut ids = vocab.encode(&with_ngrams(words, cfg.data.ngrams), false, false);
    if ids.is_empty() {
        ids.push(attend_data::UNK);
    }
    ids
}

fn examples(cfg: &ClassifyConfig, tokenizer: &dyn Tokenizer, vocab: &Vocab, labels: &[String], data: &[Labeled], what: &str) -> Result<Vec<Example>> {
    data.iter()
        .map(|d| {
            let k = labels.iter().position(|l| *l == d.label).ok_or_else(|| {
                TrainError::Invalid(format!("{what}: label `{}` does not occur in the training data ({})", d.label, labels.join(", ")))
            })?;
            Ok(Example { src: encode_text(cfg, tokenizer, vocab, &d.text), tgt: vec![k as u32] })
        })
        .collect()
}

/// Removes fold `fold` of `folds` near-equal contiguous parts from `data` and
/// returns it (k-fold cross-validation: the folds of one shuffle cover every
/// example exactly once).
pub fn hold_out_fold<T>(data: &mut Vec<T>, fold: usize, folds: usize) -> Result<Vec<T>> {
    if folds < 2 || fold >= folds {
        return Err(TrainError::Config(format!("data.fold = {fold}, data.folds = {folds}: need folds >= 2 and 0 <= fold < folds")));
    }
    if data.len() < folds {
        return Err(TrainError::Invalid(format!("{} examples cannot be split into {folds} folds", data.len())));
    }
    let (start, end) = (fold * data.len() / folds, (fold + 1) * data.len() / folds);
    let tail = data.split_off(end);
    let held = data.split_off(start);
    data.extend(tail);
    Ok(held)
}

/// Reads and encodes a run's data; the vocabulary and labels come from `run` when resuming.
pub fn prepare(cfg: &ClassifyConfig, run: Option<&Path>) -> Result<ClassData> {
    let d = &cfg.data;
    if d.train.is_empty() {
        return Err(TrainError::Config("a classifier needs labelled texts: data.train (--data FILE...)".into()));
    }
    if cfg.data.ngrams == 0 || (cfg.data.ngrams > 1 && cfg.model.arch != attend_model::classifier::ClassifierArch::Bag) {
        return Err(TrainError::Config(format!(
            "data.ngrams = {}: must be 1, or more with model.arch = \"bag\" (the other classifiers read the words in order)",
            cfg.data.ngrams
        )));
    }
    let mut train = read_labeled(&d.train)?;
    let valid = match &d.valid {
        Some(_) if d.fold.is_some() => {
            return Err(TrainError::Config("data.fold picks the validation texts from data.train; it cannot be used with data.valid".into()))
        }
        Some(p) => read_labeled(std::slice::from_ref(p))?,
        None => {
            // A seeded tenth of the training data, or one fold of `folds`.
            let mut rng = rand::rngs::StdRng::seed_from_u64(d.split_seed.unwrap_or(cfg.train.seed));
            train.shuffle(&mut rng);
            match d.fold {
                None => {
                    let n = (train.len() / 10).max(1);
                    train.split_off(train.len() - n)
                }
                Some(fold) => hold_out_fold(&mut train, fold, d.folds)?,
            }
        }
    };
    let choice = tokenizer_choice(d);
    let tokenizer = match run {
        Some(run) => subwords::saved(choice, run, TOKENIZER_FILE)?,
        None => subwords::fresh(choice, || train.iter().map(|t| t.text.clone()).collect())?,
    };
    let tok = tokenizer.tokenizer.as_ref();
    let (vocab, labels) = match run {
        Some(run) => (Vocab::load(&run.join(VOCAB))?, read_labels(run)?),
        None => {
            let seqs: Vec<Vec<String>> = train.iter().map(|t| with_ngrams(tok.tokenize(&t.text), d.ngrams)).collect();
            let vocab = if choice.is_subword() {
                tokenizer.complete(Vocab::build(seqs.iter().map(|s| s.as_slice()), 1, None))?
            } else {
                Vocab::build(seqs.iter().map(|s| s.as_slice()), d.min_freq, (d.max_vocab > 0).then_some(d.max_vocab))
            };
            let mut labels: Vec<String> = train.iter().map(|t| t.label.clone()).collect();
            labels.sort();
            labels.dedup();
            if labels.len() < 2 {
                return Err(TrainError::Invalid(format!("the training data has only the label {labels:?}; a classifier needs two or more")));
            }
            (vocab, labels)
        }
    };
    let train = examples(cfg, tok, &vocab, &labels, &train, "training data")?;
    let encoded = examples(cfg, tok, &vocab, &labels, &valid, "validation data")?;
    let held_out = if d.valid.is_none() { valid } else { Vec::new() };
    Ok(ClassData { tokenizer, vocab, labels, train, valid: encoded, held_out })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ngrams_follow_the_words() {
        let w = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(with_ngrams(w("not a good film"), 1), w("not a good film"));
        let two = with_ngrams(w("not a good film"), 2);
        assert_eq!(two, ["not", "a", "good", "film", "not a", "a good", "good film"]);
        let three = with_ngrams(w("not a good"), 3);
        assert_eq!(three, ["not", "a", "good", "not a", "a good", "not a good"]);
        assert_eq!(with_ngrams(w("alone"), 3), ["alone"]);
    }

    #[test]
    fn the_folds_cover_every_example_once() {
        let mut seen = Vec::new();
        for fold in 0..3 {
            let mut data: Vec<u32> = (0..10).collect();
            let held = hold_out_fold(&mut data, fold, 3).unwrap();
            assert_eq!(data.len() + held.len(), 10);
            assert!(held.iter().all(|x| !data.contains(x)));
            assert!((3..=4).contains(&held.len()), "{held:?}");
            seen.extend(held);
        }
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<u32>>());
        let mut data: Vec<u32> = (0..10).collect();
        assert!(hold_out_fold(&mut data, 3, 3).unwrap_err().to_string().contains("data.fold = 3"));
        assert!(hold_out_fold(&mut data, 0, 1).is_err());
        assert!(hold_out_fold(&mut vec![1u32], 0, 2).is_err());
    }

    #[test]
    fn the_split_seed_fixes_the_held_out_tenth_across_training_seeds() {
        let dir = std::env::temp_dir().join(format!("attend-split-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Line i reads `t{i / 10} u{i % 10}`: every token also occurs in training lines, so a held-out line decodes back to i.
        let lines: String = (0..50).map(|i| format!("{}\tt{} u{}\n", ["pos", "neg"][i % 2], i / 10, i % 10)).collect();
        std::fs::write(dir.join("d.tsv"), lines).unwrap();
        let config = |seed: u64, split: Option<u64>, fold: Option<usize>| {
            let mut cfg = ClassifyConfig::default();
            (cfg.data.train, cfg.data.valid, cfg.data.min_freq) = (vec![dir.join("d.tsv")], None, 1);
            (cfg.train.seed, cfg.data.split_seed, cfg.data.fold) = (seed, split, fold);
            cfg
        };
        let held_out = |seed: u64, split: Option<u64>| {
            let d = prepare(&config(seed, split, None), None).unwrap();
            assert_eq!((d.train.len(), d.valid.len()), (45, 5));
            let mut lines: Vec<String> = d.valid.iter().map(|e| d.vocab.decode(&e.src).join(" ")).collect();
            lines.sort();
            assert!(lines.iter().all(|l| !l.contains("<unk>")), "{lines:?}");
            lines
        };
        // Ten folds of one split hold out every line exactly once.
        let fold = |k: usize| {
            let d = prepare(&config(1, Some(7), Some(k)), None).unwrap();
            assert_eq!((d.train.len(), d.valid.len()), (45, 5));
            d.valid.iter().map(|e| d.vocab.decode(&e.src).join(" ")).collect::<Vec<_>>()
        };
        let mut all: Vec<String> = (0..10).flat_map(fold).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 50);
        assert_eq!(held_out(1, Some(7)), held_out(2, Some(7)));
        assert_eq!(held_out(7, None), held_out(3, Some(7)));
        assert_ne!(held_out(1, None), held_out(2, None));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
