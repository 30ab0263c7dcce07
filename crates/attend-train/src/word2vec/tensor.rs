//! The tensor engine: the same examples as the CPU engine (same subsampling,
//! windows and noise draws), gathered into batches of `batch` examples, one
//! closed-form SGD step per batch on a Burn device
//! ([`attend_model::word2vec::Word2Vec::sgd_step`]). Updates within a batch
//! are summed, as in other GPU word2vec implementations, so the result is
//! close to but not the same as the CPU engine's one-pair-at-a-time updates.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Mutex;

use attend_model::word2vec::{Word2Vec, Word2VecBatch};
use burn::prelude::*;

use super::native::HogwildTables;
use super::sampling::{subsample, window_range, Lcg};
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
    /// against `negative` noise words drawn from `s`.
    pub fn push(&mut self, context: &[u32], word: u32, s: &Sampling, rng: &mut Lcg) {
        let w = 1.0 / context.len() as f32;
        for k in 0..self.slots {
            self.context.push(context.get(k).map_or(0, |&c| c as i64));
            self.weight.push(if k < context.len() { w } else { 0.0 });
        }
        self.targets.push(word as i64);
        self.labels.push(1.0);
        self.mask.push(1.0);
        for _ in 1..self.k1 {
            let t = s.noise.draw(rng);
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
    sampling: &Sampling,
    rng: &mut Lcg,
    b: &mut BatchBuilder,
    flush: &mut dyn FnMut(&mut BatchBuilder) -> Result<()>,
) -> Result<()> {
    let mut ctx = Vec::with_capacity(2 * cfg.window);
    for i in 0..s.len() {
        let shrink = rng.below(cfg.window as u64) as usize;
        let range = window_range(i, s.len(), cfg.window, shrink);
        match cfg.arch {
            Architecture::SkipGram => {
                for j in range.filter(|&j| j != i) {
                    b.push(&[s[j]], s[i], sampling, rng);
                    if b.len() >= cfg.batch {
                        flush(b)?;
                    }
                }
            }
            Architecture::Cbow => {
                ctx.clear();
                ctx.extend(range.filter(|&j| j != i).map(|j| s[j]));
                if !ctx.is_empty() {
                    b.push(&ctx, s[i], sampling, rng);
                    if b.len() >= cfg.batch {
                        flush(b)?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Consumes jobs until the reader is done; returns the input table and the
/// mean loss per example over the last epoch's worth of batches.
#[allow(clippy::too_many_arguments)]
pub fn train(
    cfg: &Word2VecConfig,
    sampling: &Sampling,
    vocab: usize,
    device: &Device,
    rx: &Mutex<Receiver<Job>>,
    total: u64,
    done: &AtomicU64,
    effective: &AtomicU64,
    stop: &AtomicBool,
) -> Result<(Vec<f32>, Option<f64>)> {
    // The same initial vectors as the CPU engine, uploaded to the device.
    let init = HogwildTables::new(vocab, cfg.dim, cfg.seed).into_input();
    let input = Tensor::from_data(TensorData::new(init, [vocab, cfg.dim]), device);
    let mut model = Word2Vec::from_tables(input, Tensor::zeros([vocab, cfg.dim], device));
    let slots = match cfg.arch {
        Architecture::SkipGram => 1,
        Architecture::Cbow => 2 * cfg.window,
    };
    let mut builder = BatchBuilder::new(slots, cfg.negative);
    let per_epoch = total / cfg.epochs as u64;
    let (mut loss_sum, mut loss_n) = (0f64, 0u64);
    let mut losses: Vec<Tensor<1>> = Vec::new();
    let mut alpha = cfg.alpha as f32;
    let mut sentence = Vec::new();
    let rx = rx.lock().expect("job queue");
    let mut last_epoch = 0;
    let mut flush = |b: &mut BatchBuilder, alpha: f32, losses: &mut Vec<Tensor<1>>| -> Result<()> {
        let n = b.len();
        let batch = b.take(device);
        losses.push(model.sgd_step(&batch, alpha as f64).div_scalar(n as f64));
        Ok(())
    };
    while let Ok(job) = rx.recv() {
        let epoch = job.before / per_epoch.max(1);
        if epoch != last_epoch {
            (loss_sum, loss_n, last_epoch) = (0.0, 0, epoch);
        }
        alpha = job.alpha(cfg, total);
        let mut rng = job.rng(cfg);
        for (k, &end) in job.ends.iter().enumerate() {
            let start = if k == 0 { 0 } else { job.ends[k - 1] };
            sentence.clear();
            sentence.extend_from_slice(&job.words[start..end]);
            subsample(&mut sentence, &sampling.keep, &mut rng);
            effective.fetch_add(sentence.len() as u64, Ordering::Relaxed);
            sentence_examples(cfg, &sentence, sampling, &mut rng, &mut builder, &mut |b| flush(b, alpha, &mut losses))?;
        }
        // Read the losses back now and then, which also bounds the work queued on the device.
        if losses.len() >= 16 {
            for l in losses.drain(..) {
                loss_sum += l.into_scalar::<f32>() as f64;
                loss_n += 1;
            }
            if !(loss_sum.is_finite()) {
                stop.store(true, Ordering::Relaxed);
                return Err(TrainError::Invalid("word2vec loss became non-finite; lower --alpha".into()));
            }
        }
        done.fetch_add(job.raw, Ordering::Relaxed);
    }
    if !builder.is_empty() {
        flush(&mut builder, alpha, &mut losses)?;
    }
    for l in losses.drain(..) {
        loss_sum += l.into_scalar::<f32>() as f64;
        loss_n += 1;
    }
    drop(flush);
    let table = model.input.val().into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| TrainError::Device(format!("{e:?}")))?;
    Ok((table, (loss_n > 0).then(|| loss_sum / loss_n as f64)))
}
