//! The sampling half of word2vec, shared by the CPU and the tensor engines:
//! the random generator of Mikolov's C tool, frequent-word subsampling, the
//! noise distribution for negative sampling (unigram counts to the power 0.75),
//! the dynamic window, and the sigmoid table. Every random choice goes through
//! [`Draws`], in gensim's order (see [`Drawn`]), so that a test can replay
//! gensim's own random stream through attend's training loop and get gensim's
//! vectors (`tests/gensim_parity.rs`).

/// word2vec.c's linear congruential generator: cheap, and deterministic for a seed.
#[derive(Debug, Clone)]
pub struct Lcg(u64);

impl Lcg {
    /// A generator for one job: the seed mixed with the job's number.
    pub fn new(seed: u64, stream: u64) -> Self {
        // splitmix64 of (seed, stream) so neighbouring jobs get unrelated sequences
        let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Self(z ^ (z >> 31))
    }
    /// Next raw value.
    #[inline]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(25_214_903_917).wrapping_add(11);
        self.0
    }
    /// Next value passed through splitmix64's finaliser, so that all 64 bits
    /// are usable and no two fields of it are correlated (an LCG's low bits
    /// and consecutive outputs are).
    #[inline]
    pub fn mixed(&mut self) -> u64 {
        let mut z = self.next();
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`, from the top 32 bits (an LCG's best).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next() >> 32) * n) >> 32
    }
    /// Uniform in `[0, 1)`, from the top 24 bits.
    #[inline]
    pub fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / 16_777_216.0
    }
}

/// The random choices of training, one job at a time.
pub trait Draws {
    /// Whether frequent-word subsampling keeps this occurrence of `word`.
    fn keep(&mut self, word: u32) -> bool;
    /// How much the window around one word shrinks, uniform in `0..window`.
    fn shrink(&mut self, window: usize) -> usize;
    /// A noise word for negative sampling.
    fn noise(&mut self) -> u32;
}

/// attend's draws: a job's [`Lcg`] with the keep probabilities and the alias
/// table of the noise words.
pub struct LcgDraws<'a> {
    rng: Lcg,
    keep: &'a [f32],
    noise: &'a NoiseTable,
}

impl<'a> LcgDraws<'a> {
    /// Draws from `rng` for words kept with probabilities `keep` and noise from `noise`.
    pub fn new(rng: Lcg, keep: &'a [f32], noise: &'a NoiseTable) -> Self {
        Self { rng, keep, noise }
    }
}

impl Draws for LcgDraws<'_> {
    #[inline]
    fn keep(&mut self, word: u32) -> bool {
        let p = self.keep[word as usize];
        p >= 1.0 || p >= self.rng.unit()
    }
    #[inline]
    fn shrink(&mut self, window: usize) -> usize {
        self.rng.below(window as u64) as usize
    }
    #[inline]
    fn noise(&mut self) -> u32 {
        self.noise.draw(&mut self.rng)
    }
}

/// One job's sentences after subsampling, with every kept word's window
/// shrink. Drawn in gensim's order: first the subsampling coins of the whole
/// job, then one shrink per kept word, and only then, during training, the
/// noise words.
#[derive(Debug, Clone, Default)]
pub struct Drawn {
    /// Kept word ids of every sentence, concatenated.
    pub words: Vec<u32>,
    /// End offset of each sentence in `words`.
    pub ends: Vec<usize>,
    /// Window shrink of each kept word.
    pub shrinks: Vec<usize>,
}

impl Drawn {
    /// Subsamples the sentences `words` (split at `ends`) and draws the shrinks.
    pub fn draw(&mut self, words: &[u32], ends: &[usize], window: usize, draws: &mut impl Draws) {
        self.words.clear();
        self.ends.clear();
        self.shrinks.clear();
        let mut start = 0;
        for &end in ends {
            for &w in &words[start..end] {
                if draws.keep(w) {
                    self.words.push(w);
                }
            }
            self.ends.push(self.words.len());
            start = end;
        }
        self.shrinks.extend((0..self.words.len()).map(|_| draws.shrink(window)));
    }

    /// The kept sentences with their shrinks (empty sentences skipped).
    pub fn sentences(&self) -> impl Iterator<Item = (&[u32], &[usize])> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(self.ends.iter().copied()).filter(|(a, b)| b > a).map(|(a, b)| (&self.words[a..b], &self.shrinks[a..b]))
    }
}

/// Keep-probabilities of every word under frequent-word subsampling with
/// threshold `sample` (word2vec.c and gensim's formula:
/// p = (√(c / (s·N)) + 1) · s·N / c, capped at 1; `sample` 0 keeps all).
pub fn keep_probabilities(counts: &[u64], sample: f64) -> Vec<f32> {
    let total: u64 = counts.iter().sum();
    let threshold = sample * total as f64;
    counts
        .iter()
        .map(|&c| {
            if sample <= 0.0 {
                1.0
            } else {
                let c = c as f64;
                (((c / threshold).sqrt() + 1.0) * threshold / c).min(1.0) as f32
            }
        })
        .collect()
}

/// The noise distribution, count(w)^power normalised, as Walker's alias
/// table (Vose's construction): one uniform slot and one coin per draw, and
/// two vocabulary-sized arrays that stay in cache, where word2vec.c's
/// 1e8-slot table misses it on nearly every draw.
#[derive(Debug, Clone)]
pub struct NoiseTable {
    prob: Vec<f32>,
    alias: Vec<u32>,
}

impl NoiseTable {
    /// Builds the table for `counts` raised to `power` (0.75 in the paper).
    pub fn new(counts: &[u64], power: f64) -> Self {
        let n = counts.len();
        let weights: Vec<f64> = counts.iter().map(|&c| (c as f64).powf(power)).collect();
        let sum: f64 = weights.iter().sum();
        let mut scaled: Vec<f64> = weights.iter().map(|w| w / sum * n as f64).collect();
        let mut prob = vec![1f32; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            prob[s] = scaled[s] as f32;
            alias[s] = l as u32;
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        Self { prob, alias }
    }

    /// Draws a noise word.
    #[inline]
    pub fn draw(&self, rng: &mut Lcg) -> u32 {
        let r = rng.mixed();
        let slot = ((r >> 32) * self.prob.len() as u64) >> 32;
        let coin = (r & 0xFF_FFFF) as f32 / 16_777_216.0;
        let slot = slot as usize;
        if coin < self.prob[slot] {
            slot as u32
        } else {
            self.alias[slot]
        }
    }
}

/// Largest |score| the sigmoid table covers; a pair scored beyond it is
/// skipped (no update), as gensim does (word2vec.c clips the gradient instead).
pub const MAX_EXP: f32 = 6.0;
const EXP_TABLE_SIZE: usize = 1000;
/// Table slots per unit of score: word2vec.c's and gensim's integer
/// `EXP_TABLE_SIZE / MAX_EXP / 2` = 83 (not 83.3), kept so that scores map to
/// the same slots as theirs.
const SLOTS_PER_UNIT: f32 = (EXP_TABLE_SIZE / MAX_EXP as usize / 2) as f32;

/// σ(x) tabulated on [-MAX_EXP, MAX_EXP] (word2vec.c's `expTable`).
#[derive(Debug, Clone)]
pub struct SigmoidTable(Vec<f32>);

impl Default for SigmoidTable {
    fn default() -> Self {
        Self(
            (0..EXP_TABLE_SIZE)
                .map(|i| {
                    // as gensim computes it: the argument in f32, exp in f64, the ratio in f32
                    let e = f64::from((i as f32 / EXP_TABLE_SIZE as f32 * 2.0 - 1.0) * MAX_EXP).exp() as f32;
                    e / (e + 1.0)
                })
                .collect(),
        )
    }
}

impl SigmoidTable {
    /// Gradient factor (label − σ(f)), or `None` for a score at or beyond
    /// ±[`MAX_EXP`], which gensim skips.
    #[inline]
    pub fn gradient(&self, f: f32, label: f32) -> Option<f32> {
        if f <= -MAX_EXP || f >= MAX_EXP || f.is_nan() {
            return None;
        }
        let i = ((f + MAX_EXP) * SLOTS_PER_UNIT) as usize;
        Some(label - self.0[i.min(EXP_TABLE_SIZE - 1)])
    }
}

/// The context positions of position `i` in a sentence of `len` words under a
/// window of `window` shrunk by a random `shrink` in `0..window` (so that near
/// words are seen more often, as in word2vec.c).
#[inline]
pub fn window_range(i: usize, len: usize, window: usize, shrink: usize) -> std::ops::Range<usize> {
    let reach = window - shrink;
    i.saturating_sub(reach)..(i + reach + 1).min(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_follows_the_three_quarter_power() {
        let counts = [1000u64, 100, 10, 1];
        let t = NoiseTable::new(&counts, 0.75);
        let mut rng = Lcg::new(1, 0);
        let mut hits = [0usize; 4];
        for _ in 0..200_000 {
            hits[t.draw(&mut rng) as usize] += 1;
        }
        let w: Vec<f64> = counts.iter().map(|&c| (c as f64).powf(0.75)).collect();
        let sum: f64 = w.iter().sum();
        for k in 0..4 {
            let expected = w[k] / sum;
            let got = hits[k] as f64 / 200_000.0;
            assert!((got - expected).abs() < 0.005, "word {k}: {got} vs {expected}");
        }
    }

    #[test]
    fn subsampling_keeps_rare_words_and_thins_frequent_ones() {
        let counts = [1_000_000u64, 10];
        let keep = keep_probabilities(&counts, 1e-3);
        assert_eq!(keep[1], 1.0);
        let t: f64 = 1e-3 * 1_000_010.0;
        let expected = ((1e6 / t).sqrt() + 1.0) * t / 1e6;
        assert!((keep[0] as f64 - expected).abs() < 1e-6);
        assert_eq!(keep_probabilities(&counts, 0.0), vec![1.0, 1.0]);
    }

    #[test]
    fn sigmoid_table_matches_the_function_and_clips() {
        let s = SigmoidTable::default();
        for f in [-5.9f32, -1.0, 0.0, 0.5, 3.0, 5.9] {
            let exact = 1.0 / (1.0 + (-f).exp());
            assert!((s.gradient(f, 1.0).unwrap() - (1.0 - exact)).abs() < 0.02, "{f}");
        }
        assert_eq!(s.gradient(6.0, 1.0), None);
        assert_eq!(s.gradient(-7.0, 0.0), None);
    }

    #[test]
    fn window_stays_inside_the_sentence() {
        assert_eq!(window_range(0, 10, 5, 0), 0..6);
        assert_eq!(window_range(9, 10, 5, 3), 7..10);
        assert_eq!(window_range(4, 10, 5, 4), 3..6);
    }
}
