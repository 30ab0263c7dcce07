//! Element-wise host kernels: inverted dropout (Srivastava et al., 2014)
//! with a counter-based generator, and the GELU (Hendrycks & Gimpel, 2016).
//!
//! Dropout: element i of a call is kept when a hash of (seed, i) falls below
//! p_keep · 2³² (murmur3's 32-bit finaliser applied twice, once per half of
//! the 64-bit seed; counter-based generation as in Salmon et al., 2011,
//! "Parallel random numbers: as easy as 1, 2, 3"). The seed is one draw from
//! the backend's own generator per call, so a seeded run stays reproducible,
//! the mask needs no storage (the backward pass recomputes it), and it costs
//! a few integer instructions per element instead of Burn's per-element
//! ChaCha draw through a distribution sampler (a quarter of a Transformer
//! training step on flex).
//!
//! GELU: x Φ(x) with Φ(x) = (1 + erf(x/√2))/2, erf by Abramowitz & Stegun
//! 7.1.26 (absolute error below 1.5e-7), vectorised; flex computes `erff`
//! per element and its backward as a composition of tensor operations.

use std::mem::MaybeUninit;

use super::math::{exp, madd, multiversion};
use super::output;

#[inline(always)]
fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// The 32 random bits of element `i` under `seed`.
#[inline(always)]
pub fn bits(seed: u64, i: u32) -> u32 {
    fmix32(fmix32(i ^ seed as u32) ^ (seed >> 32) as u32)
}

/// The 32-bit threshold below which an element is kept with probability `keep`.
pub fn threshold(keep: f32) -> u32 {
    (keep as f64 * 4_294_967_296.0).clamp(0.0, u32::MAX as f64) as u32
}

#[inline(always)]
fn dropout_body<const FMA: bool>(x: &[f32], y: &mut [MaybeUninit<f32>], seed: u64, start: u32, threshold: u32, scale: f32) {
    for (i, (y, x)) in y.iter_mut().zip(x).enumerate() {
        let keep = bits(seed, start.wrapping_add(i as u32)) < threshold;
        y.write(if keep { x * scale } else { 0.0 });
    }
}
multiversion!(fn dropout_simd(x: &[f32], y: &mut [MaybeUninit<f32>], seed: u64, start: u32, threshold: u32, scale: f32) => dropout_body);

/// y = x · mask · scale, the mask of `seed` (elements counted from 0): the
/// forward pass with x the input, the backward pass with x the output's gradient.
pub fn dropout(x: &[f32], seed: u64, keep: f32) -> Vec<f32> {
    let (t, scale) = (threshold(keep), 1.0 / keep);
    output(x.len(), |y| {
        if parallel(x.len()) {
            use rayon::prelude::*;
            const CHUNK: usize = PAR_CHUNK;
            y.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK)).enumerate().for_each(|(c, (y, x))| dropout_simd(x, y, seed, (c * CHUNK) as u32, t, scale));
        } else {
            dropout_simd(x, y, seed, 0, t, scale);
        }
    })
}

/// The multiplier itself (0 or 1/keep) for `n` elements: a dropout mask to
/// hand to an operation that applies it (the fused attention).
pub fn mask(n: usize, seed: u64, keep: f32) -> Vec<f32> {
    dropout(&vec![1.0; n], seed, keep)
}

const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;

/// erf x, Abramowitz & Stegun 7.1.26.
#[inline(always)]
fn erf<const FMA: bool>(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / madd::<FMA>(0.327_591_1, a, 1.0);
    let mut p = 1.061_405_4;
    p = madd::<FMA>(p, t, -1.453_152);
    p = madd::<FMA>(p, t, 1.421_413_8);
    p = madd::<FMA>(p, t, -0.284_496_74);
    p = madd::<FMA>(p, t, 0.254_829_6);
    let y = 1.0 - p * t * exp::<FMA>(-a * a);
    f32::from_bits(y.to_bits() | (x.to_bits() & 0x8000_0000))
}

#[inline(always)]
fn gelu_body<const FMA: bool>(x: &[f32], y: &mut [MaybeUninit<f32>]) {
    for (y, &x) in y.iter_mut().zip(x) {
        y.write(0.5 * x * (1.0 + erf::<FMA>(x * SQRT_HALF)));
    }
}
multiversion!(fn gelu_simd(x: &[f32], y: &mut [MaybeUninit<f32>]) => gelu_body);

#[inline(always)]
fn gelu_backward_body<const FMA: bool>(x: &[f32], dy: &[f32], dx: &mut [MaybeUninit<f32>]) {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
        let cdf = 0.5 * (1.0 + erf::<FMA>(x * SQRT_HALF));
        let pdf = INV_SQRT_2PI * exp::<FMA>(-0.5 * x * x);
        dx.write(dy * madd::<FMA>(x, pdf, cdf));
    }
}
multiversion!(fn gelu_backward_simd(x: &[f32], dy: &[f32], dx: &mut [MaybeUninit<f32>]) => gelu_backward_body);

/// Elements per parallel task of the element-wise kernels (at two or more threads).
const PAR_CHUNK: usize = 1 << 15;

fn parallel(n: usize) -> bool {
    n >= 4 * PAR_CHUNK && super::threads() > 1
}

/// GELU(x) = x Φ(x), element-wise.
pub fn gelu(x: &[f32]) -> Vec<f32> {
    output(x.len(), |y| {
        if parallel(x.len()) {
            use rayon::prelude::*;
            y.par_chunks_mut(PAR_CHUNK).zip(x.par_chunks(PAR_CHUNK)).for_each(|(y, x)| gelu_simd(x, y));
        } else {
            gelu_simd(x, y);
        }
    })
}

/// dy · (Φ(x) + x φ(x)), the GELU's input gradient.
pub fn gelu_backward(x: &[f32], dy: &[f32]) -> Vec<f32> {
    assert_eq!(x.len(), dy.len(), "gelu_backward: one gradient per input");
    output(x.len(), |dx| {
        if parallel(x.len()) {
            use rayon::prelude::*;
            dx.par_chunks_mut(PAR_CHUNK).zip(x.par_chunks(PAR_CHUNK)).zip(dy.par_chunks(PAR_CHUNK)).for_each(|((dx, x), dy)| gelu_backward_simd(x, dy, dx));
        } else {
            gelu_backward_simd(x, dy, dx);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mask_keeps_the_right_fraction_without_pattern() {
        let n = 1 << 20;
        for keep in [0.9f32, 0.5, 0.1] {
            let m = mask(n, 0x1234_5678_9abc_def0, keep);
            let kept = m.iter().filter(|&&v| v != 0.0).count() as f64 / n as f64;
            assert!((kept - keep as f64).abs() < 3e-3, "keep {keep}: kept {kept}");
            assert!(m.iter().all(|&v| v == 0.0 || (v - 1.0 / keep).abs() < 1e-6));
            // Neighbours are independent: P(both kept) ≈ keep².
            let both = m.windows(2).filter(|w| w[0] != 0.0 && w[1] != 0.0).count() as f64 / (n - 1) as f64;
            assert!((both - (keep * keep) as f64).abs() < 3e-3, "keep {keep}: pairs {both}");
        }
        // Another seed, another mask; the same seed, the same mask.
        let (a, b, c) = (mask(1000, 1, 0.5), mask(1000, 2, 0.5), mask(1000, 1, 0.5));
        assert_eq!(a, c);
        assert!(a.iter().zip(&b).filter(|(x, y)| x != y).count() > 300);
    }

    #[test]
    fn gelu_matches_the_erf_formula() {
        let xs: Vec<f32> = (-2000..=2000).map(|i| i as f32 * 5e-3).collect();
        let (y, dx) = (gelu(&xs), gelu_backward(&xs, &vec![1.0; xs.len()]));
        for (i, &x) in xs.iter().enumerate() {
            let xd = x as f64;
            let cdf = 0.5 * (1.0 + libm_erf(xd / std::f64::consts::SQRT_2));
            let want = xd * cdf;
            let dwant = cdf + xd * (-0.5 * xd * xd).exp() / (2.0 * std::f64::consts::PI).sqrt();
            assert!((y[i] as f64 - want).abs() < 1e-6, "gelu({x}) = {}, want {want}", y[i]);
            assert!((dx[i] as f64 - dwant).abs() < 1e-6, "gelu'({x}) = {}, want {dwant}", dx[i]);
        }
    }

    /// erf in f64 by its Taylor series (|x| ≤ 3) or continued fraction (beyond): reference only.
    fn libm_erf(x: f64) -> f64 {
        if x.abs() > 3.0 {
            let a = x.abs();
            let mut f = 0.0;
            for k in (1..60).rev() {
                f = (k as f64 / 2.0) / (a + f);
            }
            let v = 1.0 - (-a * a).exp() / std::f64::consts::PI.sqrt() / (a + f);
            return v.copysign(x);
        }
        let (mut term, mut sum) = (x, x);
        for n in 1..200 {
            term *= -x * x / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }
}

#[cfg(test)]
mod timing {
    /// `cargo test --release … -- --ignored --nocapture timing`: ns per element of each kernel.
    #[test]
    #[ignore]
    fn timing() {
        let n = 1 << 21;
        let mut s = 1u32;
        let x: Vec<f32> = (0..n).map(|_| { s = s.wrapping_mul(1664525).wrapping_add(1013904223); (s >> 8) as f32 / (1u32 << 24) as f32 * 6.0 - 3.0 }).collect();
        let time = |name: &str, f: &dyn Fn() -> Vec<f32>| {
            let t = std::time::Instant::now();
            let mut keep = 0.0;
            for _ in 0..10 { keep += f()[7]; }
            println!("{name}: {:.3} ns/element ({keep})", t.elapsed().as_nanos() as f64 / (10 * n) as f64);
        };
        time("gelu", &|| super::gelu(&x));
        time("gelu_backward", &|| super::gelu_backward(&x, &x));
        time("dropout", &|| super::dropout(&x, 7, 0.9));
        time("copy", &|| x.clone());
        time("tanh", &|| { let mut y = x.clone(); super::super::math::tanh_in_place(&mut y); y });
    }
}
