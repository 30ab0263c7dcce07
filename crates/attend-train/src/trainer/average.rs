//! Checkpoint averaging (Vaswani et al., 2017, §6.1: "averaging the last 5
//! checkpoints"): the element-wise mean of the weights of several checkpoints
//! of one run, which usually scores better than any one of them.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

use crate::error::{Result, TrainError};

/// The flattened float parameters of a module, in visiting order.
struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let n = t.shape().num_elements();
        self.0.push(t.reshape([n]));
    }
}

/// Replaces each parameter by the matching entry of `values`.
struct Replace(std::vec::IntoIter<Tensor<1>>);

impl ModuleMapper for Replace {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(v) = self.0.next() else { return param };
        param.map(|t| v.reshape(t.shape()))
    }
}

/// The element-wise mean of `models` (the same architecture, the same device).
pub fn average<M: Module>(models: Vec<M>) -> Result<M> {
    let n = models.len();
    let mut iter = models.into_iter();
    let first = iter.next().ok_or_else(|| TrainError::Invalid("nothing to average".into()))?;
    let mut sum = Collect(Vec::new());
    first.visit(&mut sum);
    for m in iter {
        let mut c = Collect(Vec::new());
        m.visit(&mut c);
        if c.0.len() != sum.0.len() {
            return Err(TrainError::Invalid("the checkpoints hold different architectures".into()));
        }
        sum.0 = sum.0.into_iter().zip(c.0).map(|(a, b)| a + b).collect();
    }
    let mean: Vec<Tensor<1>> = sum.0.into_iter().map(|t| t.div_scalar(n as f64)).collect();
    Ok(first.map(&mut Replace(mean.into_iter())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::LinearConfig;

    fn weights<M: Module>(m: &M) -> Vec<f32> {
        let mut c = Collect(Vec::new());
        m.visit(&mut c);
        c.0.into_iter().flat_map(|t| t.try_into_vec_as::<f32>().unwrap()).collect()
    }

    #[test]
    fn the_average_of_copies_is_the_copy_and_of_two_their_midpoint() {
        #[allow(deprecated)]
        let dev = Device::ndarray();
        let a = LinearConfig::new(3, 2).init(&dev);
        let b = LinearConfig::new(3, 2).init(&dev);
        let same = average(vec![a.clone(), a.clone(), a.clone()]).unwrap();
        let (wa, wb) = (weights(&a), weights(&b));
        for (x, y) in weights(&same).iter().zip(&wa) {
            assert!((x - y).abs() < 1e-7);
        }
        let mid = average(vec![a, b]).unwrap();
        for ((m, x), y) in weights(&mid).iter().zip(&wa).zip(&wb) {
            assert!((m - (x + y) / 2.0).abs() < 1e-6);
        }
        assert!(average(Vec::<burn::nn::Linear>::new()).is_err());
    }
}
