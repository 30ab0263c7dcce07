//! The LSTM (Hochreiter & Schmidhuber, 1997; forget gate Gers et al., 2000)
//! over a whole sequence on the host, forward and back-propagation through
//! time. Gates in attend's order i, f, o, g, each `h` wide in a row of `4h`:
//!
//! - G = x W + b + h_{t−1} U (the input part for all steps at once, outside),
//! - i, f, o = σ(G_i, G_f, G_o), g = tanh G_g, c_t = f c_{t−1} + i g, h_t = o tanh c_t.
//!
//! Padding (`keep` 0): the state is carried over and the output is zero,
//! as `crate::recurrent::Cell::run` does it.

use super::math::{madd, multiversion, sigmoid, tanh};
use super::{matmul, par_row_blocks, Mat};

/// One row of [`cell_forward`]. Its slices are separate arguments so that
/// the compiler knows they do not overlap (as parts split off one slice they
/// would need run-time overlap checks, and the loop stayed scalar).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn cell_row_forward<const FMA: bool>(gi: &mut [f32], gf: &mut [f32], go: &mut [f32], gg: &mut [f32], cp: &[f32], c: &mut [f32], tc: &mut [f32], h: &mut [f32]) {
    let n = c.len();
    let (gi, gf, go, gg, cp, tc, h) = (&mut gi[..n], &mut gf[..n], &mut go[..n], &mut gg[..n], &cp[..n], &mut tc[..n], &mut h[..n]);
    for j in 0..n {
        let i = sigmoid::<FMA>(gi[j]);
        let f = sigmoid::<FMA>(gf[j]);
        let o = sigmoid::<FMA>(go[j]);
        let g = tanh::<FMA>(gg[j]);
        let cj = madd::<FMA>(f, cp[j], i * g);
        let t = tanh::<FMA>(cj);
        (gi[j], gf[j], go[j], gg[j]) = (i, f, o, g);
        c[j] = cj;
        tc[j] = t;
        h[j] = o * t;
    }
}

#[inline(always)]
fn cell_forward_body<const FMA: bool>(gates: &mut [f32], c_prev: &[f32], c: &mut [f32], tc: &mut [f32], h: &mut [f32], hd: usize) {
    let rows = c.len() / hd;
    for r in 0..rows {
        let g = &mut gates[r * 4 * hd..(r + 1) * 4 * hd];
        let (gi, rest) = g.split_at_mut(hd);
        let (gf, rest) = rest.split_at_mut(hd);
        let (go, gg) = rest.split_at_mut(hd);
        let off = r * hd;
        cell_row_forward::<FMA>(gi, gf, go, gg, &c_prev[off..][..hd], &mut c[off..][..hd], &mut tc[off..][..hd], &mut h[off..][..hd]);
    }
}
multiversion!(fn cell_forward_simd(gates: &mut [f32], c_prev: &[f32], c: &mut [f32], tc: &mut [f32], h: &mut [f32], hd: usize) => cell_forward_body);

/// One step for all rows: `gates` `[rows, 4h]` holds the pre-activations and
/// receives the activations; writes c, tanh c and h (`[rows, h]` each).
pub fn cell_forward(gates: &mut [f32], c_prev: &[f32], c: &mut [f32], tc: &mut [f32], h: &mut [f32], hd: usize) {
    cell_forward_simd(gates, c_prev, c, tc, h, hd)
}

/// One row of [`cell_backward`] (separate slices, as in [`cell_row_forward`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn cell_row_backward<const FMA: bool>(dh: &[f32], dc: &mut [f32], g: &[f32], cp: &[f32], tc: &[f32], dgi: &mut [f32], dgf: &mut [f32], dgo: &mut [f32], dgg: &mut [f32]) {
    let n = dc.len();
    let (dh, cp, tc) = (&dh[..n], &cp[..n], &tc[..n]);
    let (dgi, dgf, dgo, dgg) = (&mut dgi[..n], &mut dgf[..n], &mut dgo[..n], &mut dgg[..n]);
    let (gi, gf, go, g4) = (&g[..n], &g[n..][..n], &g[2 * n..][..n], &g[3 * n..][..n]);
    for j in 0..n {
        let (i, f, o, gg) = (gi[j], gf[j], go[j], g4[j]);
        let t = tc[j];
        let dct = madd::<FMA>(dh[j] * o, 1.0 - t * t, dc[j]);
        let d_o = dh[j] * t;
        dgi[j] = dct * gg * i * (1.0 - i);
        dgf[j] = dct * cp[j] * f * (1.0 - f);
        dgo[j] = d_o * o * (1.0 - o);
        dgg[j] = dct * i * (1.0 - gg * gg);
        dc[j] = dct * f;
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn cell_backward_body<const FMA: bool>(dh: &[f32], dc: &mut [f32], gates: &[f32], c_prev: &[f32], tc: &[f32], dgates: &mut [f32], hd: usize) {
    let rows = dc.len() / hd;
    for r in 0..rows {
        let g = &gates[r * 4 * hd..(r + 1) * 4 * hd];
        let dg = &mut dgates[r * 4 * hd..(r + 1) * 4 * hd];
        let off = r * hd;
        let (dgi, rest) = dg.split_at_mut(hd);
        let (dgf, rest) = rest.split_at_mut(hd);
        let (dgo, dgg) = rest.split_at_mut(hd);
        cell_row_backward::<FMA>(&dh[off..][..hd], &mut dc[off..][..hd], g, &c_prev[off..][..hd], &tc[off..][..hd], dgi, dgf, dgo, dgg);
    }
}
multiversion!(fn cell_backward_simd(dh: &[f32], dc: &mut [f32], gates: &[f32], c_prev: &[f32], tc: &[f32], dgates: &mut [f32], hd: usize) => cell_backward_body);

/// One step back for all rows: from the gradient of h (`dh`) and of c (`dc`,
/// replaced by the gradient of c_{t−1}), the step's activations, c_{t−1} and
/// tanh c, the gradients of the pre-activations `dgates` `[rows, 4h]`.
pub fn cell_backward(dh: &[f32], dc: &mut [f32], gates: &[f32], c_prev: &[f32], tc: &[f32], dgates: &mut [f32], hd: usize) {
    cell_backward_simd(dh, dc, gates, c_prev, tc, dgates, hd)
}

/// Shapes of one recurrence: `b` rows, `s` steps, `h` hidden units.
#[derive(Debug, Clone, Copy)]
pub struct Dims {
    pub b: usize,
    pub s: usize,
    pub h: usize,
}

/// Rows per block below which a recurrence is not split over threads.
const MIN_BLOCK_ROWS: usize = 8;

/// What the backward pass needs: for each block of rows (see
/// [`par_row_blocks`]), its first row and its [`Block`].
#[derive(Debug)]
pub struct Saved {
    blocks: Vec<(usize, Block)>,
}

impl Saved {
    /// The final state: h and c `[b, h]` after the last step.
    pub fn last_state(&self, d: Dims) -> (Vec<f32>, Vec<f32>) {
        let (mut h, mut c) = (Vec::with_capacity(d.b * d.h), Vec::with_capacity(d.b * d.h));
        for (_, blk) in &self.blocks {
            let n = blk.c.len() / (d.s + 1);
            h.extend_from_slice(&blk.h[d.s * n..]);
            c.extend_from_slice(&blk.c[d.s * n..]);
        }
        (h, c)
    }
}

/// What the backward pass needs of one block of rows, per processing step p
/// (the time step is `s − 1 − p` when reading backwards): activations, c and
/// h (with the initial state at p = 0) and tanh c.
#[derive(Debug)]
pub struct Block {
    pub gates: Vec<f32>, // [s, b, 4h]
    pub c: Vec<f32>,     // [s + 1, b, h]
    pub h: Vec<f32>,     // [s + 1, b, h]
    pub tc: Vec<f32>,    // [s, b, h]
}

fn time(p: usize, s: usize, reverse: bool) -> usize {
    if reverse {
        s - 1 - p
    } else {
        p
    }
}

/// The forward recurrence. `xp` `[b, s, 4h]` (x W + both biases), `u`
/// `[h, 4h]`, `h0`/`c0` `[b, h]`, `keep` `[b, s]` (1 real, 0 padding).
/// Returns the outputs `[b, s, h]` (0 at padding) and what the backward needs
/// (the final state: [`Saved::last_state`]). The rows are independent: at
/// several threads, blocks of them run in parallel, each through every step.
pub fn forward(d: Dims, xp: &[f32], u: &[f32], h0: &[f32], c0: &[f32], keep: Option<&[f32]>, reverse: bool) -> (Vec<f32>, Saved) {
    let Dims { b, s, h } = d;
    let parts = par_row_blocks(b, MIN_BLOCK_ROWS, |rows| {
        let (r, n) = (rows.start, rows.len());
        let keep = keep.map(|k| &k[r * s..(r + n) * s]);
        let (out, blk) = forward_block(Dims { b: n, ..d }, &xp[r * s * 4 * h..(r + n) * s * 4 * h], u, &h0[r * h..(r + n) * h], &c0[r * h..(r + n) * h], keep, reverse);
        (r, out, blk)
    });
    let mut out = Vec::with_capacity(b * s * h);
    let mut blocks = Vec::with_capacity(parts.len());
    for (r, o, blk) in parts {
        out.extend_from_slice(&o);
        blocks.push((r, blk));
    }
    (out, Saved { blocks })
}

fn forward_block(d: Dims, xp: &[f32], u: &[f32], h0: &[f32], c0: &[f32], keep: Option<&[f32]>, reverse: bool) -> (Vec<f32>, Block) {
    let Dims { b, s, h } = d;
    let (bh, bg) = (b * h, b * 4 * h);
    let mut sv = Block { gates: vec![0.0; s * bg], c: vec![0.0; (s + 1) * bh], h: vec![0.0; (s + 1) * bh], tc: vec![0.0; s * bh] };
    sv.c[..bh].copy_from_slice(c0);
    sv.h[..bh].copy_from_slice(h0);
    let mut out = vec![0.0; b * s * h];
    for p in 0..s {
        let t = time(p, s, reverse);
        let gates = &mut sv.gates[p * bg..(p + 1) * bg];
        for r in 0..b {
            gates[r * 4 * h..(r + 1) * 4 * h].copy_from_slice(&xp[(r * s + t) * 4 * h..(r * s + t + 1) * 4 * h]);
        }
        let (h_before, h_after) = sv.h.split_at_mut((p + 1) * bh);
        let h_prev = &h_before[p * bh..];
        matmul(b, 4 * h, h, gates, 4 * h, true, Mat::rows(h_prev, h), Mat::rows(u, 4 * h));
        let (c_before, c_after) = sv.c.split_at_mut((p + 1) * bh);
        let (c_prev, c_new, h_new) = (&c_before[p * bh..], &mut c_after[..bh], &mut h_after[..bh]);
        cell_forward(gates, c_prev, c_new, &mut sv.tc[p * bh..(p + 1) * bh], h_new, h);
        for r in 0..b {
            let kept = keep.is_none_or(|k| k[r * s + t] != 0.0);
            let row = r * h..(r + 1) * h;
            if kept {
                out[(r * s + t) * h..(r * s + t + 1) * h].copy_from_slice(&h_new[row]);
            } else {
                h_new[row.clone()].copy_from_slice(&h_prev[row.clone()]);
                c_new[row.clone()].copy_from_slice(&c_prev[row]);
            }
        }
    }
    (out, sv)
}

/// Gradients of [`forward`]: of `xp` `[b, s, 4h]`, `u` `[h, 4h]`, `h0` and
/// `c0` `[b, h]`, given those of the outputs `[b, s, h]` and of the final h and c.
/// Block by block as the forward ran, in parallel; U's gradient is the sum
/// of the blocks'.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    d: Dims,
    sv: &Saved,
    u: &[f32],
    keep: Option<&[f32]>,
    reverse: bool,
    d_out: &[f32],
    d_h_last: &[f32],
    d_c_last: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    use rayon::prelude::*;
    let Dims { b, s, h } = d;
    let run = |&(r, ref blk): &(usize, Block)| {
        let n = blk.c.len() / ((s + 1) * h);
        let keep = keep.map(|k| &k[r * s..(r + n) * s]);
        let d_out = &d_out[r * s * h..(r + n) * s * h];
        backward_block(Dims { b: n, ..d }, blk, u, keep, reverse, d_out, &d_h_last[r * h..(r + n) * h], &d_c_last[r * h..(r + n) * h])
    };
    let parts: Vec<_> = if sv.blocks.len() == 1 {
        vec![run(&sv.blocks[0])]
    } else {
        sv.blocks.par_iter().map(|blk| super::in_block(|| run(blk))).collect()
    };
    let (mut dxp, mut du, mut dh0, mut dc0) = (Vec::with_capacity(b * s * 4 * h), vec![0.0; h * 4 * h], Vec::with_capacity(b * h), Vec::with_capacity(b * h));
    for (dx, dub, dh, dc) in parts {
        dxp.extend_from_slice(&dx);
        for (y, v) in du.iter_mut().zip(dub) {
            *y += v;
        }
        dh0.extend_from_slice(&dh);
        dc0.extend_from_slice(&dc);
    }
    (dxp, du, dh0, dc0)
}

#[allow(clippy::too_many_arguments)]
fn backward_block(
    d: Dims,
    sv: &Block,
    u: &[f32],
    keep: Option<&[f32]>,
    reverse: bool,
    d_out: &[f32],
    d_h_last: &[f32],
    d_c_last: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let Dims { b, s, h } = d;
    let (bh, bg) = (b * h, b * 4 * h);
    let mut dh = d_h_last.to_vec();
    let mut dc = d_c_last.to_vec();
    let mut dgates = vec![0.0; s * bg]; // [s, b, 4h]
    let mut dh_prev = vec![0.0; bh];
    for p in (0..s).rev() {
        let t = time(p, s, reverse);
        let kept = |r: usize| keep.is_none_or(|k| k[r * s + t] != 0.0);
        for r in 0..b {
            if kept(r) {
                for (x, g) in dh[r * h..(r + 1) * h].iter_mut().zip(&d_out[(r * s + t) * h..(r * s + t + 1) * h]) {
                    *x += g;
                }
            }
        }
        // Padded rows pass dh and dc through unchanged; their gate gradients are 0.
        let dc_before = dc.clone();
        let dg = &mut dgates[p * bg..(p + 1) * bg];
        cell_backward(&dh, &mut dc, &sv.gates[p * bg..(p + 1) * bg], &sv.c[p * bh..(p + 1) * bh], &sv.tc[p * bh..(p + 1) * bh], dg, h);
        for r in (0..b).filter(|&r| !kept(r)) {
            dg[r * 4 * h..(r + 1) * 4 * h].fill(0.0);
            dc[r * h..(r + 1) * h].copy_from_slice(&dc_before[r * h..(r + 1) * h]);
        }
        matmul(b, h, 4 * h, &mut dh_prev, h, false, Mat::rows(dg, 4 * h), Mat::transposed(u, 4 * h));
        for r in (0..b).filter(|&r| !kept(r)) {
            for (x, g) in dh_prev[r * h..(r + 1) * h].iter_mut().zip(&dh[r * h..(r + 1) * h]) {
                *x += g;
            }
        }
        std::mem::swap(&mut dh, &mut dh_prev);
    }
    // dU = Σ_p h_{p}ᵀ dG_p as one product over the stacked steps.
    let mut du = vec![0.0; h * 4 * h];
    matmul(h, 4 * h, s * b, &mut du, 4 * h, false, Mat::transposed(&sv.h[..s * bh], h), Mat::rows(&dgates, 4 * h));
    let mut dxp = vec![0.0; b * s * 4 * h];
    for p in 0..s {
        let t = time(p, s, reverse);
        for r in 0..b {
            dxp[(r * s + t) * 4 * h..(r * s + t + 1) * 4 * h].copy_from_slice(&dgates[p * bg + r * 4 * h..p * bg + (r + 1) * 4 * h]);
        }
    }
    (dxp, du, dh, dc)
}

#[cfg(test)]
mod timing {
    /// `cargo test --release -p attend-model --features flex -- --ignored --nocapture lstm::timing`:
    /// ns per hidden unit of one cell step forward and backward.
    #[test]
    #[ignore]
    fn timing() {
        let (rows, hd) = (64, 128);
        let mut s = 1u32;
        let mut next = || {
            s = s.wrapping_mul(1664525).wrapping_add(1013904223);
            (s >> 8) as f32 / (1u32 << 24) as f32 * 6.0 - 3.0
        };
        let pre: Vec<f32> = (0..rows * 4 * hd).map(|_| next()).collect();
        let c_prev: Vec<f32> = (0..rows * hd).map(|_| next()).collect();
        let (mut c, mut tc, mut h) = (vec![0.0; rows * hd], vec![0.0; rows * hd], vec![0.0; rows * hd]);
        let mut gates = pre.clone();
        let reps = 2000;
        let t = std::time::Instant::now();
        for _ in 0..reps {
            gates.copy_from_slice(&pre);
            super::cell_forward(&mut gates, &c_prev, &mut c, &mut tc, &mut h, hd);
        }
        println!("cell_forward: {:.3} ns/unit ({})", t.elapsed().as_nanos() as f64 / (reps * rows * hd) as f64, h[5]);
        let (mut dc, mut dg) = (c_prev.clone(), vec![0.0; rows * 4 * hd]);
        let t = std::time::Instant::now();
        for _ in 0..reps {
            dc.copy_from_slice(&c_prev);
            super::cell_backward(&h, &mut dc, &gates, &c_prev, &tc, &mut dg, hd);
        }
        println!("cell_backward: {:.3} ns/unit ({})", t.elapsed().as_nanos() as f64 / (reps * rows * hd) as f64, dg[5]);
    }
}
