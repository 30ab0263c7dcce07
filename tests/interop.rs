//! `attend export` and `attend import`: a run's weights as safetensors and
//! back. The round trip gives a run whose weights and outputs are the
//! original's, for a translator, a language model and a classifier; damaged
//! or mismatched weights are refused naming the file and the tensors.

mod common;

use std::path::Path;

use common::{run, tmp_dir, train_small};

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn ok(args: &[&str]) -> String {
    let (code, out, err) = run(args);
    assert_eq!(code, 0, "attend {}: {err}", args.join(" "));
    out
}

#[test]
fn export_then_import_gives_the_same_translator() {
    let dir = tmp_dir("interop-translate");
    let tr = dir.join("fr");
    let (code, _, err) = train_small(&tr, &["--set", "train.max_steps=30", "--set", "train.eval_every=30"]);
    assert_eq!(code, 0, "{err}");
    let exported = dir.join("fr-st");
    let said = ok(&["export", "--run", p(&tr), "--out", p(&exported)]);
    assert!(said.contains("tensors") && said.contains("model.safetensors"), "{said}");
    for f in ["model.safetensors", "tensors.tsv", "config.toml", "vocab.src.json", "vocab.tgt.json", "checksums.json"] {
        assert!(exported.join(f).exists(), "{f} is exported");
    }
    let listing = std::fs::read_to_string(exported.join("tensors.tsv")).unwrap();
    assert!(listing.starts_with("name\tdtype\tshape\n"));
    assert!(listing.lines().count() > 20, "{listing}");
    // The safetensors header names each tensor with its dtype and shape.
    let bytes = std::fs::read(exported.join("model.safetensors")).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let first = listing.lines().nth(1).unwrap().split('\t').next().unwrap();
    assert_eq!(header[first]["dtype"], "F32", "{header}");
    assert_eq!(header["__metadata__"]["attend_task"], "translate");
    let back = dir.join("fr-back");
    ok(&["import", "--from", p(&exported), "--out", p(&back)]);
    let sentences = ["I am a manager.", "He is tall.", "You are late."];
    let translate = |run: &Path, extra: &[&str]| {
        let mut args = vec!["translate", "--run", p(run)];
        args.extend_from_slice(extra);
        args.extend_from_slice(&sentences);
        ok(&args)
    };
    assert_eq!(translate(&back, &[]), translate(&tr, &[]));
    assert_eq!(translate(&back, &["--beam", "3"]), translate(&tr, &["--beam", "3"]));
    let valid = "data/tatoeba-eng-fra/valid.tsv";
    assert_eq!(ok(&["eval", "--run", p(&back), "--tsv", valid]), ok(&["eval", "--run", p(&tr), "--tsv", valid]));
    // Refusals: a non-empty --out, an import over a run, no weights, weights of another shape.
    let (code, _, err) = run(&["export", "--run", p(&tr), "--out", p(&exported)]);
    assert!(code != 0 && err.contains("exists and is not empty"), "{err}");
    let (code, _, err) = run(&["import", "--from", p(&exported), "--out", p(&back)]);
    assert!(code != 0 && err.contains("already holds a run"), "{err}");
    let (code, _, err) = run(&["import", "--from", p(&tr), "--out", p(&dir.join("x"))]);
    assert!(code != 0 && err.contains("no model.safetensors"), "{err}");
    let wider = dir.join("wider");
    let (code, _, err) = train_small(&wider, &["--set", "train.max_steps=1", "--set", "model.d_model=48"]);
    assert_eq!(code, 0, "{err}");
    let wider_st = dir.join("wider-st");
    ok(&["export", "--run", p(&wider), "--out", p(&wider_st)]);
    let mixed = dir.join("mixed");
    std::fs::create_dir_all(&mixed).unwrap();
    for f in ["config.toml", "vocab.src.json", "vocab.tgt.json"] {
        std::fs::copy(exported.join(f), mixed.join(f)).unwrap();
    }
    std::fs::copy(wider_st.join("model.safetensors"), mixed.join("model.safetensors")).unwrap();
    let (code, _, err) = run(&["import", "--from", p(&mixed), "--out", p(&dir.join("y"))]);
    assert!(code != 0 && err.contains("model.safetensors") && err.contains("does not fit"), "{err}");
    assert!(!dir.join("y").join("config.toml").exists(), "nothing half-imported");
    // A damaged export is named.
    let mut bytes = std::fs::read(exported.join("model.safetensors")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(exported.join("model.safetensors"), bytes).unwrap();
    let (code, _, err) = run(&["import", "--from", p(&exported), "--out", p(&dir.join("z"))]);
    assert!(code != 0 && err.contains("damaged"), "{err}");
}

#[test]
fn language_models_and_classifiers_survive_the_round_trip() {
    let dir = tmp_dir("interop-lm-classify");
    let lm = dir.join("lm");
    ok(&[
        "train", "--quiet", "--task", "lm", "--out", p(&lm), "--set", "model.d_model=32", "--set", "model.n_heads=2",
        "--set", "model.d_ff=64", "--set", "model.layers=1", "--set", "model.context=32", "--set", "data.batch_size=8",
        "--set", "train.max_steps=10", "--set", "train.eval_every=10",
    ]);
    let cl = dir.join("cl");
    ok(&["train", "--quiet", "--task", "classify", "--out", p(&cl), "--set", "model.arch=\"lstm\"", "--set", "model.d_model=16", "--set", "model.layers=1", "--set", "train.epochs=1"]);
    for (run_dir, probe) in [(&lm, vec!["generate", "--prompt", "ROMEO:", "--max-tokens", "30", "--seed", "3"]), (&cl, vec!["classify", "a gorgeous , witty film .", "dull ."])] {
        let st = dir.join(format!("{}-st", run_dir.file_name().unwrap().to_string_lossy()));
        let back = dir.join(format!("{}-back", run_dir.file_name().unwrap().to_string_lossy()));
        ok(&["export", "--run", p(run_dir), "--out", p(&st)]);
        ok(&["import", "--from", p(&st), "--out", p(&back)]);
        let with = |r: &Path| {
            let mut args = vec![probe[0], "--run", p(r)];
            args.extend_from_slice(&probe[1..]);
            ok(&args)
        };
        assert_eq!(with(&back), with(run_dir), "{}", probe[0]);
    }
}

/// A run directory for the PyTorch fixture: its `[model]` and vocabularies of
/// the fixture's sizes (special tokens first, as attend numbers them).
fn pytorch_run_dir(dir: &Path, fixture: &serde_json::Value) -> std::path::PathBuf {
    let from = dir.join("from");
    std::fs::create_dir_all(&from).unwrap();
    let m = &fixture["attend_model"];
    let mut toml = String::from("task = \"translate\"\n\n[model]\n");
    for (k, v) in m.as_object().unwrap() {
        toml.push_str(&format!("{k} = {v}\n"));
    }
    // The fixture's vocabularies are words (w4, w5, …), not a subword tokenizer's.
    toml.push_str("\n[data]\ntokenizer = \"word\"\n");
    std::fs::write(from.join("config.toml"), toml).unwrap();
    for (file, n) in [("vocab.src.json", &fixture["config"]["src_vocab"]), ("vocab.tgt.json", &fixture["config"]["tgt_vocab"])] {
        let mut tokens: Vec<String> = ["<pad>", "<unk>", "<bos>", "<eos>"].iter().map(|s| s.to_string()).collect();
        tokens.extend((4..n.as_u64().unwrap()).map(|i| format!("w{i}")));
        std::fs::write(from.join(file), serde_json::json!({ "tokens": tokens }).to_string()).unwrap();
    }
    from
}

/// Imports the fixture `name` and checks the model's logits against PyTorch's.
fn import_fixture(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    use attend::burn::prelude::*;
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pytorch");
    let fixture: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixtures.join(format!("{name}.json"))).unwrap()).unwrap();
    let dir = tmp_dir(&format!("interop-pytorch-{name}"));
    let from = pytorch_run_dir(&dir, &fixture);
    let out = dir.join("imported");
    let said = ok(&["import", "--pytorch", p(&fixtures.join(format!("{name}.pt"))), "--from", p(&from), "--out", p(&out)]);
    assert!(said.contains("imported"), "{said}");
    let device: Device = attend::device::parse_device("ndarray").unwrap();
    let run = attend::train::LoadedRun::load(&out, &device).unwrap();
    let ints = |key: &str| {
        let rows: Vec<Vec<i64>> = serde_json::from_value(fixture[key].clone()).unwrap();
        let (b, s) = (rows.len(), rows[0].len());
        Tensor::<2, Int>::from_data(TensorData::new(rows.concat(), [b, s]), &device)
    };
    let bools = |key: &str| {
        let rows: Vec<Vec<bool>> = serde_json::from_value(fixture[key].clone()).unwrap();
        let (b, s) = (rows.len(), rows[0].len());
        Tensor::<2, Bool>::from_data(TensorData::new(rows.concat(), [b, s]), &device)
    };
    let logits = run.model.forward(ints("src"), Some(bools("src_pad")), ints("tgt_in"), Some(bools("tgt_pad"))).unwrap();
    assert_eq!(logits.dims().to_vec(), serde_json::from_value::<Vec<usize>>(fixture["logits_shape"].clone()).unwrap());
    let ours: Vec<f32> = logits.try_into_vec_as::<f32>().unwrap();
    let theirs: Vec<f32> = serde_json::from_value::<Vec<Vec<Vec<f32>>>>(fixture["logits"].clone()).unwrap().concat().concat();
    let worst = ours.iter().zip(&theirs).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(worst < 1e-4, "{name}: largest difference from PyTorch's logits: {worst}");
    eprintln!("{name}: {} logits, largest difference from PyTorch's {worst:e}", ours.len());
    (from, out)
}

#[test]
fn pytorch_nn_transformers_import_with_the_logits_pytorch_recorded() {
    // Pre-LN with ReLU and sinusoidal positions; post-LN with GELU and learned positions.
    let (from, out) = import_fixture("tiny_translator");
    let (post_from, _) = import_fixture("tiny_translator_post");
    // The imported run is a run: it translates like any other.
    ok(&["translate", "--run", p(&out), "--device", "ndarray", "w4 w5 w6"]);
    // A post-LN nn.Transformer's final norms have no counterpart in attend's post-LN model:
    // refused by name; so is a file that is no state_dict; nothing is left half-written.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pytorch");
    let dir = tmp_dir("interop-pytorch-refused");
    let (code, _, err) = run(&["import", "--pytorch", p(&fixtures.join("tiny_translator.pt")), "--from", p(&post_from), "--out", p(&dir.join("x"))]);
    assert!(code != 0 && err.contains("transformer.encoder.norm.weight") && err.contains("norm_first=True"), "{err}");
    let (code, _, err) = run(&["import", "--pytorch", p(&fixtures.join("tiny_translator.json")), "--from", p(&from), "--out", p(&dir.join("y"))]);
    assert!(code != 0 && err.contains("tiny_translator.json"), "{err}");
    assert!(!dir.join("x").join("config.toml").exists() && !dir.join("y").join("config.toml").exists());
}
