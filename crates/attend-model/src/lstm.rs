//! Long short-term memory (Hochreiter & Schmidhuber, 1997; forget gate by Gers
//! et al., 2000). Besides the hidden state h, an LSTM carries a cell state c
//! that is changed only by element-wise gating, so information (and gradient)
//! can flow across many steps:
//!
//! - forget gate  f = σ(W_f x + U_f h): how much of the old cell to keep,
//! - input gate   i = σ(W_i x + U_i h): how much of the candidate to write,
//! - candidate    g = tanh(W_g x + U_g h),
//! - output gate  o = σ(W_o x + U_o h): how much of the cell to show,
//! - c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c').

use burn::prelude::*;
use burn::tensor::activation::{sigmoid, tanh};

use crate::rnn::Gate;

/// The LSTM cell with its four named gates.
#[derive(Module, Debug)]
pub struct LstmCell {
    pub input_gate: Gate,
    pub forget_gate: Gate,
    pub output_gate: Gate,
    /// The candidate values g (PyTorch's "g" block).
    pub cell_gate: Gate,
}

impl LstmCell {
    /// A cell from `d_input` to `d_hidden`.
    pub fn new(d_input: usize, d_hidden: usize, device: &Device) -> Self {
        Self {
            input_gate: Gate::new(d_input, d_hidden, device),
            forget_gate: Gate::new(d_input, d_hidden, device),
            output_gate: Gate::new(d_input, d_hidden, device),
            cell_gate: Gate::new(d_input, d_hidden, device),
        }
    }

    /// Input projections of a whole sequence, in the order i, f, o, g.
    pub fn project(&self, x: Tensor<3>) -> Vec<Tensor<3>> {
        [&self.input_gate, &self.forget_gate, &self.output_gate, &self.cell_gate]
            .iter()
            .map(|g| g.project_inputs(x.clone()))
            .collect()
    }

    /// The four gates as one matrix each, in the order i, f, o, g (the
    /// layout of the fused recurrences, [`crate::fused::lstm`]): the input
    /// weights `[d_input, 4h]`, the sum of both biases `[4h]` and the
    /// recurrent weights `[h, 4h]`. Built from the parameters at every call,
    /// so their gradients reach the gates' own weights.
    pub fn stacked(&self) -> (Tensor<2>, Tensor<1>, Tensor<2>) {
        let gates = [&self.input_gate, &self.forget_gate, &self.output_gate, &self.cell_gate];
        let w = Tensor::cat(gates.iter().map(|g| g.input.weight.val()).collect(), 1); // [d_input, 4h]
        let u = Tensor::cat(gates.iter().map(|g| g.hidden.weight.val()).collect(), 1); // [h, 4h]
        let bias = |l: &burn::nn::Linear| l.bias.as_ref().map_or_else(|| Tensor::zeros([l.weight.dims()[1]], &l.weight.device()), |b| b.val());
        let b = Tensor::cat(gates.iter().map(|g| bias(&g.input) + bias(&g.hidden)).collect(), 0); // [4h]
        (w, b, u)
    }

    /// One step: projected inputs (i, f, o, g) and (h, c) → (h', c').
    pub fn step(&self, xs: &[Tensor<2>], h: Tensor<2>, c: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let i = sigmoid(self.input_gate.with_hidden(xs[0].clone(), h.clone())); // [batch, hidden]
        let f = sigmoid(self.forget_gate.with_hidden(xs[1].clone(), h.clone()));
        let o = sigmoid(self.output_gate.with_hidden(xs[2].clone(), h.clone()));
        let g = tanh(self.cell_gate.with_hidden(xs[3].clone(), h));
        let c = f * c + i * g;
        (o * tanh(c.clone()), c)
    }
}
