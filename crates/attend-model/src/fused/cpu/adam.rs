//! Adam's update (Kingma & Ba, 2015, "Adam: A Method for Stochastic
//! Optimization", Algorithm 1) as one pass over a weight, its gradient and its
//! two moments, in parallel chunks at two or more threads.
//!
//! Burn's `Adam` takes a dozen element-wise tensor operations per weight and
//! step (each a pass over memory and a new buffer); on the CPU backends they
//! run on one thread below flex's threading threshold of 256K elements, which
//! every weight of the GPT recipe is. The arithmetic here is Burn's, in its
//! order and in `f32`, so the two agree to the last bit (the test in
//! attend-train checks the weights and moments of several steps):
//!
//! m ← β₁ m + (1 − β₁) g, v ← β₂ v + (1 − β₂) g² (m = (1 − β₁) g and
//! v = (1 − β₂) g² at the first step), then
//! w ← w − lr · (m · c) / (√v + ε √(1 − β₂ᵗ)) with c = √(1 − β₂ᵗ) / (1 − β₁ᵗ).

use super::math::multiversion;

/// The constants of one step at step number `t` (1 at the first).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    /// β₁.
    pub beta_1: f32,
    /// β₂.
    pub beta_2: f32,
    /// The first step: the moments start from this gradient alone.
    pub first: bool,
    /// c = √(1 − β₂ᵗ) / (1 − β₁ᵗ).
    pub factor: f32,
    /// ε √(1 − β₂ᵗ).
    pub epsilon: f32,
    /// The learning rate.
    pub lr: f32,
}

impl AdamStep {
    /// The constants of step `t` (≥ 1), computed as Burn computes them.
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32, lr: f32, t: usize) -> Self {
        let t = t.max(1) as i32;
        let correction_2 = (1.0 - beta_2.powi(t)).sqrt();
        AdamStep { beta_1, beta_2, first: t == 1, factor: correction_2 / (1.0 - beta_1.powi(t)), epsilon: epsilon * correction_2, lr }
    }
}

#[inline(always)]
fn body<const FMA: bool>(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], s: AdamStep) {
    let (a_1, a_2) = (1.0 - s.beta_1, 1.0 - s.beta_2);
    for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        if s.first {
            *m = g * a_1;
            *v = (g * g) * a_2;
        } else {
            *m = *m * s.beta_1 + g * a_1;
            *v = *v * s.beta_2 + (g * g) * a_2;
        }
        *w -= ((*m * s.factor) / (v.sqrt() + s.epsilon)) * s.lr;
    }
}
multiversion!(fn update_simd(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], s: AdamStep) => body);

/// Elements per parallel task: a weight of 16K elements and more is split.
const CHUNK: usize = 1 << 13;

/// One Adam step of weight `w` with gradient `g`, updating the moments `m`
/// and `v` in place (their values are ignored at the first step).
pub fn update(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], s: AdamStep) {
    assert!(g.len() == w.len() && m.len() == w.len() && v.len() == w.len(), "adam: weight, gradient and moments of one size");
    if w.len() >= 2 * CHUNK && super::threads() > 1 {
        use rayon::prelude::*;
        w.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .for_each(|(((w, g), m), v)| update_simd(w, g, m, v, s));
    } else {
        update_simd(w, g, m, v, s);
    }
}
