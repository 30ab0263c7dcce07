//! The CPU engine: word2vec.c's algorithm in plain Rust, with gensim's update
//! rules. Each worker thread takes a job of sentences, and every (context,
//! word) pair touches only the 1 + k rows it needs (sparse updates), with no
//! locks between threads: Hogwild! (Recht et al., 2011), as in word2vec.c and
//! gensim. Occasional overlapping writes to a frequent word's row are part of
//! the method; with one thread there are none and a seed gives the same
//! vectors every time. The rows are relaxed atomics (see [`HogwildTables`]),
//! so the races are defined behaviour in Rust, not undefined. Given gensim's
//! random stream, initial vectors and learning rates, this loop reproduces
//! gensim's vectors (`tests/gensim_parity.rs`).

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use super::sampling::{window_range, Draws, Drawn, Lcg, SigmoidTable};
use super::{Architecture, Word2VecConfig};

/// Two `[vocab, dim]` tables shared by all worker threads without locks.
///
/// Every value is an `AtomicU32` holding an f32's bits, read and written with
/// relaxed atomic loads and stores: Hogwild!'s races are intended, and in
/// the Rust memory model racing relaxed atomics are defined behaviour, where
/// racing plain `f32` writes would be undefined. A worker copies each row it
/// needs into a local buffer, computes there (vectorised), and writes the row
/// back; on x86-64 a relaxed load or store is an ordinary `mov`.
pub struct HogwildTables {
    input: Vec<AtomicU32>,
    output: Vec<AtomicU32>,
    dim: usize,
}

/// The view of the tables handed to worker threads.
#[derive(Clone, Copy)]
pub struct Shared<'a> {
    input: &'a [AtomicU32],
    output: &'a [AtomicU32],
    dim: usize,
}

fn atomics(values: Vec<f32>) -> Vec<AtomicU32> {
    values.into_iter().map(|v| AtomicU32::new(v.to_bits())).collect()
}

fn floats(values: &[AtomicU32]) -> Vec<f32> {
    values.iter().map(|v| f32::from_bits(v.load(Relaxed))).collect()
}

impl HogwildTables {
    /// Input vectors uniform in [-1, 1)/dim (gensim 4; word2vec.c uses half that range),
    /// output vectors zero.
    pub fn new(vocab: usize, dim: usize, seed: u64) -> Self {
        let mut rng = Lcg::new(seed, u64::MAX);
        let input = (0..vocab * dim).map(|_| (2.0 * rng.unit() - 1.0) / dim as f32).collect();
        Self::from_parts(input, vec![0.0; vocab * dim], dim)
    }

    /// Tables from a checkpoint.
    pub fn from_parts(input: Vec<f32>, output: Vec<f32>, dim: usize) -> Self {
        Self { input: atomics(input), output: atomics(output), dim }
    }

    /// A copy of the input table.
    pub fn input(&self) -> Vec<f32> {
        floats(&self.input)
    }

    /// A copy of the output table.
    pub fn output(&self) -> Vec<f32> {
        floats(&self.output)
    }

    /// The view for the workers.
    pub fn shared(&self) -> Shared<'_> {
        Shared { input: &self.input, output: &self.output, dim: self.dim }
    }

    /// The input vectors (the word vectors one keeps).
    pub fn into_input(self) -> Vec<f32> {
        floats(&self.input)
    }
}

impl<'a> Shared<'a> {
    #[inline(always)]
    fn in_row(&self, w: u32) -> &'a [AtomicU32] {
        let at = w as usize * self.dim;
        &self.input[at..at + self.dim]
    }
    #[inline(always)]
    fn out_row(&self, w: u32) -> &'a [AtomicU32] {
        let at = w as usize * self.dim;
        &self.output[at..at + self.dim]
    }
}

/// Copies a shared row into `local`.
#[inline(always)]
fn load(row: &[AtomicU32], local: &mut [f32]) {
    for (l, a) in local.iter_mut().zip(row) {
        *l = f32::from_bits(a.load(Relaxed));
    }
}

/// Writes `local` back into a shared row.
#[inline(always)]
fn store(row: &[AtomicU32], local: &[f32]) {
    for (a, l) in row.iter().zip(local) {
        a.store(l.to_bits(), Relaxed);
    }
}

/// `row += local`, read and written atomically value by value (a context
/// word's update).
#[inline(always)]
fn add_into(row: &[AtomicU32], local: &[f32], scratch: &mut [f32]) {
    load(row, scratch);
    axpy(scratch, 1.0, local);
    store(row, scratch);
}

/// Dot product with sixteen independent accumulators so that the compiler
/// vectorises it (a single running sum would force strict ordering).
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ac, bc) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ac.remainder().iter().zip(bc.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ac.zip(bc) {
        for k in 0..16 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// y += a·x
#[inline(always)]
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// Per-thread scratch space and the read-only sigmoid table.
pub struct Worker<'a> {
    pub cfg: &'a Word2VecConfig,
    pub sigmoid: &'a SigmoidTable,
    pub tables: Shared<'a>,
    neu1: Vec<f32>,
    neu1e: Vec<f32>,
    /// Local copies of the rows being worked on.
    l1: Vec<f32>,
    out: Vec<f32>,
    drawn: Drawn,
}

impl<'a> Worker<'a> {
    pub fn new(cfg: &'a Word2VecConfig, sigmoid: &'a SigmoidTable, tables: Shared<'a>) -> Self {
        let d = cfg.dim;
        let zeros = || vec![0.0; d];
        Self { cfg, sigmoid, tables, neu1: zeros(), neu1e: zeros(), l1: zeros(), out: zeros(), drawn: Drawn::default() }
    }

    /// Trains on one job's sentences (`words` split at `ends`) with learning
    /// rate `alpha`, every random choice taken from `draws`; returns the words
    /// left after subsampling. On x86-64 CPUs with AVX2 and FMA (checked at
    /// run time) the loops are compiled for them; elsewhere for the baseline
    /// instruction set.
    pub fn train_job<D: Draws>(&mut self, words: &[u32], ends: &[usize], alpha: f32, draws: &mut D) -> u64 {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function is compiled for.
            return unsafe { self.train_job_avx2(words, ends, alpha, draws) };
        }
        self.train_job_any(words, ends, alpha, draws)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn train_job_avx2<D: Draws>(&mut self, words: &[u32], ends: &[usize], alpha: f32, draws: &mut D) -> u64 {
        self.train_job_any(words, ends, alpha, draws)
    }

    #[inline(always)]
    fn train_job_any<D: Draws>(&mut self, words: &[u32], ends: &[usize], alpha: f32, draws: &mut D) -> u64 {
        let mut drawn = std::mem::take(&mut self.drawn);
        drawn.draw(words, ends, self.cfg.window, draws);
        for (sentence, shrinks) in drawn.sentences() {
            match self.cfg.arch {
                Architecture::SkipGram => self.skip_gram(sentence, shrinks, alpha, draws),
                Architecture::Cbow => self.cbow(sentence, shrinks, alpha, draws),
            }
        }
        let effective = drawn.words.len() as u64;
        self.drawn = drawn;
        effective
    }

    /// Pushes `input` (a vector) towards `word`'s output vector and away
    /// from `negative` noise words' (negative sampling); accumulates the
    /// input's gradient in `neu1e`. A noise word equal to `word` is skipped,
    /// and so is a pair scored beyond the sigmoid table (gensim).
    #[inline(always)]
    fn negative_sampling<D: Draws>(&mut self, input: &[f32], word: u32, alpha: f32, draws: &mut D) {
        self.neu1e.iter_mut().for_each(|x| *x = 0.0);
        let mut out = std::mem::take(&mut self.out);
        for d in 0..=self.cfg.negative {
            let (target, label) = if d == 0 {
                (word, 1.0)
            } else {
                let t = draws.noise();
                if t == word {
                    continue;
                }
                (t, 0.0)
            };
            let row = self.tables.out_row(target);
            load(row, &mut out);
            let Some(g) = self.sigmoid.gradient(dot(input, &out), label) else { continue };
            let g = g * alpha;
            axpy(&mut self.neu1e, g, &out);
            axpy(&mut out, g, input);
            store(row, &out);
        }
        self.out = out;
    }

    #[inline(always)]
    fn skip_gram<D: Draws>(&mut self, s: &[u32], shrinks: &[usize], alpha: f32, draws: &mut D) {
        let window = self.cfg.window;
        let mut l1 = std::mem::take(&mut self.l1);
        for i in 0..s.len() {
            for j in window_range(i, s.len(), window, shrinks[i]) {
                if j == i {
                    continue;
                }
                // The context word's input vector predicts the centre word (word2vec.c, gensim).
                let row = self.tables.in_row(s[j]);
                load(row, &mut l1);
                self.negative_sampling(&l1, s[i], alpha, draws);
                axpy(&mut l1, 1.0, &self.neu1e);
                store(row, &l1);
            }
        }
        self.l1 = l1;
    }

    #[inline(always)]
    fn cbow<D: Draws>(&mut self, s: &[u32], shrinks: &[usize], alpha: f32, draws: &mut D) {
        let window = self.cfg.window;
        let mut l1 = std::mem::take(&mut self.l1);
        for i in 0..s.len() {
            let range = window_range(i, s.len(), window, shrinks[i]);
            let count = range.len() - 1;
            if count == 0 {
                // A one-word sentence: nothing to learn, but gensim still draws
                // its noise words, so draw them to stay in step with its stream.
                (0..self.cfg.negative).for_each(|_| _ = draws.noise());
                continue;
            }
            let mut neu1 = std::mem::take(&mut self.neu1);
            neu1.iter_mut().for_each(|x| *x = 0.0);
            for j in range.clone().filter(|&j| j != i) {
                load(self.tables.in_row(s[j]), &mut l1);
                axpy(&mut neu1, 1.0, &l1);
            }
            let inv = 1.0 / count as f32;
            neu1.iter_mut().for_each(|x| *x *= inv); // the mean of the context (gensim's cbow_mean)
            self.negative_sampling(&neu1, s[i], alpha, draws);
            for j in range.filter(|&j| j != i) {
                add_into(self.tables.in_row(s[j]), &self.neu1e, &mut l1);
            }
            self.neu1 = neu1;
        }
        self.l1 = l1;
    }
}
