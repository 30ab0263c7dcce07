//! Subword tokenizers end to end: `attend tokenizer train/encode`, translators
//! with a joint, a per-side and a given tokenizer.json (saved in the run,
//! reloaded by translate, eval and resume), the default run's bundled gzip
//! corpus, classifiers and language models on subwords, and the errors
//! around them.

mod common;

use common::{run, tmp_dir, train_small};

const SUBSET: &str = "data/tatoeba-eng-fra/subset/train.tsv";
const VALID: &str = "data/tatoeba-eng-fra/subset/valid.tsv";

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn tokenizer_train_and_encode() {
    let dir = tmp_dir("subwords-cli");
    let t = dir.join("tokenizer.json");
    let ts = t.to_str().unwrap();
    let (code, out, err) = run(&["tokenizer", "train", "--input", SUBSET, "--vocab-size", "500", "--out", ts]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("500 tokens"), "{out}");
    let json: serde_json::Value = serde_json::from_str(&read(&t)).unwrap();
    assert_eq!(json["model"]["type"], "BPE");
    let (code, out, err) = run(&["tokenizer", "encode", "--tokenizer", ts, "I am a manager.", "Où est la gare ?"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].split(' ').count() >= 4, "{out}");
    // Unigram, lowercased, from one column.
    let u = dir.join("unigram.json");
    let (code, _, err) = run(&[
        "tokenizer", "train", "--input", SUBSET, "--kind", "unigram", "--vocab-size", "400", "--lowercase", "--column", "tgt", "--out",
        u.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&read(&u)).unwrap()["model"]["type"], "Unigram");
    // Errors name what is wrong.
    let (code, _, err) = run(&["tokenizer", "train", "--input", SUBSET, "--vocab-size", "100", "--out", ts]);
    assert_ne!(code, 0);
    assert!(err.contains("256") && err.contains("100"), "{err}");
    let (code, _, err) = run(&["tokenizer", "train", "--input", "no-such.tsv", "--out", ts]);
    assert_ne!(code, 0);
    assert!(err.contains("no-such.tsv"), "{err}");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"not\": \"a tokenizer\"}").unwrap();
    let (code, _, err) = run(&["tokenizer", "encode", "--tokenizer", bad.to_str().unwrap(), "Hi."]);
    assert_ne!(code, 0);
    assert!(err.contains("bad.json") && err.contains("tokenizer.json"), "{err}");
}

#[test]
fn a_given_tokenizer_file_is_kept_in_the_run_and_reloaded() {
    let dir = tmp_dir("subwords-given");
    let t = dir.join("given.json");
    let (code, _, err) = run(&["tokenizer", "train", "--input", SUBSET, "--vocab-size", "450", "--out", t.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let r = dir.join("run");
    let file = format!("data.tokenizer_file={}", t.display());
    let (code, out, err) = train_small(&r, &["--set", &file, "--set", "train.max_steps=3"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let saved = r.join("tokenizer.json");
    let pieces = |tok: &std::path::Path| run(&["tokenizer", "encode", "--tokenizer", tok.to_str().unwrap(), "She is tired of waiting."]).1;
    assert_eq!(pieces(&saved), pieces(&t));
    // The vocabulary holds every token of the tokenizer (none can become <unk>).
    let vocab: serde_json::Value = serde_json::from_str(&read(&r.join("vocab.src.json"))).unwrap();
    assert_eq!(vocab["tokens"].as_array().unwrap().len(), 450 + 4);
    // Translate, eval and resume read the run's copy, not the original.
    std::fs::remove_file(&t).unwrap();
    let rs = r.to_str().unwrap();
    let (code, out, err) = run(&["translate", "--run", rs, "I am a manager."]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("<unk>"), "{out}");
    let (code, out, err) = run(&["eval", "--run", rs, "--tsv", VALID]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("BLEU "), "{out}");
    let (code, _, err) = run(&["train", "--quiet", "--resume", rs, "--set", "train.max_steps=5"]);
    assert_eq!(code, 0, "{err}");
    // A run whose tokenizer file went missing says which file.
    std::fs::remove_file(&saved).unwrap();
    let (code, _, err) = run(&["translate", "--run", rs, "Hi."]);
    assert_ne!(code, 0);
    assert!(err.contains("tokenizer.json") && err.contains("missing"), "{err}");
}

#[test]
fn separate_tokenizers_per_side() {
    let dir = tmp_dir("subwords-separate");
    let r = dir.join("run");
    let (code, out, err) = train_small(&r, &["--set", "data.joint_tokenizer=false", "--set", "data.vocab_size=300", "--set", "train.max_steps=2"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (src, tgt) = (read(&r.join("tokenizer.json")), read(&r.join("tokenizer.tgt.json")));
    assert_ne!(src, tgt);
    // Each side's tokenizer learnt its own language: French takes fewer target pieces, English fewer source pieces.
    let count = |file: &str, text: &str| {
        let (code, out, err) = run(&["tokenizer", "encode", "--tokenizer", r.join(file).to_str().unwrap(), text]);
        assert_eq!(code, 0, "{err}");
        out.split_whitespace().count()
    };
    let (fr, en) = ("Je suis très fatigué et vous êtes en retard.", "I am very tired and you are late.");
    assert!(count("tokenizer.tgt.json", fr) < count("tokenizer.json", fr), "French");
    assert!(count("tokenizer.json", en) < count("tokenizer.tgt.json", en), "English");
    let (code, out, err) = run(&["translate", "--run", r.to_str().unwrap(), "I am a manager.", "We are late."]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
}

#[test]
fn the_default_data_is_the_whole_bundled_corpus_in_subwords() {
    let dir = tmp_dir("subwords-default");
    let r = dir.join("run");
    // The default data and tokenizer (8,000 BPE tokens on 128,566 gzip pairs), a tiny model.
    let args = [
        "train", "--quiet", "--out", r.to_str().unwrap(), "--set", "model.d_model=16", "--set", "model.n_heads=2", "--set", "model.d_ff=16",
        "--set", "model.encoder_layers=1", "--set", "model.decoder_layers=1", "--set", "train.max_steps=1", "--set", "eval.bleu_sentences=4",
        "--set", "eval.max_decode_len=6", "--set", "eval.samples=0",
    ];
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{out}\n{err}");
    let vocab: serde_json::Value = serde_json::from_str(&read(&r.join("vocab.src.json"))).unwrap();
    assert_eq!(vocab["tokens"].as_array().unwrap().len(), 8000 + 4);
    let (code, out, err) = run(&["translate", "--run", r.to_str().unwrap(), "Where is the station?", "Zoë's café — 東京!"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("<unk>"), "{out}");
}

#[test]
fn classifiers_read_subwords() {
    let dir = tmp_dir("subwords-classify");
    let r = dir.join("run");
    let rs = r.to_str().unwrap();
    let (code, out, err) = run(&[
        "train", "--quiet", "--task", "classify", "--out", rs, "--set", "data.tokenizer=bpe", "--set", "data.vocab_size=700", "--set",
        "train.max_steps=3",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(r.join("tokenizer.json").exists());
    let (code, out, err) = run(&["classify", "--run", rs, "an unforgettable, moving film", "a dull mess"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
}

#[test]
fn language_models_read_subwords() {
    let dir = tmp_dir("subwords-lm");
    let r = dir.join("run");
    let rs = r.to_str().unwrap();
    let (code, out, err) = run(&[
        "train", "--quiet", "--task", "lm", "--out", rs, "--set", "data.tokenizer=bpe", "--set", "data.vocab_size=600", "--set", "model.d_model=32",
        "--set", "model.n_heads=2", "--set", "model.d_ff=64", "--set", "model.layers=1", "--set", "model.context=32", "--set", "train.max_steps=30",
        "--set", "train.lr=0.01", "--set", "train.warmup_steps=5",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(r.join("tokenizer.json").exists());
    let (code, out, err) = run(&["generate", "--run", rs, "--prompt", "ROMEO:\n", "--max-tokens", "40", "--seed", "3"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ROMEO:\n") && out.len() > "ROMEO:\n".len() + 10, "{out}");
    assert!(!out.contains('\u{fffd}') && !out.contains("Ġ") && !out.contains("<unk>"), "{out}");
    let (code, out, err) = run(&["eval", "--run", rs, "--text", "data/tinyshakespeare/valid.txt"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("bits/character"), "{out}");
}

#[test]
fn bad_subword_settings_are_named() {
    let dir = tmp_dir("subwords-bad");
    let (code, _, err) = run(&["train", "--out", dir.join("t").to_str().unwrap(), "--set", "data.tokenizer=sentencepiece"]);
    assert_ne!(code, 0);
    assert!(err.contains("sentencepiece"), "{err}");
    let (code, _, err) = run(&["train", "--out", dir.join("v").to_str().unwrap(), "--set", "data.vocab_size=200"]);
    assert_ne!(code, 0);
    assert!(err.contains("data.vocab_size = 200"), "{err}");
    let (code, _, err) = run(&["train", "--out", dir.join("f").to_str().unwrap(), "--set", "data.tokenizer_file=nowhere.json"]);
    assert_ne!(code, 0);
    assert!(err.contains("nowhere.json"), "{err}");
    assert!(!dir.join("f").exists(), "a failed start leaves no run behind");
}
