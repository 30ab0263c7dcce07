//! Vectorisable element-wise functions for the CPU kernels: exp, tanh and the
//! logistic sigmoid as branch-free polynomial approximations (the range
//! reduction and minimax polynomials of Cephes' `expf`/`tanhf`, Moshier 1992,
//! as SLEEF and Eigen use them), so that a loop over a slice compiles to SIMD
//! code instead of one libm call per element (flex's `tanh` and `sigmoid`
//! call `tanhf`/`expm1f` per element: a quarter of the LSTM step's samples).
//!
//! Each slice function is compiled three times: for the baseline target,
//! with AVX2 + FMA and with AVX-512, picked at run time. Accuracy against libm: a few
//! units in the last place (relative error < 5e-7 on exp, absolute < 3e-7 on
//! tanh and sigmoid), checked by the tests at the bottom.

/// Runs `$body` (a generic `fn<const FMA: bool>`) through its AVX-512 or
/// AVX2 + FMA instance when the CPU has them, else the baseline one.
macro_rules! multiversion {
    (fn $name:ident($($arg:ident: $ty:ty),*) => $body:ident) => {
        pub fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                if std::is_x86_feature_detected!("avx512f") {
                    #[target_feature(enable = "avx512f,avx2,fma")]
                    unsafe fn wide($($arg: $ty),*) {
                        $body::<true>($($arg),*)
                    }
                    // SAFETY: the CPU supports the features `wide` was compiled for.
                    return unsafe { wide($($arg),*) };
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    #[target_feature(enable = "avx2,fma")]
                    unsafe fn fast($($arg: $ty),*) {
                        $body::<true>($($arg),*)
                    }
                    // SAFETY: the CPU supports the features `fast` was compiled for.
                    return unsafe { fast($($arg),*) };
                }
            }
            $body::<false>($($arg),*)
        }
    };
}
pub(crate) use multiversion;

/// a·b + c, fused where the instance was compiled with FMA.
#[inline(always)]
pub fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// eˣ, for x up to 88.3 (above: ≈ 2e38); below −87.3, exactly 0 (the true
/// value is a denormal or 0, and denormals fed to the matrix products that
/// follow, e.g. the weights of masked positions, make them up to 100 times
/// slower).
#[inline(always)]
pub fn exp<const FMA: bool>(x: f32) -> f32 {
    let below = x < -87.3;
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const C1: f32 = 0.693_359_4; // ln 2, high part
    const C2: f32 = -2.121_944_4e-4; // ln 2, low part
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2²³: adding it rounds to an integer
    let x = x.clamp(-87.3, 88.3);
    let t = madd::<FMA>(x, LOG2E, ROUND); // ROUND + round(x / ln 2), exactly
    let n = t - ROUND;
    let r = madd::<FMA>(n, -C2, madd::<FMA>(n, -C1, x)); // x − n ln 2, |r| ≤ ln2/2
    let mut p = 1.987_569_1e-4;
    p = madd::<FMA>(p, r, 1.398_199_9e-3);
    p = madd::<FMA>(p, r, 8.333_452e-3);
    p = madd::<FMA>(p, r, 4.166_579_6e-2);
    p = madd::<FMA>(p, r, 1.666_666_5e-1);
    p = madd::<FMA>(p, r, 0.5);
    let e = madd::<FMA>(p, r * r, r) + 1.0;
    // 2ⁿ from its exponent bits (n ∈ [−126, 127] after the clamp). n is read
    // from t's low mantissa bits (t = 0x4B40_0000 + n as bits), not by `as
    // i32`, whose saturating semantics the compiler cannot vectorise.
    let two_n = f32::from_bits(t.to_bits().wrapping_add(127u32.wrapping_sub(0x4B40_0000)) << 23);
    if below {
        0.0
    } else {
        e * two_n
    }
}

/// tanh x: Cephes' odd polynomial below |x| = 0.625, 1 − 2/(e^{2|x|} + 1) above.
#[inline(always)]
pub fn tanh<const FMA: bool>(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let mut p = -5.704_988_7e-3;
    p = madd::<FMA>(p, z, 2.063_908_8e-2);
    p = madd::<FMA>(p, z, -5.373_971_6e-2);
    p = madd::<FMA>(p, z, 1.333_144_2e-1);
    p = madd::<FMA>(p, z, -3.333_328_2e-1);
    let small = madd::<FMA>(p * z, x, x);
    let large = 1.0 - 2.0 / (exp::<FMA>(2.0 * a) + 1.0);
    let large = f32::from_bits(large.to_bits() | (x.to_bits() & 0x8000_0000));
    if a < 0.625 {
        small
    } else {
        large
    }
}

/// The logistic sigmoid 1 / (1 + e⁻ˣ).
#[inline(always)]
pub fn sigmoid<const FMA: bool>(x: f32) -> f32 {
    1.0 / (1.0 + exp::<FMA>(-x))
}

/// Lanes of the reductions over a row (so that they vectorise: a running
/// sum of floats is a sequential chain the compiler may not reorder).
pub const L: usize = 16;

/// The sum of the lanes, halves first.
#[inline(always)]
pub fn lanes_total(lanes: [f32; L]) -> f32 {
    let mut half = [0f32; L / 2];
    for k in 0..L / 2 {
        half[k] = lanes[k] + lanes[k + L / 2];
    }
    half.iter().sum()
}

/// Σ xᵢ in 16 lanes.
#[inline(always)]
pub fn sum(x: &[f32]) -> f32 {
    let chunks = x.chunks_exact(L);
    let tail: f32 = chunks.remainder().iter().sum();
    let mut acc = [0f32; L];
    for c in chunks {
        for k in 0..L {
            acc[k] += c[k];
        }
    }
    lanes_total(acc) + tail
}

/// Σ aᵢ bᵢ over the shorter of the two, in 16 lanes.
#[inline(always)]
pub fn dot<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; L];
    let (ca, cb) = (a.chunks_exact(L), b.chunks_exact(L));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..L {
            acc[k] = madd::<FMA>(x[k], y[k], acc[k]);
        }
    }
    lanes_total(acc) + tail
}

/// y += α x, element-wise over the shorter of the two.
#[inline(always)]
pub fn axpy<const FMA: bool>(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y = madd::<FMA>(alpha, *x, *y);
    }
}

#[inline(always)]
fn tanh_in_place_body<const FMA: bool>(x: &mut [f32]) {
    for v in x {
        *v = tanh::<FMA>(*v);
    }
}
multiversion!(fn tanh_in_place(x: &mut [f32]) => tanh_in_place_body);

#[inline(always)]
fn sigmoid_in_place_body<const FMA: bool>(x: &mut [f32]) {
    for v in x {
        *v = sigmoid::<FMA>(*v);
    }
}
multiversion!(fn sigmoid_in_place(x: &mut [f32]) => sigmoid_in_place_body);

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> impl Iterator<Item = f32> {
        (-40_000..=40_000).map(|i| i as f32 * 5e-4).chain([-1e9, -90.0, -87.2, -80.0, -30.0, 30.0, 80.0, 88.0, 1e-8, -1e-8, 0.0])
    }

    #[test]
    fn exp_is_within_a_few_ulps_of_libm() {
        for x in grid() {
            for (name, y) in [("plain", exp::<false>(x)), ("fma", exp::<true>(x))] {
                if x < -87.3 {
                    assert_eq!(y, 0.0, "{name} exp({x}) flushes to 0");
                    continue;
                }
                let want = x.min(88.3).exp();
                assert!(((y - want) / want).abs() < 5e-7, "{name} exp({x}) = {y}, libm {want}");
            }
        }
    }

    #[test]
    fn tanh_and_sigmoid_match_libm() {
        for x in grid() {
            let (t, s) = (x.tanh(), 1.0 / (1.0 + (-x).exp()));
            assert!((tanh::<false>(x) - t).abs() < 3e-7 && (tanh::<true>(x) - t).abs() < 3e-7, "tanh({x})");
            assert!((sigmoid::<false>(x) - s).abs() < 3e-7 && (sigmoid::<true>(x) - s).abs() < 3e-7, "sigmoid({x})");
            // Near 0 the small branch keeps relative accuracy.
            if x.abs() < 0.6 && x != 0.0 {
                assert!(((tanh::<false>(x) - t) / t).abs() < 1e-6, "tanh({x}) relative");
            }
        }
        let mut v: Vec<f32> = grid().collect();
        let want: Vec<f32> = v.iter().map(|x| x.tanh()).collect();
        tanh_in_place(&mut v);
        assert!(v.iter().zip(&want).all(|(a, b)| (a - b).abs() < 3e-7));
    }
}
