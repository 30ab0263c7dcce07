//! `attend train --task classify`, `attend classify` and `attend eval --data`
//! end to end on generated sentiment data.

mod common;
use common::{run, tmp_dir};

/// 600 sentences of filler words with a cue put in at a random place, `pos`
/// and `neg` by turns, each cue drawn from its label's list; the first 500
/// lines go to `train.tsv`, the rest to `valid.tsv` (with a header).
fn write_cued(dir: &std::path::Path, seed: u64, pos: &[&[&'static str]], neg: &[&[&'static str]]) -> (std::path::PathBuf, std::path::PathBuf) {
    let filler = ["the", "film", "was", "a", "story", "about", "two", "people", "and", "their", "day", "in", "town"];
    let mut x = seed;
    let mut next = |m: usize| {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 33) as usize % m
    };
    let (mut train, mut valid) = (String::new(), String::from("label\ttext\n"));
    for i in 0..600 {
        let (label, cues) = if i % 2 == 0 { ("pos", pos) } else { ("neg", neg) };
        let cue = cues[next(cues.len())];
        let mut words: Vec<&str> = (0..6 + next(6)).map(|_| filler[next(filler.len())]).collect();
        let at = next(words.len());
        words.splice(at..at, cue.iter().copied());
        let line = format!("{label}\t{}\n", words.join(" "));
        if i < 500 { train.push_str(&line) } else { valid.push_str(&line) }
    }
    let (t, v) = (dir.join("train.tsv"), dir.join("valid.tsv"));
    std::fs::write(&t, train).unwrap();
    std::fs::write(&v, valid).unwrap();
    (t, v)
}

/// Sentences whose label is given away by one of a few words among filler.
fn write_data(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    write_cued(dir, 11, &[&["great"], &["wonderful"], &["moving"], &["superb"]], &[&["dull"], &["awful"], &["boring"], &["tedious"]])
}

#[test]
fn classifiers_learn_label_and_score_texts() {
    let dir = tmp_dir("classify-cli");
    let (train, valid) = write_data(&dir);
    for arch in ["transformer", "lstm"] {
        let out = dir.join(arch);
        let arch_set = format!("model.arch=\"{arch}\"");
        let (code, stdout, err) = run(&[
            "train", "--quiet", "--task", "classify", "--data", train.to_str().unwrap(), "--valid", valid.to_str().unwrap(),
            "--out", out.to_str().unwrap(), "--set", &arch_set, "--set", "model.d_model=32", "--set", "model.d_ff=64",
            "--set", "model.layers=1", "--set", "model.dropout=0.1", "--set", "train.epochs=6", "--set", "train.lr=0.003",
        ]);
        assert_eq!(code, 0, "{arch}: {stdout}\n{err}");
        let acc = reported_accuracy(&stdout);
        assert!(acc >= 0.9, "{arch}: accuracy {acc}\n{stdout}");
        assert!(stdout.contains("confusion") && stdout.contains("macro F1"), "{stdout}");

        let (code, labels, err) = run(&["classify", "--run", out.to_str().unwrap(), "the film was superb", "the film was tedious"]);
        assert_eq!(code, 0, "{err}");
        let got: Vec<&str> = labels.lines().map(|l| l.split('\t').next().unwrap()).collect();
        assert_eq!(got, ["pos", "neg"], "{labels}");
        let (code, ev, err) = run(&["eval", "--run", out.to_str().unwrap(), "--data", valid.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        assert!(ev.starts_with("accuracy ") && ev.contains("(100 texts)"), "{ev}");
    }
    // An ensemble of both runs: the mean of their probabilities.
    let (t, l) = (dir.join("transformer"), dir.join("lstm"));
    let prob = |out: &str| -> Vec<(String, f64)> {
        out.lines().map(|x| {
            let mut f = x.split('\t');
            (f.next().unwrap().to_string(), f.next().unwrap().parse().unwrap())
        }).collect()
    };
    let texts = ["the film was superb", "the film was tedious"];
    let alone: Vec<_> = [&t, &l].iter().map(|r| {
        let (code, out, err) = run(&[&["classify", "--run", r.to_str().unwrap()][..], &texts[..]].concat());
        assert_eq!(code, 0, "{err}");
        prob(&out)
    }).collect();
    let (code, out, err) = run(&[&["classify", "--run", t.to_str().unwrap(), "--run", l.to_str().unwrap()][..], &texts[..]].concat());
    assert_eq!(code, 0, "{err}");
    for (i, (label, p)) in prob(&out).into_iter().enumerate() {
        assert_eq!(label, alone[0][i].0, "{out}");
        assert_eq!(label, alone[1][i].0, "{out}");
        let mean = (alone[0][i].1 + alone[1][i].1) / 2.0;
        assert!((p - mean).abs() <= 1.5e-4, "ensemble {p}, members {} and {}", alone[0][i].1, alone[1][i].1);
    }
    let (code, ev, err) = run(&["eval", "--run", t.to_str().unwrap(), "--run", l.to_str().unwrap(), "--data", valid.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(ev.starts_with("ensemble of 2 runs") && ev.contains("(100 texts)"), "{ev}");
    let (code, _, err) = run(&["eval", "--run", t.to_str().unwrap(), "--run", l.to_str().unwrap(), "--tsv", valid.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("only for classifiers"), "{err}");
    // Runs that classify into other labels cannot vote together.
    let other = dir.join("other-labels");
    std::fs::create_dir_all(other.join("best")).unwrap();
    for f in ["config.toml", "vocab.json", "best/model.bpk"] {
        std::fs::copy(l.join(f), other.join(f)).unwrap();
    }
    std::fs::write(other.join("labels.json"), r#"["bad","good"]"#).unwrap();
    let (code, _, err) = run(&["classify", "--run", t.to_str().unwrap(), "--run", other.to_str().unwrap(), "fine"]);
    assert_ne!(code, 0);
    assert!(err.contains("other-labels") && err.contains("bad, good") && err.contains("same labels"), "{err}");

    let bad = dir.join("bad.tsv");
    std::fs::write(&bad, "maybe\tthe film was fine\n").unwrap();
    let (code, _, err) = run(&["eval", "--run", dir.join("lstm").to_str().unwrap(), "--data", bad.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("`maybe`"), "{err}");
}

/// The accuracy `attend train --quiet` reports for the best epoch.
fn reported_accuracy(stdout: &str) -> f64 {
    let line = stdout.lines().find(|l| l.contains("accuracy")).expect(stdout);
    line.split("accuracy ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap()
}

/// A bag of words cannot tell "dog bites man" from "man bites dog"; a bag of
/// bigrams can. Here the label is only in the order of two words, so the
/// unigram bag stays near chance and the bigram bag learns it.
#[test]
fn a_bag_of_bigrams_learns_what_word_order_says_and_a_bag_of_words_cannot() {
    let dir = tmp_dir("classify-bag");
    let (t, v) = write_cued(&dir, 5, &[&["so", "good"]], &[&["good", "so"]]);
    let mut acc = Vec::new();
    for n in [1, 2] {
        let out = dir.join(format!("bag{n}"));
        let ngrams = format!("data.ngrams={n}");
        let (code, stdout, err) = run(&[
            "train", "--quiet", "--task", "classify", "--data", t.to_str().unwrap(), "--valid", v.to_str().unwrap(),
            "--out", out.to_str().unwrap(), "--set", "model.arch=\"bag\"", "--set", &ngrams, "--set", "model.d_model=16",
            "--set", "model.dropout=0.0", "--set", "train.epochs=8", "--set", "train.lr=0.01",
        ]);
        assert_eq!(code, 0, "ngrams {n}: {stdout}\n{err}");
        acc.push(reported_accuracy(&stdout));
    }
    assert!(acc[0] <= 0.7, "a bag of words found the order: {acc:?}");
    assert!(acc[1] >= 0.95, "a bag of bigrams did not learn the order: {acc:?}");
    // The run reads new texts with its n-grams.
    let (code, labels, err) = run(&["classify", "--run", dir.join("bag2").to_str().unwrap(), "a story so good", "a story good so"]);
    assert_eq!(code, 0, "{err}");
    let got: Vec<&str> = labels.lines().map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(got, ["pos", "neg"], "{labels}");
    // n-grams are for the bag only: the sequence models read the words in order.
    let (code, _, err) = run(&[
        "train", "--quiet", "--task", "classify", "--data", t.to_str().unwrap(), "--out", dir.join("lstm2").to_str().unwrap(),
        "--set", "model.arch=\"lstm\"", "--set", "data.ngrams=2",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("data.ngrams = 2") && err.contains("bag"), "{err}");
}

/// With weight averaging (`train.ema`), a run stopped after one epoch and
/// resumed for a second ends with the same weights and the same average as a
/// straight two-epoch run, and the kept model is the average.
#[test]
fn averaged_weights_resume_exactly() {
    let dir = tmp_dir("classify-ema");
    let (train, valid) = write_data(&dir);
    let base = |out: &std::path::Path, epochs: &str| {
        let epochs = format!("train.epochs={epochs}");
        let args = [
            "train", "--task", "classify", "--data", train.to_str().unwrap(), "--valid", valid.to_str().unwrap(),
            "--out", out.to_str().unwrap(), "--set", "model.arch=\"lstm\"", "--set", "model.pooling=\"max\"",
            "--set", "model.d_model=16", "--set", "model.layers=1", "--set", "train.ema=0.9", "--set", "train.weight_decay=0.01",
            "--set", epochs.as_str(),
        ];
        run(&args)
    };
    let (straight, split) = (dir.join("straight"), dir.join("split"));
    let (code, out, err) = base(&straight, "2");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("(last weights: score "), "the average and the last weights are both scored: {out}");
    let (code, _, err) = base(&split, "1");
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(&["train", "--resume", split.to_str().unwrap(), "--set", "train.epochs=2"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let newest = |run: &std::path::Path| {
        let mut dirs: Vec<_> = std::fs::read_dir(run.join("checkpoints")).unwrap().map(|e| e.unwrap().path()).collect();
        dirs.sort();
        dirs.pop().unwrap()
    };
    let (a, b) = (newest(&straight), newest(&split));
    assert_eq!(a.file_name(), b.file_name());
    for file in ["model.bpk", "ema.bpk"] {
        let (wa, wb) = (classifier_weights(&a.join(file), &straight), classifier_weights(&b.join(file), &split));
        assert_eq!(wa.len(), wb.len());
        let max = wa.iter().zip(&wb).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(max < 1e-6, "{file}: weights differ by {max} after resuming");
    }
    let (last, avg) = (classifier_weights(&a.join("model.bpk"), &straight), classifier_weights(&a.join("ema.bpk"), &straight));
    assert!(last.iter().zip(&avg).any(|(x, y)| (x - y).abs() > 1e-4), "the average equals the last weights");
    let (code, _, err) = run(&["train", "--task", "classify", "--data", train.to_str().unwrap(), "--out", dir.join("bad").to_str().unwrap(), "--set", "train.ema=1.5"]);
    assert_ne!(code, 0);
    assert!(err.contains("train.ema"), "{err}");
}

/// All float parameters of a two-class classifier run's weights file.
fn classifier_weights(weights: &std::path::Path, run_dir: &std::path::Path) -> Vec<f32> {
    let attend::train::RunConfig::Classify(cfg) = attend::train::RunConfig::load(&run_dir.join("config.toml")).unwrap() else {
        panic!("a classifier run")
    };
    let vocab = attend::data::Vocab::load(&run_dir.join(attend::train::tasks::lm::data::VOCAB)).unwrap();
    let device = attend::device::parse_device("cpu").unwrap();
    let mc = attend::train::tasks::classify::classifier_config(&cfg, vocab.len(), 2);
    let model = attend::train::trainer::checkpoint::load_model(mc.init(&device).unwrap(), weights).unwrap();
    common::float_params(&model)
}

/// Without --valid, the held-out tenth is written to RUN/valid.tsv: scoring
/// the run on it gives exactly the accuracy that training reported, and runs
/// that share `data.split_seed` hold out the same texts.
#[test]
fn the_held_out_tenth_is_written_and_scores_as_in_training() {
    let dir = tmp_dir("classify-held-out");
    let (train, _) = write_data(&dir);
    let fit = |name: &str, seed: &str| {
        let out = dir.join(name);
        let seed = format!("train.seed={seed}");
        let (code, stdout, err) = run(&[
            "train", "--quiet", "--task", "classify", "--data", train.to_str().unwrap(), "--out", out.to_str().unwrap(),
            "--set", "model.arch=\"lstm\"", "--set", "model.d_model=16", "--set", "model.layers=1",
            "--set", "train.epochs=2", "--set", "data.split_seed=5", "--set", &seed,
        ]);
        assert_eq!(code, 0, "{stdout}\n{err}");
        let best = stdout.lines().find(|l| l.starts_with("best validation")).expect(&stdout).to_string();
        (out, best)
    };
    let (a, best) = fit("a", "1");
    let held_out = std::fs::read_to_string(a.join("valid.tsv")).unwrap();
    assert_eq!(held_out.lines().count(), 1 + 50, "a header and a tenth of 500 texts");
    let (code, ev, err) = run(&["eval", "--run", a.to_str().unwrap(), "--data", a.join("valid.tsv").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let acc = |s: &str| s.split("accuracy ").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    assert_eq!(acc(&ev), acc(&best), "eval: {ev}\ntraining: {best}");
    assert!(ev.contains("(50 texts)"), "{ev}");
    let (b, _) = fit("b", "2");
    assert_eq!(std::fs::read_to_string(b.join("valid.tsv")).unwrap(), held_out);
}

/// A reader that stops early (`attend classify … | head`) ends the command
/// quietly, without a panic.
#[cfg(unix)]
#[test]
fn a_closed_output_pipe_ends_quietly() {
    use std::io::Write;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let dir = tmp_dir("classify-pipe");
    let (train, valid) = write_data(&dir);
    let out = dir.join("run");
    let (code, stdout, err) = run(&[
        "train", "--quiet", "--task", "classify", "--data", train.to_str().unwrap(), "--valid", valid.to_str().unwrap(),
        "--out", out.to_str().unwrap(), "--set", "model.arch=\"lstm\"", "--set", "model.d_model=8", "--set", "train.epochs=1",
    ]);
    assert_eq!(code, 0, "{stdout}\n{err}");
    let mut child = common::attend()
        .args(["classify", "--run", out.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader is gone before the first line
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all("the film was superb\n".repeat(20_000).as_bytes());
    drop(stdin);
    let done = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(done.status.signal(), Some(13), "ended by SIGPIPE: {:?} {err}", done.status);
}
