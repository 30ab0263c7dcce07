//! Gradient clipping by global norm (Pascanu et al., 2013): if the norm of all
//! gradients taken together exceeds `max_norm`, scale every gradient by
//! `max_norm / norm`. (Burn's own `GradientClipping::Norm` clips each
//! parameter tensor separately, which changes the update's direction.)

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::prelude::*;

struct FloatParams(Vec<(ParamId, usize)>);

impl ModuleVisitor for FloatParams {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push((param.id, D));
    }
}

fn norm_sq<const D: usize>(grads: &GradientsParams, id: ParamId) -> Option<Tensor<1>> {
    grads.get::<D>(id).map(|g| g.square().sum())
}

fn scale<const D: usize>(grads: &mut GradientsParams, id: ParamId, factor: Tensor<1>) {
    if let Some(g) = grads.remove::<D>(id) {
        let f = factor.reshape([1; D]);
        grads.register::<D>(id, g * f);
    }
}

/// Clips `grads` of `module`'s parameters to global norm `max_norm`; returns the norm before clipping.
pub fn clip_global_norm<M: Module>(module: &M, grads: &mut GradientsParams, max_norm: f32) -> f32 {
    let mut params = FloatParams(Vec::new());
    module.visit(&mut params);
    let mut total: Option<Tensor<1>> = None;
    for &(id, rank) in &params.0 {
        let sq = match rank {
            1 => norm_sq::<1>(grads, id),
            2 => norm_sq::<2>(grads, id),
            3 => norm_sq::<3>(grads, id),
            4 => norm_sq::<4>(grads, id),
            _ => None,
        };
        if let Some(sq) = sq {
            total = Some(match total {
                Some(t) => t + sq,
                None => sq,
            });
        }
    }
    let Some(total) = total else { return 0.0 };
    let norm = total.sqrt(); // [1]
    let norm_value: f32 = norm.clone().into_scalar();
    if max_norm > 0.0 && norm_value > max_norm {
        let factor = norm.recip().mul_scalar(max_norm); // [1], stays on the device
        for &(id, rank) in &params.0 {
            match rank {
                1 => scale::<1>(grads, id, factor.clone()),
                2 => scale::<2>(grads, id, factor.clone()),
                3 => scale::<3>(grads, id, factor.clone()),
                4 => scale::<4>(grads, id, factor.clone()),
                _ => {}
            }
        }
    }
    norm_value
}
