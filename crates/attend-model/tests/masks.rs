//! Masking behaviour of the whole Transformer: the decoder is causal, and
//! padding never changes the outputs of real positions.

use attend_model::attention::padding_mask;
use attend_model::{PositionalKind, Transformer, TransformerConfig};
use burn::prelude::*;

#[allow(deprecated)]
fn device() -> Device {
    Device::ndarray()
}

fn model(dev: &Device, norm_first: bool) -> Transformer {
    dev.seed(7);
    TransformerConfig::new(20, 24)
        .with_d_model(32)
        .with_n_heads(4)
        .with_d_ff(64)
        .with_encoder_layers(2)
        .with_decoder_layers(2)
        .with_dropout(0.0)
        .with_norm_first(norm_first)
        .with_positional(if norm_first { PositionalKind::Learned } else { PositionalKind::Sinusoidal })
        .with_max_len(32)
        .init(dev)
        .unwrap()
}

fn ids(rows: &[Vec<i64>], dev: &Device) -> Tensor<2, Int> {
    let seq = rows[0].len();
    Tensor::from_data(TensorData::new(rows.concat(), [rows.len(), seq]), dev)
}

fn vals<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn decoder_position_t_ignores_later_tokens() {
    let dev = device();
    for norm_first in [false, true] {
        let m = model(&dev, norm_first);
        let src = ids(&[vec![5, 6, 7, 3]], &dev);
        let a = vals(m.forward(src.clone(), None, ids(&[vec![2, 8, 9, 10, 11]], &dev), None).unwrap());
        let b = vals(m.forward(src, None, ids(&[vec![2, 8, 9, 15, 16]], &dev), None).unwrap());
        let per_pos = 24;
        // Positions 0..=2 see only tokens 0..=2, which are equal.
        assert!(max_diff(&a[..3 * per_pos], &b[..3 * per_pos]) < 1e-5);
        // Position 3 sees token 3, which differs: the test can fail.
        assert!(max_diff(&a[3 * per_pos..], &b[3 * per_pos..]) > 1e-4);
    }
}

#[test]
fn padding_does_not_change_real_positions() {
    let dev = device();
    for norm_first in [false, true] {
        let m = model(&dev, norm_first);
        let alone = vals(m.forward(ids(&[vec![5, 6, 3]], &dev), None, ids(&[vec![2, 8, 9]], &dev), None).unwrap());
        // The same pair in a batch with a longer one, so it is padded on both sides.
        let src = ids(&[vec![5, 6, 3, 0, 0], vec![4, 5, 6, 7, 3]], &dev);
        let tgt = ids(&[vec![2, 8, 9, 0], vec![2, 10, 11, 12]], &dev);
        let src_pad = padding_mask(&[3, 5], 5, &dev);
        let tgt_pad = padding_mask(&[3, 4], 4, &dev);
        let batched = vals(m.forward(src, Some(src_pad), tgt, Some(tgt_pad)).unwrap());
        // Row 0, target positions 0..3 of [2, 4, 24].
        assert!(max_diff(&alone, &batched[..3 * 24]) < 1e-5, "norm_first={norm_first}");
    }
}

#[test]
fn bad_configs_are_errors_not_panics() {
    let dev = device();
    let e = TransformerConfig::new(10, 10).with_d_model(30).with_n_heads(4).init(&dev).unwrap_err();
    assert!(e.to_string().contains("divisible"));
    let e = TransformerConfig::new(10, 12).with_share_embeddings(true).init(&dev).unwrap_err();
    assert!(e.to_string().contains("one vocabulary"));
    let m = model(&dev, false);
    let long = ids(&[vec![4; 40]], &dev);
    assert!(m.encode(long, None).is_err());
}
