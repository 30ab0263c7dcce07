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

pub mod checkpoint;
pub mod eval;
pub mod init;
pub mod native;
pub mod run;
pub mod sampling;
pub mod settings;
pub mod tensor;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use attend_data::{ReaderPosition, SentenceReader, WordCounts, WordVectors};
use burn::prelude::*;
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
    /// Stretches of the corpus read side by side: the corpus is cut into this
    /// many parts of near-equal length and jobs are taken from them in turn,
    /// so that training sees a mixed stream of distant text rather than one
    /// book after another, as word2vec.c's threads and gensim's `corpus_file`
    /// workers each read their own part (1: in order).
    #[config(default = 16)]
    pub streams: usize,
    /// Decay the learning rate by each part's own progress, as gensim's
    /// `corpus_file` workers do: with `streams` parts, each epoch takes it only
    /// 1/`streams` of its way down, and the run ends above `min_alpha` (with
    /// `streams` set to gensim's worker count, its schedule).
    #[config(default = false)]
    pub part_decay: bool,
    /// Examples per tensor step of the tensor engine.
    #[config(default = 1024)]
    pub batch: usize,
}

impl Word2VecConfig {
    /// Checks the settings (each error names its `word2vec.*` key).
    pub fn validate(&self) -> err::Result<()> {
        crate::config::checks::word2vec(self).map_err(TrainError::Config)
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
    /// Corpus words trained on in this call (corpus_words × epochs for a run
    /// that was not resumed), before min-count and subsampling.
    pub raw_words: u64,
    /// Words trained on after min-count and subsampling.
    pub effective_words: u64,
    /// Mean negative-sampling loss per example over the last epoch trained (tensor engine only).
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
    /// False when an interrupt stopped training early (a checkpoint holds the state).
    pub finished: bool,
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
    /// Raw words of earlier epochs plus those of this job's part before it
    /// (for the learning rate under `part_decay`).
    pub part_before: u64,
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
        let before = if cfg.part_decay { self.part_before } else { self.before };
        let progress = before as f64 / total.max(1) as f64;
        (cfg.alpha - (cfg.alpha - cfg.min_alpha) * progress).max(cfg.min_alpha) as f32
    }
    /// The job's random generator.
    pub fn rng(&self, cfg: &Word2VecConfig) -> Lcg {
        Lcg::new(cfg.seed, self.number)
    }
}

/// Where one epoch's reader starts and what it has sent.
#[derive(Debug, Clone, Copy)]
struct EpochStart {
    epoch: usize,
    /// Number of the epoch's first job in the whole run.
    first_job: u64,
    /// Jobs of this epoch already trained (skipped when resuming).
    skip: u64,
}

/// Streams one pass over `files` into jobs sent on a bounded channel, taking
/// one job in turn from each of the `parts` (start, tokens) of the corpus;
/// returns the index within the epoch of the first job not sent, and whether
/// the whole epoch was sent (false when `stop` was raised).
#[allow(clippy::too_many_arguments)]
fn read_epoch(
    files: &[PathBuf],
    parts: &[(ReaderPosition, u64)],
    index: &std::collections::HashMap<String, u32>,
    cfg: &Word2VecConfig,
    corpus_words: u64,
    start: EpochStart,
    tx: std::sync::mpsc::SyncSender<Job>,
    stop: &dyn Fn() -> bool,
    sent: &AtomicU64,
) -> err::Result<(u64, bool)> {
    let mut before = start.epoch as u64 * corpus_words;
    let mut k = 0u64; // index of the job being filled, within the epoch
    let mut streams = Vec::with_capacity(parts.len());
    for &(at, tokens) in parts {
        streams.push((SentenceReader::starting_at(files.to_vec(), at)?, tokens, before));
    }
    let mut turn = 0;
    while !streams.is_empty() {
        turn %= streams.len();
        let (reader, left, part_before) = &mut streams[turn];
        let mut job = Job { words: Vec::new(), ends: Vec::new(), raw: 0, before, part_before: *part_before, number: start.first_job + k };
        let mut exhausted = false;
        while (job.raw as usize) < cfg.job_words {
            let mut raw = 0u64;
            let more = *left > 0
                && reader.next_with(|t| {
                    raw += 1;
                    if let Some(&id) = index.get(t) {
                        job.words.push(id);
                    }
                })?;
            if !more {
                exhausted = true;
                break;
            }
            job.raw += raw;
            *left = left.saturating_sub(raw);
            *part_before += raw;
            if job.ends.last() != Some(&job.words.len()) {
                job.ends.push(job.words.len());
            }
        }
        if exhausted {
            streams.remove(turn); // the next stream moves into this turn
        } else {
            turn += 1;
        }
        if job.raw > 0 {
            before += job.raw;
            if k >= start.skip {
                if stop() {
                    return Ok((k, false));
                }
                if tx.send(job).is_err() {
                    return Ok((k, false)); // the consumer stopped on an error, which it reports
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
            k += 1;
        }
    }
    Ok((k, true))
}

/// How a call to [`train`] runs besides the settings.
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// Draw a progress bar on the terminal.
    pub progress: bool,
    /// Raised (e.g. by Ctrl-C) to stop after the jobs already handed out;
    /// a checkpoint is then written and [`Trained::finished`] is false.
    pub interrupt: Option<Arc<AtomicBool>>,
    /// Folder for checkpoints (written after every epoch and on interrupt).
    pub checkpoint: Option<PathBuf>,
    /// Continue from the checkpoint in `checkpoint`.
    pub resume: bool,
    /// Stop as if interrupted once this many jobs have been handed out in this call (for tests).
    pub stop_after_jobs: Option<u64>,
}

/// The state of a run's tables, on the host (CPU engine) or a device.
enum Tables {
    Cpu(native::HogwildTables),
    Tensor(attend_model::word2vec::Word2Vec),
}

impl Tables {
    fn to_host(&self) -> err::Result<(Vec<f32>, Vec<f32>)> {
        match self {
            Tables::Cpu(t) => Ok((t.input().to_vec(), t.output().to_vec())),
            Tables::Tensor(m) => Ok((tensor::host(m.input.val())?, tensor::host(m.output.val())?)),
        }
    }
}

/// Counts the vocabulary of `files` and trains word vectors on them.
pub fn train(cfg: &Word2VecConfig, files: &[PathBuf], engine: &Engine, opts: &TrainOptions) -> err::Result<Trained> {
    cfg.validate()?;
    let t0 = Instant::now();
    let counts = WordCounts::count(files, cfg.min_count)?;
    if counts.words.len() < 2 {
        return Err(TrainError::Config(format!(
            "only {} word(s) occur at least word2vec.min_count = {} times in the corpus; lower word2vec.min_count or give more text",
            counts.words.len(),
            cfg.min_count
        )));
    }
    let vocab_s = t0.elapsed().as_secs_f64();
    let index = counts.index();
    let parts = counts.split(cfg.streams);
    let sampling = Sampling {
        keep: keep_probabilities(&counts.counts, cfg.sample),
        noise: NoiseTable::new(&counts.counts, cfg.ns_exponent),
        sigmoid: SigmoidTable::default(),
    };
    let vocab = counts.words.len();
    let corpus_words = counts.total_tokens;
    // Input and output vectors of every word, f32: refused before they are allocated if they cannot fit.
    let what = format!("word2vec's tables (word2vec.dim = {}, a vocabulary of {vocab} words, input and output vectors)", cfg.dim);
    attend_model::size::check_fits((vocab as u128).saturating_mul(cfg.dim as u128).saturating_mul(2), 4, &what)?;
    let mut tables = match engine {
        Engine::Cpu => Tables::Cpu(native::HogwildTables::new(vocab, cfg.dim, cfg.seed)),
        Engine::Tensor(device) => Tables::Tensor(tensor::init(vocab, cfg, device)),
    };
    let mut progress = checkpoint::Progress::default();
    if opts.resume {
        let dir = opts.checkpoint.as_ref().ok_or_else(|| TrainError::Config("resuming needs a checkpoint folder".into()))?;
        let (p, input, output) = checkpoint::load(dir, cfg, vocab, corpus_words)?;
        progress = p;
        tables = match engine {
            Engine::Cpu => Tables::Cpu(native::HogwildTables::from_parts(input, output, cfg.dim)),
            Engine::Tensor(device) => Tables::Tensor(tensor::from_host(input, output, cfg.dim, device)),
        };
    }
    let total = corpus_words * cfg.epochs as u64;
    let bar = crate::trainer::progress::words(total, opts.progress);
    let raw_start = progress.raw_done;
    let done = AtomicU64::new(progress.raw_done);
    let effective = AtomicU64::new(progress.effective_done);
    let interrupt = opts.interrupt.clone().unwrap_or_default();
    let stop = AtomicBool::new(false);
    let session_sent = AtomicU64::new(0);
    let t1 = Instant::now();
    let mut last_loss = None;
    let mut finished = true;
    std::thread::scope(|scope| -> err::Result<()> {
        let watch = scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                bar.set_position(done.load(Ordering::Relaxed));
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let result = (|| -> err::Result<()> {
            while progress.epoch < cfg.epochs {
                let start = EpochStart { epoch: progress.epoch, first_job: progress.epoch_first_job, skip: progress.job_in_epoch };
                let (tx, rx) = sync_channel::<Job>(2 * cfg.threads + 2);
                let rx = Mutex::new(rx);
                // The reader stops handing out jobs on an interrupt (or at the test limit);
                // the jobs already handed out are finished, so the checkpoint is exact.
                let should_stop = || {
                    interrupt.load(Ordering::Relaxed) || opts.stop_after_jobs.is_some_and(|n| session_sent.load(Ordering::Relaxed) >= n)
                };
                let ((sent, complete), loss) = std::thread::scope(|s| -> err::Result<((u64, bool), Option<f64>)> {
                    let reader = s.spawn(|| read_epoch(files, &parts, &index, cfg, corpus_words, start, tx, &should_stop, &session_sent));
                    let consumed = {
                        let rx = rx; // dropped at the end of this block, which unblocks the reader after an error
                        match &mut tables {
                            Tables::Cpu(t) => {
                                let shared = t.shared();
                                std::thread::scope(|workers| {
                                    for _ in 0..cfg.threads {
                                        workers.spawn(|| cpu_worker(cfg, &sampling, shared, &rx, total, &done, &effective));
                                    }
                                });
                                Ok(None)
                            }
                            Tables::Tensor(model) => tensor::train(cfg, &sampling, model, &rx, total, &done, &effective),
                        }
                    };
                    let read = reader.join().map_err(|_| TrainError::Invalid("the corpus reader panicked".into()))?;
                    let loss = consumed?;
                    Ok((read?, loss))
                })?;
                last_loss = loss.or(last_loss);
                progress.raw_done = done.load(Ordering::Relaxed);
                progress.effective_done = effective.load(Ordering::Relaxed);
                if complete {
                    progress.epoch_first_job += sent;
                    progress.epoch += 1;
                    progress.job_in_epoch = 0;
                } else {
                    progress.job_in_epoch = sent;
                    finished = false;
                }
                if let Some(dir) = &opts.checkpoint {
                    if progress.epoch < cfg.epochs {
                        let (input, output) = tables.to_host()?;
                        checkpoint::save(dir, cfg, &progress, vocab, corpus_words, &input, &output)?;
                    }
                }
                if !finished {
                    break;
                }
            }
            Ok(())
        })();
        stop.store(true, Ordering::Relaxed);
        let _ = watch.join();
        result
    })?;
    bar.finish_and_clear();
    let stats = Word2VecStats {
        corpus_words,
        sentences: counts.sentences,
        vocab,
        vocab_s,
        train_s: t1.elapsed().as_secs_f64(),
        raw_words: done.load(Ordering::Relaxed) - raw_start,
        effective_words: effective.load(Ordering::Relaxed),
        last_loss,
    };
    let (input, _) = tables.to_host()?;
    let vectors = WordVectors::new(counts.words.clone(), cfg.dim, input)?;
    Ok(Trained { vectors, counts, stats, finished })
}

#[allow(clippy::too_many_arguments)]
fn cpu_worker(
    cfg: &Word2VecConfig,
    s: &Sampling,
    shared: native::Shared<'_>,
    rx: &Mutex<Receiver<Job>>,
    total: u64,
    done: &AtomicU64,
    effective: &AtomicU64,
) {
    let mut worker = native::Worker::new(cfg, &s.sigmoid, shared);
    loop {
        let job = match rx.lock().expect("job queue").recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        let mut draws = sampling::LcgDraws::new(job.rng(cfg), &s.keep, &s.noise);
        let eff = worker.train_job(&job.words, &job.ends, job.alpha(cfg, total), &mut draws);
        effective.fetch_add(eff, Ordering::Relaxed);
        done.fetch_add(job.raw, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests;
