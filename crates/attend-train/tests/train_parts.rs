//! Training parts on the CPU: global-norm clipping and the padding-aware,
//! label-smoothed loss.

use attend_data::Padded;
use attend_train::trainer::clip::clip_global_norm;
use attend_train::tasks::translate::batch::smoothed_loss;
use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::nn::LinearConfig;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;

#[allow(deprecated)]
fn device() -> Device {
    Device::ndarray().autodiff()
}

struct Ids(Vec<(ParamId, usize)>);
impl ModuleVisitor for Ids {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        self.0.push((p.id, D));
    }
}

fn global_norm<M: Module>(m: &M, g: &GradientsParams) -> f32 {
    let mut ids = Ids(Vec::new());
    m.visit(&mut ids);
    let mut sq = 0f32;
    for (id, rank) in ids.0 {
        let v: Vec<f32> = match rank {
            1 => g.get::<1>(id).unwrap().try_into_vec_as().unwrap(),
            2 => g.get::<2>(id).unwrap().try_into_vec_as().unwrap(),
            _ => unreachable!(),
        };
        sq += v.iter().map(|x| x * x).sum::<f32>();
    }
    sq.sqrt()
}

#[test]
fn clipping_scales_all_gradients_to_the_global_norm() {
    let dev = device();
    dev.seed(3);
    let model = LinearConfig::new(4, 3).init(&dev);
    let x = Tensor::<2>::ones([5, 4], &dev).mul_scalar(10.0);
    let loss = model.forward(x).sum();
    let mut grads = GradientsParams::from_grads(loss.backward(), &model);
    let before = global_norm(&model, &grads);
    let weight_before: Vec<f32> = grads.get::<2>(model.weight.id).unwrap().try_into_vec_as().unwrap();
    assert!(before > 1.0);
    let reported = clip_global_norm(&model, &mut grads, 1.0);
    assert!((reported - before).abs() < 1e-3 * before);
    let after = global_norm(&model, &grads);
    assert!((after - 1.0).abs() < 1e-4, "norm after clipping {after}");
    // One factor for every tensor: the direction is kept.
    let weight_after: Vec<f32> = grads.get::<2>(model.weight.id).unwrap().try_into_vec_as().unwrap();
    for (a, b) in weight_before.iter().zip(&weight_after) {
        assert!((a / before - b).abs() < 1e-5);
    }
    // Under the limit nothing changes.
    let n = clip_global_norm(&model, &mut grads, 10.0);
    assert!((n - 1.0).abs() < 1e-4);
    assert!((global_norm(&model, &grads) - 1.0).abs() < 1e-4);
}

#[test]
fn smoothed_loss_ignores_padding_and_matches_the_formula() {
    let dev = device();
    dev.seed(4);
    let (v, eps) = (7usize, 0.1f32);
    let logits = Tensor::<3>::random([1, 3, v], burn::tensor::Distribution::Normal(0.0, 1.0), &dev);
    let targets = Padded::new(&[vec![4u32, 5, 6]]);
    // The same row padded with two extra positions whose logits are garbage.
    let pad_logits = Tensor::<3>::random([1, 2, v], burn::tensor::Distribution::Normal(0.0, 5.0), &dev);
    let padded_logits = Tensor::cat(vec![logits.clone(), pad_logits], 1);
    let mut padded_targets = Padded::new(&[vec![4u32, 5, 6, 0, 0]]);
    padded_targets.lengths = vec![3];
    let a: f32 = smoothed_loss(logits.clone(), &targets, eps, &dev).into_scalar();
    let b: f32 = smoothed_loss(padded_logits, &padded_targets, eps, &dev).into_scalar();
    assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    // (1 − ε)·NLL + ε·mean over classes of −log p, averaged over the 3 tokens.
    let logp: Vec<f32> = log_softmax(logits.reshape([3, v]), 1).try_into_vec_as().unwrap();
    let mut expected = 0f32;
    for (row, &t) in [4usize, 5, 6].iter().enumerate() {
        let r = &logp[row * v..(row + 1) * v];
        expected += -(1.0 - eps) * r[t] - eps / v as f32 * r.iter().sum::<f32>();
    }
    expected /= 3.0;
    assert!((a - expected).abs() < 1e-5, "{a} vs {expected}");
}
