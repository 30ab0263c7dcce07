//! The optimizer every task trains with: Adam (Kingma & Ba, 2015) with the
//! run's β₁, β₂ and ε, and decoupled weight decay of the matrices (AdamW,
//! Loshchilov & Hutter, 2019) applied after each step as nanoGPT's parameter
//! groups do: embeddings and Linear weights shrink by 1 − lr·λ, LayerNorm
//! weights and biases (1-D) do not. Burn's `AdamW` decays every parameter,
//! hence the separate mapper.

use burn::module::{Module, ModuleMapper, Param};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use crate::config::TrainSettings;
use crate::trainer::clip::clip_global_norm;

/// Adam with the settings' β₁, β₂ and ε.
pub fn adam(s: &TrainSettings) -> ModuleOptimizer {
    AdamConfig::new().with_beta_1(s.beta1).with_beta_2(s.beta2).with_epsilon(s.epsilon).init()
}

/// One update of `model` by `grads` at learning rate `lr`, as every run
/// takes it: global-norm clipping (`train.clip_norm`), the Adam step, then the
/// decoupled decay of the matrices (`train.weight_decay`).
pub fn update<M: Module>(model: M, optim: &mut ModuleOptimizer, mut grads: GradientsParams, s: &TrainSettings, lr: f64) -> M {
    if s.clip_norm > 0.0 {
        clip_global_norm(&model, &mut grads, s.clip_norm);
    }
    let model = optim.step(lr, model, grads);
    if s.weight_decay > 0.0 {
        model.map(&mut DecayMatrices { factor: 1.0 - lr * s.weight_decay as f64 })
    } else {
        model
    }
}

/// Multiplies every parameter of rank ≥ 2 by `factor` = 1 − lr·λ.
pub struct DecayMatrices {
    pub factor: f64,
}

impl ModuleMapper for DecayMatrices {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if D < 2 {
            return param;
        }
        let f = self.factor;
        param.map(|t| {
            let (trainable, autodiff) = (t.is_require_grad(), t.is_autodiff());
            // Scale the plain values and re-wrap them as a fresh leaf, as an optimizer step does.
            let t = t.inner().mul_scalar(f);
            let t = if autodiff { Tensor::from_inner(t) } else { t };
            if trainable {
                t.require_grad()
            } else {
                t
            }
        })
    }
}

/// The seed of the device's random numbers (dropout) at `step`: a mix of the
/// run's seed and the step, so that a resumed run draws what a straight run
/// draws, and two seeds never share a stream.
pub fn step_seed(seed: u64, step: usize) -> u64 {
    seed.wrapping_mul(0x2545_F491_4F6C_DD1D).wrapping_add(step as u64).rotate_left(17) ^ 0xA5A5_5A5A
}
