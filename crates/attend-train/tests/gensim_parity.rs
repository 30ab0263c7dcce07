//! Parity with gensim 4.4's word2vec. attend's training loop (`native::Worker`,
//! skip-gram and CBOW with negative sampling), fed gensim's random stream,
//! initial vectors and learning rates, must end with gensim's vectors. The
//! fixture in `tests/fixtures/gensim-word2vec` (written by
//! `benches/gensim_parity_fixture.py`) holds what gensim started from and ended
//! with after two epochs over the first 400 sentences of `data/austen`, with one
//! worker in `corpus_file` mode. Only floating-point summation order differs
//! (gensim's dot products come from BLAS), so the vectors agree to about 1e-4 of their scale.

use std::path::{Path, PathBuf};

use attend_data::SentenceReader;
use attend_train::tasks::word2vec::native::{HogwildTables, Worker};
use attend_train::tasks::word2vec::sampling::{Draws, SigmoidTable};
use attend_train::tasks::word2vec::{Architecture, Word2VecConfig};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gensim-word2vec")
        .join(name)
}

fn words_of(name: &str) -> Vec<u32> {
    let bytes = std::fs::read(fixture(name)).unwrap();
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn floats(name: &str) -> Vec<f32> {
    words_of(name).into_iter().map(f32::from_bits).collect()
}

/// The settings and counts of the fixture's run (`meta.json`).
fn meta() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("meta.json")).unwrap()).unwrap()
}

/// A whole-number field of `meta.json`.
fn int(m: &serde_json::Value, key: &str) -> u64 {
    m[key].as_u64().unwrap_or_else(|| panic!("meta.json has no whole number {key}"))
}

/// gensim's random stream (`word2vec_inner.pyx`): a 48-bit linear
/// congruential generator, subsampling against `sample_int`, windows shrunk by
/// `random_int32 % window`, noise words by bisection of `cum_table`.
struct GensimStream<'a> {
    next_random: u64,
    sample_int: &'a [u32],
    cum_table: &'a [u32],
}

impl GensimStream<'_> {
    fn advance(&mut self) {
        self.next_random = (self
            .next_random
            .wrapping_mul(25_214_903_917)
            .wrapping_add(11))
            & ((1 << 48) - 1);
    }
    fn random_int32(&mut self) -> u64 {
        let r = self.next_random >> 16;
        self.advance();
        r
    }
}

impl Draws for GensimStream<'_> {
    fn keep(&mut self, word: u32) -> bool {
        u64::from(self.sample_int[word as usize]) >= self.random_int32()
    }
    fn shrink(&mut self, window: usize) -> usize {
        (self.random_int32() % window as u64) as usize
    }
    fn noise(&mut self) -> u32 {
        let x = (self.next_random >> 16) % u64::from(*self.cum_table.last().unwrap());
        self.advance();
        self.cum_table.partition_point(|&c| u64::from(c) < x) as u32
    }
}

/// gensim's batches: whole sentences until more than 10,000 raw words.
fn batches(sentences: &[Vec<Option<u32>>]) -> Vec<std::ops::Range<usize>> {
    let (mut out, mut start, mut size) = (Vec::new(), 0, 0);
    for (k, s) in sentences.iter().enumerate() {
        size += s.len();
        if size > 10_000 {
            out.push(start..k + 1);
            (start, size) = (k + 1, 0);
        }
    }
    if start < sentences.len() {
        out.push(start..sentences.len());
    }
    out
}

/// Replays gensim's run through attend's worker; returns (input, output) tables.
fn replay(arch: Architecture, seeds: &[u64]) -> (Vec<f32>, Vec<f32>) {
    let m = meta();
    let vocab: Vec<String> = std::fs::read_to_string(fixture("vocab.txt"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let index: std::collections::HashMap<&str, u32> = vocab
        .iter()
        .enumerate()
        .map(|(i, w)| (w.as_str(), i as u32))
        .collect();
    let count = int(&m, "sentences") as usize;
    let austen = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/austen/austen.txt");
    let mut reader = SentenceReader::new(vec![austen]);
    let mut sentences = Vec::new();
    let mut tokens = Vec::new();
    while sentences.len() < count && reader.next_sentence(&mut tokens).unwrap() {
        sentences.push(
            tokens
                .iter()
                .map(|t| index.get(t.as_str()).copied())
                .collect::<Vec<_>>(),
        );
    }
    let raw: usize = sentences.iter().map(Vec::len).sum();
    assert_eq!(
        raw as u64,
        int(&m, "corpus_total_words"),
        "not the sentences gensim read"
    );

    let dim = int(&m, "dim") as usize;
    let epochs = int(&m, "epochs") as usize;
    let cfg = Word2VecConfig::new()
        .with_arch(arch)
        .with_dim(dim)
        .with_window(int(&m, "window") as usize)
        .with_negative(int(&m, "negative") as usize);
    let (sample_int, cum_table) = (words_of("sample_int.u32"), words_of("cum_table.u32"));
    let tables =
        HogwildTables::from_parts(floats("init.f32"), vec![0.0; vocab.len() * dim], dim);
    let sigmoid = SigmoidTable::default();
    let mut worker = Worker::new(&cfg, &sigmoid, tables.shared());
    let (start, end) = (m["alpha"].as_f64().unwrap() as f32, m["min_alpha"].as_f64().unwrap() as f32);
    for (epoch, &seed) in seeds.iter().enumerate().take(epochs) {
        let mut stream = GensimStream {
            next_random: seed,
            sample_int: &sample_int,
            cum_table: &cum_table,
        };
        // word2vec_corpusfile.pyx: get_alpha, then get_next_alpha after every batch, in f32
        let mut alpha = start - (start - end) * epoch as f32 / epochs as f32;
        let mut done = 0usize;
        for batch in batches(&sentences) {
            let (mut words, mut ends) = (Vec::new(), Vec::new());
            for s in &sentences[batch.clone()] {
                words.extend(s.iter().flatten());
                ends.push(words.len());
            }
            worker.train_job(&words, &ends, alpha, &mut stream);
            done += batch.len();
            let progress = (epoch as f32 + done as f32 / count as f32) / epochs as f32;
            alpha = (start - (start - end) * progress).max(end);
        }
    }
    drop(worker);
    (tables.input().to_vec(), tables.output().to_vec())
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn check(arch: Architecture, name: &str) {
    let seeds: Vec<u64> = meta()[format!("{name}_next_random")].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    let (input, output) = replay(arch, &seeds);
    let (want_in, want_out) = (
        floats(&format!("{name}_input.f32")),
        floats(&format!("{name}_output.f32")),
    );
    let scale = want_in
        .iter()
        .chain(&want_out)
        .fold(0f32, |m, x| m.max(x.abs()));
    let moved = max_diff(&want_in, &floats("init.f32"));
    assert!(
        moved > 0.1 * scale,
        "{name}: gensim's vectors barely moved ({moved}); the fixture tests nothing"
    );
    let (d_in, d_out) = (max_diff(&input, &want_in), max_diff(&output, &want_out));
    eprintln!("{name}: largest difference from gensim {d_in:.2e} (input), {d_out:.2e} (output); scale {scale:.3}");
    assert!(
        d_in <= 2e-4 * scale && d_out <= 2e-4 * scale,
        "{name}: input differs by {d_in}, output by {d_out} (scale {scale})"
    );
    // The comparison can tell streams apart: one step of the generator off, and the vectors differ.
    let shifted: Vec<u64> = seeds.iter().map(|s| s + 1).collect();
    let (other, _) = replay(arch, &shifted);
    let d_other = max_diff(&other, &want_in);
    eprintln!("{name}: with the stream one step off: {d_other:.2e}");
    assert!(
        d_other > 0.05 * scale,
        "{name}: another stream gives nearly the same vectors ({d_other})"
    );
}

#[test]
fn skip_gram_reproduces_gensim() {
    check(Architecture::SkipGram, "sg");
}

#[test]
fn cbow_reproduces_gensim() {
    check(Architecture::Cbow, "cbow");
}
