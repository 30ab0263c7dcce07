//! What a new user gets wrong, driven through the binary: settings out of
//! range, models too large for the machine, malformed files and a run of the
//! wrong kind. Each stops at once with exit code 1 and one error that names
//! the key, file and line, or run it is about — no panic, no abort, no
//! half-made run directory.

mod common;

use std::time::{Duration, Instant};

use common::{run, tmp_dir};

/// Runs `args`; checks the refusal is quick, clean and mentions every `expected` part.
fn refused(args: &[&str], expected: &[&str]) {
    let t0 = Instant::now();
    let (code, _, err) = run(args);
    let elapsed = t0.elapsed();
    assert_eq!(code, 1, "{args:?}: exit code {code}, stderr: {err}");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    for part in expected {
        assert!(err.contains(part), "{args:?}: `{part}` missing from: {err}");
    }
    assert!(elapsed < Duration::from_secs(20), "{args:?} took {elapsed:?} to refuse");
}

#[test]
fn settings_out_of_range_name_their_key() {
    let dir = tmp_dir("bad-settings");
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    let train = |task: &'static str, set: &'static str| -> Vec<String> {
        ["train", "--quiet", "--task", task, "--out", o, "--set", set].iter().map(|s| s.to_string()).collect()
    };
    let cases: &[(&str, &str, &[&str])] = &[
        ("translate", "model.dropout=1.5", &["model.dropout = 1.5", "[0, 1)"]),
        ("translate", "model.n_heads=3", &["model.n_heads = 3"]),
        ("translate", "train.lr=inf", &["train.lr = inf"]),
        ("translate", "train.beta2=2", &["train.beta2 = 2"]),
        ("translate", "data.batch_size=0", &["data.batch_size = 0"]),
        ("translate", "model.d_ff=10000000000", &["parameters", "this machine has"]),
        ("translate", "model.encoder_layers=100000", &["parameters", "this machine has"]),
        ("lm", "model.context=0", &["model.context = 0"]),
        ("lm", "model.d_model=100000000", &["model.d_model = 100000000", "this machine has"]),
        ("lm", "data.batch_size=1000000000", &["data.batch_size = 1000000000", "this machine has"]),
        ("lm", "train.accumulate=1000000000", &["train.accumulate = 1000000000"]),
        ("copy", "data.train_size=1000000000", &["data.train_size = 1000000000", "this machine has"]),
        ("copy", "model.max_len=1000000000", &["position table", "this machine has"]),
        ("classify", "model.dropout=-1", &["model.dropout = -1"]),
        ("classify", "model.max_len=1000000000", &["position table", "this machine has"]),
        ("word2vec", "word2vec.negative=100000", &["word2vec.negative = 100000"]),
        ("word2vec", "word2vec.dim=1000000000", &["word2vec.dim = 1000000000", "this machine has"]),
        ("word2vec", "word2vec.threads=1000000000", &["word2vec.threads = 1000000000"]),
    ];
    for (task, set, expected) in cases {
        let mut args = train(task, set);
        if *task == "word2vec" {
            args.extend(["--data", "data/austen"].map(String::from));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&args, expected);
        assert!(!out.join("checkpoints").exists(), "{set}: a refused run left checkpoints");
        let _ = std::fs::remove_dir_all(&out);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn malformed_files_name_file_and_line() {
    let dir = tmp_dir("bad-files");
    let f = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_string()
    };
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    let toml = f("broken.toml", b"task = \"translate\"\n[model\nd_model = 4\n");
    refused(&["train", "--quiet", "--config", &toml, "--out", o], &["broken.toml:2:"]);
    let notab = f("notab.tsv", b"Hello.\tBonjour.\nBye.\n");
    refused(&["train", "--quiet", "--tsv", &notab, "--out", o], &["notab.tsv:2:", "no tab"]);
    let nan = f("nan.txt", b"2 2\nking 1 2\nqueen nan 1\n");
    refused(&["neighbors", "--vectors", &nan, "king"], &["nan.txt:3:", "`nan` is not a finite"]);
    let huge = f("huge.bin", b"99999999999 300\nking ");
    refused(&["neighbors", "--vectors", &huge, "king"], &["huge.bin:1:", "header announces"]);
    // Odd but valid: a byte-order mark and CRLF line ends train as the plain file does.
    let bom = f("bom.tsv", b"\xef\xbb\xbfHello.\tBonjour.\r\nBye.\tAu revoir.");
    let (code, _, err) = run(&["train", "--quiet", "--tsv", &bom, "--out", o, "--set", "train.max_steps=1"]);
    assert_eq!(code, 0, "{err}");
    let vocab = std::fs::read_to_string(out.join("vocab.src.json")).unwrap();
    assert!(!vocab.contains('\u{feff}'), "the byte-order mark became a token: {vocab}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_run_of_the_wrong_kind_says_what_it_is() {
    let dir = tmp_dir("wrong-kind");
    let lm = dir.join("lm");
    let (code, _, err) = run(&["train", "--quiet", "--task", "lm", "--out", lm.to_str().unwrap(), "--set", "train.max_steps=1"]);
    assert_eq!(code, 0, "{err}");
    let l = lm.to_str().unwrap();
    refused(&["translate", "--run", l, "Hello."], &["is a `lm` run, not a translation run"]);
    refused(&["classify", "--run", l, "good"], &["is a `lm` run, not a classification run"]);
    refused(&["eval", "--run", l, "--tsv", "data/tatoeba-eng-fra/valid.tsv"], &["not a translation run"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
