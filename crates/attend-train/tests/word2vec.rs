//! word2vec: the closed-form tensor step is gradient descent on the
//! negative-sampling loss, and both engines learn which words go together.

use std::path::PathBuf;

use attend_data::WordVectors;
use attend_model::word2vec::{Word2Vec, Word2VecBatch};
use attend_train::tasks::word2vec::eval::Unit;
use attend_train::tasks::word2vec::{train, Architecture, Engine, TrainOptions, Word2VecConfig};
use burn::optim::GradientsParams;
use burn::prelude::*;

#[allow(deprecated)]
fn device() -> Device {
    Device::ndarray()
}

fn ints(v: Vec<i64>, shape: [usize; 2], d: &Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(v, shape), d)
}
fn floats(v: Vec<f32>, shape: [usize; 2], d: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, shape), d)
}

/// Four examples over a 6-word vocabulary, with repeated rows inside the batch
/// and one masked noise draw; `slots` context words each.
fn batch(slots: usize, d: &Device) -> Word2VecBatch {
    let context: Vec<i64> = (0..4 * slots as i64).map(|i| (i * 5 + 1) % 6).collect();
    Word2VecBatch {
        context: ints(context, [4, slots], d),
        weight: floats(vec![1.0 / slots as f32; 4 * slots], [4, slots], d),
        targets: ints(vec![0, 2, 3, 1, 4, 4, 2, 5, 0, 3, 3, 1], [4, 3], d),
        labels: floats(vec![1., 0., 0., 1., 0., 0., 1., 0., 0., 1., 0., 0.], [4, 3], d),
        target_mask: floats(vec![1., 1., 1., 1., 0., 1., 1., 1., 1., 1., 1., 1.], [4, 3], d),
    }
}

fn close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol, "entry {i}: {x} vs {y}");
    }
}

fn step_equals_gradient(slots: usize) {
    let dev = device().autodiff();
    dev.seed(3);
    let dist = burn::tensor::Distribution::Uniform(-0.5, 0.5);
    let input = Tensor::<2>::random([6, 8], dist, &dev);
    let output = Tensor::<2>::random([6, 8], dist, &dev);
    let model = Word2Vec::from_tables(input.clone(), output.clone());
    let b = batch(slots, &dev);
    let loss = model.loss(&b);
    let grads = GradientsParams::from_grads(loss.clone().backward(), &model);
    let g_in = grads.get::<2>(model.input.id).unwrap().try_into_vec_as::<f32>().unwrap();
    let g_out = grads.get::<2>(model.output.id).unwrap().try_into_vec_as::<f32>().unwrap();

    let plain = device();
    let mut stepped = Word2Vec::from_tables(input.clone().inner().to_device(&plain), output.clone().inner().to_device(&plain));
    let b = batch(slots, &plain);
    let lr = 0.1;
    let step_loss = stepped.sgd_step(&b, lr).into_scalar::<f32>();
    assert!((step_loss - loss.inner().into_scalar::<f32>()).abs() < 1e-5);
    let d_in: Vec<f32> = (stepped.input.val() - input.inner()).try_into_vec_as::<f32>().unwrap();
    let d_out: Vec<f32> = (stepped.output.val() - output.inner()).try_into_vec_as::<f32>().unwrap();
    // Output rows: exactly −lr · gradient. Context rows: −lr · gradient / weight
    // (word2vec.c gives each CBOW context word the whole error; weight 1 for skip-gram).
    close(&d_out, &g_out.iter().map(|g| -lr as f32 * g).collect::<Vec<_>>(), 1e-5);
    close(&d_in, &g_in.iter().map(|g| -lr as f32 * g * slots as f32).collect::<Vec<_>>(), 1e-5);
    assert!(g_in.iter().any(|g| g.abs() > 1e-3), "the test must move some rows");
}

#[test]
fn skip_gram_step_is_gradient_descent_on_the_loss() {
    step_equals_gradient(1);
}

#[test]
fn cbow_step_gives_each_context_word_the_whole_error() {
    step_equals_gradient(3);
}

/// Three groups of ten words; every sentence draws its words from one group.
fn grouped_corpus(dir: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("attend-w2v-{dir}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::new();
    let mut x: u64 = 7;
    for s in 0..2400 {
        let g = ["a", "b", "c"][s % 3];
        for _ in 0..20 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            text.push_str(&format!("{g}{} ", (x >> 33) % 10));
        }
        text.push_str("\n\n");
    }
    let path = dir.join("groups.txt");
    std::fs::write(&path, text).unwrap();
    path
}

/// Share of words whose nearest neighbour is in their own group.
fn purity(v: &WordVectors) -> f64 {
    let unit = Unit::new(v);
    let ok = v
        .words()
        .iter()
        .filter(|w| {
            let top = unit.most_similar(&[w.as_str()], &[], 1, None).unwrap();
            top[0].0[..1] == w[..1]
        })
        .count();
    ok as f64 / v.len() as f64
}

fn config(arch: Architecture) -> Word2VecConfig {
    Word2VecConfig::new()
        .with_arch(arch)
        .with_dim(16)
        .with_window(3)
        .with_min_count(1)
        .with_sample(0.0)
        .with_epochs(3)
        .with_threads(1)
        .with_batch(256)
}

#[test]
fn cpu_engine_learns_groups_and_one_thread_is_deterministic() {
    let corpus = grouped_corpus("cpu");
    for arch in [Architecture::SkipGram, Architecture::Cbow] {
        let a = train(&config(arch), &[corpus.clone()], &Engine::Cpu, &TrainOptions::default()).unwrap();
        assert_eq!(a.vectors.len(), 30);
        assert_eq!(a.stats.raw_words, 3 * 48_000);
        let p = purity(&a.vectors);
        assert!(p >= 0.95, "{arch:?}: only {p} of words have a neighbour from their group");
        let b = train(&config(arch), &[corpus.clone()], &Engine::Cpu, &TrainOptions::default()).unwrap();
        assert_eq!(a.vectors.data(), b.vectors.data(), "{arch:?}: one thread, same seed, different vectors");
    }
    // Two threads (Hogwild) still learn.
    let two = train(&config(Architecture::SkipGram).with_threads(2), &[corpus.clone()], &Engine::Cpu, &TrainOptions::default()).unwrap();
    assert!(purity(&two.vectors) >= 0.95);
    std::fs::remove_dir_all(corpus.parent().unwrap()).unwrap();
}

#[test]
fn tensor_engine_learns_groups() {
    let corpus = grouped_corpus("tensor");
    for arch in [Architecture::SkipGram, Architecture::Cbow] {
        let t = train(&config(arch), &[corpus.clone()], &Engine::Tensor(device()), &TrainOptions::default()).unwrap();
        let p = purity(&t.vectors);
        assert!(p >= 0.95, "{arch:?}: only {p} of words have a neighbour from their group");
        let loss = t.stats.last_loss.unwrap();
        assert!(loss < 6.0 * std::f64::consts::LN_2 * 0.8, "{arch:?}: loss {loss} barely below the start");
    }
    std::fs::remove_dir_all(corpus.parent().unwrap()).unwrap();
}

#[test]
fn bad_settings_and_tiny_corpora_are_errors() {
    let corpus = grouped_corpus("bad");
    let err = train(&config(Architecture::SkipGram).with_dim(0), &[corpus.clone()], &Engine::Cpu, &TrainOptions::default()).err().unwrap();
    assert!(err.to_string().contains("word2vec.dim = 0"), "{err}");
    let err = train(&config(Architecture::SkipGram).with_min_count(1_000_000), &[corpus.clone()], &Engine::Cpu, &TrainOptions::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("word2vec.min_count"), "{err}");
    let missing = corpus.with_file_name("missing.txt");
    let err = train(&config(Architecture::SkipGram), &[missing], &Engine::Cpu, &TrainOptions::default()).err().unwrap();
    assert!(err.to_string().contains("missing.txt"), "{err}");
    std::fs::remove_dir_all(corpus.parent().unwrap()).unwrap();
}

/// Stopping after some jobs (as Ctrl-C does) and resuming from the checkpoint
/// gives exactly the vectors of a run that was never stopped.
fn resume_is_exact(engine: Engine, name: &str) {
    let corpus = grouped_corpus(name);
    // Two parts of the corpus read side by side: resuming must take up the round of jobs where it stopped.
    let cfg = config(Architecture::SkipGram).with_streams(2);
    let straight = train(&cfg, &[corpus.clone()], &engine, &TrainOptions::default()).unwrap();
    assert!(straight.finished);
    assert_eq!(straight.stats.raw_words, 3 * 48_000, "every word once per epoch");
    let ckpt = corpus.with_file_name("ckpt");
    let first = TrainOptions { checkpoint: Some(ckpt.clone()), stop_after_jobs: Some(7), ..Default::default() };
    let stopped = train(&cfg, &[corpus.clone()], &engine, &first).unwrap();
    assert!(!stopped.finished, "18 jobs in all; stopped after 7 or a few more");
    assert!(ckpt.join("state.json").exists());
    assert_ne!(stopped.vectors.data(), straight.vectors.data());
    let again = TrainOptions { checkpoint: Some(ckpt.clone()), resume: true, ..Default::default() };
    let resumed = train(&cfg, &[corpus.clone()], &engine, &again).unwrap();
    assert!(resumed.finished);
    assert_eq!(stopped.stats.raw_words + resumed.stats.raw_words, 3 * 48_000);
    assert_eq!(resumed.vectors.data(), straight.vectors.data(), "resumed run differs from the straight one");
    // Other settings are refused.
    let err = train(&cfg.clone().with_dim(8), &[corpus.clone()], &engine, &again).err().unwrap().to_string();
    assert!(err.contains("ckpt") && err.contains("other settings"), "{err}");
    std::fs::remove_dir_all(corpus.parent().unwrap()).unwrap();
}

#[test]
fn cpu_engine_resumes_exactly() {
    resume_is_exact(Engine::Cpu, "resume-cpu");
}

#[test]
fn tensor_engine_resumes_exactly() {
    resume_is_exact(Engine::Tensor(device()), "resume-tensor");
}
