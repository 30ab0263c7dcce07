//! Log-softmax with label-smoothed cross-entropy (Szegedy et al., 2016) on
//! the host: per row one pass for the maximum and the logits' sum, one for
//! the exponentials and their sum, one to normalise them into the softmax
//! that the backward pass needs; the backward is one pass,
//! (softmax − q) · row weight · upstream gradient, with
//! q = (1 − α)·onehot(target) + α/V. The composition it replaces
//! (`super::super::ops::cross_entropy`) makes eight passes over `[n, V]`,
//! each allocating its result.

use super::math::{exp, multiversion};

/// The largest and the sum of `x`, in 16 lanes.
#[inline(always)]
fn max_and_sum(x: &[f32]) -> (f32, f32) {
    const L: usize = 16;
    let (mut m, mut s) = ([f32::NEG_INFINITY; L], [0f32; L]);
    let chunks = x.chunks_exact(L);
    let tail = chunks.remainder();
    for c in chunks {
        for k in 0..L {
            m[k] = m[k].max(c[k]);
            s[k] += c[k];
        }
    }
    let max = tail.iter().chain(&m).fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    (max, s.iter().sum::<f32>() + tail.iter().sum::<f32>())
}

/// eˣ⁻ᵐᵃˣ into `out`, returning their sum, in 16 lanes.
#[inline(always)]
fn exp_shifted<const FMA: bool>(x: &[f32], max: f32, out: &mut [f32]) -> f32 {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = exp::<FMA>(v - max);
    }
    let mut s = [0f32; 16];
    let chunks = out.chunks_exact(16);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for k in 0..16 {
            s[k] += c[k];
        }
    }
    s.iter().sum::<f32>() + tail
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn forward_body<const FMA: bool>(logits: &[f32], targets: &[i64], weight: &[f32], v: usize, smoothing: f32, probs: &mut [f32], losses: &mut [f32]) {
    for (r, loss) in losses.iter_mut().enumerate() {
        let row = &logits[r * v..][..v];
        let p = &mut probs[r * v..][..v];
        let (max, total) = max_and_sum(row);
        let sum = exp_shifted::<FMA>(row, max, p);
        let lse = sum.ln() + max;
        let inv = 1.0 / sum;
        for x in p.iter_mut() {
            *x *= inv;
        }
        let t = targets[r];
        let target_logp = if (0..v as i64).contains(&t) { row[t as usize] - lse } else { 0.0 };
        let mut l = -(1.0 - smoothing) * target_logp;
        if smoothing > 0.0 {
            l -= smoothing * (total / v as f32 - lse);
        }
        *loss = weight[r] * l;
    }
}
multiversion!(fn forward_rows(logits: &[f32], targets: &[i64], weight: &[f32], v: usize, smoothing: f32, probs: &mut [f32], losses: &mut [f32]) => forward_body);

/// Σ eˣ⁻ᵐᵃˣ over `x`, in 16 lanes, without storing the exponentials.
#[inline(always)]
fn sum_exp_shifted<const FMA: bool>(x: &[f32], max: f32) -> f32 {
    let mut s = [0f32; 16];
    let chunks = x.chunks_exact(16);
    let tail: f32 = chunks.remainder().iter().map(|&v| exp::<FMA>(v - max)).sum();
    for c in chunks {
        for k in 0..16 {
            s[k] += exp::<FMA>(c[k] - max);
        }
    }
    s.iter().sum::<f32>() + tail
}

#[inline(always)]
fn log_softmax_body<const FMA: bool>(x: &mut [f32], v: usize) {
    for row in x.chunks_exact_mut(v) {
        let (max, _) = max_and_sum(row);
        if max == f32::NEG_INFINITY {
            continue; // a row of −∞ stays −∞
        }
        let lse = sum_exp_shifted::<FMA>(row, max).ln() + max;
        for y in row.iter_mut() {
            *y -= lse;
        }
    }
}
multiversion!(fn log_softmax_each_row(x: &mut [f32], v: usize) => log_softmax_body);

/// Log-softmax of each row of `x` `[n, v]`, in place: one pass for the
/// maximum, one for Σ eˣ⁻ᵐᵃˣ, one to subtract the log of the sum (for beam
/// search, which reads the log-probabilities on the host anyway; the device's
/// composition makes six passes and allocates five results).
pub fn log_softmax_rows(x: &mut [f32], v: usize) {
    if v == 0 {
        return;
    }
    log_softmax_each_row(x, v);
}

#[inline(always)]
fn top1_body<const FMA: bool>(x: &[f32], v: usize, out: &mut [(u32, f32)]) {
    for (row, o) in x.chunks_exact(v).zip(out.iter_mut()) {
        // The first largest, as a stable sort would rank it.
        let (mut best, mut max) = (0usize, f32::NEG_INFINITY);
        for (j, &y) in row.iter().enumerate() {
            if y > max {
                max = y;
                best = j;
            }
        }
        let lp = if max == f32::NEG_INFINITY { f32::NEG_INFINITY } else { -sum_exp_shifted::<FMA>(row, max).ln() };
        *o = (best as u32, lp);
    }
}
multiversion!(fn top1_rows(x: &[f32], v: usize, out: &mut [(u32, f32)]) => top1_body);

/// The most likely token of each row of logits `x` `[n, v]` and its
/// log-probability, in two passes and without writing the log-softmax
/// (greedy decoding needs nothing else).
pub fn top1_log_softmax(x: &[f32], v: usize) -> Vec<(u32, f32)> {
    let mut out = vec![(0u32, f32::NEG_INFINITY); x.len().checked_div(v).unwrap_or(0)];
    if v > 0 {
        top1_rows(x, v, &mut out);
    }
    out
}

/// Rows per parallel task.
const ROWS: usize = 32;

/// Σ_rows weight · (−Σ_j q_j log softmax(logits)_j) of `logits` `[n, v]`
/// against `targets` `[n]` with row weights `weight` `[n]`; returns it and the
/// softmax `[n, v]`. A target outside `0..v` contributes no target term.
pub fn forward(logits: &[f32], targets: &[i64], weight: &[f32], v: usize, smoothing: f32) -> (f32, Vec<f32>) {
    let n = targets.len();
    let mut probs = vec![0.0; n * v];
    let mut losses = vec![0.0; n];
    if super::threads() > 1 && n * v >= 1 << 18 {
        use rayon::prelude::*;
        probs.par_chunks_mut(ROWS * v).zip(losses.par_chunks_mut(ROWS)).enumerate().for_each(|(c, (p, l))| {
            let r = c * ROWS;
            let rows = l.len();
            forward_rows(&logits[r * v..(r + rows) * v], &targets[r..r + rows], &weight[r..r + rows], v, smoothing, p, l);
        });
    } else {
        forward_rows(logits, targets, weight, v, smoothing, &mut probs, &mut losses);
    }
    (losses.iter().map(|&l| l as f64).sum::<f64>() as f32, probs)
}

/// The gradient of [`forward`]'s result times `grad` with respect to the logits:
/// (softmax − q) · weight · grad.
pub fn backward(probs: &[f32], targets: &[i64], weight: &[f32], v: usize, smoothing: f32, grad: f32) -> Vec<f32> {
    let uniform = smoothing / v as f32;
    let mut d = vec![0.0; probs.len()];
    let rows = |d: &mut [f32], first: usize| {
        for (i, dr) in d.chunks_exact_mut(v).enumerate() {
            let r = first + i;
            let coef = weight[r] * grad;
            for (o, &p) in dr.iter_mut().zip(&probs[r * v..][..v]) {
                *o = (p - uniform) * coef;
            }
            if (0..v as i64).contains(&targets[r]) {
                dr[targets[r] as usize] -= (1.0 - smoothing) * coef;
            }
        }
    };
    if super::threads() > 1 && probs.len() >= 1 << 18 {
        use rayon::prelude::*;
        d.par_chunks_mut(ROWS * v).enumerate().for_each(|(c, d)| rows(d, c * ROWS));
    } else {
        rows(&mut d, 0);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_token_and_its_log_probability_are_those_of_the_full_log_softmax() {
        let v = 29;
        let mut x: Vec<f32> = (0..4 * v).map(|i| ((i * 6151 % 97) as f32 - 40.0) / 9.0).collect();
        x[2 * v + 5] = 100.0; // one clear winner
        x[3 * v + 1] = x[3 * v..4 * v].iter().cloned().fold(f32::NEG_INFINITY, f32::max); // a tie: the first wins
        let mut full = x.clone();
        log_softmax_rows(&mut full, v);
        for (r, &(t, lp)) in top1_log_softmax(&x, v).iter().enumerate() {
            let row = &full[r * v..(r + 1) * v];
            let first_max = (0..v).fold(0, |b, j| if row[j] > row[b] { j } else { b });
            assert_eq!(t as usize, first_max, "row {r}");
            assert!((lp - row[first_max]).abs() < 1e-5, "row {r}: {lp} vs {}", row[first_max]);
        }
    }

    #[test]
    fn host_log_softmax_is_the_exact_one_within_float_rounding() {
        let v = 37;
        let mut x: Vec<f32> = (0..3 * v).map(|i| ((i * 7919 % 101) as f32 - 50.0) / 7.0).collect();
        x[v + 3] = f32::NEG_INFINITY; // a masked-out token
        let mut ours = x.clone();
        log_softmax_rows(&mut ours, v);
        for (row, got) in x.chunks(v).zip(ours.chunks(v)) {
            let max = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
            let lse = row.iter().map(|&a| (a as f64 - max).exp()).sum::<f64>().ln() + max;
            for (&a, &g) in row.iter().zip(got) {
                if a == f32::NEG_INFINITY {
                    assert_eq!(g, f32::NEG_INFINITY);
                } else {
                    assert!(((a as f64 - lse) - g as f64).abs() < 1e-5, "{a}: {g} vs {}", a as f64 - lse);
                }
            }
        }
    }
}
