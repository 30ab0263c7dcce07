//! Multi-head scaled dot-product attention (Vaswani et al., 2017, §3.2) on
//! the host, per batch row and head: scores q kᵀ · scale, the masks applied
//! where they are needed (key padding `[b, s_k]`, an attention mask
//! `[s_q, s_k]`, never expanded to `[b, h, s_q, s_k]`), softmax, the dropout
//! multiplier drawn from the counter-based generator of
//! [`super::elementwise`] at the element's flat index (the same mask
//! `fused::dropout` gives the weights), and the weighted sum of the values.
//!
//! Queries, keys and values are read where they lie (the heads of a
//! `[b, s, h·d]` projection, split by strides, are not copied) and the
//! context is written straight into the merged `[b, s_q, h·d]` layout that
//! the output projection reads; the gradients of q, k and v come out in the
//! same merged layout. Batch rows run in parallel at two threads.

use super::elementwise::{bits, threshold};
use super::math::{dot, exp, multiversion, sum, L};
use super::{matmul, Mat};

const MASK_VALUE: f32 = crate::attention::MASK_VALUE;

/// Shapes: batch `b`, heads `h`, query and key positions, head width `d`.
#[derive(Debug, Clone, Copy)]
pub struct Dims {
    pub b: usize,
    pub h: usize,
    pub sq: usize,
    pub sk: usize,
    pub d: usize,
}

/// A `[b, h, s, d]` operand as stored: element (r, hh, i, x) at
/// `offset + r·strides[0] + hh·strides[1] + i·strides[2] + x·strides[3]`.
#[derive(Clone, Copy)]
pub struct Heads<'a> {
    pub data: &'a [f32],
    pub offset: usize,
    pub strides: [usize; 4],
}

impl<'a> Heads<'a> {
    /// Head `hh` of batch row `r` as an `[s, d]` matrix (or its transpose).
    fn mat(&self, r: usize, hh: usize, transposed: bool) -> Mat<'a> {
        let [sb, sh, ss, sd] = self.strides;
        let data = &self.data[self.offset + r * sb + hh * sh..];
        if transposed {
            Mat { data, rs: sd, cs: ss }
        } else {
            Mat { data, rs: ss, cs: sd }
        }
    }
}

/// Masks (`true` = not allowed) and dropout of one call.
#[derive(Clone, Copy)]
pub struct Options<'a> {
    /// `[b, s_k]`: padding among the keys.
    pub pad: Option<&'a [bool]>,
    /// `[s_q, s_k]`: e.g. the causal mask.
    pub attn: Option<&'a [bool]>,
    /// The dropout of the weights: (seed, keep probability).
    pub dropout: Option<(u64, f32)>,
    pub scale: f32,
}

impl Options<'_> {
    /// Sets the masked entries of row `i` of batch row `r` (a row of `[s_q, s_k]`) to `value`.
    fn mask_row(&self, d: Dims, r: usize, i: usize, row: &mut [f32], value: f32) {
        let rows = [self.pad.map(|p| &p[r * d.sk..(r + 1) * d.sk]), self.attn.map(|a| &a[i * d.sk..(i + 1) * d.sk])];
        for mask in rows.into_iter().flatten() {
            for (x, &m) in row.iter_mut().zip(mask) {
                *x = if m { value } else { *x };
            }
        }
    }
    /// The dropout multiplier of row `i` of head `hh` of batch row `r`, into `out` `[s_k]`.
    fn keep_row(&self, d: Dims, r: usize, hh: usize, i: usize, out: &mut [f32]) {
        let Some((seed, keep)) = self.dropout else { return out.fill(1.0) };
        let (t, scale) = (threshold(keep), 1.0 / keep);
        let start = (((r * d.h + hh) * d.sq + i) * d.sk) as u32;
        for (j, o) in out.iter_mut().enumerate() {
            *o = if bits(seed, start.wrapping_add(j as u32)) < t { scale } else { 0.0 };
        }
    }
}

#[inline(always)]
fn softmax_body<const FMA: bool>(row: &mut [f32]) {
    let full = row.len() / L * L;
    let mut lanes = [f32::NEG_INFINITY; L];
    for c in row[..full].chunks_exact(L) {
        for k in 0..L {
            lanes[k] = if c[k] > lanes[k] { c[k] } else { lanes[k] };
        }
    }
    let max = lanes.iter().chain(&row[full..]).fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    for x in row.iter_mut() {
        *x = exp::<FMA>(*x - max);
    }
    let inv = 1.0 / sum(row);
    for x in row.iter_mut() {
        *x *= inv;
    }
}
multiversion!(fn softmax(row: &mut [f32]) => softmax_body);

/// The softmax's backward on one row: `dw` ← w ⊙ (dw − Σ dw w) · `scale`.
#[inline(always)]
fn softmax_grad_body<const FMA: bool>(dw: &mut [f32], w: &[f32], scale: f32) {
    let dot = dot::<FMA>(dw, w);
    for (x, &wj) in dw.iter_mut().zip(w) {
        *x = wj * (*x - dot) * scale;
    }
}
multiversion!(fn softmax_grad(dw: &mut [f32], w: &[f32], scale: f32) => softmax_grad_body);

/// One batch row: `out` `[s_q, h·d]` (the merged context), `weights` `[h, s_q, s_k]`.
fn forward_row(d: Dims, r: usize, q: &Heads, k: &Heads, v: &Heads, o: &Options, out: &mut [f32], weights: &mut [f32]) {
    let Dims { h, sq, sk, d: dk, .. } = d;
    let mut keep = vec![0.0; sk];
    // The weights after dropout (without dropout, the weights themselves).
    let mut dropped = vec![0.0; if o.dropout.is_some() { sq * sk } else { 0 }];
    for hh in 0..h {
        let w = &mut weights[hh * sq * sk..(hh + 1) * sq * sk];
        matmul(sq, sk, dk, w, sk, false, q.mat(r, hh, false), k.mat(r, hh, true));
        for i in 0..sq {
            let row = &mut w[i * sk..(i + 1) * sk];
            for x in row.iter_mut() {
                *x *= o.scale;
            }
            o.mask_row(d, r, i, row, MASK_VALUE);
            softmax(row);
            if o.dropout.is_some() {
                o.keep_row(d, r, hh, i, &mut keep);
                for ((y, &x), &m) in dropped[i * sk..(i + 1) * sk].iter_mut().zip(row.iter()).zip(&keep) {
                    *y = x * m;
                }
            }
        }
        let p = if o.dropout.is_some() { &dropped[..] } else { &w[..] };
        matmul(sq, dk, sk, &mut out[hh * dk..], h * dk, false, Mat::rows(p, sk), v.mat(r, hh, false));
    }
}

fn parallel(d: Dims) -> Option<usize> {
    let threads = super::threads();
    (threads > 1 && d.b > 1 && d.b * d.h * d.sq * d.sk * d.d >= 1 << 16).then(|| d.b.div_ceil(threads))
}

/// The context `[b, s_q, h·d]` and the weights before dropout `[b, h, s_q, s_k]`.
pub fn forward(d: Dims, q: &Heads, k: &Heads, v: &Heads, o: &Options) -> (Vec<f32>, Vec<f32>) {
    let Dims { b, h, sq, sk, d: dk } = d;
    let (row_out, row_w) = (sq * h * dk, h * sq * sk);
    let mut out = vec![0.0; b * row_out];
    let mut weights = vec![0.0; b * row_w];
    match parallel(d) {
        Some(rows) => {
            use rayon::prelude::*;
            out.par_chunks_mut(rows * row_out).zip(weights.par_chunks_mut(rows * row_w)).enumerate().for_each(|(c, (out, w))| {
                for i in 0..out.len() / row_out {
                    forward_row(d, c * rows + i, q, k, v, o, &mut out[i * row_out..(i + 1) * row_out], &mut w[i * row_w..(i + 1) * row_w]);
                }
            });
        }
        None => {
            for r in 0..b {
                forward_row(d, r, q, k, v, o, &mut out[r * row_out..(r + 1) * row_out], &mut weights[r * row_w..(r + 1) * row_w]);
            }
        }
    }
    (out, weights)
}

/// The gradients of q, k and v of one batch row, each in the merged layout `[s, h·d]`.
#[allow(clippy::too_many_arguments)]
fn backward_row(d: Dims, r: usize, q: &Heads, k: &Heads, v: &Heads, o: &Options, weights: &[f32], dctx: &[f32], dq: &mut [f32], dk: &mut [f32], dv: &mut [f32]) {
    let Dims { h, sq, sk, d: dd, .. } = d;
    let dropout = o.dropout.is_some();
    let (mut keep, mut ds) = (vec![0.0; sk], vec![0.0; sq * sk]);
    let mut dropped = vec![0.0; if dropout { sq * sk } else { 0 }];
    for hh in 0..h {
        let w = &weights[hh * sq * sk..(hh + 1) * sq * sk];
        let g = Mat { data: &dctx[hh * dd..], rs: h * dd, cs: 1 };
        if dropout {
            for i in 0..sq {
                o.keep_row(d, r, hh, i, &mut keep);
                for ((y, &x), &m) in dropped[i * sk..(i + 1) * sk].iter_mut().zip(&w[i * sk..(i + 1) * sk]).zip(&keep) {
                    *y = x * m;
                }
            }
        }
        // dv = (w ⊙ keep)ᵀ · dctx; d(w ⊙ keep) = dctx · vᵀ.
        let p = if dropout { &dropped[..] } else { w };
        matmul(sk, dd, sq, &mut dv[hh * dd..], h * dd, false, Mat::transposed(p, sk), g);
        matmul(sq, sk, dd, &mut ds, sk, false, g, v.mat(r, hh, true));
        for i in 0..sq {
            let (dw, wr) = (&mut ds[i * sk..(i + 1) * sk], &w[i * sk..(i + 1) * sk]);
            if dropout {
                o.keep_row(d, r, hh, i, &mut keep);
                for (x, m) in dw.iter_mut().zip(&keep) {
                    *x *= m;
                }
            }
            // Softmax: ds = w ⊙ (dw − Σ dw w); masked scores were overwritten: no gradient.
            softmax_grad(dw, wr, o.scale);
            o.mask_row(d, r, i, dw, 0.0);
        }
        matmul(sq, dd, sk, &mut dq[hh * dd..], h * dd, false, Mat::rows(&ds, sk), k.mat(r, hh, false));
        matmul(sk, dd, sq, &mut dk[hh * dd..], h * dd, false, Mat::transposed(&ds, sk), q.mat(r, hh, false));
    }
}

/// Gradients of q, k and v (`[b, s, h·d]` each, s = s_q or s_k) from the
/// weights [`forward`] returned and the context's gradient `dctx` `[b, s_q, h·d]`.
pub fn backward(d: Dims, q: &Heads, k: &Heads, v: &Heads, o: &Options, weights: &[f32], dctx: &[f32]) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let Dims { b, h, sq, sk, d: dd } = d;
    let (rq, rk, rw) = (sq * h * dd, sk * h * dd, h * sq * sk);
    let (mut dq, mut dk, mut dv) = (vec![0.0; b * rq], vec![0.0; b * rk], vec![0.0; b * rk]);
    let one = |r: usize, dq: &mut [f32], dk: &mut [f32], dv: &mut [f32]| {
        backward_row(d, r, q, k, v, o, &weights[r * rw..(r + 1) * rw], &dctx[r * rq..(r + 1) * rq], dq, dk, dv);
    };
    match parallel(d) {
        Some(rows) => {
            use rayon::prelude::*;
            dq.par_chunks_mut(rows * rq).zip(dk.par_chunks_mut(rows * rk)).zip(dv.par_chunks_mut(rows * rk)).enumerate().for_each(|(c, ((dq, dk), dv))| {
                for i in 0..dq.len() / rq {
                    one(c * rows + i, &mut dq[i * rq..(i + 1) * rq], &mut dk[i * rk..(i + 1) * rk], &mut dv[i * rk..(i + 1) * rk]);
                }
            });
        }
        None => {
            for r in 0..b {
                one(r, &mut dq[r * rq..(r + 1) * rq], &mut dk[r * rk..(r + 1) * rk], &mut dv[r * rk..(r + 1) * rk]);
            }
        }
    }
    (dq, dk, dv)
}

#[cfg(test)]
mod timing {
    use super::*;

    /// `cargo test --release … -- --ignored --nocapture attention::timing`:
    /// one forward and backward at the GPT recipe's shapes, causal mask.
    #[test]
    #[ignore]
    fn timing() {
        let d = Dims { b: 12, h: 4, sq: 64, sk: 64, d: 32 };
        let n = d.b * d.sq * d.h * d.d;
        let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
        // Heads split off [b, s, h·d]: strides [s·h·d, d, h·d, 1].
        let view = Heads { data: &x, offset: 0, strides: [d.sq * d.h * d.d, d.d, d.h * d.d, 1] };
        let causal: Vec<bool> = (0..d.sq * d.sk).map(|i| i % d.sk > i / d.sk).collect();
        let o = Options { pad: None, attn: Some(&causal), dropout: None, scale: 0.17 };
        for _ in 0..2 {
            let t = std::time::Instant::now();
            let (ctx, w) = forward(d, &view, &view, &view, &o);
            let f = t.elapsed();
            let t = std::time::Instant::now();
            let g = backward(d, &view, &view, &view, &o, &w, &ctx);
            println!("forward {:.3} ms, backward {:.3} ms ({})", f.as_secs_f64() * 1e3, t.elapsed().as_secs_f64() * 1e3, g.0[3]);
        }
    }
}
