//! `attend train --task word2vec`, `analogy`, `neighbors` and `eval --vectors`
//! end to end on the bundled Jane Austen corpus, and `attend train
//! --init-embeddings`.

mod common;
use common::{run, tmp_dir, train_small};

fn train_w2v(run_dir: &std::path::Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["train", "--task", "word2vec", "--data", "data/austen", "--out", run_dir.to_str().unwrap(), "--quiet"];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn train_query_evaluate_and_initialise_a_model() {
    let dir = tmp_dir("w2v-cli");
    let run_dir = dir.join("austen");
    let r = run_dir.to_str().unwrap();
    let (code, out, err) = train_w2v(&run_dir, &["--set", "word2vec.dim=32", "--set", "word2vec.epochs=2"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("572045 words") && out.contains("words/s"), "{out}");
    let vectors = run_dir.join("vectors.bin");
    assert!(vectors.exists() && run_dir.join("config.toml").exists() && !run_dir.join("checkpoint").exists());
    let v = vectors.to_str().unwrap();

    // A run directory or its vectors file.
    for source in [r, v] {
        let (code, out, err) = run(&["neighbors", "--vectors", source, "elizabeth", "--top", "3"]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(out.lines().count(), 4, "{out}");
    }
    let (code, out, err) = run(&["analogy", "--vectors", r, "brother", "he", "she", "--top", "5"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("brother − he + she ≈") && out.lines().count() == 6, "{out}");
    let (code, _, err) = run(&["analogy", "--vectors", r, "brother", "he", "zorgle"]);
    assert_ne!(code, 0);
    assert!(err.contains("`zorgle` is not in the vocabulary"), "{err}");

    let (code, out, err) = run(&[
        "eval", "--vectors", r,
        "--analogies", "tests/fixtures/word2vec/questions.txt",
        "--similarity", "tests/fixtures/word2vec/similarity.tsv",
    ]);
    assert_eq!(code, 0, "{err}");
    let overall = out.lines().find(|l| l.trim_start().starts_with("overall")).expect("an overall line");
    let cols: Vec<&str> = overall.split_whitespace().collect();
    assert_eq!(&cols[2..5], ["5", "6", "1"], "evaluated 5 of 6, 1 skipped: {overall}");
    assert!(out.contains("on 5/6 pairs (1 skipped for unknown words)"), "{out}");

    // A translation model starts from the vectors (the small test model is 32 wide).
    let (code, out, err) = train_small(&dir.join("run"), &["--init-embeddings", v, "--set", "data.tokenizer=word", "--set", "train.max_steps=2"]);
    assert_eq!(code, 0, "{err}");
    let line = out.lines().find(|l| l.starts_with("source embedding:")).expect("an init report");
    let found: usize = line.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!(found > 1000, "{line}");
    let run2 = dir.join("run2");
    let (code, _, err) = run(&["train", "--quiet", "--init-embeddings", v, "--set", "data.tokenizer=word", "--out", run2.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("dimension 32") && err.contains("128"), "{err}");
    assert!(!run2.exists(), "a failed start leaves no run behind");
    // Word vectors are for word tokens: the default subword tokenizer is refused by name.
    let (code, _, err) = run(&["train", "--quiet", "--init-embeddings", v, "--out", run2.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("model.init_embeddings") && err.contains("data.tokenizer"), "{err}");
    assert!(!run2.exists());
}

#[test]
fn bad_vector_files_and_arguments_name_the_culprit() {
    let dir = tmp_dir("w2v-bad");
    let bad = dir.join("bad.txt");
    std::fs::write(&bad, "2 3\nking 1 2 3\nqueen 1 2\n").unwrap();
    let (code, _, err) = run(&["neighbors", "--vectors", bad.to_str().unwrap(), "king"]);
    assert_ne!(code, 0);
    assert!(err.contains("bad.txt:3") && err.contains("`queen` has 2 values, expected 3"), "{err}");

    let (code, _, err) = run(&["train", "--task", "word2vec", "--data", "nowhere", "--out", dir.join("r1").to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("--data") && err.contains("nowhere"), "{err}");
    let (code, _, err) = train_w2v(&dir.join("r2"), &["--set", "word2vec.arch=glove"]);
    assert_ne!(code, 0);
    assert!(err.contains("word2vec.arch") && err.contains("glove"), "{err}");
    // Settings of the trainer's tasks are not word2vec's.
    let (code, _, err) = train_w2v(&dir.join("r3"), &["--set", "train.lr=0.1"]);
    assert_ne!(code, 0);
    assert!(err.contains("train.lr: a word2vec run has no such setting"), "{err}");
    assert!(!dir.join("r2").exists() && !dir.join("r3").exists());
}

#[test]
fn ctrl_c_keeps_a_checkpoint_and_resume_finishes_the_vectors() {
    let dir = tmp_dir("w2v-interrupt");
    let run_dir = dir.join("run");
    let r = run_dir.to_str().unwrap();
    let ckpt = run_dir.join("checkpoint");
    let args = [
        "train", "--task", "word2vec", "--data", "data/austen", "--out", r, "--quiet",
        "--set", "word2vec.dim=16", "--set", "word2vec.epochs=6", "--set", "word2vec.threads=1",
    ];
    let child = common::attend().args(args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    // The first epoch-end checkpoint shows that training is under way.
    let start = std::time::Instant::now();
    while !ckpt.join("state.json").exists() && start.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let done = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(130), "{err}");
    assert!(err.contains("attend train --resume"), "{err}");
    assert!(!run_dir.join("vectors.bin").exists(), "no vectors from an unfinished run");
    let state = std::fs::read_to_string(ckpt.join("state.json")).unwrap();
    assert!(state.contains("\"job_in_epoch\""), "{state}");

    // Starting over by accident is refused; --resume finishes the run.
    let (code, _, err) = run(&args);
    assert_ne!(code, 0);
    assert!(err.contains("--resume"), "{err}");
    let (code, stdout, err) = run(&["train", "--quiet", "--resume", r]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("wrote"), "{stdout}");
    assert!(run_dir.join("vectors.bin").exists() && !ckpt.exists());
    let (code, _, err) = run(&["train", "--quiet", "--resume", r]);
    assert_ne!(code, 0);
    assert!(err.contains("nothing to continue, it has finished"), "{err}");
}
