//! Our attention and Transformer layers against Burn's built-in ones, given
//! the same weights: multi-head attention, the encoder and the decoder, with
//! post-LN and pre-LN. Tolerance: 1e-5 absolute on f32 outputs.

use attend_model::multi_head::{AttentionMasks, MultiHeadAttentionConfig};
use attend_model::{Activation, DecoderConfig, DecoderContext, EncoderConfig};
use burn::module::Param;
use burn::nn::activation::ActivationConfig;
use burn::nn::attention::{generate_autoregressive_mask, MhaInput, MultiHeadAttentionConfig as BurnMhaConfig};
use burn::nn::transformer::{
    TransformerDecoderConfig, TransformerDecoderInput, TransformerEncoderConfig, TransformerEncoderInput,
};
use burn::nn::LayerNorm;
use burn::prelude::*;
use burn::tensor::Distribution;

const TOL: f32 = 1e-5;

#[allow(deprecated)]
fn device() -> Device {
    Device::ndarray()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().unwrap()
}

fn assert_close<const D: usize>(a: Tensor<D>, b: Tensor<D>, what: &str) {
    assert_eq!(a.dims(), b.dims(), "{what}: shapes differ");
    let (a, b) = (values(a), values(b));
    let max = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert!(max < TOL, "{what}: max abs difference {max}");
}

fn pad_mask(lengths: &[usize], seq: usize, device: &Device) -> Tensor<2, Bool> {
    attend_model::attention::padding_mask(lengths, seq, device)
}

/// Random LayerNorm parameters, so the test notices swapped norms.
fn randomise(norm: &mut LayerNorm, d: usize, device: &Device) {
    norm.gamma = Param::from_tensor(Tensor::random([d], Distribution::Uniform(0.5, 1.5), device));
    norm.beta = Some(Param::from_tensor(Tensor::random([d], Distribution::Normal(0.0, 0.1), device)));
}

#[test]
fn multi_head_attention_matches_burn() {
    let dev = device();
    dev.seed(1);
    let (b, s1, s2, d, h) = (2, 5, 7, 16, 4);
    let theirs = BurnMhaConfig::new(d, h).with_dropout(0.0).init(&dev);
    let mut ours = MultiHeadAttentionConfig::new(d, h).with_dropout(0.0).init(&dev);
    ours.query = theirs.query.clone();
    ours.key = theirs.key.clone();
    ours.value = theirs.value.clone();
    ours.output = theirs.output.clone();
    let q = Tensor::<3>::random([b, s1, d], Distribution::Normal(0.0, 1.0), &dev);
    let kv = Tensor::<3>::random([b, s2, d], Distribution::Normal(0.0, 1.0), &dev);
    let pad = pad_mask(&[7, 4], s2, &dev);
    let out = theirs.forward(MhaInput::new(q.clone(), kv.clone(), kv.clone()).mask_pad(pad.clone()));
    let (ctx, w) = ours.forward(q, kv.clone(), kv, AttentionMasks { key_pad: Some(pad), attn: None });
    assert_close(ctx, out.context, "context");
    assert_close(w, out.weights, "weights");
}

fn encoder_parity(norm_first: bool) {
    let dev = device();
    dev.seed(2);
    let (b, s, d, dff, h, n) = (2, 6, 16, 32, 4, 2);
    let mut theirs = TransformerEncoderConfig::new(d, dff, h, n)
        .with_dropout(0.0)
        .with_norm_first(norm_first)
        .with_activation(ActivationConfig::Relu)
        .init(&dev);
    let mut ours = EncoderConfig::new(d, h, dff, n)
        .with_dropout(0.0)
        .with_norm_first(norm_first)
        .with_activation(Activation::Relu)
        .init(&dev);
    for (t, o) in theirs.layers.iter_mut().zip(ours.layers.iter_mut()) {
        randomise(&mut t.norm_1, d, &dev);
        randomise(&mut t.norm_2, d, &dev);
        o.self_attn.query = t.mha.query.clone();
        o.self_attn.key = t.mha.key.clone();
        o.self_attn.value = t.mha.value.clone();
        o.self_attn.output = t.mha.output.clone();
        o.ff.linear_inner = t.pwff.linear_inner.clone();
        o.ff.linear_outer = t.pwff.linear_outer.clone();
        // Burn's pre-LN layer normalises with norm_2 before attention and norm_1 before the FFN.
        let (attn, ff) = if norm_first { (&t.norm_2, &t.norm_1) } else { (&t.norm_1, &t.norm_2) };
        o.norm_attn = attn.clone();
        o.norm_ff = ff.clone();
    }
    let x = Tensor::<3>::random([b, s, d], Distribution::Normal(0.0, 1.0), &dev);
    let pad = pad_mask(&[6, 3], s, &dev);
    let expected = theirs.forward(TransformerEncoderInput::new(x.clone()).mask_pad(pad.clone()));
    // Burn's stack has no final LayerNorm; compare the layers themselves.
    let mut y = x;
    for layer in &ours.layers {
        y = layer.forward(y, Some(pad.clone()));
    }
    assert_close(y, expected, if norm_first { "pre-LN encoder" } else { "post-LN encoder" });
}

#[test]
fn encoder_matches_burn_post_ln() {
    encoder_parity(false);
}

#[test]
fn encoder_matches_burn_pre_ln() {
    encoder_parity(true);
}

fn decoder_parity(norm_first: bool) {
    let dev = device();
    dev.seed(3);
    let (b, t_len, s_len, d, dff, h, n) = (2, 5, 6, 16, 32, 4, 2);
    let mut theirs = TransformerDecoderConfig::new(d, dff, h, n)
        .with_dropout(0.0)
        .with_norm_first(norm_first)
        .with_activation(ActivationConfig::Relu)
        .init(&dev);
    let mut ours = DecoderConfig::new(d, h, dff, n)
        .with_dropout(0.0)
        .with_norm_first(norm_first)
        .with_activation(Activation::Relu)
        .init(&dev);
    for (t, o) in theirs.layers.iter_mut().zip(ours.layers.iter_mut()) {
        randomise(&mut t.norm_1, d, &dev);
        randomise(&mut t.norm_2, d, &dev);
        randomise(&mut t.norm_3, d, &dev);
        for (mine, burn) in [(&mut o.self_attn, &t.self_attn), (&mut o.cross_attn, &t.cross_attn)] {
            mine.query = burn.query.clone();
            mine.key = burn.key.clone();
            mine.value = burn.value.clone();
            mine.output = burn.output.clone();
        }
        o.ff.linear_inner = t.pwff.linear_inner.clone();
        o.ff.linear_outer = t.pwff.linear_outer.clone();
        // Burn: post-LN norm_1/2/3 follow self/cross/FFN; pre-LN uses norm_3, norm_1, norm_2.
        let (s, c, f) = if norm_first {
            (&t.norm_3, &t.norm_1, &t.norm_2)
        } else {
            (&t.norm_1, &t.norm_2, &t.norm_3)
        };
        o.norm_self = s.clone();
        o.norm_cross = c.clone();
        o.norm_ff = f.clone();
    }
    let x = Tensor::<3>::random([b, t_len, d], Distribution::Normal(0.0, 1.0), &dev);
    let memory = Tensor::<3>::random([b, s_len, d], Distribution::Normal(0.0, 1.0), &dev);
    let tpad = pad_mask(&[5, 2], t_len, &dev);
    let mpad = pad_mask(&[4, 6], s_len, &dev);
    let expected = theirs.forward(
        TransformerDecoderInput::new(x.clone(), memory.clone())
            .target_mask_pad(tpad.clone())
            .target_mask_attn(generate_autoregressive_mask(b, t_len, &dev))
            .memory_mask_pad(mpad.clone()),
    );
    let ctx = DecoderContext { memory, memory_pad: Some(mpad), target_pad: Some(tpad) };
    let mut y = x;
    for layer in &ours.layers {
        y = layer.forward(y, &ctx).0;
    }
    assert_close(y, expected, if norm_first { "pre-LN decoder" } else { "post-LN decoder" });
}

#[test]
fn decoder_matches_burn_post_ln() {
    decoder_parity(false);
}

#[test]
fn decoder_matches_burn_pre_ln() {
    decoder_parity(true);
}
