//! Data-parallel training over several devices of one machine
//! (`--device wgpu:0,wgpu:1`), as burn-train's multi-device strategy does it:
//! each device gets a replica of the model and one share of the batch and
//! computes the gradients of its share; the gradients are moved to the first
//! device and summed there, and one optimizer step updates the weights,
//! which every replica takes again at the next step.
//!
//! Each share's mean loss is weighted by its share of the batch's terms, so
//! the sum of the replicas' gradients is the gradient of the whole batch's
//! mean loss: two replicas give the update one replica gives on the merged
//! batch (a test checks it).
//!
//! The replicas are driven from one thread, one after the other: on GPUs
//! their kernels are queued without waiting, so the devices work side by
//! side. Burn 0.22.1 implements an all-reduce collective only for CUDA
//! (NCCL) and has no training across machines; attend does neither.

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;

use super::Trainable;
use crate::error::Result;

/// The seed of replica `index` at a step whose seed is `seed` (the first
/// replica draws what a single device draws).
fn replica_seed(seed: u64, index: usize) -> u64 {
    seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The gradients of `batch` under `model`, split over `devices` (autodiff
/// devices; the first holds `model`): returns the batch's mean loss, its
/// tokens, and the summed gradients on the first device. A non-finite loss
/// is returned with empty gradients.
pub fn gradients<T: Trainable>(task: &T, model: &T::Model, batch: &T::Batch, devices: &[Device], seed: u64) -> Result<(f32, usize, GradientsParams)> {
    let shares = task.split(batch, devices.len());
    let mut losses = Vec::with_capacity(shares.len());
    for (i, (share, device)) in shares.iter().zip(devices).enumerate() {
        device.seed(replica_seed(seed, i));
        let replica = if i == 0 { model.clone() } else { model.clone().fork(device) };
        let loss = task.loss(&replica, share, device)?;
        losses.push((replica, loss));
    }
    let terms: usize = losses.iter().map(|(_, l)| l.terms).sum::<usize>().max(1);
    let tokens = losses.iter().map(|(_, l)| l.tokens).sum();
    let mut value = 0f64;
    let mut weighted = Vec::with_capacity(losses.len());
    for (replica, loss) in losses {
        let w = loss.terms as f64 / terms as f64;
        value += loss.value.clone().into_scalar::<f32>() as f64 * w;
        weighted.push((replica, loss.value.mul_scalar(w)));
    }
    if !value.is_finite() {
        return Ok((value as f32, tokens, GradientsParams::new()));
    }
    let mut sum = GradientsAccumulator::<T::Model>::new();
    for (replica, loss) in weighted {
        let grads = GradientsParams::from_grads(loss.backward(), &replica).to_device(&devices[0], &replica);
        sum.accumulate(model, grads);
    }
    Ok((value as f32, tokens, sum.grads()))
}
