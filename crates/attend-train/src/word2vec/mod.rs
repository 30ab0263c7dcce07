//! Training word2vec (Mikolov et al., 2013): skip-gram or CBOW with negative
//! sampling, frequent-word subsampling, a dynamic window and a learning rate
//! that decays linearly over all epochs, streamed from text files.
//!
//! One reader thread streams the corpus (see `attend_data::word_corpus`) into
//! jobs of about `job_words` words; each job carries its position in the run,
//! so its learning rate and its random numbers depend only on the seed and the
//! job, never on thread timing. Two engines consume the jobs:
//! - [`Engine::Cpu`]: word2vec.c's sparse updates in plain Rust, `threads`
//!   workers, lock-free (see [`native`]);
//! - [`Engine::Tensor`]: batches of examples as Burn tensors on any device,
//!   one closed-form SGD step per batch (see `attend_model::word2vec`).

pub mod eval;
pub mod init;
pub mod native;
pub mod sampling;
pub mod tensor;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use attend_data::{SentenceReader, WordCounts, WordVectors};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::error::{self as err, TrainError};
use sampling::{keep_probabilities, Lcg, NoiseTable, SigmoidTable};

/// Which word predicts which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// Each context word predicts the centre word.
    SkipGram,
    /// The mean of the context predicts the centre word.
    Cbow,
}

impl std::str::FromStr for Architecture {
    type Err = TrainError;
    fn from_str(s: &str) -> err::Result<Self> {
        match s {
            "skipgram" | "skip-gram" | "sg" => Ok(Self::SkipGram),
            "cbow" => Ok(Self::Cbow),
            _ => Err(TrainError::Config(format!("unknown word2vec architecture `{s}` (skipgram or cbow)"))),
        }
    }
}

/// Settings of a word2vec run; the defaults are gensim's.
#[derive(Config, Debug)]
pub struct Word2VecConfig {
    /// Skip-gram or CBOW.
    #[config(default = "Architecture::SkipGram")]
    pub arch: Architecture,
    /// Width of the word vectors.
    #[config(default = 100)]
    pub dim: usize,
    /// Largest distance between a word and its context (shrunk at random per word).
    #[config(default = 5)]
    pub window: usize,
    /// Noise words per true word.
    #[config(default = 5)]
    pub negative: usize,
    /// Exponent of the unigram counts in the noise distribution.
    #[config(default = 0.75)]
    pub ns_exponent: f64,
    /// Words seen fewer times are dropped from the vocabulary.
    #[config(default = 5)]
    pub min_count: u64,
    /// Subsampling threshold for frequent words (0 turns it off).
    #[config(default = 1e-3)]
    pub sample: f64,
    /// Learning rate at the start.
    #[config(default = 0.025)]
    pub alpha: f64,
    /// Learning rate at the end (linear decay over all epochs).
    #[config(default = 0.0001)]
    pub min_alpha: f64,
    /// Passes over the corpus.
    #[config(default = 5)]
    pub epochs: usize,
    /// Worker threads of the CPU engine.
    #[config(default = 2)]
    pub threads: usize,
    /// Seed of every random choice.
    #[config(default = 1)]
    pub seed: u64,
    /// Words per job handed to a worker.
    #[config(default = 10_000)]
    pub job_words: usize,
    /// Examples per tensor step of the tensor engine.
    #[config(default = 8192)]
    pub batch: usize,
}

impl Word2VecConfig {
    /// Checks the settings.
    pub fn validate(&self) -> err::Result<()> {
        let bad = |m: &str| Err(TrainError::Config(m.into()));
        if self.dim == 0 || self.window == 0 || self.epochs == 0 || self.threads == 0 || self.batch == 0 {
            return bad("--dim, --window, --epochs, --threads and --batch must be at least 1");
        }
        if self.job_words == 0 {
            return bad("job_words must be at least 1");
        }
        if !(self.alpha > 0.0 && self.min_alpha >= 0.0 && self.min_alpha <= self.alpha) {
            return bad("need 0 <= --min-alpha <= --alpha and --alpha > 0");
        }
        if !(self.sample >= 0.0) || !self.ns_exponent.is_finite() {
            return bad("--sample must be >= 0");
        }
        Ok(())
    }
}

/// Where training runs.
#[derive(Debug, Clone)]
pub enum Engine {
    /// word2vec.c's sparse lock-free updates on CPU threads.
    Cpu,
    /// Batched tensor steps on a Burn device (wgpu, ndarray, …).
    Tensor(Device),
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Word2VecStats {
    /// Tokens in the corpus (one epoch), before min-count and subsampling.
    pub corpus_words: u64,
    /// Sentences (paragraphs) in the corpus.
    pub sentences: u64,
    /// Words in the vocabulary.
    pub vocab: usize,
    /// Seconds spent counting the vocabulary.
    pub vocab_s: f64,
    /// Seconds spent training.
    pub train_s: f64,
    /// corpus_words × epochs.
    pub raw_words: u64,
    /// Words trained on after min-count and subsampling.
    pub effective_words: u64,
    /// Mean negative-sampling loss per example of the last epoch (tensor engine only).
    pub last_loss: Option<f64>,
}

impl Word2VecStats {
    /// Raw words per second (word2vec.c's and gensim's definition).
    pub fn words_per_s(&self) -> f64 {
        self.raw_words as f64 / self.train_s.max(1e-9)
    }
}

/// The trained vectors and their counts.
pub struct Trained {
    /// Word vectors, most frequent word first.
    pub vectors: WordVectors,
    /// The vocabulary with counts.
    pub counts: WordCounts,
    /// Measurements.
    pub stats: Word2VecStats,
}

/// A slice of the corpus for one worker: sentences of word ids.
pub struct Job {
    /// Word ids of every sentence, concatenated (out-of-vocabulary words dropped).
    pub words: Vec<u32>,
    /// End offset of each sentence in `words`.
    pub ends: Vec<usize>,
    /// Raw corpus words this job covers.
    pub raw: u64,
    /// Raw words of the run before this job (for the learning rate).
    pub before: u64,
    /// Sequence number of the job in the run (seeds its random numbers).
    pub number: u64,
}

/// The tables sampling needs, built once from the counts.
pub struct Sampling {
    pub keep: Vec<f32>,
    pub noise: NoiseTable,
    pub sigmoid: SigmoidTable,
}

impl Job {
    /// Learning rate at the start of this job.
    pub fn alpha(&self, cfg: &Word2VecConfig, total: u64) -> f32 {
        let progress = self.before as f64 / total.max(1) as f64;
        (cfg.alpha - (cfg.alpha - cfg.min_alpha) * progress).max(cfg.min_alpha) as f32
    }
    /// The job's random generator.
    pub fn rng(&self, cfg: &Word2VecConfig) -> Lcg {
        Lcg::new(cfg.seed, self.number)
    }
}

/// Streams `epochs` passes over `files` into jobs sent on a bounded channel.
fn read_jobs(
    files: &[PathBuf],
    index: &std::collections::HashMap<String, u32>,
    cfg: &Word2VecConfig,
    tx: std::sync::mpsc::SyncSender<Job>,
    stop: &AtomicBool,
) -> err::Result<()> {
    let (mut before, mut number) = (0u64, 0u64);
    let new_job = |before, number| Job { words: Vec::new(), ends: Vec::new(), raw: 0, before, number };
    let mut job = new_job(before, number);
    for _ in 0..cfg.epochs {
        let mut reader = SentenceReader::new(files.to_vec());
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let mut raw = 0u64;
            let more = reader.next_with(|t| {
                raw += 1;
                if let Some(&id) = index.get(t) {
                    job.words.push(id);
                }
            })?;
            if !more {
                break;
            }
            job.raw += raw;
            if job.ends.last() != Some(&job.words.len()) {
                job.ends.push(job.words.len());
            }
            if job.raw as usize >= cfg.job_words {
                before += job.raw;
                number += 1;
                let full = std::mem::replace(&mut job, new_job(before, number));
                if tx.send(full).is_err() {
                    return Ok(()); // the consumers stopped (an error there is reported by them)
                }
            }
        }
    }
    if job.raw > 0 {
        let _ = tx.send(job);
    }
    Ok(())
}

fn progress_bar(total: u64, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {percent:>3}% {human_pos}/{human_len} words  {per_sec}  ETA {eta}  {msg}")
            .expect("a valid template"),
    );
    bar
}

/// Counts the vocabulary of `files` and trains word vectors on them.
pub fn train(cfg: &Word2VecConfig, files: &[PathBuf], engine: &Engine, show_progress: bool) -> err::Result<Trained> {
    cfg.validate()?;
    let t0 = Instant::now();
    let counts = WordCounts::count(files, cfg.min_count)?;
    if counts.words.len() < 2 {
        return Err(TrainError::Config(format!(
            "only {} word(s) occur at least --min-count {} times in the corpus; lower --min-count or give more text",
            counts.words.len(),
            cfg.min_count
        )));
    }
    let mut stats = Word2VecStats {
        corpus_words: counts.total_tokens,
        sentences: counts.sentences,
        vocab: counts.words.len(),
        vocab_s: t0.elapsed().as_secs_f64(),
        ..Default::default()
    };
    let index = counts.index();
    let sampling = Sampling {
        keep: keep_probabilities(&counts.counts, cfg.sample),
        noise: NoiseTable::new(&counts.counts, cfg.ns_exponent),
        sigmoid: SigmoidTable::default(),
    };
    let total = counts.total_tokens * cfg.epochs as u64;
    let bar = progress_bar(total, show_progress);
    let done = AtomicU64::new(0);
    let effective = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = sync_channel::<Job>(2 * cfg.threads + 2);
    let rx = Mutex::new(rx);
    let t1 = Instant::now();
    let vocab = counts.words.len();
    let (table, reader_result, last_loss) = std::thread::scope(|scope| -> err::Result<_> {
        let reader = scope.spawn(|| {
            let r = read_jobs(files, &index, cfg, tx, &stop);
            if r.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            r
        });
        let watch = scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                bar.set_position(done.load(Ordering::Relaxed));
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let out = match engine {
            Engine::Cpu => {
                let mut tables = native::HogwildTables::new(vocab, cfg.dim, cfg.seed);
                let shared = tables.shared();
                std::thread::scope(|workers| {
                    for _ in 0..cfg.threads {
                        workers.spawn(|| cpu_worker(cfg, &sampling, shared, &rx, total, &done, &effective));
                    }
                });
                (tables.into_input(), None)
            }
            Engine::Tensor(device) => {
                tensor::train(cfg, &sampling, vocab, device, &rx, total, &done, &effective, &stop)?
            }
        };
        stop.store(true, Ordering::Relaxed);
        let reader_result = reader.join().map_err(|_| TrainError::Invalid("the corpus reader panicked".into()))?;
        let _ = watch.join();
        Ok((out.0, reader_result, out.1))
    })?;
    reader_result?;
    bar.finish_and_clear();
    stats.train_s = t1.elapsed().as_secs_f64();
    stats.raw_words = done.load(Ordering::Relaxed);
    stats.effective_words = effective.load(Ordering::Relaxed);
    stats.last_loss = last_loss;
    let vectors = WordVectors::new(counts.words.clone(), cfg.dim, table)?;
    Ok(Trained { vectors, counts, stats })
}

fn cpu_worker(
    cfg: &Word2VecConfig,
    s: &Sampling,
    shared: native::Shared,
    rx: &Mutex<Receiver<Job>>,
    total: u64,
    done: &AtomicU64,
    effective: &AtomicU64,
) {
    let mut worker = native::Worker::new(cfg, &s.keep, &s.noise, &s.sigmoid, shared);
    loop {
        let job = match rx.lock().expect("job queue").recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        let mut rng = job.rng(cfg);
        let eff = worker.train_job(&job.words, &job.ends, job.alpha(cfg, total), &mut rng);
        effective.fetch_add(eff, Ordering::Relaxed);
        done.fetch_add(job.raw, Ordering::Relaxed);
    }
}
