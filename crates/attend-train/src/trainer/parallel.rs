//! One optimizer step's gradients when it is more than one forward pass:
//! data-parallel training over several devices of one machine
//! (`--device wgpu:0,wgpu:1`) and gradient accumulation over several batches
//! (`train.accumulate`).
//!
//! Data parallelism, as burn-train's multi-device strategy does it: each
//! device gets a replica of the model and one share of the batch and computes
//! the gradients of its share; the gradients are moved to the first device and
//! summed there, and one optimizer step updates the weights, which every
//! replica takes again at the next step. Accumulation runs the batches of one
//! step one after another, so only one forward graph is alive at a time.
//!
//! Each share's mean loss is weighted by its share of the step's terms
//! (target tokens, texts), so the sum of the gradients is the gradient of the
//! whole step's mean loss: two replicas give the update one replica gives on
//! the merged batch, and k accumulated half-batches the update of the full
//! batch (tests check both).
//!
//! The replicas are driven from one thread, one after the other: on GPUs their
//! kernels are queued without waiting, so the devices work side by side.
//!
//! On one CPU device with several threads the same split runs the shares side
//! by side, one per thread, each forward and backward start to end on its
//! thread with its kernels single-threaded ([`host_gradients`]). A step of the
//! recipes' models is made of many operations on tensors of a few hundred
//! thousand numbers or fewer, each too small to split over threads well (the
//! threads spend the step handing work to each other and waiting); a whole
//! share's graph is not. Each share's replica has its own leaf tensors (a
//! [`Module::fork`] of the weights, which shares their memory), so the two
//! autodiff graphs stay apart and are not serialised behind one lock, and
//! draws its dropout seeds from a generator of its own
//! ([`attend_model::fused::with_own_draws`]), so the run does not depend on
//! which thread reaches the device's generator first.
//! Burn 0.22.1 implements an all-reduce collective only for CUDA (NCCL) and has
//! no training across machines; attend does neither.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::prelude::*;

use super::{Loss, Trainable};
use crate::error::Result;

/// The seed of share `index` at a step whose seed is `seed` (the first share
/// draws what a single batch on one device draws).
fn share_seed(seed: u64, index: usize) -> u64 {
    seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// `sum += w · grads`, parameter by parameter.
struct AddScaled<'a> {
    sum: &'a mut GradientsParams,
    grads: GradientsParams,
    weight: f64,
}

impl AddScaled<'_> {
    fn add<const D: usize>(&mut self, id: ParamId) {
        let Some(g) = self.grads.remove::<D>(id) else { return };
        let g = g.mul_scalar(self.weight);
        let total = match self.sum.remove::<D>(id) {
            Some(t) => t + g,
            None => g,
        };
        self.sum.register::<D>(id, total);
    }
}

impl ModuleVisitor for AddScaled<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.add::<D>(param.id);
    }
}

/// The gradients of one optimizer step over `batches` (accumulated), each
/// split over `devices` (autodiff devices; the first holds `model`): returns
/// the step's mean loss, its tokens, and the summed gradients on the first
/// device. A non-finite loss is returned with empty gradients.
pub fn gradients<T: Trainable>(task: &T, model: &T::Model, batches: &[T::Batch], devices: &[Device], seed: u64) -> Result<(f32, usize, GradientsParams)> {
    let mut shares = Vec::new();
    for batch in batches {
        for (i, share) in task.split(batch, devices.len()).into_iter().enumerate() {
            shares.push((share, i));
        }
    }
    let mut parts = Vec::with_capacity(shares.len());
    for (k, (share, d)) in shares.iter().enumerate() {
        let device = &devices[*d];
        device.seed(share_seed(seed, k));
        let replica = if k == 0 { model.clone() } else { model.clone().fork(device) };
        let loss = task.loss(&replica, share, device)?;
        let value = loss.value.clone().into_scalar::<f32>();
        if !value.is_finite() {
            return Ok((value, loss.tokens, GradientsParams::new()));
        }
        let grads = GradientsParams::from_grads(loss.value.backward(), &replica).to_device(&devices[0], &replica);
        parts.push((value, loss.terms, loss.tokens, grads));
    }
    Ok(combine(model, parts))
}

/// One share's loss value, terms, tokens and gradients.
pub type Part = (f32, usize, usize, GradientsParams);

/// The step's mean loss (each share weighted by its terms), its tokens, and
/// the sum of the shares' gradients, weighted alike.
pub fn combine<M: Module>(model: &M, parts: Vec<Part>) -> (f32, usize, GradientsParams) {
    let terms: usize = parts.iter().map(|p| p.1).sum::<usize>().max(1);
    let tokens = parts.iter().map(|p| p.2).sum();
    let mut value = 0f64;
    let mut sum = GradientsParams::new();
    for (v, t, _, grads) in parts {
        let weight = t as f64 / terms as f64;
        value += v as f64 * weight;
        model.visit(&mut AddScaled { sum: &mut sum, grads, weight });
    }
    (value as f32, tokens, sum)
}

/// How many shares a step on `device` (autodiff) is cut into by
/// [`host_gradients`]: the threads of the current pool on the CPU backends
/// with attend's host kernels, else 1 (the plain step).
pub fn host_shares(device: &Device) -> usize {
    if attend_model::fused::host_kernels(device) {
        attend_model::fused::cpu::threads()
    } else {
        1
    }
}

/// The losses and gradients of `shares` (share `k` seeds its dropout with
/// `share_seed(seed, k)`), computed side by side on the threads of the
/// current pool, each on its own replica of `model` on `device`; in share
/// order.
pub fn side_by_side<M, S, F>(model: &M, shares: &[S], device: &Device, seed: u64, loss: F) -> Result<Vec<Part>>
where
    M: Module + Sync,
    S: Sync,
    F: Fn(&M, &S) -> Result<Loss> + Sync,
{
    use rayon::prelude::*;
    shares
        .par_iter()
        .enumerate()
        .map(|(k, share)| {
            attend_model::fused::cpu::in_block(|| {
                attend_model::fused::with_own_draws(share_seed(seed, k), || {
                    let replica = model.clone().fork(device);
                    let loss = loss(&replica, share)?;
                    let value = loss.value.clone().into_scalar::<f32>();
                    let grads = if value.is_finite() { GradientsParams::from_grads(loss.value.backward(), &replica) } else { GradientsParams::new() };
                    Ok((value, loss.terms, loss.tokens, grads))
                })
            })
        })
        .collect()
}

/// [`gradients`] on one CPU device: each batch of the step cut into `shares`
/// trained side by side by [`side_by_side`] (the batches of an accumulated
/// step one after another). A non-finite loss is returned with empty gradients.
pub fn host_gradients<T>(task: &T, model: &T::Model, batches: &[T::Batch], shares: usize, device: &Device, seed: u64) -> Result<(f32, usize, GradientsParams)>
where
    T: Trainable,
{
    let mut parts = Vec::new();
    for (j, batch) in batches.iter().enumerate() {
        let split = task.split(batch, shares);
        let step_seed = share_seed(seed, j);
        for part in side_by_side(model, &split, device, step_seed, |m, share| task.loss(m, share, device))? {
            if !part.0.is_finite() {
                return Ok((part.0, part.2, GradientsParams::new()));
            }
            parts.push(part);
        }
    }
    Ok(combine(model, parts))
}
