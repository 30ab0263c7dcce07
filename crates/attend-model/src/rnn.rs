//! The recurrent neural network (Elman, 1990): read a sequence one step at a
//! time, folding each input into a hidden state with the *same* weights at
//! every step, h_t = tanh(W x_t + b_W + U h_{t−1} + b_U). Any length fits the
//! same weights; but gradients through many tanh steps vanish, so a plain RNN
//! forgets the start of long inputs (Bengio et al., 1994) — the LSTM and GRU
//! were made to fix that.
//!
//! [`Gate`] is the shared building block of all three cells: a pre-activation
//! `input(x) + hidden(h)` with a bias on each side, as in PyTorch and Burn.

use burn::nn::{Initializer, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::tanh;

/// One pre-activation `W x + b_W + U h + b_U`.
#[derive(Module, Debug)]
pub struct Gate {
    /// `W`, `b_W`: `[d_input, d_hidden]`.
    pub input: Linear,
    /// `U`, `b_U`: `[d_hidden, d_hidden]`.
    pub hidden: Linear,
}

impl Gate {
    /// A gate from `d_input` to `d_hidden`, weights ~ U(−1/√d_hidden, 1/√d_hidden) as in PyTorch.
    pub fn new(d_input: usize, d_hidden: usize, device: &Device) -> Self {
        let k = 1.0 / (d_hidden as f64).sqrt();
        let init = Initializer::Uniform { min: -k, max: k };
        Self {
            input: LinearConfig::new(d_input, d_hidden).with_initializer(init.clone()).init(device),
            hidden: LinearConfig::new(d_hidden, d_hidden).with_initializer(init).init(device),
        }
    }

    /// `W x + b_W` for a whole sequence at once: `[batch, seq, d_input]` → `[batch, seq, d_hidden]`.
    pub fn project_inputs(&self, x: Tensor<3>) -> Tensor<3> {
        crate::dense::linear(&self.input, x)
    }

    /// Adds `U h + b_U` to a projected input step `[batch, d_hidden]`.
    pub fn with_hidden(&self, projected_x: Tensor<2>, h: Tensor<2>) -> Tensor<2> {
        projected_x + self.hidden.forward(h)
    }
}

/// The Elman cell: one tanh gate.
#[derive(Module, Debug)]
pub struct RnnCell {
    pub gate: Gate,
}

impl RnnCell {
    /// A cell from `d_input` to `d_hidden`.
    pub fn new(d_input: usize, d_hidden: usize, device: &Device) -> Self {
        Self { gate: Gate::new(d_input, d_hidden, device) }
    }

    /// Input projections of a whole sequence (one per gate).
    pub fn project(&self, x: Tensor<3>) -> Vec<Tensor<3>> {
        vec![self.gate.project_inputs(x)]
    }

    /// One step: projected inputs `[batch, d_hidden]` per gate and h_{t−1} → h_t.
    pub fn step(&self, xs: &[Tensor<2>], h: Tensor<2>) -> Tensor<2> {
        tanh(self.gate.with_hidden(xs[0].clone(), h))
    }
}
