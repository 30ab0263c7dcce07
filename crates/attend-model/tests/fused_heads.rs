//! The host multi-head attention (`attend_model::fused::attention_heads`)
//! against the plain composition (`scaled_dot_product_attention_plain`, its
//! context merged by swap + reshape): context, weights and the gradients of
//! the projections the heads are split from, with key padding, a causal mask
//! (also one with cached past positions, `[n, p + n]`), dropout under the
//! same seed, and heads that are strided views or contiguous tensors; on
//! every compiled backend. Tolerance: 2e-5 + 1e-4 · |reference| on values,
//! 1e-5 + 1e-4 · (largest |entry|) on gradients.

use attend_model::attention::{padding_mask, scaled_dot_product_attention_plain};
use attend_model::fused;
use burn::nn::DropoutConfig;
use burn::prelude::*;
use burn::tensor::Distribution;

mod common;
use common::{all_devices, close, close_scaled};

fn split(x: Tensor<3>, heads: usize, contiguous: bool) -> Tensor<4> {
    let [b, s, d] = x.dims();
    let t = x.reshape([b, s, heads, d / heads]).swap_dims(1, 2); // [b, heads, s, d/heads], a strided view
    if contiguous {
        Tensor::from_data(t.to_data(), &t.device()).require_grad()
    } else {
        t
    }
}

#[test]
fn host_attention_matches_the_composition() {
    for base in all_devices() {
        let ad = base.clone().autodiff();
        let (b, h, dm) = (3, 2, 8);
        // (query positions, key positions, past positions of a causal mask)
        for (sq, sk, past) in [(5, 5, None), (5, 5, Some(0)), (2, 6, Some(4)), (4, 7, None)] {
            // Dropout where both draw from the host generator (not wgpu, whose plain path draws Burn's).
            let combos: &[(bool, f64)] = if fused::host_kernels(&ad) { &[(false, 0.0), (true, 0.0), (false, 0.4)] } else { &[(false, 0.0), (true, 0.0)] };
            for &(contiguous, p_drop) in combos {
                let dropout = DropoutConfig::new(p_drop).init();
                ad.seed(61);
                let (xq, xk, xv) = (Tensor::<3>::random([b, sq, dm], Distribution::Normal(0.0, 1.0), &base), Tensor::<3>::random([b, sk, dm], Distribution::Normal(0.0, 1.0), &base), Tensor::<3>::random([b, sk, dm], Distribution::Normal(0.0, 1.0), &base));
                let probe = Tensor::<3>::random([b, sq, dm], Distribution::Normal(0.0, 1.0), &ad);
                let lens: Vec<usize> = (0..b).map(|r| sk - r).collect();
                let pad = padding_mask(&lens, sk, &ad);
                let attn = past.map(|p| Tensor::<2, Bool>::tril_mask([sq, sk], p as i64, &ad));
                let run = |fused_path: bool| {
                    let leaf = |t: &Tensor<3>| Tensor::<3>::from_data(t.to_data(), &ad).require_grad();
                    let (q3, k3, v3) = (leaf(&xq), leaf(&xk), leaf(&xv));
                    let (q, k, v) = (split(q3.clone(), h, contiguous), split(k3.clone(), h, contiguous), split(v3.clone(), h, contiguous));
                    ad.seed(67);
                    let (ctx, w) = if fused_path {
                        fused::attention_heads(q.clone(), k.clone(), v.clone(), Some(pad.clone()), attn.clone(), &dropout)
                    } else {
                        let (c, w) = scaled_dot_product_attention_plain(q.clone(), k.clone(), v.clone(), Some(pad.clone()), attn.clone(), &dropout);
                        (c.swap_dims(1, 2).reshape([b, sq, dm]), w)
                    };
                    let g = (ctx.clone() * probe.clone()).sum().backward();
                    let grad = |x: &Tensor<3>, y: &Tensor<4>| if contiguous { y.grad(&g).unwrap().swap_dims(1, 2).reshape([b, y.dims()[2], dm]) } else { x.grad(&g).unwrap() };
                    (ctx, w, grad(&q3, &q), grad(&k3, &k), grad(&v3, &v))
                };
                let (a, r) = (run(true), run(false));
                let what = format!("{base:?} sq {sq} sk {sk} past {past:?} contiguous {contiguous} dropout {p_drop}");
                close(&format!("{what}: context"), a.0, r.0);
                close(&format!("{what}: weights"), a.1, r.1);
                close_scaled(&format!("{what}: dq"), a.2, r.2);
                close_scaled(&format!("{what}: dk"), a.3, r.3);
                close_scaled(&format!("{what}: dv"), a.4, r.4);
            }
        }
    }
}
