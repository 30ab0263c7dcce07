//! The language models: the decoder-only Transformer is causal, and generation
//! with the key/value cache computes the same logits as recomputing the whole
//! context, through window jumps; the recurrent model's carried state gives the
//! same logits as rerunning the whole text; a seed reproduces the same text.

use attend_model::gpt::GptConfig;
use attend_model::{CellKind, LanguageModel, RecurrentLmConfig};
use attend_train::tasks::lm::generate::{generate, SamplingConfig};
use burn::prelude::*;

#[allow(deprecated)]
fn device() -> Device {
    Device::ndarray()
}

fn model(dev: &Device) -> LanguageModel {
    dev.seed(5);
    LanguageModel::Gpt(GptConfig::new(11).with_context(8).with_d_model(16).with_n_heads(2).with_n_layers(2).with_d_ff(32).init(dev).unwrap())
}

fn recurrent(dev: &Device, cell: CellKind) -> LanguageModel {
    dev.seed(6);
    LanguageModel::Recurrent(RecurrentLmConfig::new(11).with_cell(cell).with_d_model(16).with_n_layers(2).with_context(8).init(dev).unwrap())
}

#[test]
fn a_token_never_sees_the_future() {
    let dev = device();
    let m = model(&dev);
    let ids = |v: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(v, [1, 6]), &dev);
    let a = m.forward(ids(vec![1, 2, 3, 4, 5, 6])).unwrap().try_into_vec_as::<f32>().unwrap();
    let b = m.forward(ids(vec![1, 2, 3, 9, 9, 9])).unwrap().try_into_vec_as::<f32>().unwrap();
    assert_eq!(a[..3 * 11], b[..3 * 11], "positions 0..3 changed when only later tokens did");
    assert_ne!(a[3 * 11..4 * 11], b[3 * 11..4 * 11]);
    let too_long = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64; 9], [1, 9]), &dev);
    assert!(m.forward(too_long).unwrap_err().to_string().contains("context of 8"));
}

#[test]
fn cached_and_uncached_generation_agree_at_every_step() {
    let dev = device();
    let m = model(&dev);
    let s = SamplingConfig { temperature: 1.0, top_k: 0, top_p: 1.0, seed: 7, banned: vec![] };
    let run = |cached: bool| {
        let mut logits = Vec::new();
        let out = generate(&m, &[3, 4, 5], 30, &s, cached, &dev, |_, l| logits.push(l.to_vec())).unwrap();
        (out, logits)
    };
    let (plain, l_plain) = run(false);
    let (cached, l_cached) = run(true);
    assert_eq!(plain, cached);
    assert_eq!(l_plain.len(), 30); // 33 tokens through a context of 8: several window jumps
    for (step, (a, b)) in l_plain.iter().zip(&l_cached).enumerate() {
        let diff = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(diff < 1e-4, "step {step}: logits differ by {diff}");
    }
    // The same seed gives the same text; another seed another text.
    assert_eq!(run(true).0, cached);
    let other = generate(&m, &[3, 4, 5], 30, &SamplingConfig { seed: 8, ..s.clone() }, true, &dev, |_, _| {}).unwrap();
    assert_ne!(other, cached);
}

#[test]
fn every_weight_of_the_model_is_trained() {
    use burn::module::{Module, ModuleVisitor, Param, ParamId};
    use burn::optim::GradientsParams;
    struct Ids(Vec<(ParamId, usize)>);
    impl ModuleVisitor for Ids {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.0.push((p.id, D));
        }
    }
    let dev = device().autodiff();
    let m = model(&dev);
    let x = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 2, 3, 4], [1, 4]), &dev);
    let loss = m.forward(x).unwrap().sum();
    let grads = GradientsParams::from_grads(loss.backward(), &m);
    let mut ids = Ids(Vec::new());
    m.visit(&mut ids);
    assert!(ids.0.len() > 20);
    for (id, rank) in ids.0 {
        let has = match rank {
            1 => grads.get::<1>(id).is_some(),
            2 => grads.get::<2>(id).is_some(),
            3 => grads.get::<3>(id).is_some(),
            4 => grads.get::<4>(id).is_some(),
            other => panic!("parameter {id:?} has rank {other}, which this test does not check"),
        };
        assert!(has, "parameter {id:?} (rank {rank}) gets no gradient");
    }
}

#[test]
fn recurrent_state_continues_the_text_exactly() {
    let dev = device();
    for cell in [CellKind::Rnn, CellKind::Lstm, CellKind::Gru] {
        let m = recurrent(&dev, cell);
        let s = SamplingConfig { temperature: 1.0, top_k: 0, top_p: 1.0, seed: 3, banned: vec![] };
        let run = |cached: bool| {
            let mut logits = Vec::new();
            let out = generate(&m, &[3, 4, 5], 20, &s, cached, &dev, |_, l| logits.push(l.to_vec())).unwrap();
            (out, logits)
        };
        let (plain, l_plain) = run(false);
        let (cached, l_cached) = run(true);
        // 23 tokens, past the training window of 8: no window for a recurrent state.
        assert_eq!(plain, cached, "{cell:?}");
        for (step, (a, b)) in l_plain.iter().zip(&l_cached).enumerate() {
            let diff = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            assert!(diff < 1e-4, "{cell:?} step {step}: logits differ by {diff}");
        }
        // A recurrent model is causal too.
        let ids = |v: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(v, [1, 5]), &dev);
        let a = m.forward(ids(vec![1, 2, 3, 4, 5])).unwrap().try_into_vec_as::<f32>().unwrap();
        let b = m.forward(ids(vec![1, 2, 9, 9, 9])).unwrap().try_into_vec_as::<f32>().unwrap();
        assert_eq!(a[..2 * 11], b[..2 * 11]);
        assert_ne!(a[2 * 11..3 * 11], b[2 * 11..3 * 11]);
    }
}

#[test]
fn without_biases_the_gpt_has_exactly_nanogpts_parameters_and_still_caches() {
    let dev = device();
    dev.seed(9);
    let cfg = GptConfig::new(11).with_context(8).with_d_model(16).with_n_heads(2).with_n_layers(2).with_d_ff(32);
    let with = cfg.init(&dev).unwrap();
    let without = cfg.clone().with_bias(false).init(&dev).unwrap();
    // nanoGPT with bias=False: token and position tables, per block q/k/v/output
    // projections, the MLP's two matrices and two LayerNorm gains, a final gain.
    let (v, t, d, f, l) = (11, 8, 16, 32, 2);
    let expected = v * d + t * d + l * (4 * d * d + 2 * d * f + 2 * d) + d;
    assert_eq!(without.num_params(), expected);
    // Biases: q/k/v/output (4d), MLP (f + d), LayerNorm betas (2d) per block, the final beta.
    assert_eq!(with.num_params(), expected + l * (4 * d + f + d + 2 * d) + d);
    let m = LanguageModel::Gpt(without);
    let s = SamplingConfig { temperature: 1.0, top_k: 0, top_p: 1.0, seed: 3, banned: vec![] };
    let mut plain_logits = Vec::new();
    let plain = generate(&m, &[1, 2], 20, &s, false, &dev, |_, l| plain_logits.push(l.to_vec())).unwrap();
    let mut cached_logits = Vec::new();
    let cached = generate(&m, &[1, 2], 20, &s, true, &dev, |_, l| cached_logits.push(l.to_vec())).unwrap();
    assert_eq!(plain, cached);
    for (a, b) in plain_logits.iter().zip(&cached_logits) {
        assert!(a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4));
    }
}
