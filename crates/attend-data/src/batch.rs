//! Batching: group examples of similar length, pad them, and build masks.
//!
//! An epoch's batch order is a pure function of `(seed, epoch)`, so a run that
//! resumes at `(epoch, batch index)` sees exactly the batches it would have seen.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::vocab::PAD;

/// One encoded training example: source ids and target ids (`<bos> … <eos>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub src: Vec<u32>,
    pub tgt: Vec<u32>,
}

impl Example {
    fn len(&self) -> usize {
        self.src.len().max(self.tgt.len())
    }
}

/// How large a batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchBy {
    /// A fixed number of sentence pairs.
    Sentences,
    /// As many pairs as fit in a budget of (padded) tokens per side.
    Tokens,
}

/// Builds the batches of each epoch.
#[derive(Debug, Clone)]
pub struct Batcher {
    /// Sentences per batch, or tokens per batch, according to `by`.
    pub size: usize,
    pub by: BatchBy,
    /// Sort by length inside pools of shuffled examples (less padding).
    pub bucket: bool,
    pub seed: u64,
}

/// Examples per length-sorting pool, in batches.
const POOL_BATCHES: usize = 50;

impl Batcher {
    /// The batches (lists of example indices) of `epoch`, in training order.
    pub fn epoch_batches(&self, examples: &[Example], epoch: u64) -> Vec<Vec<usize>> {
        let mut rng = StdRng::seed_from_u64(self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ epoch);
        let mut order: Vec<usize> = (0..examples.len()).collect();
        order.shuffle(&mut rng);
        let mut batches = Vec::new();
        if self.bucket {
            let per_batch = match self.by {
                BatchBy::Sentences => self.size.max(1),
                BatchBy::Tokens => (self.size / 16).max(1),
            };
            for pool in order.chunks(per_batch * POOL_BATCHES) {
                let mut pool = pool.to_vec();
                pool.sort_by_key(|&i| (examples[i].src.len(), examples[i].tgt.len()));
                batches.extend(self.cut(examples, &pool));
            }
            batches.shuffle(&mut rng);
        } else {
            batches = self.cut(examples, &order);
        }
        batches
    }

    /// Splits an ordered list of indices into consecutive batches.
    pub fn cut(&self, examples: &[Example], order: &[usize]) -> Vec<Vec<usize>> {
        let mut batches = Vec::new();
        let mut cur: Vec<usize> = Vec::new();
        let mut longest = 0;
        for &i in order {
            let len = examples[i].len();
            let full = match self.by {
                BatchBy::Sentences => cur.len() >= self.size.max(1),
                BatchBy::Tokens => !cur.is_empty() && longest.max(len) * (cur.len() + 1) > self.size,
            };
            if full {
                batches.push(std::mem::take(&mut cur));
                longest = 0;
            }
            longest = longest.max(len);
            cur.push(i);
        }
        if !cur.is_empty() {
            batches.push(cur);
        }
        batches
    }
}

/// A padded batch of sequences, row-major `[batch, seq]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Padded {
    pub ids: Vec<u32>,
    pub batch: usize,
    pub seq: usize,
    pub lengths: Vec<usize>,
}

impl Padded {
    /// Pads `seqs` with `<pad>` to the longest one.
    pub fn new<S: AsRef<[u32]>>(seqs: &[S]) -> Self {
        let seq = seqs.iter().map(|s| s.as_ref().len()).max().unwrap_or(0).max(1);
        let mut ids = vec![PAD; seqs.len() * seq];
        let mut lengths = Vec::with_capacity(seqs.len());
        for (r, s) in seqs.iter().enumerate() {
            let s = s.as_ref();
            ids[r * seq..r * seq + s.len()].copy_from_slice(s);
            lengths.push(s.len());
        }
        Self { ids, batch: seqs.len(), seq, lengths }
    }

    /// `true` where the position is padding, row-major `[batch, seq]`.
    pub fn pad_mask(&self) -> Vec<bool> {
        let mut mask = vec![false; self.batch * self.seq];
        for (r, &len) in self.lengths.iter().enumerate() {
            for m in &mut mask[r * self.seq + len..(r + 1) * self.seq] {
                *m = true;
            }
        }
        mask
    }

    /// Number of real (non-pad) tokens.
    pub fn tokens(&self) -> usize {
        self.lengths.iter().sum()
    }
}

/// The tensors-to-be of a translation batch: source, decoder input
/// (`<bos> y1 … yn`) and decoder target (`y1 … yn <eos>`).
#[derive(Debug, Clone)]
pub struct Seq2SeqBatch {
    pub src: Padded,
    pub tgt_in: Padded,
    pub tgt_out: Padded,
}

impl Seq2SeqBatch {
    /// Builds the batch of `indices` from `examples`.
    pub fn new(examples: &[Example], indices: &[usize]) -> Self {
        let src: Vec<&[u32]> = indices.iter().map(|&i| examples[i].src.as_slice()).collect();
        let tin: Vec<&[u32]> =
            indices.iter().map(|&i| &examples[i].tgt[..examples[i].tgt.len() - 1]).collect();
        let tout: Vec<&[u32]> = indices.iter().map(|&i| &examples[i].tgt[1..]).collect();
        Self { src: Padded::new(&src), tgt_in: Padded::new(&tin), tgt_out: Padded::new(&tout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples(n: usize) -> Vec<Example> {
        (0..n)
            .map(|i| Example { src: vec![5; 1 + i % 7], tgt: vec![2, 6, 3][..2 + i % 2].to_vec() })
            .collect()
    }

    #[test]
    fn deterministic_for_seed_and_covers_every_example_once() {
        let ex = examples(103);
        let b = Batcher { size: 8, by: BatchBy::Sentences, bucket: true, seed: 7 };
        let e0 = b.epoch_batches(&ex, 0);
        assert_eq!(e0, b.epoch_batches(&ex, 0));
        assert_ne!(e0, b.epoch_batches(&ex, 1));
        let mut all: Vec<usize> = e0.concat();
        all.sort();
        assert_eq!(all, (0..103).collect::<Vec<_>>());
        assert!(e0.iter().all(|b| b.len() <= 8));
    }

    #[test]
    fn token_budget_bounds_padded_size() {
        let ex = examples(200);
        let b = Batcher { size: 30, by: BatchBy::Tokens, bucket: true, seed: 1 };
        for batch in b.epoch_batches(&ex, 3) {
            let longest = batch.iter().map(|&i| ex[i].len()).max().unwrap();
            assert!(batch.len() == 1 || longest * batch.len() <= 30);
        }
    }

    #[test]
    fn padding_and_masks() {
        let p = Padded::new(&[vec![4u32, 5, 6], vec![7]]);
        assert_eq!(p.ids, vec![4, 5, 6, 7, 0, 0]);
        assert_eq!(p.pad_mask(), vec![false, false, false, false, true, true]);
        assert_eq!(p.tokens(), 4);
        let ex = vec![Example { src: vec![9, 9], tgt: vec![2, 10, 11, 3] }];
        let b = Seq2SeqBatch::new(&ex, &[0]);
        assert_eq!(b.tgt_in.ids, vec![2, 10, 11]);
        assert_eq!(b.tgt_out.ids, vec![10, 11, 3]);
    }
}
