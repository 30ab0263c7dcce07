//! Vector → sequence runs (`task = "spell"`): a [`VectorDecoder`] learns to
//! write sequences from (vector, sequence) pairs. The pairs come from a
//! word-vector file (word2vec text or binary, GloVe text) whose words are the
//! sequences, read as characters — so the decoder learns to spell a word from
//! its vector. A held-out share of the words measures what it learned beyond
//! memorising: exact matches and the character error rate of greedy spellings.

pub mod settings;

use std::path::Path;

use attend_data::{Padded, Vocab, WordVectors, BOS, EOS};
use attend_model::{VectorDecoder, VectorDecoderConfig};
use burn::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::config::RunConfig;
use crate::error::{Result, TrainError};
use crate::tasks::lm::data::VOCAB;
use crate::tasks::split_even;
use crate::tasks::translate::batch::{ids, pad_mask, smoothed_loss};
use crate::trainer::metrics::Column;
use crate::trainer::{self, run_dir, Evaluation, FitOptions, Fitted, Loss, Start, Trainable};
use settings::SpellConfig;

/// One (vector, word) pair.
pub struct Pair {
    pub vector: Vec<f32>,
    /// `<bos>` characters `<eos>`.
    pub ids: Vec<u32>,
    pub word: String,
}

/// Levenshtein distance between two token sequences.
pub fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let next = (diag + usize::from(x != y)).min(row[j] + 1).min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

fn chars(word: &str) -> Vec<String> {
    word.chars().map(String::from).collect()
}

fn tensor_of(rows: &[&Pair], device: &Device) -> Tensor<2> {
    let d = rows[0].vector.len();
    let flat: Vec<f32> = rows.iter().flat_map(|p| p.vector.iter().copied()).collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), d]), device)
}

/// Greedy spellings of `pairs`: (exact-match share, character error rate, spellings).
pub fn score(model: &VectorDecoder, pairs: &[&Pair], max_len: usize, vocab: &Vocab, device: &Device) -> Result<(f64, f64, Vec<String>)> {
    let (mut exact, mut errors, mut chars_total) = (0usize, 0usize, 0usize);
    let mut spelled = Vec::with_capacity(pairs.len());
    for chunk in pairs.chunks(256) {
        let out = model.greedy(tensor_of(chunk, device), BOS, EOS, max_len + 1)?;
        for (p, ids) in chunk.iter().zip(out) {
            let word: String = vocab.decode(&ids).concat();
            let gold = &p.ids[1..p.ids.len() - 1];
            exact += usize::from(ids == gold);
            errors += edit_distance(&ids, gold);
            chars_total += gold.len();
            spelled.push(word);
        }
    }
    Ok((exact as f64 / pairs.len().max(1) as f64, errors as f64 / chars_total.max(1) as f64, spelled))
}

/// A speller run as the trainer sees it.
pub struct SpellTask<'a> {
    cfg: &'a SpellConfig,
    pub vocab: Vocab,
    pub train: Vec<Pair>,
    pub valid: Vec<Pair>,
    /// Words left out for being longer than `data.max_len`.
    pub too_long: usize,
    /// Characters of the longest word kept: spellings are decoded up to it
    /// (not to `data.max_len`, which may be far longer than any word).
    pub longest: usize,
    dim: usize,
}

impl<'a> SpellTask<'a> {
    /// The speller's model settings (what `init_model` builds and `size` counts).
    fn model_config(&self) -> VectorDecoderConfig {
        let m = &self.cfg.model;
        VectorDecoderConfig::new(self.dim, self.vocab.len()).with_cell(m.cell).with_d_hidden(m.d_hidden).with_dropout(m.dropout)
    }

    /// Reads the word vectors of `cfg` and holds out a seeded share of them
    /// (the character vocabulary from `vocab_dir` when resuming).
    pub fn new(cfg: &'a SpellConfig, vocab_dir: Option<&Path>) -> Result<Self> {
        let d = &cfg.data;
        let path = d.vectors.as_ref().ok_or_else(|| TrainError::Config("a speller needs word vectors: data.vectors (--data FILE)".into()))?;
        let vectors = WordVectors::read(path, None)?;
        let mut too_long = 0;
        let mut words: Vec<(String, Vec<f32>)> = Vec::new();
        for (i, w) in vectors.words().iter().enumerate() {
            if w.chars().count() > d.max_len {
                too_long += 1;
                continue;
            }
            let mut v = vectors.row(i).to_vec();
            if d.unit_vectors {
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                let scale = (v.len() as f32).sqrt() / norm;
                v.iter_mut().for_each(|x| *x *= scale);
            }
            words.push((w.clone(), v));
        }
        let n_valid = ((words.len() as f64) * d.valid_fraction).round() as usize;
        if words.len() < 2 || n_valid == 0 || n_valid >= words.len() {
            return Err(TrainError::Invalid(format!(
                "{}: {} usable words: too few to hold out {:.0} % for evaluation",
                path.display(),
                words.len(),
                d.valid_fraction * 100.0
            )));
        }
        words.shuffle(&mut StdRng::seed_from_u64(cfg.train.seed));
        let (valid_words, train_words) = words.split_at(n_valid);
        let vocab = match vocab_dir {
            Some(dir) => Vocab::load(&dir.join(VOCAB))?,
            None => Vocab::build(train_words.iter().map(|(w, _)| chars(w)).collect::<Vec<_>>().iter(), 1, None),
        };
        let pair = |(w, v): &(String, Vec<f32>)| Pair { vector: v.clone(), ids: vocab.encode(&chars(w), true, true), word: w.clone() };
        let train = train_words.iter().map(pair).collect();
        let valid = valid_words.iter().map(pair).collect();
        let longest = words.iter().map(|(w, _)| w.chars().count()).max().unwrap_or(1);
        Ok(Self { cfg, vocab, train, valid, too_long, longest, dim: vectors.dim() })
    }

    /// The training words probed for memorisation: the first ones, as many as held out (at least 500).
    fn probe(&self) -> Vec<&Pair> {
        self.train.iter().take(self.valid.len().max(500)).collect()
    }
}

impl Trainable for SpellTask<'_> {
    type Model = VectorDecoder;
    type Batch = Vec<usize>;

    fn init_model(&self, device: &Device) -> Result<VectorDecoder> {
        Ok(self.model_config().init(device)?)
    }

    fn size(&self) -> Result<(u128, String)> {
        let count = self.model_config().param_count();
        Ok((count, format!("the model (model.d_hidden = {}, vectors of {} dimensions)", self.cfg.model.d_hidden, self.dim)))
    }

    fn run_files(&self) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(vec![(VOCAB.into(), self.vocab.to_json()?)])
    }

    fn width(&self) -> usize {
        self.cfg.model.d_hidden
    }

    fn epoch(&self, epoch: usize) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.train.len()).collect();
        order.shuffle(&mut StdRng::seed_from_u64(self.cfg.train.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ epoch as u64));
        order.chunks(self.cfg.data.batch_size.max(1)).map(|c| c.to_vec()).collect()
    }

    fn loss(&self, model: &VectorDecoder, batch: &Vec<usize>, device: &Device) -> Result<Loss> {
        let rows: Vec<&Pair> = batch.iter().map(|&i| &self.train[i]).collect();
        let tin: Vec<&[u32]> = rows.iter().map(|p| &p.ids[..p.ids.len() - 1]).collect();
        let tout: Vec<&[u32]> = rows.iter().map(|p| &p.ids[1..]).collect();
        let (tin, tout) = (Padded::new(&tin), Padded::new(&tout));
        let mask = pad_mask(&tin, device);
        let logits = model.forward(tensor_of(&rows, device), ids(&tin, device), Some(&mask));
        let value = smoothed_loss(logits, &tout, self.cfg.train.label_smoothing, device);
        let tokens = tout.tokens();
        Ok(Loss { value, terms: tokens, tokens })
    }

    fn split(&self, batch: &Vec<usize>, parts: usize) -> Vec<Vec<usize>> {
        split_even(batch, parts)
    }

    fn evaluate(&self, model: &VectorDecoder, device: &Device, _step: usize) -> Result<Evaluation> {
        let max_len = self.longest;
        let valid: Vec<&Pair> = self.valid.iter().collect();
        let (valid_exact, valid_cer, _) = score(model, &valid, max_len, &self.vocab, device)?;
        let (train_exact, _, _) = score(model, &self.probe(), max_len, &self.vocab, device)?;
        Ok(Evaluation {
            columns: vec![Column::new("valid_exact", valid_exact, 5), Column::new("valid_cer", valid_cer, 5), Column::new("train_exact", train_exact, 5)],
            score: valid_exact,
            summary: format!(
                "held-out exact {:5.1} %  held-out CER {valid_cer:.3}  training-word exact {:5.1} %",
                valid_exact * 100.0,
                train_exact * 100.0
            ),
        })
    }
}

/// What a speller run did.
pub struct SpellReport {
    pub fitted: Fitted<VectorDecoder>,
    pub train_pairs: usize,
    pub valid_pairs: usize,
    /// Words left out for being longer than `data.max_len`.
    pub too_long: usize,
    /// Characters in the vocabulary (specials excluded).
    pub characters: usize,
    /// `(word, spelling)` for the first held-out words, by the best weights.
    pub samples: Vec<(String, String)>,
}

/// Trains (or resumes) the speller run `cfg` in the run directory `dir`.
pub fn train(whole: &RunConfig, cfg: &SpellConfig, dir: &Path, resume: bool, devices: &[Device], opts: &FitOptions) -> Result<SpellReport> {
    let task = SpellTask::new(cfg, resume.then_some(dir))?;
    let start = if resume { Start::Resume } else { Start::New(whole) };
    let fitted = trainer::fit(&task, &cfg.train, dir, start, devices, opts)?;
    let inner = devices[0].clone().inner();
    let best = dir.join(run_dir::BEST).join("model.bpk");
    let model = if best.exists() { trainer::checkpoint::load_model(task.init_model(&inner)?, &best)? } else { fitted.model.clone() };
    let shown: Vec<&Pair> = task.valid.iter().take(20).collect();
    let (_, _, spelled) = score(&model, &shown, task.longest, &task.vocab, &inner)?;
    let samples = shown.iter().zip(spelled).map(|(p, s)| (p.word.clone(), s)).collect();
    Ok(SpellReport {
        train_pairs: task.train.len(),
        valid_pairs: task.valid.len(),
        too_long: task.too_long,
        characters: task.vocab.len() - 4,
        samples,
        fitted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        let d = |a: &str, b: &str| edit_distance(&a.chars().collect::<Vec<_>>(), &b.chars().collect::<Vec<_>>());
        assert_eq!(d("kitten", "sitting"), 3);
        assert_eq!(d("", "abc"), 3);
        assert_eq!(d("abc", "abc"), 0);
        assert_eq!(d("flaw", "lawn"), 2);
    }
}
