//! The tensor engine: the same examples as the CPU engine (same subsampling,
//! windows and noise draws), gathered into batches of `batch` examples, one
//! closed-form SGD step per batch on a Burn device
//! ([`attend_model::word2vec::Word2Vec::sgd_step`]). Updates within a batch
//! are summed, as in other GPU word2vec implementations, so the result is
//! close to but not the same as the CPU engine's one-pair-at-a-time updates.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Mutex;

use attend_model::word2vec::{Word2Vec, Word2VecBatch};
use burn::prelude::*;

use super::native::HogwildTables;
use super::sampling::{window_range, Draws, Drawn, LcgDraws};
use super::{Architecture, Job, Sampling, Word2VecConfig};
use crate::error::{Result, TrainError};

/// Host-side buffers of one batch.
#[derive(Default)]
pub struct BatchBuilder {
    slots: usize,
    k1: usize,
    context: Vec<i64>,
    weight: Vec<f32>,
    targets: Vec<i64>,
    labels: Vec<f32>,
    mask: Vec<f32>,
}

impl BatchBuilder {
    /// Empty buffers for `slots` context words and 1 + `negative` targets per example.
    pub fn new(slots: usize, negative: usize) -> Self {
        Self { slots, k1: negative + 1, ..Default::default() }
    }

    /// Examples so far.
    pub fn len(&self) -> usize {
        self.targets.len() / self.k1
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Adds one example: `context` words (at most `slots`) predict `word`,
    /// against `negative` noise words from `draws`.
    pub fn push(&mut self, context: &[u32], word: u32, draws: &mut impl Draws) {
        let w = 1.0 / context.len() as f32;
        for k in 0..self.slots {
            self.context.push(context.get(k).map_or(0, |&c| c as i64));
            self.weight.push(if k < context.len() { w } else { 0.0 });
        }
        self.targets.push(word as i64);
        self.labels.push(1.0);
        self.mask.push(1.0);
        for _ in 1..self.k1 {
            let t = draws.noise();
            self.targets.push(t as i64);
            self.labels.push(0.0);
            self.mask.push(if t == word { 0.0 } else { 1.0 }); // word2vec.c skips such a draw
        }
    }

    /// Moves the buffers into tensors on `device`, leaving them empty.
    pub fn take(&mut self, device: &Device) -> Word2VecBatch {
        let b = self.len();
        let (s, k1) = (self.slots, self.k1);
        let f = |v: &mut Vec<f32>, cols| Tensor::from_data(TensorData::new(std::mem::take(v), [b, cols]), device);
        let i = |v: &mut Vec<i64>, cols| Tensor::from_data(TensorData::new(std::mem::take(v), [b, cols]), device);
        Word2VecBatch {
            context: i(&mut self.context, s),
            weight: f(&mut self.weight, s),
            targets: i(&mut self.targets, k1),
            labels: f(&mut self.labels, k1),
            target_mask: f(&mut self.mask, k1),
        }
    }
}

/// Adds the examples of one (subsampled) sentence to `b`, calling `flush`
/// whenever the batch is full.
pub fn sentence_examples(
    cfg: &Word2VecConfig,
    s: &[u32],
    shrinks: &[usize],
    draws: &mut impl Draws,
    b: &mut BatchBuilder,
    flush: &mut dyn FnMut(&mut BatchBuilder) -> Result<()>,
) -> Result<()> {
    let mut ctx = Vec::with_capacity(2 * cfg.window);
    for i in 0..s.len() {
        let range = window_range(i, s.len(), cfg.window, shrinks[i]);
        match cfg.arch {
            Architecture::SkipGram => {
                for j in range.filter(|&j| j != i) {
                    b.push(&[s[j]], s[i], draws);
                    if b.len() >= cfg.batch {
                        flush(b)?;
                    }
                }
            }
            Architecture::Cbow => {
                ctx.clear();
                ctx.extend(range.filter(|&j| j != i).map(|j| s[j]));
                if !ctx.is_empty() {
                    b.push(&ctx, s[i], draws);
                    if b.len() >= cfg.batch {
                        flush(b)?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Fresh tables on `device`: the CPU engine's initial vectors, uploaded.
pub fn init(vocab: usize, cfg: &Word2VecConfig, device: &Device) -> Word2Vec {
    let t = HogwildTables::new(vocab, cfg.dim, cfg.seed);
    from_host(t.input().to_vec(), t.output().to_vec(), cfg.dim, device)
}

/// Tables from host vectors (e.g. a checkpoint).
pub fn from_host(input: Vec<f32>, output: Vec<f32>, dim: usize, device: &Device) -> Word2Vec {
    let vocab = input.len() / dim;
    Word2Vec::from_tables(
        Tensor::from_data(TensorData::new(input, [vocab, dim]), device),
        Tensor::from_data(TensorData::new(output, [vocab, dim]), device),
    )
}

/// A table read back to the host.
pub fn host(t: Tensor<2>) -> Result<Vec<f32>> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| TrainError::Device(format!("{e:?}")))
}

/// Consumes jobs until the reader is done. Each job's examples form batches
/// of at most `batch`, the last one partial, so batches never straddle jobs
/// and a resumed run repeats them exactly. Returns the mean loss per example
/// over the jobs of this call.
#[allow(clippy::too_many_arguments)]
pub fn train(
    cfg: &Word2VecConfig,
    sampling: &Sampling,
    model: &mut Word2Vec,
    rx: &Mutex<Receiver<Job>>,
    total: u64,
    done: &AtomicU64,
    effective: &AtomicU64,
) -> Result<Option<f64>> {
    let slots = match cfg.arch {
        Architecture::SkipGram => 1,
        Architecture::Cbow => 2 * cfg.window,
    };
    let device = model.input.val().device();
    let mut builder = BatchBuilder::new(slots, cfg.negative);
    let (mut loss_sum, mut examples) = (0f64, 0u64);
    let mut losses: Vec<Tensor<1>> = Vec::new();
    let mut drawn = Drawn::default();
    let rx = rx.lock().expect("job queue");
    while let Ok(job) = rx.recv() {
        let alpha = job.alpha(cfg, total) as f64;
        let mut draws = LcgDraws::new(job.rng(cfg), &sampling.keep, &sampling.noise);
        let mut flush = |b: &mut BatchBuilder| -> Result<()> {
            examples += b.len() as u64;
            losses.push(model.sgd_step(&b.take(&device), alpha));
            Ok(())
        };
        drawn.draw(&job.words, &job.ends, cfg.window, &mut draws);
        effective.fetch_add(drawn.words.len() as u64, Ordering::Relaxed);
        for (sentence, shrinks) in drawn.sentences() {
            sentence_examples(cfg, sentence, shrinks, &mut draws, &mut builder, &mut flush)?;
        }
        if !builder.is_empty() {
            flush(&mut builder)?;
        }
        // Reading the losses back once per job also bounds the work queued on the device.
        for l in losses.drain(..) {
            loss_sum += l.into_scalar::<f32>() as f64;
        }
        if !loss_sum.is_finite() {
            return Err(TrainError::Invalid("word2vec loss became non-finite; lower --alpha".into()));
        }
        done.fetch_add(job.raw, Ordering::Relaxed);
    }
    Ok((examples > 0).then(|| loss_sum / examples as f64))
}
