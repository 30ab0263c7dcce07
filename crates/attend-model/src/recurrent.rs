//! Recurrent layers over whole padded batches: any of the three cells, stacked
//! in layers with dropout between them, optionally bidirectional (a second
//! stack reads the sequence backwards; Schuster & Paliwal, 1997).
//!
//! Padding: at a padded step the state is carried over unchanged and the
//! output is zero, so each sequence's final state is the one at its true
//! length, and the backward direction starts at each sequence's true end.

use burn::nn::{Dropout, DropoutConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::gru::GruCell;
use crate::lstm::LstmCell;
use crate::rnn::RnnCell;

/// Which recurrent cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CellKind {
    /// Elman RNN (tanh).
    Rnn,
    /// LSTM with forget, input and output gates.
    #[default]
    Lstm,
    /// GRU with update and reset gates.
    Gru,
}

/// One cell of any kind.
#[derive(Module, Debug)]
pub enum Cell {
    Rnn(RnnCell),
    Lstm(LstmCell),
    Gru(GruCell),
}

/// The state a cell carries: h, and c for an LSTM.
#[derive(Debug, Clone)]
pub struct RecurrentState {
    /// Hidden state `[batch, d_hidden]`.
    pub h: Tensor<2>,
    /// Cell state `[batch, d_hidden]` (LSTM only).
    pub c: Option<Tensor<2>>,
}

impl RecurrentState {
    /// Zero state for `kind`.
    pub fn zeros(kind: CellKind, batch: usize, d_hidden: usize, device: &Device) -> Self {
        let z = Tensor::zeros([batch, d_hidden], device);
        Self { c: (kind == CellKind::Lstm).then(|| z.clone()), h: z }
    }

    fn blend(self, old: Self, keep: &Tensor<2>) -> Self {
        // keep: [batch, 1], 1 at real steps and 0 at padding.
        let mix = |new: Tensor<2>, old: Tensor<2>| new * keep.clone() + old * (keep.clone().neg().add_scalar(1.0));
        Self {
            h: mix(self.h, old.h),
            c: match (self.c, old.c) {
                (Some(n), Some(o)) => Some(mix(n, o)),
                (n, _) => n,
            },
        }
    }
}

impl Cell {
    /// A cell of `kind` from `d_input` to `d_hidden`.
    pub fn new(kind: CellKind, d_input: usize, d_hidden: usize, device: &Device) -> Self {
        match kind {
            CellKind::Rnn => Cell::Rnn(RnnCell::new(d_input, d_hidden, device)),
            CellKind::Lstm => Cell::Lstm(LstmCell::new(d_input, d_hidden, device)),
            CellKind::Gru => Cell::Gru(GruCell::new(d_input, d_hidden, device)),
        }
    }

    /// The cell's kind.
    pub fn kind(&self) -> CellKind {
        match self {
            Cell::Rnn(_) => CellKind::Rnn,
            Cell::Lstm(_) => CellKind::Lstm,
            Cell::Gru(_) => CellKind::Gru,
        }
    }

    /// Input projections of a whole sequence, one `[batch, seq, d_hidden]` per gate.
    pub fn project(&self, x: Tensor<3>) -> Vec<Tensor<3>> {
        match self {
            Cell::Rnn(c) => c.project(x),
            Cell::Lstm(c) => c.project(x),
            Cell::Gru(c) => c.project(x),
        }
    }

    /// One step from projected inputs (`[batch, d_hidden]` per gate).
    pub fn step(&self, xs: &[Tensor<2>], state: RecurrentState) -> RecurrentState {
        match self {
            Cell::Rnn(c) => RecurrentState { h: c.step(xs, state.h), c: None },
            Cell::Gru(c) => RecurrentState { h: c.step(xs, state.h), c: None },
            Cell::Lstm(c) => {
                let cell = state.c.unwrap_or_else(|| state.h.zeros_like());
                let (h, c) = c.step(xs, state.h, cell);
                RecurrentState { h, c: Some(c) }
            }
        }
    }

    /// Runs the cell over `x` `[batch, seq, d_input]`. `pad` `[batch, seq]` marks
    /// padding (`true`). Returns the outputs `[batch, seq, d_hidden]` (zero at
    /// padding) and the final state (at each sequence's true end).
    pub fn run(
        &self,
        x: Tensor<3>,
        pad: Option<&Tensor<2, Bool>>,
        reverse: bool,
        init: RecurrentState,
    ) -> (Tensor<3>, RecurrentState) {
        if let (Cell::Lstm(cell), true) = (self, crate::fused::host_kernels(&x.device())) {
            // The whole sequence as one fused operation (same values and gradients).
            let (w, b, u) = cell.stacked();
            let xp = crate::dense::linear_with(x, w, Some(b)); // [batch, seq, 4h]
            let c0 = init.c.clone().unwrap_or_else(|| init.h.zeros_like());
            let keep = pad.map(|p| p.clone().bool_not().float()); // [batch, seq]
            let (out, h, c) = crate::fused::lstm(xp, u, init.h, c0, keep, reverse);
            return (out, RecurrentState { h, c: Some(c) });
        }
        self.run_plain(x, pad, reverse, init)
    }

    /// [`Self::run`] as a loop of per-step tensor operations: the plain
    /// version the fused LSTM replaces, and the reference its tests compare against.
    pub fn run_plain(
        &self,
        x: Tensor<3>,
        pad: Option<&Tensor<2, Bool>>,
        reverse: bool,
        init: RecurrentState,
    ) -> (Tensor<3>, RecurrentState) {
        let [batch, seq, _] = x.dims();
        let projected = self.project(x); // per gate: [batch, seq, d_hidden]
        let d_hidden = projected[0].dims()[2];
        let keep = pad.map(|p| p.clone().bool_not().float()); // [batch, seq]
        let mut state = init;
        let mut outputs: Vec<Option<Tensor<2>>> = vec![None; seq];
        let order: Box<dyn Iterator<Item = usize>> = if reverse { Box::new((0..seq).rev()) } else { Box::new(0..seq) };
        for t in order {
            let xs: Vec<Tensor<2>> = projected
                .iter()
                .map(|p| p.clone().slice([0..batch, t..t + 1, 0..d_hidden]).reshape([batch, d_hidden]))
                .collect();
            let new = self.step(&xs, state.clone());
            match &keep {
                Some(k) => {
                    let k_t = k.clone().slice([0..batch, t..t + 1]); // [batch, 1]
                    outputs[t] = Some(new.h.clone() * k_t.clone());
                    state = new.blend(state, &k_t);
                }
                None => {
                    outputs[t] = Some(new.h.clone());
                    state = new;
                }
            }
        }
        let outputs: Vec<Tensor<2>> = outputs.into_iter().flatten().collect();
        (Tensor::stack(outputs, 1), state) // [batch, seq, d_hidden]
    }
}

/// Configuration of a [`Recurrent`] stack.
#[derive(Config, Debug)]
pub struct RecurrentConfig {
    /// The cell.
    pub cell: CellKind,
    /// Input width.
    pub d_input: usize,
    /// Hidden width (per direction).
    pub d_hidden: usize,
    /// Stacked layers.
    #[config(default = 1)]
    pub n_layers: usize,
    /// Dropout between layers.
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Add a backward-reading stack and concatenate both directions.
    #[config(default = false)]
    pub bidirectional: bool,
}

impl RecurrentConfig {
    /// Builds the stack.
    pub fn init(&self, device: &Device) -> Recurrent {
        let dirs = if self.bidirectional { 2 } else { 1 };
        let width = |layer: usize| if layer == 0 { self.d_input } else { self.d_hidden * dirs };
        let stack = |_: usize| -> Vec<Cell> {
            (0..self.n_layers).map(|l| Cell::new(self.cell, width(l), self.d_hidden, device)).collect()
        };
        Recurrent {
            forward: stack(0),
            backward: if self.bidirectional { stack(1) } else { Vec::new() },
            dropout: DropoutConfig::new(self.dropout).init(),
            d_hidden: self.d_hidden,
        }
    }
}

/// Stacked (and optionally bidirectional) recurrent layers.
#[derive(Module, Debug)]
pub struct Recurrent {
    pub forward: Vec<Cell>,
    /// Empty unless bidirectional.
    pub backward: Vec<Cell>,
    pub dropout: Dropout,
    pub d_hidden: usize,
}

impl Recurrent {
    /// Runs all layers over `x` `[batch, seq, d_input]` from zero states.
    /// Returns the top layer's outputs `[batch, seq, d_hidden × directions]`
    /// and the final state of every layer and direction (forward first, then backward).
    pub fn forward(&self, x: Tensor<3>, pad: Option<&Tensor<2, Bool>>) -> (Tensor<3>, Vec<RecurrentState>) {
        self.forward_from(x, pad, None)
    }

    /// As [`forward`](Self::forward), with the forward layers starting from
    /// `init` (one state per layer, e.g. the final states of the previous chunk
    /// of a text) instead of zeros.
    pub fn forward_from(
        &self,
        x: Tensor<3>,
        pad: Option<&Tensor<2, Bool>>,
        init: Option<Vec<RecurrentState>>,
    ) -> (Tensor<3>, Vec<RecurrentState>) {
        let [batch, _, _] = x.dims();
        let device = x.device();
        let kind = self.forward[0].kind();
        let mut finals = Vec::new();
        let mut backward_finals = Vec::new();
        let mut init = init.map(|v| v.into_iter());
        let mut input = x;
        for (l, cell) in self.forward.iter().enumerate() {
            if l > 0 {
                input = crate::fused::dropout(&self.dropout, input);
            }
            let zero = RecurrentState::zeros(kind, batch, self.d_hidden, &device);
            let start = init.as_mut().and_then(|i| i.next()).unwrap_or_else(|| zero.clone());
            let (out_f, fin_f) = cell.run(input.clone(), pad, false, start);
            finals.push(fin_f);
            input = match self.backward.get(l) {
                Some(back) => {
                    let (out_b, fin_b) = back.run(input, pad, true, zero);
                    backward_finals.push(fin_b);
                    Tensor::cat(vec![out_f, out_b], 2)
                }
                None => out_f,
            };
        }
        finals.extend(backward_finals);
        (input, finals)
    }
}
