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
/// Every value is an `AtomicU32` holding an f32's bits, read and written only
/// by relaxed atomic loads and stores: Hogwild!'s races are intended, and in
/// the Rust memory model racing relaxed atomics are defined behaviour, where
/// racing plain `f32` writes would be undefined. A worker copies each row it
/// needs into a local buffer, computes there (vectorised), and writes the row
/// back (see [`load`] and [`store`] for how that stays fast).
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

/// Copies a shared row into `local` (of the same length), one relaxed atomic
/// load per value. With `AVX` (only instantiated where the CPU has AVX2),
/// eight at a time by one vector load ([`simd::copy8`]).
#[inline(always)]
fn load<const AVX: bool>(row: &[AtomicU32], local: &mut [f32]) {
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if AVX {
        while done + 8 <= local.len().min(row.len()) {
            // SAFETY: `AVX` is true only where the CPU has AVX2 (see `train_job`); eight
            // values are in bounds of both; `row` holds atomics and `local` is exclusively ours.
            unsafe { simd::copy8(row[done..].as_ptr().cast(), local[done..].as_mut_ptr()) };
            done += 8;
        }
    }
    for (l, a) in local[done..].iter_mut().zip(&row[done..]) {
        *l = f32::from_bits(a.load(Relaxed));
    }
}

/// Writes `local` back into a shared row, one relaxed atomic store per value
/// (with `AVX`, eight at a time by one vector store).
#[inline(always)]
fn store<const AVX: bool>(row: &[AtomicU32], local: &[f32]) {
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if AVX {
        while done + 8 <= local.len().min(row.len()) {
            // SAFETY: as in `load`, the other way round.
            unsafe { simd::copy8(local[done..].as_ptr(), row[done..].as_ptr() as *mut f32) };
            done += 8;
        }
    }
    for (a, l) in row[done..].iter().zip(&local[done..]) {
        a.store(l.to_bits(), Relaxed);
    }
}

/// `row += local`, read and written atomically value by value (a context
/// word's update).
#[inline(always)]
fn add_into<const AVX: bool>(row: &[AtomicU32], local: &[f32], scratch: &mut [f32]) {
    load::<AVX>(row, scratch);
    axpy(scratch, 1.0, local);
    store::<AVX>(row, scratch);
}

/// Eight values at a time between the shared tables and local buffers, and
/// the negative-sampling arithmetic on a shared row read eight values at a
/// time, with the same operations in the same order as [`dot`] and
/// [`axpy`] (so the results are the same to the bit).
#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::asm;
    use std::arch::x86_64::*;
    use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

    /// Eight values of a shared row: one vector load (see [`copy8`] for why
    /// it is eight relaxed atomic loads).
    ///
    /// # Safety
    /// `p` is valid for eight 4-byte-aligned f32 values; the CPU has AVX.
    #[target_feature(enable = "avx")]
    #[inline]
    unsafe fn load8(p: *const AtomicU32) -> __m256 {
        let v: __m256;
        // SAFETY: the caller's contract.
        unsafe {
            asm!("vmovups {v}, ymmword ptr [{p}]", p = in(reg) p, v = out(ymm_reg) v, options(pure, readonly, nostack, preserves_flags));
        }
        v
    }

    /// Eight values into a shared row: one vector store (eight relaxed atomic stores).
    ///
    /// # Safety
    /// As [`load8`].
    #[target_feature(enable = "avx")]
    #[inline]
    unsafe fn store8(p: *const AtomicU32, v: __m256) {
        // SAFETY: the caller's contract.
        unsafe {
            asm!("vmovups ymmword ptr [{p}], {v}", p = in(reg) p, v = in(ymm_reg) v, options(nostack, preserves_flags));
        }
    }

    /// `super::dot(input, row)`, reading the shared row directly.
    ///
    /// # Safety
    /// The CPU has AVX; `row` is at least as long as `input`.
    #[target_feature(enable = "avx")]
    #[inline]
    pub unsafe fn dot(input: &[f32], row: &[AtomicU32]) -> f32 {
        let n = input.len();
        let whole = n / 16 * 16;
        let tail: f32 = input[whole..].iter().zip(&row[whole..n]).map(|(x, y)| x * f32::from_bits(y.load(Relaxed))).sum();
        let (mut a0, mut a1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        for c in (0..whole).step_by(16) {
            // SAFETY: c + 16 <= whole <= both lengths.
            unsafe {
                let (x0, x1) = (_mm256_loadu_ps(input.as_ptr().add(c)), _mm256_loadu_ps(input.as_ptr().add(c + 8)));
                let (y0, y1) = (load8(row.as_ptr().add(c)), load8(row.as_ptr().add(c + 8)));
                a0 = _mm256_add_ps(a0, _mm256_mul_ps(x0, y0));
                a1 = _mm256_add_ps(a1, _mm256_mul_ps(x1, y1));
            }
        }
        let mut acc = [0f32; 16];
        // SAFETY: `acc` holds sixteen values.
        unsafe {
            _mm256_storeu_ps(acc.as_mut_ptr(), a0);
            _mm256_storeu_ps(acc.as_mut_ptr().add(8), a1);
        }
        acc.iter().sum::<f32>() + tail
    }

    /// `neu1e += g·row; row += g·input`, reading and writing the shared row directly.
    ///
    /// # Safety
    /// The CPU has AVX; `row` and `neu1e` are at least as long as `input`.
    #[target_feature(enable = "avx")]
    #[inline]
    pub unsafe fn update(row: &[AtomicU32], g: f32, input: &[f32], neu1e: &mut [f32]) {
        let n = input.len();
        let whole = n / 8 * 8;
        let gv = _mm256_set1_ps(g);
        for c in (0..whole).step_by(8) {
            // SAFETY: c + 8 <= whole <= all three lengths.
            unsafe {
                let r = load8(row.as_ptr().add(c));
                let e = _mm256_loadu_ps(neu1e.as_ptr().add(c));
                _mm256_storeu_ps(neu1e.as_mut_ptr().add(c), _mm256_add_ps(e, _mm256_mul_ps(gv, r)));
                let x = _mm256_loadu_ps(input.as_ptr().add(c));
                store8(row.as_ptr().add(c), _mm256_add_ps(r, _mm256_mul_ps(gv, x)));
            }
        }
        for k in whole..n {
            let r = f32::from_bits(row[k].load(Relaxed));
            neu1e[k] += g * r;
            row[k].store((r + g * input[k]).to_bits(), Relaxed);
        }
    }

    /// Copies eight f32 values from `src` to `dst` with one 32-byte vector
    /// load and one vector store, written as inline assembly.
    ///
    /// Why this is a set of relaxed atomic operations, as the tables require:
    /// x86-64 performs every naturally aligned 4-byte element access of a
    /// vector load or store indivisibly (each value is read or written whole,
    /// never torn), and does not reorder it against other accesses to the same
    /// location in a way relaxed atomics forbid. An `asm!` block is, to the
    /// Rust abstract machine, an unknown function that may do exactly what the
    /// hardware does, so this block is eight relaxed `AtomicU32` loads from one
    /// side and eight relaxed stores to the other — the operations the
    /// scalar path spells out — and never a data race (the same reasoning
    /// crates such as `atomic-maybe-uninit` use to implement atomics in asm).
    ///
    /// # Safety
    /// Both pointers are valid for eight f32 values and 4-byte aligned; the
    /// CPU has AVX; the shared side is only ever accessed atomically (or by
    /// this function), the other side is not accessed by anyone else meanwhile.
    #[target_feature(enable = "avx")]
    #[inline]
    pub unsafe fn copy8(src: *const f32, dst: *mut f32) {
        // SAFETY: the caller's contract.
        unsafe {
            asm!(
                "vmovups {v}, ymmword ptr [{src}]",
                "vmovups ymmword ptr [{dst}], {v}",
                src = in(reg) src,
                dst = in(reg) dst,
                v = out(ymm_reg) _,
                options(nostack, preserves_flags),
            );
        }
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
        self.train_job_any::<false, D>(words, ends, alpha, draws)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn train_job_avx2<D: Draws>(&mut self, words: &[u32], ends: &[usize], alpha: f32, draws: &mut D) -> u64 {
        self.train_job_any::<true, D>(words, ends, alpha, draws)
    }

    #[inline(always)]
    fn train_job_any<const AVX: bool, D: Draws>(&mut self, words: &[u32], ends: &[usize], alpha: f32, draws: &mut D) -> u64 {
        let mut drawn = std::mem::take(&mut self.drawn);
        drawn.draw(words, ends, self.cfg.window, draws);
        for (sentence, shrinks) in drawn.sentences() {
            match self.cfg.arch {
                Architecture::SkipGram => self.skip_gram::<AVX, D>(sentence, shrinks, alpha, draws),
                Architecture::Cbow => self.cbow::<AVX, D>(sentence, shrinks, alpha, draws),
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
    fn negative_sampling<const AVX: bool, D: Draws>(&mut self, input: &[f32], word: u32, alpha: f32, draws: &mut D) {
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
            #[cfg(target_arch = "x86_64")]
            if AVX {
                // SAFETY: `AVX` is true only where the CPU has AVX2 (see `train_job`);
                // the row holds atomics, `input` and `neu1e` are this worker's.
                let Some(g) = self.sigmoid.gradient(unsafe { simd::dot(input, row) }, label) else { continue };
                unsafe { simd::update(row, g * alpha, input, &mut self.neu1e) };
                continue;
            }
            load::<AVX>(row, &mut out);
            let Some(g) = self.sigmoid.gradient(dot(input, &out), label) else { continue };
            let g = g * alpha;
            axpy(&mut self.neu1e, g, &out);
            axpy(&mut out, g, input);
            store::<AVX>(row, &out);
        }
        self.out = out;
    }

    #[inline(always)]
    fn skip_gram<const AVX: bool, D: Draws>(&mut self, s: &[u32], shrinks: &[usize], alpha: f32, draws: &mut D) {
        let window = self.cfg.window;
        let mut l1 = std::mem::take(&mut self.l1);
        for i in 0..s.len() {
            for j in window_range(i, s.len(), window, shrinks[i]) {
                if j == i {
                    continue;
                }
                // The context word's input vector predicts the centre word (word2vec.c, gensim).
                let row = self.tables.in_row(s[j]);
                load::<AVX>(row, &mut l1);
                self.negative_sampling::<AVX, D>(&l1, s[i], alpha, draws);
                axpy(&mut l1, 1.0, &self.neu1e);
                store::<AVX>(row, &l1);
            }
        }
        self.l1 = l1;
    }

    #[inline(always)]
    fn cbow<const AVX: bool, D: Draws>(&mut self, s: &[u32], shrinks: &[usize], alpha: f32, draws: &mut D) {
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
                load::<AVX>(self.tables.in_row(s[j]), &mut l1);
                axpy(&mut neu1, 1.0, &l1);
            }
            let inv = 1.0 / count as f32;
            neu1.iter_mut().for_each(|x| *x *= inv); // the mean of the context (gensim's cbow_mean)
            self.negative_sampling::<AVX, D>(&neu1, s[i], alpha, draws);
            for j in range.filter(|&j| j != i) {
                add_into::<AVX>(self.tables.in_row(s[j]), &self.neu1e, &mut l1);
            }
            self.neu1 = neu1;
        }
        self.l1 = l1;
    }
}
