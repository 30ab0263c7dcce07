//! The fused operations against the compositions they replace, on every CPU
//! backend this build registers them for: values and gradients of attention
//! (padding and causal masks, dropout), layer norm (with and without β) and
//! label-smoothed cross-entropy with padding ignored, against Burn's own
//! `LayerNorm` and `CrossEntropyLoss`. Tolerance: 2e-5 + 1e-4 · |reference|.
#![cfg(any(feature = "ndarray", feature = "flex"))]

use attend_model::attention::{scaled_dot_product_attention, scaled_dot_product_attention_plain};
use attend_model::fused;
use burn::nn::{DropoutConfig, LayerNormConfig};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::Distribution;

mod common;
use common::{cpu_devices, close};

/// The tests share each backend's random generator; the attention test
/// reseeds it to draw the same dropout twice, so no other test may draw from
/// it in between.
static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn random<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

/// Leaves on `device`: three copies of each of `values`, one per computation to compare.
fn leaves<const D: usize>(t: &Tensor<D>, device: &Device) -> Tensor<D> {
    Tensor::from_data(t.to_data(), device).require_grad()
}

#[test]
fn attention_matches_the_composition_with_masks_and_dropout() {
    let _rng = RNG.lock().unwrap_or_else(|e| e.into_inner());
    for base in cpu_devices() {
        base.seed(7);
        let ad = base.clone().autodiff();
        let (b, h, sq, sk, d) = (2, 3, 4, 5, 8);
        let (q0, k0, v0) = (random([b, h, sq, d], &base), random([b, h, sk, d], &base), random([b, h, sk, d], &base));
        let pad = Tensor::<2, Bool>::from_data(TensorData::new(vec![false, false, false, true, true, false, false, false, false, true], [b, sk]), &ad);
        let causal = Tensor::<2, Bool>::tril_mask([sq, sk], 1, &ad);
        let mask = pad.clone().reshape([b, 1, 1, sk]).expand([b, h, sq, sk]).bool_or(causal.clone().reshape([1, 1, sq, sk]).expand([b, h, sq, sk]));
        // A dropout multiplier of 0 or 2 (p = 0.5).
        let keep = Tensor::<4>::random([b, h, sq, sk], Distribution::Bernoulli(0.5), &ad) * 2.0;
        let probe = random([b, h, sq, d], &ad);
        for (m, k) in [(None, None), (Some(mask.clone()), None), (Some(mask.clone()), Some(keep.clone()))] {
            let (q, kk, v) = (leaves(&q0, &ad), leaves(&k0, &ad), leaves(&v0, &ad));
            let (ctx, w) = fused::attention(q.clone(), kk.clone(), v.clone(), m.clone(), k.clone(), 1.0 / (d as f32).sqrt());
            let g = (ctx.clone() * probe.clone()).sum().backward();
            let (q2, k2, v2) = (leaves(&q0, &ad), leaves(&k0, &ad), leaves(&v0, &ad));
            let mut scores = q2.clone().matmul(k2.clone().swap_dims(2, 3)).div_scalar((d as f64).sqrt());
            if let Some(m) = &m {
                scores = scores.mask_fill(m.clone(), attend_model::attention::MASK_VALUE);
            }
            let w2 = softmax(scores, 3);
            let dropped = match &k {
                Some(k) => w2.clone() * k.clone(),
                None => w2.clone(),
            };
            let ctx2 = dropped.matmul(v2.clone());
            let g2 = (ctx2.clone() * probe.clone()).sum().backward();
            let what = format!("{base:?} mask {} dropout {}", m.is_some(), k.is_some());
            close(&format!("{what}: context"), ctx, ctx2);
            close(&format!("{what}: weights"), w, w2);
            close(&format!("{what}: dq"), q.grad(&g).unwrap(), q2.grad(&g2).unwrap());
            close(&format!("{what}: dk"), kk.grad(&g).unwrap(), k2.grad(&g2).unwrap());
            close(&format!("{what}: dv"), v.grad(&g).unwrap(), v2.grad(&g2).unwrap());
        }
        // The layer-level function draws its dropout as `Dropout` does: same seed, same result.
        let dropout = DropoutConfig::new(0.3).init();
        let run = |fused_path: bool| {
            let (q, kk, v) = (leaves(&q0, &ad), leaves(&k0, &ad), leaves(&v0, &ad));
            ad.seed(99);
            let f = if fused_path { scaled_dot_product_attention } else { scaled_dot_product_attention_plain };
            let (ctx, w) = f(q.clone(), kk.clone(), v.clone(), Some(pad.clone()), Some(causal.clone()), &dropout);
            let g = (ctx.clone() * probe.clone()).sum().backward();
            (ctx, w, q.grad(&g).unwrap(), kk.grad(&g).unwrap(), v.grad(&g).unwrap())
        };
        let (a, b2) = (run(true), run(false));
        close("layer: context", a.0, b2.0);
        close("layer: weights", a.1, b2.1);
        close("layer: dq", a.2, b2.2);
        close("layer: dk", a.3, b2.3);
        close("layer: dv", a.4, b2.4);
    }
}

#[test]
fn layer_norm_matches_burns_module() {
    let _rng = RNG.lock().unwrap_or_else(|e| e.into_inner());
    for base in cpu_devices() {
        base.seed(3);
        let ad = base.clone().autodiff();
        for bias in [true, false] {
            let norm = LayerNormConfig::new(6).with_bias(bias).init(&ad);
            // Non-trivial γ and β.
            let mut norm = norm;
            norm.gamma = burn::module::Param::from_tensor(random([6], &ad).add_scalar(1.0));
            if let Some(b) = norm.beta.as_mut() {
                *b = burn::module::Param::from_tensor(random([6], &ad));
            }
            let x0 = random([2, 3, 6], &base).mul_scalar(3.0).add_scalar(1.5);
            let probe = random([2, 3, 6], &ad);
            let x = leaves(&x0, &ad);
            let y = fused::layer_norm(x.clone(), &norm, fused::LAYER_NORM_EPSILON);
            let g = (y.clone() * probe.clone()).sum().backward();
            let gamma_fused = norm.gamma.val().grad(&g).unwrap();
            let beta_fused = norm.beta.as_ref().map(|b| b.val().grad(&g).unwrap());
            let x2 = leaves(&x0, &ad);
            let y2 = norm.forward(x2.clone());
            let g2 = (y2.clone() * probe.clone()).sum().backward();
            let what = format!("{base:?} bias {bias}");
            close(&format!("{what}: y"), y, y2);
            close(&format!("{what}: dx"), x.grad(&g).unwrap(), x2.grad(&g2).unwrap());
            close(&format!("{what}: dγ"), gamma_fused, norm.gamma.val().grad(&g2).unwrap());
            if let (Some(a), Some(b)) = (beta_fused, norm.beta.as_ref()) {
                close(&format!("{what}: dβ"), a, b.val().grad(&g2).unwrap());
            }
        }
    }
}

#[test]
fn cross_entropy_matches_burns_loss_with_smoothing_and_padding() {
    let _rng = RNG.lock().unwrap_or_else(|e| e.into_inner());
    for base in cpu_devices() {
        base.seed(5);
        let ad = base.clone().autodiff();
        let (n, vocab) = (7, 11);
        let logits0 = random([n, vocab], &base).mul_scalar(2.0);
        // Token 0 is padding: rows 2 and 5 do not count.
        let targets = Tensor::<1, Int>::from_data(TensorData::new(vec![3i64, 1, 0, 10, 4, 0, 7], [n]), &ad);
        for (smoothing, pad) in [(0.0, None), (0.1, Some(0usize)), (0.0, Some(0)), (0.2, None)] {
            let a = leaves(&logits0, &ad);
            let loss = fused::cross_entropy(a.clone(), targets.clone(), smoothing, pad);
            let ga = loss.clone().backward();
            let b = leaves(&logits0, &ad);
            let reference = burn::nn::loss::CrossEntropyLossConfig::new()
                .with_pad_tokens(pad.map(|p| vec![p]))
                .with_smoothing((smoothing > 0.0).then_some(smoothing))
                .init(&ad)
                .forward(b.clone(), targets.clone());
            let gb = reference.clone().backward();
            let what = format!("{base:?} smoothing {smoothing} pad {pad:?}");
            close(&format!("{what}: loss"), loss, reference);
            close(&format!("{what}: dlogits"), a.grad(&ga).unwrap(), b.grad(&gb).unwrap());
        }
    }
}

#[test]
fn the_fused_path_is_taken_on_the_registered_backends() {
    for d in cpu_devices() {
        assert!(fused::available(&d) && fused::available(&d.clone().autodiff()), "{d:?}");
    }
}
