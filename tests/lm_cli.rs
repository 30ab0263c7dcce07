//! `attend train --task lm`, `attend generate` and `attend eval --text` end to end
//! on a small generated text.

mod common;
use common::{run, tmp_dir};

const SMALL_LM: &[&str] = &[
    "--set", "model.d_model=48",
    "--set", "model.n_heads=2",
    "--set", "model.d_ff=96",
    "--set", "model.layers=2",
    "--set", "model.context=32",
    "--set", "data.batch_size=16",
    "--set", "train.lr=0.01",
    "--set", "train.warmup_steps=10",
    "--set", "train.eval_every=100",
    "--set", "train.checkpoint_every=100",
];

fn text(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("abc.txt");
    std::fs::write(&path, "the cat sat on the mat.\n".repeat(300)).unwrap();
    path
}

fn train_lm(dir: &std::path::Path, name: &str, extra: &[&str]) -> (i32, String, String) {
    let data = text(dir);
    let out = dir.join(name);
    let mut args = vec!["train", "--quiet", "--task", "lm", "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(SMALL_LM);
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn a_recurrent_language_model_learns_generates_and_scores_too() {
    let dir = tmp_dir("lm-cli-lstm");
    let (code, out, err) = train_lm(&dir, "run", &["--set", "model.arch=\"lstm\"", "--set", "train.max_steps=300"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let line = out.lines().find(|l| l.starts_with("validation loss over every full")).expect(&out);
    let loss: f64 = line.split_whitespace().nth(7).unwrap().parse().unwrap();
    assert!(loss < 0.6, "{line}");
    let r = dir.join("run");
    let r = r.to_str().unwrap();
    // 60 characters: longer than the 32-character training window; the state carries on.
    let (code, gen, err) = run(&["generate", "--run", r, "--prompt", "the cat", "--max-tokens", "60", "--temperature", "0"]);
    assert_eq!(code, 0, "{err}");
    assert!(gen.starts_with("the cat sat on the mat.\nthe cat sat on the mat"), "{gen}");
    assert!(err.contains("recurrent state carried"), "{err}");
    let (_, plain, _) = run(&["generate", "--run", r, "--prompt", "the cat", "--max-tokens", "60", "--temperature", "0", "--no-cache"]);
    assert_eq!(plain, gen);
    let (code, ev, err) = run(&["eval", "--run", r, "--text", dir.join("abc.txt").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(ev.contains("bits/character"), "{ev}");
    let (code, _, err) = train_lm(&dir, "bad", &["--set", "model.arch=\"lstm-attention\"", "--set", "train.max_steps=3"]);
    assert_ne!(code, 0);
    assert!(err.contains("model.arch") && err.contains("`gpt`, `rnn`, `lstm`"), "{err}");
}

#[test]
fn a_language_model_learns_a_text_generates_and_scores_it() {
    let dir = tmp_dir("lm-cli");
    let (code, out, err) = train_lm(&dir, "run", &["--set", "train.max_steps=500"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let line = out.lines().find(|l| l.starts_with("validation loss over every full")).expect(&out);
    let loss: f64 = line.split_whitespace().nth(7).unwrap().parse().unwrap();
    assert!(loss < 0.6, "a repeated sentence should be easy (an untrained model scores 2.8): {line}");
    let r = dir.join("run");
    let (code, gen, err) = run(&["generate", "--run", r.to_str().unwrap(), "--prompt", "the cat", "--max-tokens", "30", "--temperature", "0"]);
    assert_eq!(code, 0, "{err}");
    assert!(gen.starts_with("the cat sat on the mat"), "{gen}");
    assert!(err.contains("tokens/s (key/value cache)"), "{err}");
    let (_, plain, _) = run(&["generate", "--run", r.to_str().unwrap(), "--prompt", "the cat", "--max-tokens", "30", "--temperature", "0", "--no-cache"]);
    assert_eq!(plain, gen);
    let sampled = |seed: &str| run(&["generate", "--run", r.to_str().unwrap(), "--max-tokens", "40", "--seed", seed, "--temperature", "2"]).1;
    assert_eq!(sampled("3"), sampled("3"), "a seed reproduces the text");
    let (code, ev, err) = run(&["eval", "--run", r.to_str().unwrap(), "--text", dir.join("abc.txt").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(ev.contains("nats/token") && ev.contains("bits/character"), "{ev}");
    let (code, _, err) = run(&["generate", "--run", dir.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("not a run directory"), "{err}");
}

/// Every float parameter of a language-model run's weights file.
fn lm_weights(run: &std::path::Path, weights: &str) -> Vec<f32> {
    use attend::train::tasks::lm::{lm_config, load_lm};
    let device = attend::device::parse_device("cpu").unwrap();
    let lm = load_lm(run, &device).unwrap();
    let model = lm_config(&lm.cfg.model, lm.vocab.len()).init(&device).unwrap();
    let model = attend::train::trainer::checkpoint::load_model(model, &run.join(weights)).unwrap();
    common::float_params(&model)
}

#[test]
fn resumed_language_model_matches_a_straight_run() {
    let dir = tmp_dir("lm-resume");
    let every = ["--set", "train.schedule=\"constant\"", "--set", "train.eval_every=4", "--set", "train.checkpoint_every=4"];
    let mut straight = every.to_vec();
    straight.extend(["--set", "train.max_steps=12"]);
    let (code, a, err) = train_lm(&dir, "straight", &straight);
    assert_eq!(code, 0, "{err}");
    let mut first = every.to_vec();
    first.extend(["--set", "train.max_steps=4"]);
    let (code, _, err) = train_lm(&dir, "split", &first);
    assert_eq!(code, 0, "{err}");
    let split = dir.join("split");
    let (code, b, err) = run(&["train", "--quiet", "--resume", split.to_str().unwrap(), "--set", "train.max_steps=12"]);
    assert_eq!(code, 0, "{err}");
    let full = |s: &str| s.lines().find(|l| l.starts_with("validation loss over every full")).map(String::from);
    assert!(full(&a).is_some());
    assert_eq!(full(&a), full(&b), "straight:\n{a}\nresumed:\n{b}");
    // Every weight, and every metrics row but the timings.
    let (wa, wb) = (lm_weights(&dir.join("straight"), "checkpoints/step-00000012/model.bpk"), lm_weights(&split, "checkpoints/step-00000012/model.bpk"));
    let diff = wa.iter().zip(&wb).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert!(diff < 1e-6, "weights differ by {diff}");
    let rows = |run: &std::path::Path| -> Vec<String> {
        let text = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
        text.lines().map(|l| l.split(',').take(6).collect::<Vec<_>>().join(",")).collect()
    };
    assert_eq!(rows(&dir.join("straight")), rows(&split));
    assert_eq!(rows(&split).len(), 4, "a header and evaluations at steps 4, 8 and 12");
    // best/ holds the weights of the lowest validation estimate, not just the last ones (the LM once kept its last).
    let state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(split.join("best/state.json")).unwrap()).unwrap();
    let text = std::fs::read_to_string(split.join("metrics.csv")).unwrap();
    let (best_step, _) = text
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[0].parse::<u64>().unwrap(), c[4].parse::<f64>().unwrap())
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    assert_eq!(state["best_step"].as_u64(), Some(best_step), "{state}");
}
