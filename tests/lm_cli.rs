//! `attend train --task lm`, `attend generate` and `attend eval --text` end to end
//! on a small generated text.

mod common;
use common::{run, tmp_dir};

const SMALL_LM: &[&str] = &[
    "--set", "model.d_model=48",
    "--set", "model.n_heads=2",
    "--set", "model.d_ff=96",
    "--set", "model.decoder_layers=2",
    "--set", "model.max_len=32",
    "--set", "data.batch_size=16",
    "--set", "train.lr=0.01",
    "--set", "train.warmup_steps=10",
    "--set", "train.eval_every=100",
    "--set", "train.checkpoint_every=0",
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
    assert!(err.contains("gpt, rnn, lstm or gru"), "{err}");
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

#[test]
fn resumed_language_model_matches_a_straight_run() {
    let dir = tmp_dir("lm-resume");
    let constant = ["--set", "train.schedule=\"constant\""];
    let mut straight = constant.to_vec();
    straight.extend(["--set", "train.max_steps=8"]);
    let (code, a, err) = train_lm(&dir, "straight", &straight);
    assert_eq!(code, 0, "{err}");
    let mut first = constant.to_vec();
    first.extend(["--set", "train.max_steps=4"]);
    let (code, _, err) = train_lm(&dir, "split", &first);
    assert_eq!(code, 0, "{err}");
    let split = dir.join("split");
    let (code, b, err) = run(&["train", "--quiet", "--resume", split.to_str().unwrap(), "--set", "train.max_steps=8"]);
    assert_eq!(code, 0, "{err}");
    let full = |s: &str| s.lines().find(|l| l.starts_with("validation loss over every full")).map(String::from);
    assert!(full(&a).is_some());
    assert_eq!(full(&a), full(&b), "straight:\n{a}\nresumed:\n{b}");
}
