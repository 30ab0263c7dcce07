//! The teacher-forced decoder of Bahdanau et al. (2014) on the host: at each
//! step the top LSTM layer's previous state s scores every encoder state h_j
//! with e_j = vᵀ tanh(W s + U h_j) (U h_j precomputed), α = softmax(e) over
//! the real source positions, the context c = Σ α_j h_j joins the embedded
//! token at the first layer's input, and the stacked LSTM layers step once
//! (dropout multipliers between layers given). Exactly the loop of
//! `RecurrentSeq2Seq::decode` with an LSTM and the additive score, forward
//! and back-propagation through time, as one call.

use super::lstm::{cell_backward, cell_forward};
use super::math::{axpy, dot, exp, madd, multiversion, tanh};
use super::{add_row_sums, in_block, matmul, par_row_blocks, Mat};

/// Shapes: `b` rows, `t` target steps, `s` source positions, `h` hidden,
/// `k` encoder width (keys), `a` attention width, `layers` LSTM layers.
#[derive(Debug, Clone, Copy)]
pub struct Dims {
    pub b: usize,
    pub t: usize,
    pub s: usize,
    pub h: usize,
    pub k: usize,
    pub a: usize,
    pub layers: usize,
}

/// The inputs (row-major slices; shapes as in `crate::fused::FusedOps::fused_attention_lstm`).
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub ep: &'a [f32],             // [b, t, 4h]: the first layer's x W + biases, embedding part
    pub wc: &'a [f32],             // [k, 4h]: the first layer's W, context part
    pub u0: &'a [f32],             // [h, 4h]
    pub deep: &'a [f32],           // [layers − 1, 2h + 1, 4h]: W, U and bias of each further layer
    pub drop: Option<&'a [f32]>,   // [layers − 1, t, b, h]: dropout multipliers of their inputs
    pub keys: &'a [f32],           // [b, s, k]
    pub prep: &'a [f32],           // [b, s, a]: U h_j + b_U
    pub ws: &'a [f32],             // [h, a]
    pub v: &'a [f32],              // [a]
    pub keep: Option<&'a [f32]>,   // [b, s]: 1 real, 0 padding
    pub h0: &'a [f32],             // [b, h]
    pub c0: &'a [f32],             // [b, h]
}

impl<'a> Inputs<'a> {
    /// The inputs of rows `r..r + n` (`drop`, step-major, gathered into `drop_rows`).
    fn rows(&self, d: Dims, r: usize, n: usize, drop_rows: &'a mut Vec<f32>) -> Inputs<'a>
    where
        Self: 'a,
    {
        let Dims { b, t, s, h, k, a, .. } = d;
        let drop = self.drop.map(|m| {
            drop_rows.clear();
            for slab in m.chunks_exact(b * h) {
                drop_rows.extend_from_slice(&slab[r * h..(r + n) * h]);
            }
            &drop_rows[..]
        });
        Inputs {
            ep: &self.ep[r * t * 4 * h..(r + n) * t * 4 * h],
            drop,
            keys: &self.keys[r * s * k..(r + n) * s * k],
            prep: &self.prep[r * s * a..(r + n) * s * a],
            keep: self.keep.map(|m| &m[r * s..(r + n) * s]),
            h0: &self.h0[r * h..(r + n) * h],
            c0: &self.c0[r * h..(r + n) * h],
            ..*self
        }
    }
}

/// Rows per block below which the decoder is not split over threads.
const MIN_BLOCK_ROWS: usize = 8;

/// What the backward pass needs: for each block of rows (see
/// [`par_row_blocks`]), its first row, its number of rows and its [`Block`].
#[derive(Debug)]
pub struct Saved {
    blocks: Vec<(usize, usize, Block)>,
}

/// What the backward pass needs of one block of rows.
#[derive(Debug)]
pub struct Block {
    gates: Vec<Vec<f32>>, // per layer [t, b, 4h]
    c: Vec<Vec<f32>>,     // per layer [t + 1, b, h]
    h: Vec<Vec<f32>>,     // per layer [t + 1, b, h]
    tc: Vec<Vec<f32>>,    // per layer [t, b, h]
    x: Vec<Vec<f32>>,     // per layer ≥ 1 [t, b, h]: its input after dropout
    tv: Vec<f32>,         // [t, b, s, a]: tanh(W s + U h_j)
    alpha: Vec<f32>,      // [t, b, s]
    ctx: Vec<f32>,        // [t, b, k]
}

/// The model outputs: the top layer's states `[b, t, h]`, the contexts
/// `[b, t, k]` and the alignment weights `[b, t, s]`.
pub struct Outputs {
    pub hs: Vec<f32>,
    pub ctxs: Vec<f32>,
    pub alphas: Vec<f32>,
}

const MASK_VALUE: f32 = crate::attention::MASK_VALUE;

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn attend_body<const FMA: bool>(d: Dims, prep: &[f32], keys: &[f32], wsq: &[f32], v: &[f32], keep: Option<&[f32]>, tv: &mut [f32], alpha: &mut [f32], ctx: &mut [f32]) {
    let Dims { b, s, k, a, .. } = d;
    for r in 0..b {
        let q = &wsq[r * a..][..a];
        let al = &mut alpha[r * s..][..s];
        for j in 0..s {
            let p = &prep[(r * s + j) * a..][..a];
            let t = &mut tv[(r * s + j) * a..][..a];
            for x in 0..a {
                t[x] = tanh::<FMA>(p[x] + q[x]);
            }
            let masked = keep.is_some_and(|m| m[r * s + j] == 0.0);
            al[j] = if masked { MASK_VALUE } else { dot::<FMA>(v, t) };
        }
        let max = al.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
        let mut sum = 0.0;
        for x in al.iter_mut() {
            *x = exp::<FMA>(*x - max);
            sum += *x;
        }
        let c = &mut ctx[r * k..][..k];
        c.fill(0.0);
        for j in 0..s {
            al[j] /= sum;
            axpy::<FMA>(al[j], &keys[(r * s + j) * k..][..k], c);
        }
    }
}
multiversion!(fn attend(d: Dims, prep: &[f32], keys: &[f32], wsq: &[f32], v: &[f32], keep: Option<&[f32]>, tv: &mut [f32], alpha: &mut [f32], ctx: &mut [f32]) => attend_body);

/// Gradients of one attention step for all rows: accumulates into `dprep`
/// `[b, s, a]`, `dkeys` `[b, s, k]` and `dv` `[a]`; writes `dwsq` `[b, a]`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn attend_back_body<const FMA: bool>(
    d: Dims,
    keys: &[f32],
    v: &[f32],
    keep: Option<&[f32]>,
    tv: &[f32],
    alpha: &[f32],
    dctx: &[f32],
    dprep: &mut [f32],
    dkeys: &mut [f32],
    dv: &mut [f32],
    dwsq: &mut [f32],
) {
    let Dims { b, s, k, a, .. } = d;
    let mut de = vec![0.0; s];
    for r in 0..b {
        let dc = &dctx[r * k..][..k];
        let al = &alpha[r * s..][..s];
        let mut total = 0.0;
        for j in 0..s {
            let kj = &keys[(r * s + j) * k..][..k];
            de[j] = dot::<FMA>(dc, kj);
            total = madd::<FMA>(al[j], de[j], total);
            axpy::<FMA>(al[j], dc, &mut dkeys[(r * s + j) * k..][..k]);
        }
        let dq = &mut dwsq[r * a..][..a];
        dq.fill(0.0);
        for j in 0..s {
            // Masked scores were overwritten, so no gradient reaches them.
            let masked = keep.is_some_and(|m| m[r * s + j] == 0.0);
            let e = if masked { 0.0 } else { al[j] * (de[j] - total) };
            let t = &tv[(r * s + j) * a..][..a];
            let dp = &mut dprep[(r * s + j) * a..][..a];
            let (v, dv) = (&v[..a], &mut dv[..a]);
            for x in 0..a {
                dv[x] = madd::<FMA>(e, t[x], dv[x]);
                let dz = e * v[x] * (1.0 - t[x] * t[x]);
                dp[x] += dz;
                dq[x] += dz;
            }
        }
    }
}
multiversion!(fn attend_back(d: Dims, keys: &[f32], v: &[f32], keep: Option<&[f32]>, tv: &[f32], alpha: &[f32], dctx: &[f32], dprep: &mut [f32], dkeys: &mut [f32], dv: &mut [f32], dwsq: &mut [f32]) => attend_back_body);

/// Rows per parallel task of the attention: the batch in two halves at two
/// threads, when a step's attention is large enough to pay for the hand-over.
fn row_chunk(d: Dims) -> Option<usize> {
    let threads = super::threads();
    (threads > 1 && d.b >= 2 && d.b * d.s * d.a >= 1 << 15).then(|| d.b.div_ceil(threads))
}

/// [`attend`] over all rows, in parallel over row chunks where it pays.
fn attend_rows(d: Dims, x: &Inputs, wsq: &[f32], tv: &mut [f32], al: &mut [f32], ctx: &mut [f32]) {
    let Some(rows) = row_chunk(d) else {
        return attend(d, x.prep, x.keys, wsq, x.v, x.keep, tv, al, ctx);
    };
    use rayon::prelude::*;
    let Dims { s, k, a, .. } = d;
    tv.par_chunks_mut(rows * s * a).zip(al.par_chunks_mut(rows * s)).zip(ctx.par_chunks_mut(rows * k)).enumerate().for_each(|(c, ((tv, al), ctx))| {
        let (r, n) = (c * rows, ctx.len() / k);
        let keep = x.keep.map(|m| &m[r * s..(r + n) * s]);
        let dc = Dims { b: n, ..d };
        attend(dc, &x.prep[r * s * a..(r + n) * s * a], &x.keys[r * s * k..(r + n) * s * k], &wsq[r * a..(r + n) * a], x.v, keep, tv, al, ctx);
    });
}

/// [`attend_back`] over all rows, in parallel over row chunks where it pays
/// (each chunk with its own `dv`, summed after).
fn attend_back_rows(d: Dims, x: &Inputs, tv: &[f32], al: &[f32], dctx: &[f32], g: &mut Grads, dwsq: &mut [f32]) {
    let Some(rows) = row_chunk(d) else {
        return attend_back(d, x.keys, x.v, x.keep, tv, al, dctx, &mut g.prep, &mut g.keys, &mut g.v, dwsq);
    };
    use rayon::prelude::*;
    let Dims { s, k, a, .. } = d;
    let parts: Vec<Vec<f32>> = g
        .prep
        .par_chunks_mut(rows * s * a)
        .zip(g.keys.par_chunks_mut(rows * s * k))
        .zip(dwsq.par_chunks_mut(rows * a))
        .enumerate()
        .map(|(c, ((dprep, dkeys), dq))| {
            let (r, n) = (c * rows, dq.len() / a);
            let keep = x.keep.map(|m| &m[r * s..(r + n) * s]);
            let mut dv = vec![0.0; a];
            let dc = Dims { b: n, ..d };
            let keys = &x.keys[r * s * k..(r + n) * s * k];
            attend_back(dc, keys, x.v, keep, &tv[r * s * a..(r + n) * s * a], &al[r * s..(r + n) * s], &dctx[r * k..(r + n) * k], dprep, dkeys, &mut dv, dq);
            dv
        })
        .collect();
    for part in parts {
        for (y, v) in g.v.iter_mut().zip(part) {
            *y += v;
        }
    }
}

/// The forward pass. The rows are independent: at several threads, blocks
/// of them run in parallel, each through every step.
pub fn forward(d: Dims, x: &Inputs) -> (Outputs, Saved) {
    let parts = par_row_blocks(d.b, MIN_BLOCK_ROWS, |rows| {
        let (r, n) = (rows.start, rows.len());
        let mut drop = Vec::new();
        let (out, blk) = forward_block(Dims { b: n, ..d }, &x.rows(d, r, n, &mut drop));
        (r, n, out, blk)
    });
    if parts.len() == 1 {
        let (r, n, out, blk) = parts.into_iter().next().expect("one block");
        return (out, Saved { blocks: vec![(r, n, blk)] });
    }
    let mut out = Outputs { hs: Vec::new(), ctxs: Vec::new(), alphas: Vec::new() };
    let mut blocks = Vec::with_capacity(parts.len());
    for (r, n, o, blk) in parts {
        out.hs.extend_from_slice(&o.hs);
        out.ctxs.extend_from_slice(&o.ctxs);
        out.alphas.extend_from_slice(&o.alphas);
        blocks.push((r, n, blk));
    }
    (out, Saved { blocks })
}

fn forward_block(d: Dims, x: &Inputs) -> (Outputs, Block) {
    let Dims { b, t: steps, s, h, k, a, layers } = d;
    let (bh, bg) = (b * h, b * 4 * h);
    let per_layer = |n: usize| (0..layers).map(|_| vec![0.0; n]).collect::<Vec<_>>();
    let mut sv = Block {
        gates: per_layer(steps * bg),
        c: per_layer((steps + 1) * bh),
        h: per_layer((steps + 1) * bh),
        tc: per_layer(steps * bh),
        x: (0..layers).map(|l| if l == 0 { Vec::new() } else { vec![0.0; steps * bh] }).collect(),
        tv: vec![0.0; steps * b * s * a],
        alpha: vec![0.0; steps * b * s],
        ctx: vec![0.0; steps * b * k],
    };
    for l in 0..layers {
        sv.c[l][..bh].copy_from_slice(x.c0);
        sv.h[l][..bh].copy_from_slice(x.h0);
    }
    let mut out = Outputs { hs: vec![0.0; b * steps * h], ctxs: vec![0.0; b * steps * k], alphas: vec![0.0; b * steps * s] };
    let mut wsq = vec![0.0; b * a];
    let top = layers - 1;
    let dl = (2 * h + 1) * 4 * h;
    for t in 0..steps {
        // Attention from the top layer's previous state.
        matmul(b, a, h, &mut wsq, a, false, Mat::rows(&sv.h[top][t * bh..(t + 1) * bh], h), Mat::rows(x.ws, a));
        let (tv, al, ctx) = (&mut sv.tv[t * b * s * a..][..b * s * a], &mut sv.alpha[t * b * s..][..b * s], &mut sv.ctx[t * b * k..][..b * k]);
        attend_rows(d, x, &wsq, tv, al, ctx);
        for l in 0..layers {
            let gates = &mut sv.gates[l][t * bg..(t + 1) * bg];
            if l == 0 {
                for r in 0..b {
                    gates[r * 4 * h..(r + 1) * 4 * h].copy_from_slice(&x.ep[(r * steps + t) * 4 * h..][..4 * h]);
                }
                matmul(b, 4 * h, k, gates, 4 * h, true, Mat::rows(ctx, k), Mat::rows(x.wc, 4 * h));
            } else {
                let w = &x.deep[(l - 1) * dl..l * dl];
                let input = &mut sv.x[l][t * bh..(t + 1) * bh];
                input.copy_from_slice(&sv.h[l - 1][(t + 1) * bh..(t + 2) * bh]);
                if let Some(m) = x.drop {
                    for (v, m) in input.iter_mut().zip(&m[((l - 1) * steps + t) * bh..][..bh]) {
                        *v *= m;
                    }
                }
                for r in 0..b {
                    gates[r * 4 * h..(r + 1) * 4 * h].copy_from_slice(&w[2 * h * 4 * h..]);
                }
                matmul(b, 4 * h, h, gates, 4 * h, true, Mat::rows(input, h), Mat::rows(&w[..h * 4 * h], 4 * h));
            }
            let u = if l == 0 { x.u0 } else { &x.deep[(l - 1) * dl + h * 4 * h..(l - 1) * dl + 2 * h * 4 * h] };
            let (h_before, h_after) = sv.h[l].split_at_mut((t + 1) * bh);
            matmul(b, 4 * h, h, gates, 4 * h, true, Mat::rows(&h_before[t * bh..], h), Mat::rows(u, 4 * h));
            let (c_before, c_after) = sv.c[l].split_at_mut((t + 1) * bh);
            cell_forward(gates, &c_before[t * bh..], &mut c_after[..bh], &mut sv.tc[l][t * bh..(t + 1) * bh], &mut h_after[..bh], h);
        }
        for r in 0..b {
            out.hs[(r * steps + t) * h..][..h].copy_from_slice(&sv.h[top][(t + 1) * bh + r * h..][..h]);
            out.ctxs[(r * steps + t) * k..][..k].copy_from_slice(&sv.ctx[(t * b + r) * k..][..k]);
            out.alphas[(r * steps + t) * s..][..s].copy_from_slice(&sv.alpha[(t * b + r) * s..][..s]);
        }
    }
    (out, sv)
}

/// Gradients of every differentiable input, in the order of [`Inputs`]
/// (without `drop` and `keep`).
pub struct Grads {
    pub ep: Vec<f32>,
    pub wc: Vec<f32>,
    pub u0: Vec<f32>,
    pub deep: Vec<f32>,
    pub keys: Vec<f32>,
    pub prep: Vec<f32>,
    pub ws: Vec<f32>,
    pub v: Vec<f32>,
    pub h0: Vec<f32>,
    pub c0: Vec<f32>,
}

/// Back-propagation through time from the gradients of the top states
/// `d_hs` `[b, t, h]` and of the contexts `d_ctxs` `[b, t, k]`, block by
/// block as the forward ran, in parallel; the weights' gradients are the
/// sums of the blocks'.
pub fn backward(d: Dims, x: &Inputs, sv: &Saved, d_hs: &[f32], d_ctxs: &[f32]) -> Grads {
    use rayon::prelude::*;
    let Dims { t, h, k, .. } = d;
    let run = |&(r, n, ref blk): &(usize, usize, Block)| {
        let mut drop = Vec::new();
        let xb = x.rows(d, r, n, &mut drop);
        backward_block(Dims { b: n, ..d }, &xb, blk, &d_hs[r * t * h..(r + n) * t * h], &d_ctxs[r * t * k..(r + n) * t * k])
    };
    if sv.blocks.len() == 1 {
        return run(&sv.blocks[0]);
    }
    let parts: Vec<Grads> = sv.blocks.par_iter().map(|blk| in_block(|| run(blk))).collect();
    let mut parts = parts.into_iter();
    let mut g = parts.next().expect("at least one block");
    let sum = |y: &mut Vec<f32>, v: Vec<f32>| y.iter_mut().zip(v).for_each(|(y, v)| *y += v);
    for p in parts {
        g.ep.extend_from_slice(&p.ep);
        g.keys.extend_from_slice(&p.keys);
        g.prep.extend_from_slice(&p.prep);
        g.h0.extend_from_slice(&p.h0);
        g.c0.extend_from_slice(&p.c0);
        sum(&mut g.wc, p.wc);
        sum(&mut g.u0, p.u0);
        sum(&mut g.deep, p.deep);
        sum(&mut g.ws, p.ws);
        sum(&mut g.v, p.v);
    }
    g
}

fn backward_block(d: Dims, x: &Inputs, sv: &Block, d_hs: &[f32], d_ctxs: &[f32]) -> Grads {
    let Dims { b, t: steps, s, h, k, a, layers } = d;
    let (bh, bg) = (b * h, b * 4 * h);
    let top = layers - 1;
    let dl = (2 * h + 1) * 4 * h;
    let mut dh = vec![vec![0.0; bh]; layers];
    let mut dc = vec![vec![0.0; bh]; layers];
    let mut dgates: Vec<Vec<f32>> = (0..layers).map(|_| vec![0.0; steps * bg]).collect();
    let mut dwsq = vec![0.0; steps * b * a]; // [t, b, a]
    let mut g = Grads {
        ep: vec![0.0; b * steps * 4 * h],
        wc: vec![0.0; k * 4 * h],
        u0: vec![0.0; h * 4 * h],
        deep: vec![0.0; (layers - 1) * dl],
        keys: vec![0.0; b * s * k],
        prep: vec![0.0; b * s * a],
        ws: vec![0.0; h * a],
        v: vec![0.0; a],
        h0: vec![0.0; bh],
        c0: vec![0.0; bh],
    };
    let (mut dctx, mut dh_prev, mut dx) = (vec![0.0; b * k], vec![0.0; bh], vec![0.0; bh]);
    for t in (0..steps).rev() {
        for r in 0..b {
            for (x, y) in dh[top][r * h..(r + 1) * h].iter_mut().zip(&d_hs[(r * steps + t) * h..][..h]) {
                *x += y;
            }
            dctx[r * k..(r + 1) * k].copy_from_slice(&d_ctxs[(r * steps + t) * k..][..k]);
        }
        for l in (0..layers).rev() {
            let dg = &mut dgates[l][t * bg..(t + 1) * bg];
            cell_backward(&dh[l], &mut dc[l], &sv.gates[l][t * bg..(t + 1) * bg], &sv.c[l][t * bh..(t + 1) * bh], &sv.tc[l][t * bh..(t + 1) * bh], dg, h);
            let u = if l == 0 { x.u0 } else { &x.deep[(l - 1) * dl + h * 4 * h..(l - 1) * dl + 2 * h * 4 * h] };
            matmul(b, h, 4 * h, &mut dh_prev, h, false, Mat::rows(dg, 4 * h), Mat::transposed(u, 4 * h));
            if l == 0 {
                matmul(b, k, 4 * h, &mut dctx, k, true, Mat::rows(dg, 4 * h), Mat::transposed(x.wc, 4 * h));
            } else {
                let w = &x.deep[(l - 1) * dl..(l - 1) * dl + h * 4 * h];
                matmul(b, h, 4 * h, &mut dx, h, false, Mat::rows(dg, 4 * h), Mat::transposed(w, 4 * h));
                if let Some(m) = x.drop {
                    for (v, m) in dx.iter_mut().zip(&m[((l - 1) * steps + t) * bh..][..bh]) {
                        *v *= m;
                    }
                }
                for (y, v) in dh[l - 1].iter_mut().zip(&dx) {
                    *y += v;
                }
            }
            std::mem::swap(&mut dh[l], &mut dh_prev);
        }
        let (tv, al) = (&sv.tv[t * b * s * a..][..b * s * a], &sv.alpha[t * b * s..][..b * s]);
        let dq = &mut dwsq[t * b * a..][..b * a];
        attend_back_rows(d, x, tv, al, &dctx, &mut g, dq);
        // The query was the top layer's state before this step.
        matmul(b, h, a, &mut dh[top], h, true, Mat::rows(dq, a), Mat::transposed(x.ws, a));
    }
    for l in 0..layers {
        for (y, v) in g.h0.iter_mut().zip(&dh[l]) {
            *y += v;
        }
        for (y, v) in g.c0.iter_mut().zip(&dc[l]) {
            *y += v;
        }
    }
    // Weight gradients: one product each over the stacked steps.
    let n = steps * b;
    for l in 0..layers {
        let h_prev = Mat::transposed(&sv.h[l][..n * h], h);
        if l == 0 {
            matmul(h, 4 * h, n, &mut g.u0, 4 * h, false, h_prev, Mat::rows(&dgates[0], 4 * h));
            matmul(k, 4 * h, n, &mut g.wc, 4 * h, false, Mat::transposed(&sv.ctx, k), Mat::rows(&dgates[0], 4 * h));
        } else {
            let dw = &mut g.deep[(l - 1) * dl..l * dl];
            let (dw_in, rest) = dw.split_at_mut(h * 4 * h);
            let (du, db) = rest.split_at_mut(h * 4 * h);
            matmul(h, 4 * h, n, dw_in, 4 * h, false, Mat::transposed(&sv.x[l], h), Mat::rows(&dgates[l], 4 * h));
            matmul(h, 4 * h, n, du, 4 * h, false, h_prev, Mat::rows(&dgates[l], 4 * h));
            add_row_sums(&dgates[l], 4 * h, db);
        }
    }
    matmul(h, a, n, &mut g.ws, a, false, Mat::transposed(&sv.h[top][..n * h], h), Mat::rows(&dwsq, a));
    for t in 0..steps {
        for r in 0..b {
            g.ep[(r * steps + t) * 4 * h..][..4 * h].copy_from_slice(&dgates[0][t * bg + r * 4 * h..][..4 * h]);
        }
    }
    g
}
