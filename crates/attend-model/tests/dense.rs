//! `dense::linear` (one 2-D product over the flattened leading dimensions)
//! against Burn's `Linear::forward` (a batched product against the broadcast
//! weight for these shapes): values and the gradients of input, weight and
//! bias, on every compiled backend. Tolerance: 2e-5 + 1e-4 · |reference|.

use attend_model::dense;
use burn::nn::LinearConfig;
use burn::prelude::*;
use burn::tensor::Distribution;

mod common;
use common::{all_devices, close};

fn check<const D: usize>(shape: [usize; D], device: &Device) {
    let ad = device.clone().autodiff();
    let layer = LinearConfig::new(shape[D - 1], 7).init(&ad);
    let x0 = Tensor::<D>::random(shape, Distribution::Normal(0.0, 1.0), device);
    let mut out_shape = shape;
    out_shape[D - 1] = 7;
    let probe = Tensor::<D>::random(out_shape, Distribution::Normal(0.0, 1.0), &ad);
    let run = |flat: bool| {
        let x = Tensor::<D>::from_data(x0.to_data(), &ad).require_grad();
        let y = if flat { dense::linear(&layer, x.clone()) } else { layer.forward(x.clone()) };
        let g = (y.clone() * probe.clone()).sum().backward();
        let bias = layer.bias.as_ref().unwrap().val().grad(&g).unwrap();
        (y, x.grad(&g).unwrap(), layer.weight.val().grad(&g).unwrap(), bias)
    };
    let (a, b) = (run(true), run(false));
    let what = format!("{device:?} {shape:?}");
    close(&format!("{what}: y"), a.0, b.0);
    close(&format!("{what}: dx"), a.1, b.1);
    close(&format!("{what}: dW"), a.2, b.2);
    close(&format!("{what}: db"), a.3, b.3);
}

#[test]
fn flattened_linear_matches_burns_linear() {
    for device in all_devices() {
        device.seed(31);
        check([3, 32, 5], &device);
        check([2, 3, 4, 5], &device);
        check([4, 5], &device);
    }
}
