//! Vector → sequence training: a [`VectorDecoder`] learns to write sequences
//! from (vector, sequence) pairs. The pairs come from a word-vector file
//! (word2vec text or binary, GloVe text) whose words are the sequences, read
//! as characters — so the decoder learns to spell a word from its vector.
//! A held-out share of the pairs measures what it learned beyond memorising:
//! exact matches and the character error rate of greedy spellings.

use std::time::Instant;

use attend_data::{Padded, Vocab, WordVectors, BOS, EOS};
use attend_model::{CellKind, VectorDecoder, VectorDecoderConfig};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::clip::clip_global_norm;
use crate::error::{Result, TrainError};
use crate::seq2seq::{ids, pad_mask, smoothed_loss};

/// How to train a speller.
#[derive(Debug, Clone)]
pub struct SpellOptions {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub seed: u64,
    /// Share of the pairs held out for evaluation.
    pub valid_fraction: f64,
    pub cell: CellKind,
    pub d_hidden: usize,
    pub dropout: f64,
    /// Longest sequence kept (characters); longer words are left out.
    pub max_len: usize,
    /// Scale every vector to the same length first, √dim (so its entries are ±1 on
    /// average; word2vec norms mostly encode frequency).
    pub unit_vectors: bool,
}

impl Default for SpellOptions {
    fn default() -> Self {
        Self {
            epochs: 20,
            batch_size: 32,
            lr: 3e-3,
            seed: 1,
            valid_fraction: 0.1,
            cell: CellKind::Gru,
            d_hidden: 256,
            dropout: 0.1,
            max_len: 20,
            unit_vectors: true,
        }
    }
}

/// Scores of one epoch.
#[derive(Debug, Clone)]
pub struct SpellEpoch {
    pub epoch: usize,
    pub train_loss: f64,
    /// Held-out pairs spelled exactly.
    pub valid_exact: f64,
    /// Held-out character error rate (edit distance / reference length).
    pub valid_cer: f64,
    /// Exact matches on the first training pairs (as many as held out, at least 500).
    pub train_exact: f64,
    pub secs: f64,
}

/// What training did.
#[derive(Debug, Clone)]
pub struct SpellReport {
    pub epochs: Vec<SpellEpoch>,
    pub train_pairs: usize,
    pub valid_pairs: usize,
    /// Words left out for being longer than `max_len`.
    pub too_long: usize,
    pub params: usize,
    /// The character vocabulary.
    pub vocab: Vocab,
    /// `(word, spelling)` for the first held-out words.
    pub samples: Vec<(String, String)>,
}

struct Pair {
    vector: Vec<f32>,
    ids: Vec<u32>,
    word: String,
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
fn score(model: &VectorDecoder, pairs: &[&Pair], max_len: usize, vocab: &Vocab, device: &Device) -> Result<(f64, f64, Vec<String>)> {
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

/// Trains a speller on the words of `vectors` (see the module docs), printing
/// each epoch through `on_epoch`. Returns the trained decoder and the report.
pub fn train_speller(
    vectors: &WordVectors,
    opts: &SpellOptions,
    device: &Device,
    mut on_epoch: impl FnMut(&SpellEpoch),
) -> Result<(VectorDecoder, SpellReport)> {
    let mut too_long = 0;
    let mut words: Vec<(String, Vec<f32>)> = Vec::new();
    for (i, w) in vectors.words().iter().enumerate() {
        if w.chars().count() > opts.max_len {
            too_long += 1;
            continue;
        }
        let mut v = vectors.row(i).to_vec();
        if opts.unit_vectors {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            let scale = (v.len() as f32).sqrt() / norm;
            v.iter_mut().for_each(|x| *x *= scale);
        }
        words.push((w.clone(), v));
    }
    let n_valid = ((words.len() as f64) * opts.valid_fraction).round() as usize;
    if words.len() < 2 || n_valid == 0 || n_valid >= words.len() {
        return Err(TrainError::Invalid(format!(
            "{} usable words: too few to hold out {:.0} % for evaluation",
            words.len(),
            opts.valid_fraction * 100.0
        )));
    }
    let mut rng = StdRng::seed_from_u64(opts.seed);
    words.shuffle(&mut rng);
    let (valid_words, train_words) = words.split_at(n_valid);
    let vocab = Vocab::build(train_words.iter().map(|(w, _)| chars(w)).collect::<Vec<_>>().iter(), 1, None);
    let pair = |(w, v): &(String, Vec<f32>)| Pair { vector: v.clone(), ids: vocab.encode(&chars(w), true, true), word: w.clone() };
    let train: Vec<Pair> = train_words.iter().map(pair).collect();
    let valid: Vec<Pair> = valid_words.iter().map(pair).collect();

    let ad = device.clone().autodiff();
    ad.seed(opts.seed);
    let cfg = VectorDecoderConfig::new(vectors.dim(), vocab.len())
        .with_cell(opts.cell)
        .with_d_hidden(opts.d_hidden)
        .with_dropout(opts.dropout);
    let mut model = cfg.init(&ad)?;
    let params = model.num_params();
    let mut optim: ModuleOptimizer = AdamConfig::new().init();
    let mut epochs = Vec::new();
    let train_probe: Vec<&Pair> = train.iter().take(valid.len().max(500)).collect();
    let valid_refs: Vec<&Pair> = valid.iter().collect();
    let mut order: Vec<usize> = (0..train.len()).collect();
    for epoch in 1..=opts.epochs {
        let started = Instant::now();
        order.shuffle(&mut rng);
        let (mut sum, mut batches) = (0f64, 0usize);
        for chunk in order.chunks(opts.batch_size.max(1)) {
            let rows: Vec<&Pair> = chunk.iter().map(|&i| &train[i]).collect();
            let tin: Vec<&[u32]> = rows.iter().map(|p| &p.ids[..p.ids.len() - 1]).collect();
            let tout: Vec<&[u32]> = rows.iter().map(|p| &p.ids[1..]).collect();
            let (tin, tout) = (Padded::new(&tin), Padded::new(&tout));
            let mask = pad_mask(&tin, &ad);
            let logits = model.forward(tensor_of(&rows, &ad), ids(&tin, &ad), Some(&mask));
            let loss = smoothed_loss(logits, &tout, 0.0, &ad);
            let value: f32 = loss.clone().into_scalar();
            if !value.is_finite() {
                return Err(TrainError::Invalid(format!("the loss became {value} in epoch {epoch}; try a lower learning rate")));
            }
            let mut grads = GradientsParams::from_grads(loss.backward(), &model);
            clip_global_norm(&model, &mut grads, 1.0);
            model = optim.step(opts.lr, model, grads);
            sum += value as f64;
            batches += 1;
        }
        let inner = device.clone().inner();
        let eval_model = model.valid();
        let (valid_exact, valid_cer, _) = score(&eval_model, &valid_refs, opts.max_len, &vocab, &inner)?;
        let (train_exact, _, _) = score(&eval_model, &train_probe, opts.max_len, &vocab, &inner)?;
        let e = SpellEpoch { epoch, train_loss: sum / batches.max(1) as f64, valid_exact, valid_cer, train_exact, secs: started.elapsed().as_secs_f64() };
        on_epoch(&e);
        epochs.push(e);
    }
    let inner = device.clone().inner();
    let eval_model = model.valid();
    let shown: Vec<&Pair> = valid.iter().take(20).collect();
    let (_, _, spelled) = score(&eval_model, &shown, opts.max_len, &vocab, &inner)?;
    let samples = shown.iter().zip(spelled).map(|(p, s)| (p.word.clone(), s)).collect();
    Ok((
        eval_model,
        SpellReport { epochs, train_pairs: train.len(), valid_pairs: valid.len(), too_long, params, vocab, samples },
    ))
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
