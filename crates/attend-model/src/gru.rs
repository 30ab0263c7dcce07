//! Gated recurrent unit (Cho et al., 2014): an LSTM-like memory with two gates
//! and no separate cell state:
//!
//! - update gate z = σ(W_z x + U_z h): how much of the state to replace,
//! - reset gate  r = σ(W_r x + U_r h): how much of the old state the candidate sees,
//! - candidate   n = tanh(W_n x + b_Wn + r ⊙ (U_n h + b_Un)),
//! - h' = (1 − z) ⊙ n + z ⊙ h.
//!
//! The reset gate is applied after the hidden projection, as in PyTorch and Burn.

use burn::prelude::*;
use burn::tensor::activation::{sigmoid, tanh};

use crate::rnn::Gate;

/// The GRU cell with its three named gates.
#[derive(Module, Debug)]
pub struct GruCell {
    pub update_gate: Gate,
    pub reset_gate: Gate,
    pub new_gate: Gate,
}

impl GruCell {
    /// A cell from `d_input` to `d_hidden`.
    pub fn new(d_input: usize, d_hidden: usize, device: &Device) -> Self {
        Self {
            update_gate: Gate::new(d_input, d_hidden, device),
            reset_gate: Gate::new(d_input, d_hidden, device),
            new_gate: Gate::new(d_input, d_hidden, device),
        }
    }

    /// Input projections of a whole sequence, in the order z, r, n.
    pub fn project(&self, x: Tensor<3>) -> Vec<Tensor<3>> {
        [&self.update_gate, &self.reset_gate, &self.new_gate]
            .iter()
            .map(|g| g.project_inputs(x.clone()))
            .collect()
    }

    /// One step: projected inputs (z, r, n) and h → h'.
    pub fn step(&self, xs: &[Tensor<2>], h: Tensor<2>) -> Tensor<2> {
        let z = sigmoid(self.update_gate.with_hidden(xs[0].clone(), h.clone())); // [batch, hidden]
        let r = sigmoid(self.reset_gate.with_hidden(xs[1].clone(), h.clone()));
        let n = tanh(xs[2].clone() + r * self.new_gate.hidden.forward(h.clone()));
        (z.clone().neg().add_scalar(1.0)) * n + z * h
    }
}
