//! The trainer on a toy task (least squares with a dropout mask on the
//! prediction, drawn as the models draw theirs): resumption, Ctrl-C, the
//! evaluation and checkpoint cadences, the time budget, the non-finite guard,
//! weight averaging and data-parallel steps; and the checkpoint files.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::*;
use crate::trainer::schedule::ScheduleKind;

#[allow(deprecated)]
fn cpu() -> Device {
    Device::ndarray()
}

/// y = x·w* + 0.5 on 48 points of 4 features, batches of 8.
struct Toy {
    x: Vec<f32>,
    y: Vec<f32>,
    seed: u64,
    /// Multiply the prediction by a dropout mask.
    noise: bool,
    /// Milliseconds each loss takes (for the time-based settings).
    sleep_ms: u64,
    /// Loss calls so far, and the call after which to raise `interrupt` (or make the loss NaN).
    calls: AtomicUsize,
    interrupt_after: Option<(usize, Arc<AtomicBool>)>,
    nan_after: Option<usize>,
    /// Examples per batch.
    batch: usize,
    /// Report the same validation score at every evaluation.
    flat_score: bool,
}

impl Toy {
    fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(99);
        let x: Vec<f32> = (0..48 * 4).map(|_| rng.random_range(-1.0..1.0)).collect();
        let w = [0.5f32, -1.0, 2.0, 0.25];
        let y = x.chunks(4).map(|r| r.iter().zip(w).map(|(a, b)| a * b).sum::<f32>() + 0.5).collect();
        Self { x, y, seed, noise: true, sleep_ms: 0, calls: AtomicUsize::new(0), interrupt_after: None, nan_after: None, batch: 8, flat_score: false }
    }

    fn tensors(&self, idx: &[usize], device: &Device) -> (Tensor<2>, Tensor<2>) {
        let x: Vec<f32> = idx.iter().flat_map(|&i| self.x[i * 4..i * 4 + 4].to_vec()).collect();
        let y: Vec<f32> = idx.iter().map(|&i| self.y[i]).collect();
        (Tensor::from_data(TensorData::new(x, [idx.len(), 4]), device), Tensor::from_data(TensorData::new(y, [idx.len(), 1]), device))
    }
}

impl Trainable for Toy {
    type Model = Linear;
    type Batch = Vec<usize>;

    fn init_model(&self, device: &Device) -> crate::Result<Linear> {
        Ok(LinearConfig::new(4, 1).init(device))
    }

    fn size(&self) -> crate::Result<(u128, String)> {
        Ok((5, "a 4 → 1 linear map".into()))
    }

    fn width(&self) -> usize {
        4
    }

    fn epoch(&self, epoch: usize) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..48).collect();
        order.shuffle(&mut StdRng::seed_from_u64(self.seed ^ epoch as u64));
        order.chunks(self.batch).map(|c| c.to_vec()).collect()
    }

    fn loss(&self, model: &Linear, batch: &Vec<usize>, device: &Device) -> crate::Result<Loss> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some((n, flag)) = &self.interrupt_after {
            if call == *n {
                flag.store(true, Ordering::SeqCst);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(self.sleep_ms));
        let (x, y) = self.tensors(batch, device);
        let mut pred = model.forward(x);
        if self.noise {
            // Dropout's mask, as the models draw it (a share of a step draws from its own generator).
            pred = pred.clone() * attend_model::fused::dropout_mask(pred.dims(), 0.8, device);
        }
        let mut value = (pred - y).square().mean();
        if self.nan_after.is_some_and(|n| call > n) {
            value = value.mul_scalar(f32::NAN);
        }
        Ok(Loss { value, terms: batch.len(), tokens: batch.len() })
    }

    fn split(&self, batch: &Vec<usize>, parts: usize) -> Vec<Vec<usize>> {
        crate::tasks::split_even(batch, parts)
    }

    fn evaluate(&self, model: &Linear, device: &Device, _step: usize) -> crate::Result<Evaluation> {
        let idx: Vec<usize> = (0..48).collect();
        let (x, y) = self.tensors(&idx, device);
        let mse: f32 = (model.forward(x) - y).square().mean().into_scalar();
        let score = if self.flat_score { 0.0 } else { -(mse as f64) };
        Ok(Evaluation { columns: vec![Column::new("valid_loss", mse as f64, 6)], score, summary: format!("mse {mse:.5}") })
    }
}

fn settings(max_steps: usize) -> TrainSettings {
    TrainSettings {
        seed: 5,
        epochs: 0,
        max_steps,
        schedule: ScheduleKind::Constant,
        lr: 0.05,
        warmup_steps: 2,
        beta2: 0.999,
        epsilon: 1e-8,
        eval_every: 4,
        checkpoint_every: 4,
        device: "ndarray".into(),
        ..TrainSettings::default()
    }
}

fn run_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("attend-trainer-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn new() -> Start<'static> {
    static DEFAULT: std::sync::OnceLock<crate::config::RunConfig> = std::sync::OnceLock::new();
    Start::New(DEFAULT.get_or_init(crate::config::RunConfig::default))
}

fn quiet() -> FitOptions {
    FitOptions { quiet: true, interrupt: Arc::new(AtomicBool::new(false)) }
}

fn weights<M: Module>(m: &M) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.0.extend(p.val().try_into_vec_as::<f32>().unwrap());
        }
    }
    let mut c = Collect(Vec::new());
    m.visit(&mut c);
    c.0
}

fn rows(run: &Path) -> Vec<String> {
    std::fs::read_to_string(run.join(run_dir::METRICS)).unwrap().lines().skip(1).map(String::from).collect()
}

/// The columns of a metrics row that do not depend on timing: step, epoch, train loss, lr, valid loss.
fn timeless(row: &str) -> String {
    row.split(',').take(5).collect::<Vec<_>>().join(",")
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Runs `f` in a rayon pool of `threads` threads: on the CPU a step is cut
/// into one share per thread of its pool, trained side by side.
fn in_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

#[test]
fn an_interrupted_run_resumes_to_the_straight_runs_weights_and_metrics() {
    let _rng = crate::rng_lock();
    // One thread: the plain step; three: three shares of every batch of 8, side by side.
    for (threads, ema) in [(1, 0.0), (1, 0.9), (3, 0.0), (3, 0.9)] {
        let s = TrainSettings { ema, ..settings(14) };
        let name = format!("{threads}-{ema}");
        let straight = run_dir(&format!("straight-{name}"));
        let a = in_threads(threads, || fit(&Toy::new(1), &s, &straight, new(), &[cpu()], &quiet()).unwrap());
        assert_eq!((a.outcome, a.state.step), (Outcome::Finished, 14));

        let split = run_dir(&format!("split-{name}"));
        let opts = quiet();
        let mut toy = Toy::new(1);
        // A loss per share: the flag goes up during step 6.
        toy.interrupt_after = Some((6 * threads, opts.interrupt.clone()));
        let b = in_threads(threads, || fit(&toy, &s, &split, new(), &[cpu()], &opts).unwrap());
        assert_eq!((b.outcome, b.state.step), (Outcome::Interrupted, 6));
        assert_eq!(checkpoint::list(&split).last().map(|c| c.0), Some(6), "a checkpoint at the interrupted step");
        let c = in_threads(threads, || fit(&Toy::new(1), &s, &split, Start::Resume, &[cpu()], &quiet()).unwrap());
        assert_eq!((c.outcome, c.state.step), (Outcome::Finished, 14));
        let d = max_diff(&weights(&a.model), &weights(&c.model));
        assert!(d < 1e-6, "{name}: weights differ by {d}: {:?} vs {:?}", weights(&a.model), weights(&c.model));
        let (ra, rc): (Vec<String>, Vec<String>) = (rows(&straight).iter().map(|r| timeless(r)).collect(), rows(&split).iter().map(|r| timeless(r)).collect());
        assert_eq!(ra, rc, "{name}: the same metrics rows, none counted twice");
        assert_eq!(ra.len(), 4, "evaluations at steps 4, 8, 12 and the last, 14");
        for dir in [straight, split] {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}

#[test]
fn each_share_draws_masks_of_its_own_and_the_same_ones_every_time() {
    let dev = cpu().autodiff();
    let model = Toy::new(1).init_model(&dev).unwrap();
    let masks = |seed: u64| {
        let drawn = std::sync::Mutex::new(vec![Vec::new(); 3]);
        in_threads(3, || {
            parallel::side_by_side(&model, &[0usize, 1, 2], &dev, seed, |m, &k| {
                let mask = attend_model::fused::dropout_mask([256], 0.5, &dev);
                drawn.lock().unwrap()[k] = mask.clone().try_into_vec_as::<f32>().unwrap();
                let x = Tensor::<2>::ones([1, 4], &dev);
                Ok(Loss { value: m.forward(x).sum() * mask.sum(), terms: 1, tokens: 1 })
            })
            .unwrap()
        });
        drawn.into_inner().unwrap()
    };
    let (a, b, c) = (masks(7), masks(7), masks(8));
    assert_eq!(a, b, "the same step draws the same masks");
    assert!(a[0] != a[1] && a[1] != a[2] && a[0] != a[2], "each share its own masks");
    assert_ne!(a, c, "another step, other masks");
}

#[test]
fn shares_side_by_side_make_the_update_of_the_whole_batch() {
    let _rng = crate::rng_lock();
    let s = TrainSettings { clip_norm: 1.0, weight_decay: 0.01, ..settings(3) };
    let mut toy = Toy::new(6);
    toy.noise = false;
    let (r1, r3) = (run_dir("threads1"), run_dir("threads3"));
    let a = in_threads(1, || fit(&toy, &s, &r1, new(), &[cpu()], &quiet()).unwrap());
    let calls = toy.calls.load(Ordering::SeqCst);
    let b = in_threads(3, || fit(&toy, &s, &r3, new(), &[cpu()], &quiet()).unwrap());
    assert_eq!(toy.calls.load(Ordering::SeqCst) - calls, 3 * calls, "three shares a step");
    let d = max_diff(&weights(&a.model), &weights(&b.model));
    assert!(d < 1e-6, "weights differ by {d}");
    assert_ne!(weights(&a.model), weights(&Toy::new(6).init_model(&cpu()).unwrap()), "the runs trained");
    // With dropout, each share draws its own masks, the same ones at every run.
    toy.noise = true;
    let (r4, r5) = (run_dir("threads3-noise"), run_dir("threads3-noise-again"));
    let c = in_threads(3, || fit(&toy, &s, &r4, new(), &[cpu()], &quiet()).unwrap());
    let e = in_threads(3, || fit(&toy, &s, &r5, new(), &[cpu()], &quiet()).unwrap());
    assert_eq!(weights(&c.model), weights(&e.model));
    assert!(max_diff(&weights(&b.model), &weights(&c.model)) > 1e-4, "the masks changed the update");
    for dir in [r1, r3, r4, r5] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn cadences_epoch_ends_best_weights_and_pruning() {
    let _rng = crate::rng_lock();
    let run = run_dir("cadence");
    // 6 batches an epoch, 3 epochs; evaluation and checkpoints at epoch ends.
    let s = TrainSettings { epochs: 3, max_steps: 0, eval_every: 0, checkpoint_every: 0, keep_checkpoints: 2, ..settings(0) };
    let f = fit(&Toy::new(2), &s, &run, new(), &[cpu()], &quiet()).unwrap();
    assert_eq!(f.state.step, 18);
    let steps: Vec<usize> = rows(&run).iter().map(|r| r.split(',').next().unwrap().parse().unwrap()).collect();
    assert_eq!(steps, [6, 12, 18]);
    let kept: Vec<usize> = checkpoint::list(&run).into_iter().map(|(s, _)| s).collect();
    assert_eq!(kept, [12, 18], "the two newest");
    // best/ holds the weights of the best-scoring evaluation.
    let losses: Vec<f64> = rows(&run).iter().map(|r| r.split(',').nth(4).unwrap().parse().unwrap()).collect();
    let best = losses.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
    assert_eq!(f.state.best_step, steps[best]);
    let saved = checkpoint::load_model(Toy::new(2).init_model(&cpu()).unwrap(), &run.join(run_dir::BEST).join("model.bpk")).unwrap();
    let e = Toy::new(2).evaluate(&saved, &cpu(), 0).unwrap();
    assert!((e.get("valid_loss").unwrap() - losses[best]).abs() < 1e-5);
    std::fs::remove_dir_all(run).unwrap();
}

#[test]
fn the_time_budget_and_timed_evaluations_count_training_time() {
    let _rng = crate::rng_lock();
    let run = run_dir("budget");
    let mut toy = Toy::new(3);
    toy.sleep_ms = 25;
    let s = TrainSettings { max_steps: 1000, eval_every: 0, eval_every_s: 0.1, time_budget_s: 0.3, checkpoint_every: 1000, ..settings(0) };
    let f = fit(&toy, &s, &run, new(), &[cpu()], &quiet()).unwrap();
    assert_eq!(f.outcome, Outcome::Finished);
    assert!(f.state.train_secs() >= 0.3 && f.state.step < 40, "stopped soon after 0.3 s of training: {:?}", f.state);
    assert_eq!(checkpoint::list(&run).last().map(|c| c.0), Some(f.state.step), "a checkpoint where the budget ended");
    let train_s: Vec<f64> = rows(&run).iter().map(|r| r.rsplit(',').next().unwrap().parse().unwrap()).collect();
    assert!((3..=5).contains(&train_s.len()), "an evaluation each 0.1 s and at the end: {train_s:?}");
    for w in train_s.windows(2).take(train_s.len() - 2) {
        assert!(w[1] - w[0] >= 0.09, "{train_s:?}");
    }
    std::fs::remove_dir_all(run).unwrap();
}

#[test]
fn a_non_finite_loss_stops_the_run_and_keeps_the_last_checkpoint() {
    let _rng = crate::rng_lock();
    let run = run_dir("nan");
    let mut toy = Toy::new(4);
    toy.nan_after = Some(5);
    let s = TrainSettings { checkpoint_every: 2, ..settings(20) };
    let e = in_threads(1, || fit(&toy, &s, &run, new(), &[cpu()], &quiet()).unwrap_err());
    assert!(matches!(e, TrainError::NonFinite { step: 6, .. }), "{e}");
    assert_eq!(checkpoint::list(&run).last().map(|c| c.0), Some(4));
    std::fs::remove_dir_all(run).unwrap();
}

#[test]
fn two_replicas_on_one_device_make_the_update_of_the_merged_batch() {
    let _rng = crate::rng_lock();
    let s = TrainSettings { clip_norm: 1.0, weight_decay: 0.01, ..settings(3) };
    let mut one = Toy::new(6);
    one.noise = false;
    let mut two = Toy::new(6);
    two.noise = false;
    let (r1, r2) = (run_dir("dp1"), run_dir("dp2"));
    let a = fit(&one, &s, &r1, new(), &[cpu()], &quiet()).unwrap();
    let b = fit(&two, &s, &r2, new(), &[cpu(), cpu()], &quiet()).unwrap();
    let d = max_diff(&weights(&a.model), &weights(&b.model));
    assert!(d < 1e-6, "weights differ by {d}");
    assert_ne!(weights(&a.model), weights(&Toy::new(6).init_model(&cpu()).unwrap()), "the runs trained");
    for dir in [r1, r2] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn a_checkpoint_replaces_the_old_one_whole_and_half_written_ones_are_ignored() {
    let _rng = crate::rng_lock();
    let run = run_dir("files");
    let dir = checkpoint::step_dir(&run, 3);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    checkpoint::write_dir(&dir, &[("a", b"old".to_vec()), ("stale", b"x".to_vec())]).unwrap();
    checkpoint::write_dir(&dir, &[("a", b"new".to_vec())]).unwrap();
    assert_eq!(std::fs::read(dir.join("a")).unwrap(), b"new");
    assert!(!dir.join("stale").exists(), "the directory is replaced, not merged");
    // A write that died before its rename leaves only a hidden temporary directory.
    std::fs::create_dir_all(run.join("checkpoints").join(".tmp-step-00000009")).unwrap();
    // A directory without state.json is not a complete checkpoint.
    std::fs::create_dir_all(checkpoint::step_dir(&run, 7)).unwrap();
    let state = checkpoint::TrainState { step: 3, ..Default::default() };
    let model = Toy::new(0).init_model(&cpu()).unwrap();
    checkpoint::save(&dir, &model, &optim::adam(&settings(1)), &state).unwrap();
    assert_eq!(checkpoint::list(&run).into_iter().map(|c| c.0).collect::<Vec<_>>(), [3]);
    let (back, _, st) = checkpoint::load(&dir, Toy::new(0).init_model(&cpu()).unwrap(), optim::adam(&settings(1))).unwrap();
    assert_eq!((weights(&back), st), (weights(&model), state));
    std::fs::remove_dir_all(run).unwrap();
}

/// A model whose parameters Burn draws lazily (an embedding table) gets the
/// same weights from the same `train.seed` whatever the first step's seed is.
#[test]
fn lazily_drawn_parameters_come_from_the_runs_seed() {
    let _rng = crate::rng_lock();
    struct Lazy;
    impl Trainable for Lazy {
        type Model = burn::nn::Embedding;
        type Batch = ();
        fn init_model(&self, device: &Device) -> crate::Result<Self::Model> {
            Ok(burn::nn::EmbeddingConfig::new(5, 3).init(device))
        }
        fn size(&self) -> crate::Result<(u128, String)> {
            Ok((15, "a 5 × 3 table".into()))
        }
        fn width(&self) -> usize {
            3
        }
        fn epoch(&self, _epoch: usize) -> Vec<()> {
            vec![()]
        }
        fn loss(&self, model: &Self::Model, _: &(), device: &Device) -> crate::Result<Loss> {
            let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 2], [1, 2]), device);
            Ok(Loss { value: model.forward(ids).sum().mul_scalar(0.0), terms: 1, tokens: 2 })
        }
        fn split(&self, _: &(), _: usize) -> Vec<()> {
            vec![()]
        }
        fn evaluate(&self, _: &Self::Model, _: &Device, _: usize) -> crate::Result<Evaluation> {
            Ok(Evaluation { columns: vec![], score: 0.0, summary: String::new() })
        }
    }
    // Without the trainer initialising them at once, the table would be drawn at the first
    // step, after the device was seeded with that step's seed, and differ from this one.
    let s = TrainSettings { max_steps: 1, epochs: 0, clip_norm: 0.0, ..settings(1) };
    let f = fit(&Lazy, &s, &run_dir("lazy"), new(), &[cpu()], &quiet()).unwrap();
    let dev = cpu().autodiff();
    dev.seed(s.seed);
    let fresh = Lazy.init_model(&dev).unwrap();
    let w = weights(&fresh); // drawn now, right after seeding
    assert_eq!(weights(&f.model), w, "the loss is zero, so the weights are the initial ones");
}

#[test]
fn accumulated_half_batches_make_the_update_of_the_full_batch() {
    let _rng = crate::rng_lock();
    let mut full = Toy::new(8);
    full.noise = false;
    let mut halves = Toy::new(8);
    (halves.noise, halves.batch) = (false, 4);
    let s = TrainSettings { clip_norm: 1.0, ..settings(5) };
    let (r1, r2) = (run_dir("acc1"), run_dir("acc2"));
    let a = fit(&full, &s, &r1, new(), &[cpu()], &quiet()).unwrap();
    let b = fit(&halves, &TrainSettings { accumulate: 2, ..s.clone() }, &r2, new(), &[cpu()], &quiet()).unwrap();
    assert_eq!((a.state.step, b.state.step), (5, 5));
    assert_eq!(b.state.tokens, 5 * 8, "two batches of four per step");
    let d = max_diff(&weights(&a.model), &weights(&b.model));
    assert!(d < 1e-6, "weights differ by {d}");
    for dir in [r1, r2] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn patience_stops_a_run_whose_score_no_longer_improves() {
    let _rng = crate::rng_lock();
    let run = run_dir("patience");
    let mut toy = Toy::new(9);
    toy.flat_score = true;
    let s = TrainSettings { patience: 2, eval_every: 2, checkpoint_every: 100, ..settings(40) };
    let f = fit(&toy, &s, &run, new(), &[cpu()], &quiet()).unwrap();
    // The first evaluation (step 2) is the best; steps 4 and 6 do not beat it.
    assert!(f.stopped_early);
    assert_eq!((f.state.step, f.state.best_step, f.state.evals_since_best), (6, 2, 2));
    assert_eq!(checkpoint::list(&run).last().map(|c| c.0), Some(6), "a checkpoint where it stopped");
    std::fs::remove_dir_all(run).unwrap();
}
