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
