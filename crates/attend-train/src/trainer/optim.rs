//! The optimizer every task trains with: Adam (Kingma & Ba, 2015) with the
//! run's β₁, β₂ and ε, and decoupled weight decay of the matrices (AdamW,
//! Loshchilov & Hutter, 2019) applied after each step as nanoGPT's parameter
//! groups do: embeddings and Linear weights shrink by 1 − lr·λ, LayerNorm
//! weights and biases (1-D) do not. Burn's `AdamW` decays every parameter,
//! hence the separate mapper. On the CPU backends each weight's Adam step is
//! one host pass ([`HostAdam`]) instead of Burn's dozen tensor operations.

use attend_model::fused::cpu::adam::{self as host, AdamStep};
use burn::module::{Module, ModuleMapper, Param};
use burn::optim::{Adam, AdamConfig, AdamState, AdaptiveMomentumState, GradientsParams, LearningRate, ModuleOptimizer, Optimizer};
use burn::prelude::*;
use burn::tensor::DType;

use crate::config::TrainSettings;
use crate::trainer::clip::clip_global_norm;

/// Adam with the settings' β₁, β₂ and ε.
pub fn adam(s: &TrainSettings) -> ModuleOptimizer {
    adam_with(s.beta1, s.beta2, s.epsilon)
}

/// Adam with β₁, β₂ and ε: [`HostAdam`] under Burn's optimizer bookkeeping.
pub fn adam_with(beta_1: f32, beta_2: f32, epsilon: f32) -> ModuleOptimizer {
    ModuleOptimizer::from(HostAdam::new(beta_1, beta_2, epsilon))
}

/// Burn's Adam, whose step runs as one host pass per weight on the CPU
/// backends ([`host::update`]: Burn's arithmetic in Burn's order, so the two
/// agree to the bit) and as Burn's own elsewhere. Its state is Burn's
/// `AdamState`, so a checkpoint is the same whichever ran.
#[derive(Clone)]
pub struct HostAdam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    plain: Adam,
}

impl HostAdam {
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32) -> Self {
        let plain = AdamConfig::new().with_beta_1(beta_1).with_beta_2(beta_2).with_epsilon(epsilon).build();
        HostAdam { beta_1, beta_2, epsilon, plain }
    }
}

/// The values of an `f32` tensor (the caller has checked the type).
fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap_or_default()
}

impl Optimizer for HostAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(&self, lr: LearningRate, tensor: Tensor<D>, grad: Tensor<D>, state: Option<AdamState<D>>) -> (Tensor<D>, Option<AdamState<D>>) {
        let device = tensor.device();
        let moments = state.iter().flat_map(|s| [s.momentum.moment_1.dtype(), s.momentum.moment_2.dtype()]);
        let all_f32 = [tensor.dtype(), grad.dtype()].into_iter().chain(moments).all(|t| t == DType::F32);
        if !attend_model::fused::host_kernels(&device) || !all_f32 {
            return self.plain.step(lr, tensor, grad, state);
        }
        let shape = tensor.shape();
        let n = shape.num_elements();
        let (t, mut m, mut v) = match state {
            Some(s) => (s.momentum.time + 1, values(s.momentum.moment_1), values(s.momentum.moment_2)),
            None => (1, vec![0.0; n], vec![0.0; n]),
        };
        let (mut w, g) = (values(tensor), values(grad));
        host::update(&mut w, &g, &mut m, &mut v, AdamStep::new(self.beta_1, self.beta_2, self.epsilon, lr as f32, t));
        let back = |x: Vec<f32>| Tensor::<D>::from_data(TensorData::new(x, shape.clone()), &device);
        (back(w), Some(AdamState::new(AdaptiveMomentumState::new(t, back(m), back(v)))))
    }

    fn to_device<const D: usize>(mut state: AdamState<D>, device: &Device) -> AdamState<D> {
        state.momentum = state.momentum.to_device(device);
        state
    }
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
