//! `attend word2vec …` end to end on the bundled Jane Austen corpus, and
//! `attend train --init-embeddings`.

mod common;
use common::{run, tmp_dir, train_small};

#[test]
fn train_query_evaluate_and_initialise_a_model() {
    let dir = tmp_dir("w2v-cli");
    let vectors = dir.join("austen.bin");
    let v = vectors.to_str().unwrap();
    let (code, out, err) = run(&[
        "word2vec", "train", "--corpus", "data/austen", "--out", v, "--dim", "32", "--epochs", "2", "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("572045 words") && out.contains("words/s"), "{out}");
    assert!(vectors.exists());

    let (code, out, err) = run(&["word2vec", "neighbors", "--vectors", v, "elizabeth", "--top", "3"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 4, "{out}");
    let (code, out, err) = run(&["word2vec", "analogy", "--vectors", v, "brother", "he", "she", "--top", "5"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("brother − he + she ≈") && out.lines().count() == 6, "{out}");
    let (code, _, err) = run(&["word2vec", "analogy", "--vectors", v, "brother", "he", "zorgle"]);
    assert_ne!(code, 0);
    assert!(err.contains("`zorgle` is not in the vocabulary"), "{err}");

    let (code, out, err) = run(&[
        "word2vec", "eval", "--vectors", v,
        "--analogies", "tests/fixtures/word2vec/questions.txt",
        "--similarity", "tests/fixtures/word2vec/similarity.tsv",
    ]);
    assert_eq!(code, 0, "{err}");
    let overall = out.lines().find(|l| l.trim_start().starts_with("overall")).expect("an overall line");
    let cols: Vec<&str> = overall.split_whitespace().collect();
    assert_eq!(&cols[2..5], ["5", "6", "1"], "evaluated 5 of 6, 1 skipped: {overall}");
    assert!(out.contains("on 5/6 pairs (1 skipped for unknown words)"), "{out}");

    // The text format reads back the same words.
    let text = dir.join("austen.txt");
    let (code, _, err) = run(&[
        "word2vec", "train", "--corpus", "data/austen", "--out", text.to_str().unwrap(), "--dim", "32", "--epochs", "1", "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::read_to_string(&text).unwrap().starts_with("5264 32\n"));

    // A translation model starts from the vectors (the small test model is 32 wide).
    let (code, out, err) = train_small(&dir.join("run"), &["--init-embeddings", v, "--set", "train.max_steps=2"]);
    assert_eq!(code, 0, "{err}");
    let line = out.lines().find(|l| l.starts_with("source embedding:")).expect("an init report");
    let found: usize = line.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!(found > 1000, "{line}");
    let (code, _, err) = run(&["train", "--quiet", "--init-embeddings", v, "--out", dir.join("run2").to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("dimension 32") && err.contains("128"), "{err}");
    assert!(!dir.join("run2").exists(), "a failed start leaves no run behind");
}

#[test]
fn bad_vector_files_and_arguments_name_the_culprit() {
    let dir = tmp_dir("w2v-bad");
    let bad = dir.join("bad.txt");
    std::fs::write(&bad, "2 3\nking 1 2 3\nqueen 1 2\n").unwrap();
    let (code, _, err) = run(&["word2vec", "neighbors", "--vectors", bad.to_str().unwrap(), "king"]);
    assert_ne!(code, 0);
    assert!(err.contains("bad.txt:3") && err.contains("`queen` has 2 values, expected 3"), "{err}");

    let (code, _, err) = run(&["word2vec", "train", "--corpus", "nowhere", "--out", dir.join("v.bin").to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("--corpus") && err.contains("nowhere"), "{err}");
    let (code, _, err) = run(&["word2vec", "train", "--corpus", "data/austen", "--out", dir.join("v.bin").to_str().unwrap(), "--arch", "glove"]);
    assert_ne!(code, 0);
    assert!(err.contains("--arch") && err.contains("glove"), "{err}");
    let (code, _, err) = run(&["word2vec", "train", "--corpus", "data/austen", "--out", "no/such/dir/v.bin"]);
    assert_ne!(code, 0);
    assert!(err.contains("--out") && err.contains("no/such/dir"), "{err}");
}

#[test]
fn ctrl_c_keeps_a_checkpoint_and_resume_finishes_the_vectors() {
    let dir = tmp_dir("w2v-interrupt");
    let out = dir.join("v.txt");
    let ckpt = dir.join("v.txt.checkpoint");
    let args = ["word2vec", "train", "--corpus", "data/austen", "--out", out.to_str().unwrap(), "--dim", "16", "--epochs", "6", "--threads", "1", "--quiet"];
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
    assert!(err.contains("--resume"), "{err}");
    assert!(!out.exists(), "no vectors from an unfinished run");
    let state = std::fs::read_to_string(ckpt.join("state.json")).unwrap();
    assert!(state.contains("\"job_in_epoch\""), "{state}");

    // Starting over by accident is refused; --resume finishes the run.
    let (code, _, err) = run(&args);
    assert_ne!(code, 0);
    assert!(err.contains("--resume"), "{err}");
    let mut resume = args.to_vec();
    resume.push("--resume");
    let (code, stdout, err) = run(&resume);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("wrote"), "{stdout}");
    assert!(out.exists() && !ckpt.exists());
}
