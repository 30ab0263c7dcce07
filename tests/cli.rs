//! The `attend` binary driven as a user would: the default translation run
//! (few steps), translate, eval, resume, Ctrl-C, and bad inputs.

mod common;

use common::{metrics, run, tmp_dir, train_small};

const VALID: &str = "data/tatoeba-eng-fra/subset/valid.tsv";

#[test]
fn default_run_translate_and_eval() {
    let dir = tmp_dir("cli-default");
    let run_dir = dir.join("run");
    let (code, out, err) = train_small(&run_dir, &["--set", "train.max_steps=6"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("BLEU"), "{out}");
    for f in ["config.toml", "tokenizer.json", "vocab.src.json", "vocab.tgt.json", "metrics.csv", "best/model.bpk"] {
        assert!(run_dir.join(f).exists(), "missing {f}");
    }
    assert!(run_dir.join("checkpoints/step-00000006/optim.bpk").exists());
    let r = run_dir.to_str().unwrap();

    let (code, out, err) = run(&["translate", "--run", r, "I am a manager.", "She is tired."]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");

    let mut child = common::attend()
        .args(["translate", "--run", r])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"I am cold.\nWe are late.\nHe is here.\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);

    let (code, out, err) = run(&["eval", "--run", r, "--tsv", VALID]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("BLEU "), "{out}");
    assert!(out.contains("525 sentences") && out.contains("greedy"), "{out}");

    // Beam search: a beam of one is greedy decoding; wider beams translate and score too.
    let sentences = ["I am a manager.", "She is tired.", "We are late."];
    let greedy_out = run(&[&["translate", "--run", r][..], &sentences[..]].concat()).1;
    let (code, beam1, err) = run(&[&["translate", "--run", r, "--beam", "1"][..], &sentences[..]].concat());
    assert_eq!(code, 0, "{err}");
    assert_eq!(beam1, greedy_out);
    let (code, beam4, err) = run(&[&["translate", "--run", r, "--beam", "4", "--length-penalty", "0.6"][..], &sentences[..]].concat());
    assert_eq!(code, 0, "{err}");
    assert_eq!(beam4.lines().count(), 3, "{beam4}");
    let (code, out, err) = run(&["eval", "--run", r, "--tsv", VALID, "--beam", "3"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("BLEU ") && out.contains("beam 3"), "{out}");
    for bad in [&["--beam", "0"][..], &["--beam", "2", "--attention", "x.png"][..], &["--length-penalty", "0.5"][..]] {
        let (code, _, err) = run(&[&["translate", "--run", r][..], bad, &["Hi."][..]].concat());
        assert_ne!(code, 0, "{bad:?} was accepted");
        assert!(err.contains("--beam") || err.contains("--attention"), "{bad:?}: {err}");
    }

    // Attention heatmaps: mean of all layers, one layer and head; bad indices are errors.
    let png = dir.join("attn.png");
    let (code, _, err) = run(&["translate", "--run", r, "--attention", png.to_str().unwrap(), "I am a manager."]);
    assert_eq!(code, 0, "{err}");
    assert_png(&png);
    let (code, _, err) = run(&[
        "translate", "--run", r, "--attention", png.to_str().unwrap(), "--layer", "0", "--head", "1", "I am cold.", "We are late.",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_png(&dir.join("attn-1.png"));
    assert_png(&dir.join("attn-2.png"));
    let (code, _, err) = run(&["translate", "--run", r, "--attention", png.to_str().unwrap(), "--layer", "5", "Hi."]);
    assert_ne!(code, 0);
    assert!(err.contains("--layer 5"), "{err}");
}

fn assert_png(path: &std::path::Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.len() > 1000 && bytes.starts_with(b"\x89PNG"), "{} is not a PNG", path.display());
}

#[test]
fn resume_gives_the_same_losses_and_weights_as_a_straight_run() {
    let dir = tmp_dir("cli-resume");
    let straight = dir.join("straight");
    let split = dir.join("split");
    let common = ["--set", "train.eval_every=4", "--set", "train.checkpoint_every=4", "--set", "model.dropout=0.1"];
    let mut a: Vec<&str> = common.to_vec();
    a.extend(["--set", "train.max_steps=8"]);
    let (code, _, err) = train_small(&straight, &a);
    assert_eq!(code, 0, "{err}");
    let mut b: Vec<&str> = common.to_vec();
    b.extend(["--set", "train.max_steps=4"]);
    let (code, _, err) = train_small(&split, &b);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(&["train", "--quiet", "--resume", split.to_str().unwrap(), "--set", "train.max_steps=8"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("resuming"), "{out}");
    let (m1, m2) = (metrics(&straight), metrics(&split));
    assert_eq!(m1.len(), 2);
    assert_eq!(m1.len(), m2.len());
    for (x, y) in m1.iter().zip(&m2) {
        assert_eq!(x.0, y.0);
        assert!((x.1 - y.1).abs() < 1e-5, "train loss {x:?} vs {y:?}");
        assert!((x.2 - y.2).abs() < 1e-5, "valid loss {x:?} vs {y:?}");
    }
    let w1 = attend_weights(&straight.join("checkpoints/step-00000008/model.bpk"), &straight);
    let w2 = attend_weights(&split.join("checkpoints/step-00000008/model.bpk"), &split);
    assert_eq!(w1.len(), w2.len());
    let max = w1.iter().zip(&w2).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(max < 1e-6, "weights differ by {max}");
}

/// All float parameters of a run's model, loaded from `weights`.
fn attend_weights(weights: &std::path::Path, run_dir: &std::path::Path) -> Vec<f32> {
    let device = attend::device::parse_device("cpu").unwrap();
    let run = attend::train::LoadedRun::load_weights(run_dir, weights, &device).unwrap();
    common::float_params(&run.model)
}

#[test]
fn ctrl_c_writes_a_checkpoint_and_resume_finishes() {
    let dir = tmp_dir("cli-interrupt");
    let run_dir = dir.join("run");
    let mut args: Vec<&str> = vec!["train", "--quiet", "--out", run_dir.to_str().unwrap()];
    args.extend_from_slice(common::SMALL);
    args.extend(["--set", "train.max_steps=100000", "--set", "train.checkpoint_every=0", "--set", "train.epochs=50"]);
    let child = common::attend().args(&args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    // Wait until training is under way (the vocabularies are written before the first step).
    let start = std::time::Instant::now();
    while !run_dir.join("vocab.tgt.json").exists() && start.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_secs(3));
    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("interrupted at step"), "{stdout}");
    // The run may also have passed an epoch end (a checkpoint of its own) before the
    // interrupt; the newest checkpoint is the one written at the interrupted step.
    let step: usize = stdout
        .split("interrupted at step ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no step in {stdout}"));
    assert!(step > 0);
    let newest = attend_ckpts(&run_dir).into_iter().max().expect("a checkpoint");
    assert_eq!(newest, format!("step-{step:08}"), "the newest checkpoint is the interrupted step's");
    let (code, out, err) = run(&[
        "train", "--quiet", "--resume", run_dir.to_str().unwrap(), "--set", &format!("train.max_steps={}", step + 3),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains(&format!("{} steps", step + 3)), "{out}");
}

#[test]
fn non_finite_loss_stops_with_a_clear_message_and_keeps_the_checkpoint() {
    let dir = tmp_dir("cli-nan");
    let run_dir = dir.join("run");
    let (code, out, err) = train_small(
        &run_dir,
        &[
            "--set", "train.schedule=constant", "--set", "train.warmup_steps=1", "--set", "train.lr=1e30",
            "--set", "train.clip_norm=0", "--set", "train.checkpoint_every=1", "--set", "train.max_steps=50",
        ],
    );
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("loss became"), "{err}");
    assert!(err.contains("last good checkpoint"), "{err}");
    assert!(!attend_ckpts(&run_dir).is_empty(), "a checkpoint from before the failure is kept");
}

fn attend_ckpts(run_dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(run_dir.join("checkpoints"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().to_string()).filter(|n| n.starts_with("step-")).collect())
        .unwrap_or_default()
}

#[test]
fn bad_inputs_give_one_line_errors_naming_the_culprit() {
    let dir = tmp_dir("cli-bad");
    let missing = dir.join("nope.tsv");
    let (code, _, err) = run(&["train", "--tsv", missing.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("nope.tsv") && err.contains("no such file"), "{err}");

    let bad = dir.join("bad.tsv");
    std::fs::write(&bad, "Hello.\tBonjour.\nno tab on this line\n").unwrap();
    let (code, _, err) = run(&["train", "--quiet", "--tsv", bad.to_str().unwrap(), "--out", dir.join("r1").to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("bad.tsv:2"), "{err}");

    let a = dir.join("a.en");
    let b = dir.join("b.fr");
    std::fs::write(&a, "one\ntwo\nthree\n").unwrap();
    std::fs::write(&b, "un\ndeux\n").unwrap();
    let (code, _, err) = run(&[
        "train", "--quiet", "--src", a.to_str().unwrap(), "--tgt", b.to_str().unwrap(), "--out", dir.join("r2").to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("3 lines") && err.contains("has 2"), "{err}");

    let (code, _, err) = run(&["train", "--set", "model.d_modle=8"]);
    assert_ne!(code, 0);
    assert!(err.contains("d_modle"), "{err}");

    let (code, _, err) = run(&["train", "--set", "model.d_model=30", "--set", "model.n_heads=4", "--out", dir.join("r3").to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("divisible"), "{err}");

    let (code, _, err) = run(&["translate", "--run", dir.to_str().unwrap(), "hi"]);
    assert_ne!(code, 0);
    assert!(err.contains("not a run directory"), "{err}");

    let (code, _, err) = run(&["train", "--device", "tpu"]);
    assert_ne!(code, 0);
    assert!(err.contains("tpu"), "{err}");

    let (_, _, err) = run(&["train", "--set", "model.d_modle=8"]);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

    // A setting of another task is refused, not silently ignored; so is data a task has no use for.
    let (code, _, err) = run(&["train", "--set", "data.fold=1", "--out", dir.join("r4").to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("data.fold") && err.contains("classify"), "{err}");
    let (code, _, err) = run(&["train", "--task", "lm", "--tsv", VALID, "--out", dir.join("r5").to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("--tsv") && err.contains("lm run"), "{err}");
    let (code, _, err) = run(&["train", "--set", "model.arch=transformr"]);
    assert_ne!(code, 0);
    assert!(err.contains("model.arch") && err.contains("transformr"), "{err}");
    assert!(!dir.join("r4").exists() && !dir.join("r5").exists(), "no run directory for a refused run");
}

#[test]
fn two_replicas_train_data_parallel_and_resume_refuses_new_data() {
    let dir = tmp_dir("cli-parallel");
    let run_dir = dir.join("run");
    let (code, out, err) = train_small(&run_dir, &["--device", "ndarray,ndarray", "--set", "train.max_steps=3"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("NdArray") && out.contains("3 steps"), "{out}");
    let r = run_dir.to_str().unwrap();
    let (code, _, err) = run(&["train", "--resume", r, "--tsv", VALID]);
    assert_ne!(code, 0);
    assert!(err.contains("--tsv cannot be given"), "{err}");
    let (code, _, err) = run(&["train", "--resume", r, "--set", "model.d_model=64"]);
    assert_ne!(code, 0);
    assert!(err.contains("--set model.d_model=64") && err.contains("only train.*"), "{err}");
}

#[test]
fn incompatible_checkpoint_is_an_error_naming_it() {
    let dir = tmp_dir("cli-incompatible");
    let run_dir = dir.join("run");
    let (code, _, err) = train_small(&run_dir, &["--set", "train.max_steps=2"]);
    assert_eq!(code, 0, "{err}");
    // Another architecture: the config says 64 wide, the weights are 32 wide.
    let cfg = std::fs::read_to_string(run_dir.join("config.toml")).unwrap();
    std::fs::write(run_dir.join("config.toml"), cfg.replace("d_model = 32", "d_model = 64")).unwrap();
    let (code, _, err) = run(&["translate", "--run", run_dir.to_str().unwrap(), "I am here."]);
    assert_ne!(code, 0);
    assert!(err.contains("model.bpk") && err.contains("does not fit"), "{err}");
    // Another vocabulary.
    std::fs::write(run_dir.join("config.toml"), &cfg).unwrap();
    for v in ["vocab.src.json", "vocab.tgt.json"] {
        std::fs::write(run_dir.join(v), r#"{"tokens": ["<pad>", "<unk>", "<bos>", "<eos>", "x"]}"#).unwrap();
    }
    let (code, _, err) = run(&["translate", "--run", run_dir.to_str().unwrap(), "I am here."]);
    assert_ne!(code, 0);
    assert!(err.contains("does not fit"), "{err}");
    // Vocabularies of different sizes with one shared embedding table.
    std::fs::write(run_dir.join("vocab.src.json"), r#"{"tokens": ["<pad>", "<unk>", "<bos>", "<eos>", "x", "y"]}"#).unwrap();
    let (code, _, err) = run(&["translate", "--run", run_dir.to_str().unwrap(), "I am here."]);
    assert_ne!(code, 0);
    assert!(err.contains("shared embeddings need one vocabulary"), "{err}");
}

#[test]
fn every_architecture_trains_translates_and_evaluates() {
    let dir = tmp_dir("cli-archs");
    for (arch, extra) in [
        ("rnn", &[][..]),
        ("lstm", &[][..]),
        ("gru-attention", &["--set", "model.bidirectional=true"][..]),
        ("lstm-attention", &["--set", "model.attention_score=general", "--set", "model.encoder_layers=2"][..]),
        ("rnn-attention", &["--set", "model.attention_score=dot"][..]),
    ] {
        let run_dir = dir.join(arch);
        let set = format!("model.arch={arch}");
        let mut args = vec!["--set", set.as_str(), "--set", "train.max_steps=3"];
        args.extend_from_slice(extra);
        let (code, out, err) = train_small(&run_dir, &args);
        assert_eq!(code, 0, "{arch}: {out}\n{err}");
        let r = run_dir.to_str().unwrap();
        let (code, out, err) = run(&["translate", "--run", r, "I am a manager."]);
        assert_eq!(code, 0, "{arch}: {err}");
        assert_eq!(out.lines().count(), 1);
        let (code, out, err) = run(&["eval", "--run", r, "--tsv", VALID]);
        assert_eq!(code, 0, "{arch}: {err}");
        assert!(out.starts_with("BLEU "), "{out}");
        let png = dir.join(format!("{arch}.png"));
        let (code, _, err) = run(&["translate", "--run", r, "--attention", png.to_str().unwrap(), "I am here."]);
        if arch.ends_with("attention") {
            assert_eq!(code, 0, "{arch}: {err}");
            assert_png(&png);
        } else {
            assert_ne!(code, 0);
            assert!(err.contains("no attention"), "{err}");
        }
    }
    let (code, _, err) = train_small(&dir.join("bad"), &["--set", "model.arch=lstm-attention", "--set", "model.bidirectional=true", "--set", "model.attention_score=dot"]);
    assert_ne!(code, 0);
    assert!(err.contains("dot attention"), "{err}");
}

#[test]
fn score_prints_bleu_and_chrf_as_sacrebleu_does_with_signatures() {
    let fx = "tests/fixtures/bleu";
    let (hyp, r1, r2) = (format!("{fx}/hyp.txt"), format!("{fx}/ref.txt"), format!("{fx}/ref2.txt"));
    let expected: serde_json::Value = serde_json::from_str(&std::fs::read_to_string("tests/fixtures/chrf/expected.json").unwrap()).unwrap();
    let bleu: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(format!("{fx}/expected.json")).unwrap()).unwrap();
    for (refs, case, bleu_case) in [(vec![r1.as_str()], "single_ref", "single_ref"), (vec![&r1, &r2], "two_refs", "two_refs")] {
        let mut args = vec!["score", "--hyp", hyp.as_str(), "--ref"];
        args.extend(refs.iter().copied());
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{err}");
        let want_bleu = format!("BLEU {:.2} ", bleu[bleu_case]["score"].as_f64().unwrap());
        let want_chrf = format!("chrF2 {:.2}\n", expected[case]["score"].as_f64().unwrap());
        assert!(out.starts_with(&want_bleu) && out.contains(&want_chrf), "{out}");
        let n = refs.len();
        assert!(out.contains(&format!("BLEU|nrefs:{n}|case:mixed|eff:no|tok:13a|smooth:exp|version:attend-")), "{out}");
        assert!(out.contains(&format!("chrF2|nrefs:{n}|case:mixed|eff:yes|nc:6|nw:0|space:no|version:attend-")), "{out}");
    }
    let dir = tmp_dir("cli-score");
    let short = dir.join("short.txt");
    std::fs::write(&short, "one line\n").unwrap();
    let (code, _, err) = run(&["score", "--hyp", &hyp, "--ref", short.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("short.txt has 1 lines") && err.contains("hyp.txt has 12"), "{err}");
}

#[test]
fn the_average_of_the_last_checkpoints_is_a_run_that_translates() {
    let dir = tmp_dir("cli-average");
    let run_dir = dir.join("run");
    let (code, _, err) = train_small(&run_dir, &["--set", "train.max_steps=6", "--set", "train.checkpoint_every=2", "--set", "train.keep_checkpoints=3"]);
    assert_eq!(code, 0, "{err}");
    let (r, out) = (run_dir.to_str().unwrap(), dir.join("avg"));
    let (code, stdout, err) = run(&["average", "--run", r, "--last", "3", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("steps 2, 4, 6"), "{stdout}");
    let ws: Vec<Vec<f32>> = [2, 4, 6].iter().map(|s| attend_weights(&run_dir.join(format!("checkpoints/step-{s:08}/model.bpk")), &run_dir)).collect();
    let avg = attend_weights(&out.join("best/model.bpk"), &out);
    for (i, a) in avg.iter().enumerate() {
        let mean = (ws[0][i] + ws[1][i] + ws[2][i]) / 3.0;
        assert!((a - mean).abs() < 1e-6, "parameter {i}: {a} vs {mean}");
    }
    let (code, t, err) = run(&["translate", "--run", out.to_str().unwrap(), "I am here."]);
    assert_eq!((code, t.lines().count()), (0, 1), "{err}");
    let (code, _, err) = run(&["average", "--run", r, "--last", "5", "--out", dir.join("avg5").to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("--last 5") && err.contains("3 checkpoint(s)"), "{err}");
}
