//! The CPU engine: word2vec.c's algorithm in plain Rust, with gensim's update
//! rules. Each worker thread takes a job of sentences, and every (context,
//! word) pair touches only the 1 + k rows it needs (sparse updates), with no
//! locks between threads: Hogwild! (Recht et al., 2011), as in word2vec.c and
//! gensim. Occasional overlapping writes to a frequent word's row are part of
//! the method; with one thread there are none and a seed gives the same
//! vectors every time. Given gensim's random stream, initial vectors and
//! learning rates, this loop reproduces gensim's vectors (`tests/gensim_parity.rs`).

use super::sampling::{window_range, Draws, Drawn, Lcg, SigmoidTable};
use super::{Architecture, Word2VecConfig};

/// Two `[vocab, dim]` tables shared by all worker threads without locks.
pub struct HogwildTables {
    input: Vec<f32>,
    output: Vec<f32>,
    dim: usize,
}

/// A raw view of the tables handed to worker threads.
#[derive(Clone, Copy)]
pub struct Shared {
    input: *mut f32,
    output: *mut f32,
    dim: usize,
}

// SAFETY: the tables outlive every worker (they are joined inside a scope that
// borrows the tables) and concurrent row updates are the intended Hogwild!
// races on plain f32 values; no pointer is ever freed or reallocated meanwhile.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl HogwildTables {
    /// Input vectors uniform in [-1, 1)/dim (gensim 4; word2vec.c uses half that range),
    /// output vectors zero.
    pub fn new(vocab: usize, dim: usize, seed: u64) -> Self {
        let mut rng = Lcg::new(seed, u64::MAX);
        let input = (0..vocab * dim).map(|_| (2.0 * rng.unit() - 1.0) / dim as f32).collect();
        Self { input, output: vec![0.0; vocab * dim], dim }
    }

    /// Tables from a checkpoint.
    pub fn from_parts(input: Vec<f32>, output: Vec<f32>, dim: usize) -> Self {
        Self { input, output, dim }
    }

    /// The input table.
    pub fn input(&self) -> &[f32] {
        &self.input
    }

    /// The output table.
    pub fn output(&self) -> &[f32] {
        &self.output
    }

    /// The lock-free view for the workers.
    pub fn shared(&mut self) -> Shared {
        Shared { input: self.input.as_mut_ptr(), output: self.output.as_mut_ptr(), dim: self.dim }
    }

    /// The input vectors (the word vectors one keeps).
    pub fn into_input(self) -> Vec<f32> {
        self.input
    }
}

impl Shared {
    #[inline]
    #[allow(clippy::mut_from_ref)]
    unsafe fn in_row<'b>(&self, w: u32) -> &'b mut [f32] {
        std::slice::from_raw_parts_mut(self.input.add(w as usize * self.dim), self.dim)
    }
    #[inline]
    #[allow(clippy::mut_from_ref)]
    unsafe fn out_row<'b>(&self, w: u32) -> &'b mut [f32] {
        std::slice::from_raw_parts_mut(self.output.add(w as usize * self.dim), self.dim)
    }
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
    pub tables: Shared,
    neu1: Vec<f32>,
    neu1e: Vec<f32>,
    drawn: Drawn,
}

impl<'a> Worker<'a> {
    pub fn new(cfg: &'a Word2VecConfig, sigmoid: &'a SigmoidTable, tables: Shared) -> Self {
        let d = cfg.dim;
        Self { cfg, sigmoid, tables, neu1: vec![0.0; d], neu1e: vec![0.0; d], drawn: Drawn::default() }
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
            // SAFETY: target < vocab; see `Shared`.
            let out = unsafe { self.tables.out_row(target) };
            let Some(g) = self.sigmoid.gradient(dot(input, out), label) else { continue };
            let g = g * alpha;
            axpy(&mut self.neu1e, g, out);
            axpy(out, g, input);
        }
    }

    #[inline(always)]
    fn skip_gram<D: Draws>(&mut self, s: &[u32], shrinks: &[usize], alpha: f32, draws: &mut D) {
        let window = self.cfg.window;
        for i in 0..s.len() {
            for j in window_range(i, s.len(), window, shrinks[i]) {
                if j == i {
                    continue;
                }
                // The context word's input vector predicts the centre word (word2vec.c, gensim).
                // SAFETY: ids < vocab; see `Shared`.
                let input = unsafe { self.tables.in_row(s[j]) };
                self.negative_sampling(input, s[i], alpha, draws);
                axpy(input, 1.0, &self.neu1e);
            }
        }
    }

    #[inline(always)]
    fn cbow<D: Draws>(&mut self, s: &[u32], shrinks: &[usize], alpha: f32, draws: &mut D) {
        let window = self.cfg.window;
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
                // SAFETY: ids < vocab; see `Shared`.
                axpy(&mut neu1, 1.0, unsafe { self.tables.in_row(s[j]) });
            }
            let inv = 1.0 / count as f32;
            neu1.iter_mut().for_each(|x| *x *= inv); // the mean of the context (gensim's cbow_mean)
            self.negative_sampling(&neu1, s[i], alpha, draws);
            for j in range.filter(|&j| j != i) {
                // SAFETY: as above.
                axpy(unsafe { self.tables.in_row(s[j]) }, 1.0, &self.neu1e);
            }
            self.neu1 = neu1;
        }
    }
}
