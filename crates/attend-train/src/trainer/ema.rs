//! Weight averaging: an exponential moving average (EMA) of the weights along
//! the training path (Polyak & Juditsky, 1992), evaluated and kept instead of
//! the last weights. On small data, where the last weights jump around from
//! one step to the next, the average usually generalises better.
//!
//! The average starts from the first weights and uses the decay
//! `min(decay, (1 + t) / (10 + t))` at update `t`, so that early on it follows
//! the model quickly instead of remembering the initialisation.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

/// The flattened float parameters of a module, in visiting order.
struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let n = t.shape().num_elements();
        self.0.push(t.reshape([n]));
    }
}

/// `average ← decay · average + (1 − decay) · current`, parameter by parameter.
struct Blend {
    current: std::vec::IntoIter<Tensor<1>>,
    decay: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        // Both modules come from the same config, so they visit the same parameters in the same order.
        let Some(current) = self.current.next() else { return param };
        let decay = self.decay;
        param.map(|avg| {
            let shape = avg.shape();
            avg.mul_scalar(decay).add(current.reshape(shape).mul_scalar(1.0 - decay))
        })
    }
}

/// An exponential moving average of a module's weights.
pub struct Ema<M> {
    /// The averaged weights (same architecture as the model).
    pub model: M,
    decay: f64,
    updates: usize,
}

impl<M: Module> Ema<M> {
    /// Starts the average at `start` (e.g. the model's first weights, or an
    /// average saved in a checkpoint after `updates` updates).
    pub fn new(start: M, decay: f64, updates: usize) -> Self {
        Self { model: start, decay, updates }
    }

    /// The decay the next update uses.
    pub fn current_decay(&self) -> f64 {
        let t = self.updates as f64;
        self.decay.min((1.0 + t) / (10.0 + t))
    }

    /// Folds `current` (same architecture, same device) into the average.
    pub fn update(&mut self, current: &M) {
        let mut collect = Collect(Vec::new());
        current.visit(&mut collect);
        let decay = self.current_decay();
        let model = std::mem::replace(&mut self.model, current.clone());
        self.model = model.map(&mut Blend { current: collect.0.into_iter(), decay });
        self.updates += 1;
    }

    /// Updates so far.
    pub fn updates(&self) -> usize {
        self.updates
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};

    #[allow(deprecated)]
    fn device() -> Device {
        Device::ndarray()
    }

    fn weights(m: &Linear) -> Vec<f32> {
        let mut c = Collect(Vec::new());
        m.visit(&mut c);
        c.0.into_iter().flat_map(|t| t.into_data().try_to_vec::<f32>().unwrap()).collect()
    }

    #[test]
    fn the_average_follows_the_formula_with_warm_up() {
        let _rng = crate::rng_lock();
        let dev = device();
        let a = LinearConfig::new(3, 2).init(&dev);
        let b = LinearConfig::new(3, 2).init(&dev);
        let (wa, wb) = (weights(&a), weights(&b));
        let mut ema = Ema::new(a, 0.99, 0);
        // First update: decay min(0.99, 1/10) = 0.1.
        ema.update(&b);
        let got = weights(&ema.model);
        for ((g, x), y) in got.iter().zip(&wa).zip(&wb) {
            assert!((g - (0.1 * x + 0.9 * y)).abs() < 1e-6);
        }
        assert_eq!(ema.updates(), 1);
        assert!((ema.current_decay() - 2.0 / 11.0).abs() < 1e-12);
        // Many updates towards the same weights converge to them.
        for _ in 0..2000 {
            ema.update(&b);
        }
        for (g, y) in weights(&ema.model).iter().zip(&wb) {
            assert!((g - y).abs() < 1e-4);
        }
    }
}
