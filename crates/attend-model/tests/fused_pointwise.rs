//! The fused linear layer, dropout and GELU (`attend_model::fused::{linear,
//! dropout, gelu}`, host kernels) against Burn's own operations, values and
//! gradients, on the CPU backends (the ones that run them; elsewhere the
//! functions are Burn's). Tolerance: 2e-5 + 1e-4 · |reference|. Dropout's
//! masks come from another generator than Burn's, so it is checked for what
//! a dropout must be: every output 0 or x/keep, the kept fraction, the
//! gradient through the same mask, and the same mask again after the same seed.
#![cfg(any(feature = "ndarray", feature = "flex"))]

use attend_model::fused;
use burn::nn::DropoutConfig;
use burn::prelude::*;
use burn::tensor::Distribution;

mod common;
use common::{cpu_devices, close, vals};

/// The tests share each backend's random generator; the one that reseeds it
/// to check reproducibility must not be interleaved with the others' draws.
static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn random<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

fn leaf<const D: usize>(t: &Tensor<D>, device: &Device) -> Tensor<D> {
    Tensor::from_data(t.to_data(), device).require_grad()
}

#[test]
fn linear_matches_burns_linear() {
    let _rng = RNG.lock().unwrap_or_else(|e| e.into_inner());
    for base in cpu_devices() {
        let ad = base.clone().autodiff();
        assert!(fused::host_kernels(&ad), "{base:?}");
        base.seed(41);
        for bias in [true, false] {
            let (x0, w0, b0) = (random([3, 4, 6], &base), random([6, 5], &base), random([5], &base));
            let probe = random([3, 4, 5], &ad);
            let run = |fused_path: bool| {
                let (x, w, b) = (leaf(&x0, &ad), leaf(&w0, &ad), leaf(&b0, &ad));
                let bb = bias.then(|| b.clone());
                let y = if fused_path { fused::linear(x.clone(), w.clone(), bb) } else { burn::tensor::module::linear(x.clone(), w.clone(), bb) };
                let g = (y.clone() * probe.clone()).sum().backward();
                (y, x.grad(&g).unwrap(), w.grad(&g).unwrap(), b.grad(&g))
            };
            let (a, r) = (run(true), run(false));
            let what = format!("{base:?} bias {bias}");
            close(&format!("{what}: y"), a.0, r.0);
            close(&format!("{what}: dx"), a.1, r.1);
            close(&format!("{what}: dw"), a.2, r.2);
            assert_eq!(a.3.is_some(), r.3.is_some(), "{what}: db");
            if let (Some(x), Some(y)) = (a.3, r.3) {
                close(&format!("{what}: db"), x, y);
            }
        }
    }
}

/// The tied output layer: logits against the rows of a table `[vocab, d]`
/// read as stored, against the matmul with the transposed table.
#[test]
fn transposed_linear_matches_the_matmul_with_the_transposed_table() {
    let _rng = RNG.lock().unwrap_or_else(|e| e.into_inner());
    for base in cpu_devices() {
        let ad = base.clone().autodiff();
        base.seed(53);
        let (x0, t0) = (random([2, 5, 6], &base), random([9, 6], &base));
        let probe = random([2, 5, 9], &ad);
        let run = |fused_path: bool| {
            let (x, t) = (leaf(&x0, &ad), leaf(&t0, &ad));
            let y = if fused_path { fused::linear_transposed(x.clone(), t.clone()) } else { x.clone().matmul(t.clone().transpose().unsqueeze::<3>()) };
            let g = (y.clone() * probe.clone()).sum().backward();
            (y, x.grad(&g).unwrap(), t.grad(&g).unwrap())
        };
        let (a, r) = (run(true), run(false));
        close(&format!("{base:?}: logits"), a.0, r.0);
        close(&format!("{base:?}: dx"), a.1, r.1);
        close(&format!("{base:?}: dtable"), a.2, r.2);
    }
}

/// GELU against its definition x · (1 + erf(x/√2)) / 2 composed of Burn's
/// operations (values and the exact gradient, as PyTorch's); Burn's own
/// `gelu` has the same values, but its backward differentiates the tanh
/// approximation, which differs from the exact gradient by up to about 4e-3 (at |x| ≈ 2–3).
#[test]
fn gelu_matches_its_definition() {
    let _rng = RNG.lock().unwrap_or_else(|e| e.into_inner());
    for base in cpu_devices() {
        let ad = base.clone().autodiff();
        base.seed(43);
        // Large enough for the kernels' parallel path at two threads.
        let x0 = random([4, 256, 160], &base).mul_scalar(3.0);
        let probe = random([4, 256, 160], &ad);
        let run = |which: usize| {
            let x = leaf(&x0, &ad);
            let y = match which {
                0 => fused::gelu(x.clone()),
                1 => x.clone() * (x.clone().div_scalar(std::f64::consts::SQRT_2).erf().add_scalar(1.0)).div_scalar(2.0),
                _ => burn::tensor::activation::gelu(x.clone()),
            };
            let g = (y.clone() * probe.clone()).sum().backward();
            (y, x.grad(&g).unwrap())
        };
        let (a, r, burn) = (run(0), run(1), run(2));
        close(&format!("{base:?}: gelu"), a.0, r.0.clone());
        close(&format!("{base:?}: Burn's gelu"), burn.0, r.0);
        close(&format!("{base:?}: d gelu"), a.1.clone(), r.1);
        let gap = vals(a.1).iter().zip(vals(burn.1)).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(gap < 1e-2, "{base:?}: Burn's approximate GELU gradient is {gap} away");
    }
}

#[test]
fn dropout_is_an_inverted_dropout_with_one_mask_forward_and_backward() {
    let _rng = RNG.lock().unwrap_or_else(|e| e.into_inner());
    for base in cpu_devices() {
        let ad = base.clone().autodiff();
        let layer = DropoutConfig::new(0.3).init();
        let x0 = random([8, 128, 160], &base).add_scalar(5.0); // no zeros among the inputs; large enough to run in parallel
        let run = || {
            ad.seed(47);
            let x = leaf(&x0, &ad);
            let y = fused::dropout(&layer, x.clone());
            let g = y.clone().sum().backward();
            (vals(y), vals(x.grad(&g).unwrap()))
        };
        let ((y, dx), (y2, _)) = (run(), run());
        assert_eq!(y, y2, "{base:?}: the same seed gives the same mask");
        let x = vals(x0.clone());
        let mut kept = 0;
        for i in 0..x.len() {
            if y[i] == 0.0 {
                assert_eq!(dx[i], 0.0, "{base:?}[{i}]: a dropped element passes no gradient");
            } else {
                kept += 1;
                assert!((y[i] - x[i] / 0.7).abs() <= 1e-5 * y[i].abs(), "{base:?}[{i}]: kept elements are scaled by 1/keep");
                assert!((dx[i] - 1.0 / 0.7).abs() < 1e-6, "{base:?}[{i}]: gradient 1/keep where kept");
            }
        }
        let frac = kept as f64 / x.len() as f64;
        assert!((frac - 0.7).abs() < 0.01, "{base:?}: kept {frac}");
        // Without training (or without autodiff) dropout is the identity.
        let y = fused::dropout(&layer, x0.clone());
        assert_eq!(vals(y), x, "{base:?}: no autodiff, no dropout");
    }
}
