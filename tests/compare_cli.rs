//! `attend compare` driven as a user would: a tiny budget on the bundled data,
//! the table, the CSV and both plots; rerunning reuses the finished runs.

mod common;

use common::{run, tmp_dir, SMALL};

fn csv_rows(path: &std::path::Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().skip(1).map(|l| l.split(',').map(String::from).collect()).collect()
}

#[test]
fn compare_trains_matched_models_and_writes_table_and_plots() {
    let dir = tmp_dir("compare");
    let out = dir.join("cmp");
    let o = out.to_str().unwrap();
    let mut args = vec!["compare", "--quiet", "--archs", "gru,lstm-attention,transformer", "--budget", "2", "--evals", "2", "--out", o];
    args.extend_from_slice(SMALL);
    // Wide enough that the recurrent models can match the Transformer's size.
    args.extend_from_slice(&["--set", "model.d_model=64"]);
    let (code, stdout, err) = run(&args);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{err}");
    for arch in ["gru", "lstm-attention", "transformer"] {
        assert!(stdout.lines().any(|l| l.starts_with(&format!("| {arch} |"))), "{stdout}");
        assert!(out.join(arch).join("metrics.csv").exists());
    }
    for png in ["bleu_by_length.png", "valid_loss_vs_time.png"] {
        let bytes = std::fs::read(out.join(png)).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{png}");
        assert!(bytes.len() > 5_000, "{png} is too small to hold a plot");
    }
    let rows = csv_rows(&out.join("compare.csv"));
    assert_eq!(rows.len(), 3);
    let params: Vec<f64> = rows.iter().map(|r| r[2].parse().unwrap()).collect();
    for (r, p) in rows.iter().zip(&params) {
        // Parameter counts matched to the Transformer's within 15 %.
        assert!((p / params[2] - 1.0).abs() < 0.15, "{} has {p} parameters vs {}", r[0], params[2]);
        // Every model trained for its budget of 2 s (and not much longer).
        let train_s: f64 = r[4].parse().unwrap();
        assert!((2.0..30.0).contains(&train_s), "{} trained {train_s} s", r[0]);
        // The table's loss is the run's last evaluation, its steps the run's last checkpoint.
        let metrics = std::fs::read_to_string(out.join(&r[0]).join("metrics.csv")).unwrap();
        let header: Vec<&str> = metrics.lines().next().unwrap().split(',').collect();
        let last: Vec<&str> = metrics.lines().last().unwrap().split(',').collect();
        let col = |name: &str| last[header.iter().position(|h| *h == name).unwrap()];
        assert_eq!(r[6], col("valid_loss"), "{r:?} vs {metrics}");
        assert_eq!(r[3], col("step"), "{r:?} vs {metrics}");
        assert!(out.join(&r[0]).join(format!("checkpoints/step-{:08}", r[3].parse::<usize>().unwrap())).is_dir());
        // Four length buckets, each with a BLEU in 0..=100.
        assert_eq!(r.len(), 12, "{r:?}");
        for b in &r[8..] {
            let b: f64 = b.parse().unwrap();
            assert!((0.0..=100.0).contains(&b));
        }
    }
    // Two timed evaluations (or more) per model make the loss curve.
    let curve = std::fs::read_to_string(out.join("gru/metrics.csv")).unwrap();
    assert!(curve.lines().count() >= 3, "{curve}");

    // The same command again reuses the finished runs: same steps, same numbers.
    let (code, stdout2, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(csv_rows(&out.join("compare.csv")), rows, "{stdout2}");

    // Other settings in the same directory are refused, naming the run.
    let mut other = args.clone();
    other.extend_from_slice(&["--set", "model.dropout=0.3"]);
    let (code, _, err) = run(&other);
    assert_ne!(code, 0);
    assert!(err.contains("other settings") && err.contains("gru"), "{err}");
}

#[test]
fn compare_rejects_bad_arguments() {
    let (code, _, err) = run(&["compare", "--budget", "0"]);
    assert_ne!(code, 0);
    assert!(err.contains("--budget"), "{err}");
    let (code, _, err) = run(&["compare", "--archs", "lstm,cnn", "--budget", "1", "--out", "/nonexistent/x"]);
    assert_ne!(code, 0);
    assert!(err.contains("cnn"), "{err}");
    let (code, _, err) = run(&["compare", "--archs", "lstm,gru", "--match", "transformer", "--budget", "1"]);
    assert_ne!(code, 0);
    assert!(err.contains("--match transformer"), "{err}");
}

#[test]
fn compare_on_multi30k_names_the_missing_corpus() {
    // From a directory with no ../shared beside it, the corpus is missing whatever the machine has.
    let dir = tmp_dir("compare-m30k");
    let out = common::attend().current_dir(&dir).args(["compare", "--data", "multi30k", "--budget", "1"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(err.contains("--data multi30k") && err.contains("../shared/data/multi30k/train.de"), "{err}");
    // --data and --config are one or the other.
    let (code, _, err) = run(&["compare", "--data", "tatoeba", "--config", "configs/tatoeba-small.toml"]);
    assert_ne!(code, 0);
    assert!(err.contains("--config") && err.contains("--data"), "{err}");
}
