//! Faults a real machine has, driven through the binary: runs killed without
//! warning (SIGKILL at random moments, then `--resume`, again and again) end
//! with the weights and metrics of an uninterrupted run; damaged checkpoints
//! are named, and resuming falls back past them; a full disk stops a run with
//! an error and keeps the previous checkpoint; two processes on one run are
//! refused by a lock that a killed run does not leave stuck.
//!
//! The kill tests run a short form (a few kills per task); with
//! `ATTEND_KILLS=N` they kill N times per task (`cargo test --release
//! --features "wgpu flex" --test faults -- --nocapture` prints the tally).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{attend, run, tmp_dir, train_small, SMALL};

fn kills() -> usize {
    std::env::var("ATTEND_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(3)
}

/// A deterministic stream of delays (milliseconds) to kill at.
struct Delays(u64);
impl Delays {
    fn next(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        lo + (self.0 >> 33) % (hi - lo)
    }
}

fn spawn(args: &[&str]) -> Child {
    attend().args(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
}

/// A run whose checkpoint writes take 50 ms a file longer, so that kills land in them too.
fn spawn_slow_writes(args: &[&str]) -> Child {
    attend().args(args).env("ATTEND_SLOW_WRITES_MS", "50").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
}

/// Runs `first` (a fresh run) and then `--resume` until it finishes, killing
/// each process with SIGKILL after a random delay while it has not finished.
/// The delays spread over `span` (the straight run's time) so that `max_kills`
/// kills fit in one run: some land while a process starts or resumes, some in
/// a step, an evaluation or a checkpoint write; then one more process is
/// killed on purpose inside a write (as soon as a temporary file appears).
/// Returns how many processes were killed, and how many of them left a new
/// half-written file behind.
fn run_with_kills(first: &[&str], run_dir: &Path, seed: u64, max_kills: usize, span: Duration, ready: impl Fn() -> bool) -> (usize, usize) {
    let mut delays = Delays(seed);
    let hi = (2 * span.as_millis() as u64 / max_kills.max(1) as u64).max(100);
    let resume = ["train", "--quiet", "--resume", run_dir.to_str().unwrap()];
    let (mut killed, mut mid_write, mut fresh) = (0, 0, true);
    let mut seen = BTreeSet::new();
    let mut killed_inside_a_write = false;
    loop {
        let mut child = spawn_slow_writes(if fresh { first } else { &resume });
        if killed >= max_kills && !killed_inside_a_write && !fresh {
            // One more kill, on purpose inside a write: as soon as a new temporary file appears.
            killed_inside_a_write = true;
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(60) && child.try_wait().unwrap().is_none() {
                if half_written(run_dir).difference(&seen).next().is_some() {
                    mid_write += usize::from(kill(&mut child, run_dir, &mut seen));
                    killed += 1;
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            if killed > max_kills {
                continue; // resume again; one that finished without writing is checked below
            }
        }
        if killed < max_kills {
            // Wait until the run has something to lose, then kill it at a random moment.
            let start = Instant::now();
            while !ready() && start.elapsed() < Duration::from_secs(60) && child.try_wait().unwrap().is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
            std::thread::sleep(Duration::from_millis(delays.next(20, hi)));
            if child.try_wait().unwrap().is_none() {
                mid_write += usize::from(kill(&mut child, run_dir, &mut seen));
                killed += 1;
                fresh = fresh && !run_dir.join("config.toml").exists();
                continue;
            }
        }
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(half_written(run_dir).is_empty(), "a finished run leaves no half-written file");
        return (killed, mid_write);
    }
}

/// SIGKILLs `child`; true when it died inside a write, i.e. it left a
/// temporary file that was not there after the previous kill (`seen`, which
/// becomes the leftovers now).
fn kill(child: &mut Child, run_dir: &Path, seen: &mut BTreeSet<(PathBuf, u64, i128)>) -> bool {
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let now = half_written(run_dir);
    let inside = now.difference(seen).next().is_some();
    *seen = now;
    inside
}

/// The temporary files and directories in the run (what a cut-short write
/// leaves), each with its inode and modification time, so that one left by an
/// earlier kill and not yet cleaned up is told apart from a new one.
fn half_written(run_dir: &Path) -> BTreeSet<(PathBuf, u64, i128)> {
    use std::os::unix::fs::MetadataExt;
    [run_dir.to_path_buf(), run_dir.join("checkpoints")]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(".tmp") || name.ends_with("tmp")
        })
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            if std::env::var("ATTEND_FAULTS_VERBOSE").is_ok() {
                eprintln!("half-written: {}", e.path().display());
            }
            Some((e.path(), m.ino(), m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128))
        })
        .collect()
}

/// The metrics rows without their timing columns.
fn rows(run_dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let timing = |h: &str| matches!(h, "elapsed_s" | "tokens_per_s" | "train_s");
    text.lines()
        .map(|l| l.split(',').zip(&header).filter(|(_, h)| !timing(h)).map(|(c, _)| c).collect::<Vec<_>>().join(","))
        .collect()
}

fn newest(run_dir: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(run_dir.join("checkpoints")).unwrap().flatten().map(|e| e.path()).collect();
    dirs.retain(|d| d.file_name().unwrap().to_string_lossy().starts_with("step-"));
    dirs.sort();
    dirs.pop().unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn translation_weights(run_dir: &Path) -> Vec<f32> {
    let device = attend::device::parse_device("cpu").unwrap();
    let r = attend::train::LoadedRun::load_weights(run_dir, &newest(run_dir).join("model.bpk"), &device).unwrap();
    common::float_params(&r.model)
}

/// Kills, resumes, and compares one task's run with a straight one; returns the kills.
fn killed_equals_straight(task: &str, args: &[&str], weights: impl Fn(&Path) -> Vec<f32>, seed: u64) -> usize {
    let dir = tmp_dir(&format!("faults-kill-{task}"));
    let (straight, killed) = (dir.join("straight"), dir.join("killed"));
    let with_out = |out: &Path| {
        let mut a = vec!["train", "--quiet", "--task", task, "--out", out.to_str().unwrap()];
        a.extend_from_slice(args);
        a.iter().map(|s| s.to_string()).collect::<Vec<String>>()
    };
    let a = with_out(&straight);
    let t = Instant::now();
    let (code, _, err) = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");
    let b = with_out(&killed);
    let b: Vec<&str> = b.iter().map(String::as_str).collect();
    let ckpts = killed.join("checkpoints");
    let (n, mid_write) = run_with_kills(&b, &killed, seed, kills(), t.elapsed(), || ckpts.exists());
    let d = max_diff(&weights(&straight), &weights(&killed));
    assert!(d <= 1e-6, "{task}: after {n} kills the weights differ by {d}");
    assert_eq!(rows(&straight), rows(&killed), "{task}: the metrics rows differ after {n} kills");
    eprintln!("{task}: {n} kills ({mid_write} in a file write), {n} resumes, 0 differences");
    n
}

#[test]
fn killed_runs_resume_to_the_weights_and_metrics_of_straight_runs() {
    let mut translate = SMALL.to_vec();
    translate.extend(["--set", "train.max_steps=60", "--set", "train.eval_every=10", "--set", "train.checkpoint_every=4"]);
    let total = killed_equals_straight("translate", &translate, translation_weights, 1);
    let lm = [
        "--data", "data/tinyshakespeare/valid.txt", "--set", "model.d_model=32", "--set", "model.n_heads=2", "--set", "model.d_ff=64",
        "--set", "model.layers=1", "--set", "model.context=32", "--set", "model.dropout=0.1", "--set", "train.max_steps=80",
        "--set", "train.eval_every=20", "--set", "train.checkpoint_every=5",
    ];
    let lm_weights = |run_dir: &Path| {
        use attend::train::tasks::lm::{lm_config, load_lm};
        let device = attend::device::parse_device("cpu").unwrap();
        let lm = load_lm(run_dir, &device).unwrap();
        let model = lm_config(&lm.cfg.model, lm.vocab.len()).init(&device).unwrap();
        common::float_params(&attend::train::trainer::checkpoint::load_model(model, &newest(run_dir).join("model.bpk")).unwrap())
    };
    let total = total + killed_equals_straight("lm", &lm, lm_weights, 2);
    let classify = [
        "--set", "model.arch=lstm", "--set", "model.d_model=16", "--set", "model.layers=1", "--set", "train.epochs=2",
        "--set", "train.checkpoint_every=20", "--set", "train.eval_every=60",
    ];
    let cls_weights = |run_dir: &Path| {
        use attend::train::tasks::classify::{classifier_config, data::read_labels};
        let attend::train::RunConfig::Classify(cfg) = attend::train::RunConfig::load(&run_dir.join("config.toml")).unwrap() else { panic!() };
        let vocab = attend::data::Vocab::load(&run_dir.join("vocab.json")).unwrap();
        let device = attend::device::parse_device("cpu").unwrap();
        let model = classifier_config(&cfg, vocab.len(), read_labels(run_dir).unwrap().len()).init(&device).unwrap();
        common::float_params(&attend::train::trainer::checkpoint::load_model(model, &newest(run_dir).join("model.bpk")).unwrap())
    };
    let total = total + killed_equals_straight("classify", &classify, cls_weights, 3);
    eprintln!("all tasks but word2vec: {total} kills, {total} resumes, 0 differences");
}

#[test]
fn a_killed_word2vec_run_resumes_to_the_same_vectors() {
    let dir = tmp_dir("faults-kill-word2vec");
    let args = |out: &Path| {
        ["train", "--quiet", "--task", "word2vec", "--data", "data/austen", "--out", out.to_str().unwrap()]
            .iter()
            .map(|s| s.to_string())
            .chain(["--set", "word2vec.threads=1", "--set", "word2vec.dim=16", "--set", "word2vec.epochs=5"].iter().map(|s| s.to_string()))
            .collect::<Vec<String>>()
    };
    let (straight, killed) = (dir.join("straight"), dir.join("killed"));
    let a = args(&straight);
    let t = Instant::now();
    let (code, _, err) = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");
    let b = args(&killed);
    let ckpt = killed.join("checkpoint");
    let (n, mid_write) = run_with_kills(&b.iter().map(String::as_str).collect::<Vec<_>>(), &killed, 4, kills(), t.elapsed(), || ckpt.exists());
    let (x, y) = (std::fs::read(straight.join("vectors.bin")).unwrap(), std::fs::read(killed.join("vectors.bin")).unwrap());
    assert!(x == y, "after {n} kills the vectors differ");
    eprintln!("word2vec: {n} kills ({mid_write} in a file write), {n} resumes, 0 differences");
}

#[test]
fn damaged_checkpoints_are_named_and_resuming_falls_back_past_them() {
    let dir = tmp_dir("faults-damage");
    let (straight, damaged) = (dir.join("straight"), dir.join("damaged"));
    let train = |out: &Path, steps: &str| {
        let mut a = vec!["train", "--quiet", "--out", out.to_str().unwrap()];
        a.extend_from_slice(SMALL);
        let steps = format!("train.max_steps={steps}");
        a.extend(["--set", steps.as_str(), "--set", "train.checkpoint_every=2", "--set", "train.keep_checkpoints=3", "--set", "train.eval_every=2"]);
        run(&a)
    };
    assert_eq!(train(&straight, "8").0, 0);
    assert_eq!(train(&damaged, "6").0, 0);
    let d = damaged.to_str().unwrap();
    // A flipped bit in the newest checkpoint: resuming names it and goes back to step 4.
    let model = damaged.join("checkpoints/step-00000006/model.bpk");
    let mut bytes = std::fs::read(&model).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    std::fs::write(&model, &bytes).unwrap();
    let (code, _, err) = run(&["train", "--quiet", "--resume", d, "--set", "train.max_steps=8"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("step-00000006/model.bpk") && err.contains("step-00000004"), "{err}");
    let diff = max_diff(&translation_weights(&straight), &translation_weights(&damaged));
    assert!(diff <= 1e-6, "resumed past the damage, the weights differ by {diff}");
    assert_eq!(rows(&straight), rows(&damaged));
    // Damaged weights are named when a run is loaded for use, too.
    let best = damaged.join("best/model.bpk");
    let len = std::fs::metadata(&best).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&best).unwrap().set_len(len / 2).unwrap();
    let (code, _, err) = run(&["translate", "--run", d, "I am here."]);
    assert_ne!(code, 0);
    assert!(err.contains("best/model.bpk") && err.contains("damaged"), "{err}");
}

#[test]
fn a_full_disk_stops_the_run_with_the_path_and_keeps_the_last_checkpoint() {
    let dir = tmp_dir("faults-disk");
    let run_dir = dir.join("run");
    assert_eq!(train_small(&run_dir, &["--set", "train.max_steps=2"]).0, 0);
    // Files may not grow past 64 KiB: the next checkpoint's model does not fit.
    let cmd = format!(
        "ulimit -f 64; exec {} train --quiet --resume {} --set train.max_steps=4",
        env!("CARGO_BIN_EXE_attend"),
        run_dir.display()
    );
    let out = std::process::Command::new("bash").arg("-c").arg(&cmd).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    // The file it could not write: the new checkpoint's or best/'s, whichever came first.
    assert!(err.contains("/.tmp-step-00000004/") || err.contains("/.tmp-best/"), "the error names the file it could not write: {err}");
    assert!(err.contains("File too large") || err.contains("No space"), "{err}");
    let (code, t, err) = run(&["translate", "--run", run_dir.to_str().unwrap(), "I am here."]);
    assert_eq!((code, t.lines().count()), (0, 1), "the previous checkpoint still loads: {err}");
    // And the run continues once there is room again.
    let (code, _, err) = run(&["train", "--quiet", "--resume", run_dir.to_str().unwrap(), "--set", "train.max_steps=4"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_second_process_on_a_run_is_refused_and_a_killed_ones_lock_is_taken_over() {
    let dir = tmp_dir("faults-lock");
    let run_dir = dir.join("run");
    let mut a = vec!["train", "--quiet", "--out", run_dir.to_str().unwrap()];
    a.extend_from_slice(SMALL);
    a.extend(["--set", "train.max_steps=100000"]);
    let mut first = spawn(&a);
    let start = Instant::now();
    while !run_dir.join(".lock").exists() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, _, err) = run(&["train", "--quiet", "--resume", run_dir.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains(&format!("process {}", first.id())), "{err}");
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(run_dir.join(".lock").exists(), "a killed run leaves its lock");
    let (code, _, err) = run(&["train", "--quiet", "--resume", run_dir.to_str().unwrap(), "--set", "train.max_steps=2"]);
    assert_eq!(code, 0, "the stale lock is taken over: {err}");
    assert!(!run_dir.join(".lock").exists(), "and released at the end");
}
