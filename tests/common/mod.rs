//! Helpers shared by the integration tests: run the `attend` binary, make
//! temporary directories, read weights back.
#![allow(dead_code)]

pub mod parity;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `attend` binary built for these tests.
pub fn attend() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_attend"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Runs `attend` with `args`; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out: Output = attend().args(args).output().expect("attend runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh empty directory under the target directory.
pub fn tmp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Small-model settings that keep a run on bundled data to seconds: the
/// Tatoeba subset (10,670 pairs) instead of the whole corpus, subwords from a
/// small vocabulary.
pub const SMALL: &[&str] = &[
    "--set", "data.tsv=data/tatoeba-eng-fra/subset/train.tsv",
    "--set", "data.valid_tsv=data/tatoeba-eng-fra/subset/valid.tsv",
    "--set", "data.vocab_size=600",
    "--set", "model.d_model=32",
    "--set", "model.n_heads=2",
    "--set", "model.d_ff=64",
    "--set", "model.encoder_layers=1",
    "--set", "model.decoder_layers=1",
    "--set", "data.batch_size=32",
    "--set", "eval.bleu_sentences=16",
    "--set", "eval.max_decode_len=12",
    "--set", "eval.samples=2",
];

/// `attend train --out RUN SMALL… EXTRA…`.
pub fn train_small(run: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["train", "--quiet", "--out", run.to_str().unwrap()];
    args.extend_from_slice(SMALL);
    args.extend_from_slice(extra);
    run_args(&args)
}

fn run_args(args: &[&str]) -> (i32, String, String) {
    run(args)
}

/// The `metrics.csv` rows of a run, as (step, train_loss, valid_loss) triples.
pub fn metrics(run: &Path) -> Vec<(usize, f64, f64)> {
    let text = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[0].parse().unwrap(), c[2].parse().unwrap(), c[4].parse().unwrap())
        })
        .collect()
}

/// Every float parameter of `model`, flattened in visiting order (to compare weights).
pub fn float_params<M: attend::burn::module::Module>(model: &M) -> Vec<f32> {
    use attend::burn::module::{ModuleVisitor, Param};
    use attend::burn::prelude::*;
    struct Collect(Vec<f32>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.0.extend(p.val().try_into_vec_as::<f32>().unwrap());
        }
    }
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    c.0
}
