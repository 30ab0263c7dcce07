//! Our LSTM and GRU against Burn's `nn::Lstm` and `nn::Gru` given copied
//! weights (tolerance 1e-5), and the padding behaviour of recurrent layers.

use attend_model::attention::padding_mask;
use attend_model::gru::GruCell;
use attend_model::lstm::LstmCell;
use attend_model::rnn::Gate;
use attend_model::{Cell, CellKind, RecurrentConfig, RecurrentState};
use burn::nn::{GateController, GruConfig, LstmConfig};
use burn::prelude::*;
use burn::tensor::Distribution;

#[allow(deprecated)]
fn device() -> Device {
    Device::ndarray()
}

fn vals<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn copy(g: &GateController) -> Gate {
    Gate { input: g.input_transform.clone(), hidden: g.hidden_transform.clone() }
}

#[test]
fn lstm_matches_burn() {
    let dev = device();
    dev.seed(21);
    let (b, s, d_in, h) = (3, 6, 5, 8);
    let theirs = LstmConfig::new(d_in, h, true).init(&dev);
    let ours = Cell::Lstm(LstmCell {
        input_gate: copy(&theirs.input_gate),
        forget_gate: copy(theirs.forget_gate.as_ref().unwrap()),
        output_gate: copy(&theirs.output_gate),
        cell_gate: copy(&theirs.cell_gate),
    });
    let x = Tensor::<3>::random([b, s, d_in], Distribution::Normal(0.0, 1.0), &dev);
    let (out_theirs, state) = theirs.forward(x.clone(), None);
    let (out_ours, fin) = ours.run(x, None, false, RecurrentState::zeros(CellKind::Lstm, b, h, &dev));
    assert!(max_diff(&vals(out_ours), &vals(out_theirs)) < 1e-5);
    assert!(max_diff(&vals(fin.h), &vals(state.hidden)) < 1e-5);
    assert!(max_diff(&vals(fin.c.unwrap()), &vals(state.cell)) < 1e-5);
}

#[test]
fn gru_matches_burn() {
    let dev = device();
    dev.seed(22);
    let (b, s, d_in, h) = (3, 6, 5, 8);
    let theirs = GruConfig::new(d_in, h, true).init(&dev);
    let ours = Cell::Gru(GruCell {
        update_gate: copy(&theirs.update_gate),
        reset_gate: copy(&theirs.reset_gate),
        new_gate: copy(&theirs.new_gate),
    });
    let x = Tensor::<3>::random([b, s, d_in], Distribution::Normal(0.0, 1.0), &dev);
    let out_theirs = theirs.forward(x.clone(), None);
    let (out_ours, fin) = ours.run(x, None, false, RecurrentState::zeros(CellKind::Gru, b, h, &dev));
    let (o, t) = (vals(out_ours), vals(out_theirs));
    assert!(max_diff(&o, &t) < 1e-5);
    // The final state is the last output.
    assert!(max_diff(&vals(fin.h), &vals(Tensor::<3>::from_data(TensorData::new(t, [b, s, h]), &dev).slice([0..b, s - 1..s, 0..h]).reshape([b, h]))) < 1e-5);
}

#[test]
fn padding_never_changes_real_positions_or_final_states() {
    let dev = device();
    for kind in [CellKind::Rnn, CellKind::Lstm, CellKind::Gru] {
        dev.seed(23);
        let (d_in, h) = (4, 6);
        let layer = RecurrentConfig::new(kind, d_in, h).with_n_layers(2).with_bidirectional(true).init(&dev);
        let short = Tensor::<3>::random([1, 3, d_in], Distribution::Normal(0.0, 1.0), &dev);
        let long = Tensor::<3>::random([1, 5, d_in], Distribution::Normal(0.0, 1.0), &dev);
        let (alone, alone_finals) = layer.forward(short.clone(), None);
        // The short sequence padded with garbage to length 5, batched with the long one.
        let garbage = Tensor::<3>::random([1, 2, d_in], Distribution::Normal(0.0, 9.0), &dev);
        let batch = Tensor::cat(vec![Tensor::cat(vec![short, garbage], 1), long], 0);
        let pad = padding_mask(&[3, 5], 5, &dev);
        let (batched, finals) = layer.forward(batch, Some(&pad));
        let batched = vals(batched); // [2, 5, 2h]
        let alone = vals(alone); // [1, 3, 2h]
        assert!(max_diff(&alone, &batched[..3 * 2 * h]) < 1e-5, "{kind:?} outputs");
        assert!(batched[3 * 2 * h..5 * 2 * h].iter().all(|&v| v == 0.0), "{kind:?} padded outputs are zero");
        assert_eq!(finals.len(), 4, "2 layers × 2 directions");
        for (a, f) in alone_finals.iter().zip(&finals) {
            let fh = vals(f.h.clone());
            assert!(max_diff(&vals(a.h.clone()), &fh[..h]) < 1e-5, "{kind:?} final state");
        }
    }
}
