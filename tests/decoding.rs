//! Batched decoding on a trained model: sentences of one batch end at
//! different steps and leave the batch as they do (beam.rs); each must come
//! out as it does alone, greedily and by beam search.

mod common;

use common::{run, tmp_dir};

#[test]
fn sentences_that_end_early_leave_the_batch_and_decode_as_alone() {
    let dir = tmp_dir("decoding-copy");
    let r = dir.join("copy");
    let (code, _, err) = run(&[
        "train", "--quiet", "--task", "copy", "--out", r.to_str().unwrap(), "--set", "model.d_model=32", "--set", "model.n_heads=2",
        "--set", "model.d_ff=64", "--set", "model.encoder_layers=1", "--set", "model.decoder_layers=1",
        "--set", "train.max_steps=300", "--set", "train.eval_every=300",
    ]);
    assert_eq!(code, 0, "{err}");
    let inputs = ["abcd", "abcdefgh", "ab", "abcdefghijk", "ba", "hgfedcba"];
    for beam in [None, Some("3")] {
        let translate = |texts: &[&str]| {
            let mut args = vec!["translate", "--run", r.to_str().unwrap()];
            if let Some(b) = beam {
                args.extend(["--beam", b]);
            }
            args.extend_from_slice(texts);
            let (code, out, err) = run(&args);
            assert_eq!(code, 0, "{err}");
            out.lines().map(str::to_string).collect::<Vec<_>>()
        };
        let batched = translate(&inputs);
        assert_eq!(batched.len(), inputs.len());
        for (text, together) in inputs.iter().zip(&batched) {
            assert_eq!(&translate(&[text])[0], together, "beam {beam:?}: {text}");
        }
        let lengths: std::collections::BTreeSet<usize> = batched.iter().map(|t| t.chars().count()).collect();
        assert!(lengths.len() >= 3, "beam {beam:?}: outputs of several lengths, so some ended early: {batched:?}");
    }
}
