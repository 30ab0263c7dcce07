//! Layer normalisation's backward pass on the host (Ba et al., 2016): for
//! y = x̂ γ + β with x̂ = (x − mean) / √(var + ε) over each row of `d`
//! numbers, the input gradient
//! dx = (g − mean(g) − x̂ · mean(g x̂)) / √(var + ε) with g = dy γ, and the
//! weights' gradients dγ = Σ_rows dy x̂, dβ = Σ_rows dy.
//!
//! Written with Burn's backend operations it is about fifteen passes over the
//! rows, each with a buffer of its own (`ops::layer_norm_backward`, which the
//! other backends run); here it is one pass per row that recomputes the
//! row's statistics, in blocks of rows over the threads, each block with its
//! own dγ and dβ, summed at the end.

use super::math::{lanes_total as total, madd, multiversion, sum, L};

/// `(dx, dγ, dβ)` for `x` and `dy` `[rows, d]`, `gamma` `[d]`.
pub fn backward(x: &[f32], gamma: &[f32], dy: &[f32], d: usize, epsilon: f32) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    assert!(d > 0 && gamma.len() == d && x.len() == dy.len() && x.len() % d == 0, "layer_norm backward: shapes disagree");
    let rows = x.len() / d;
    let mut dx = vec![0f32; x.len()];
    let parts = super::threads().min(rows / MIN_BLOCK_ROWS).max(1);
    let sums: Vec<(Vec<f32>, Vec<f32>)> = if parts == 1 {
        let (mut dgamma, mut dbeta) = (vec![0.0; d], vec![0.0; d]);
        rows_simd(x, gamma, dy, d, epsilon, &mut dx, &mut dgamma, &mut dbeta);
        vec![(dgamma, dbeta)]
    } else {
        use rayon::prelude::*;
        let block = rows.div_ceil(parts) * d;
        dx.par_chunks_mut(block)
            .zip(x.par_chunks(block).zip(dy.par_chunks(block)))
            .map(|(dx, (x, dy))| {
                let (mut dgamma, mut dbeta) = (vec![0.0; d], vec![0.0; d]);
                rows_simd(x, gamma, dy, d, epsilon, dx, &mut dgamma, &mut dbeta);
                (dgamma, dbeta)
            })
            .collect()
    };
    let mut sums = sums.into_iter();
    let (mut dgamma, mut dbeta) = sums.next().expect("at least one block");
    for (g, b) in sums {
        dgamma.iter_mut().zip(&g).for_each(|(s, v)| *s += v);
        dbeta.iter_mut().zip(&b).for_each(|(s, v)| *s += v);
    }
    (dx, dgamma, dbeta)
}

/// Rows per parallel block, at least.
const MIN_BLOCK_ROWS: usize = 64;

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn rows_body<const FMA: bool>(x: &[f32], gamma: &[f32], dy: &[f32], d: usize, epsilon: f32, dx: &mut [f32], dgamma: &mut [f32], dbeta: &mut [f32]) {
    let inv_d = 1.0 / d as f32;
    // The first `full` numbers of a row go through the 16 lanes, the rest one by one.
    let full = d / L * L;
    for ((x, dy), dx) in x.chunks_exact(d).zip(dy.chunks_exact(d)).zip(dx.chunks_exact_mut(d)) {
        let mean = sum(x) * inv_d;
        // x − mean, kept in dx for now, and its sum of squares.
        let mut s = [0f32; L];
        for (o, c) in dx[..full].chunks_exact_mut(L).zip(x[..full].chunks_exact(L)) {
            for k in 0..L {
                o[k] = c[k] - mean;
                s[k] = madd::<FMA>(o[k], o[k], s[k]);
            }
        }
        let mut tail = 0f32;
        for (o, &v) in dx[full..].iter_mut().zip(&x[full..]) {
            *o = v - mean;
            tail += *o * *o;
        }
        let rstd = 1.0 / ((total(s) + tail) * inv_d + epsilon).sqrt();
        // x̂ into dx; Σ g and Σ g x̂ (g = dy γ) and the weights' gradients in the same pass.
        let (mut sum_g, mut sum_gx) = ([0f32; L], [0f32; L]);
        let lanes = dx[..full].chunks_exact_mut(L).zip(dy[..full].chunks_exact(L)).zip(gamma[..full].chunks_exact(L));
        for (((o, e), w), (dg, db)) in lanes.zip(dgamma[..full].chunks_exact_mut(L).zip(dbeta[..full].chunks_exact_mut(L))) {
            for k in 0..L {
                let xhat = o[k] * rstd;
                o[k] = xhat;
                let g = e[k] * w[k];
                sum_g[k] += g;
                sum_gx[k] = madd::<FMA>(g, xhat, sum_gx[k]);
                dg[k] = madd::<FMA>(e[k], xhat, dg[k]);
                db[k] += e[k];
            }
        }
        let (mut tail_g, mut tail_gx) = (0f32, 0f32);
        for i in full..d {
            let xhat = dx[i] * rstd;
            dx[i] = xhat;
            let g = dy[i] * gamma[i];
            tail_g += g;
            tail_gx += g * xhat;
            dgamma[i] += dy[i] * xhat;
            dbeta[i] += dy[i];
        }
        let (mean_g, mean_gx) = ((total(sum_g) + tail_g) * inv_d, (total(sum_gx) + tail_gx) * inv_d);
        for ((o, &e), &w) in dx.iter_mut().zip(dy).zip(gamma) {
            *o = rstd * (e * w - mean_g - *o * mean_gx);
        }
    }
}
multiversion!(fn rows_simd(x: &[f32], gamma: &[f32], dy: &[f32], d: usize, epsilon: f32, dx: &mut [f32], dgamma: &mut [f32], dbeta: &mut [f32]) => rows_body);

#[cfg(test)]
mod tests {
    use super::*;

    /// The formula in f64, row by row.
    fn reference(x: &[f32], gamma: &[f32], dy: &[f32], d: usize, eps: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (mut dx, mut dgamma, mut dbeta) = (Vec::new(), vec![0.0; d], vec![0.0; d]);
        for (x, dy) in x.chunks(d).zip(dy.chunks(d)) {
            let mean = x.iter().map(|&v| v as f64).sum::<f64>() / d as f64;
            let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / d as f64;
            let rstd = 1.0 / (var + eps).sqrt();
            let xhat: Vec<f64> = x.iter().map(|&v| (v as f64 - mean) * rstd).collect();
            let g: Vec<f64> = dy.iter().zip(gamma).map(|(&a, &w)| a as f64 * w as f64).collect();
            let mean_g = g.iter().sum::<f64>() / d as f64;
            let mean_gx = g.iter().zip(&xhat).map(|(a, b)| a * b).sum::<f64>() / d as f64;
            dx.extend(g.iter().zip(&xhat).map(|(g, h)| rstd * (g - mean_g - h * mean_gx)));
            for j in 0..d {
                dgamma[j] += dy[j] as f64 * xhat[j];
                dbeta[j] += dy[j] as f64;
            }
        }
        (dx, dgamma, dbeta)
    }

    #[test]
    fn the_gradients_are_the_formulas_at_one_thread_and_in_blocks() {
        // Widths below, at and past the 16 lanes, rows enough for several blocks.
        for (rows, d) in [(3, 5), (200, 16), (300, 37), (257, 128)] {
            let x: Vec<f32> = (0..rows * d).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.05 + (i / d) as f32 * 0.01).collect();
            let dy: Vec<f32> = (0..rows * d).map(|i| ((i * 53 % 89) as f32 - 44.0) * 0.02).collect();
            let gamma: Vec<f32> = (0..d).map(|j| 0.5 + j as f32 * 0.03).collect();
            let (wx, wg, wb) = reference(&x, &gamma, &dy, d, 1e-5);
            for threads in [1, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let (dx, dg, db) = pool.install(|| backward(&x, &gamma, &dy, d, 1e-5));
                let close = |a: &[f32], b: &[f64], tol: f64| a.iter().zip(b).all(|(&p, &q)| (p as f64 - q).abs() <= tol * (1.0 + q.abs()));
                assert!(close(&dx, &wx, 1e-4), "dx, {rows} × {d}, {threads} thread(s)");
                assert!(close(&dg, &wg, 1e-4), "dγ, {rows} × {d}, {threads} thread(s)");
                assert!(close(&db, &wb, 1e-4), "dβ, {rows} × {d}, {threads} thread(s)");
            }
        }
    }
}
