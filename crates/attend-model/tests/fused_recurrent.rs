//! The fused recurrences (`attend_model::fused::{lstm, attention_lstm}`, the
//! host kernels of `fused::cpu`) against the per-step loops they replace
//! (`Cell::run_plain`, `RecurrentSeq2Seq::decode_plain` and a hand-written
//! loop where dropout masks are given): outputs and the gradients of every
//! input and parameter, with padding, both directions, one and two layers.
//! On the CPU backends the models take the fused path themselves; on wgpu
//! (lavapipe) the operations are called directly (they run on the host).
//! Tolerance: 2e-5 + 1e-4 · |reference| on values; on gradients
//! 1e-5 + 1e-4 · (largest |entry| of that gradient).

use attend_model::fused;
use attend_model::recurrent_seq2seq::RecurrentMemory;
use attend_model::{Cell, CellKind, RecurrentSeq2Seq, RecurrentSeq2SeqConfig, RecurrentState, Score};
use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::Distribution;

mod common;
use common::{all_devices, close, close_scaled};

struct Ids(Vec<(ParamId, usize)>);
impl ModuleVisitor for Ids {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        self.0.push((p.id, D));
    }
}

/// Every parameter gradient of `model` in `a` against `b`; returns how many were compared.
fn same_param_grads<M: Module>(what: &str, model: &M, a: &GradientsParams, b: &GradientsParams) -> usize {
    let mut ids = Ids(Vec::new());
    model.visit(&mut ids);
    let mut n = 0;
    for (id, rank) in ids.0 {
        let pair = match rank {
            1 => (a.get::<1>(id).map(|x| x.reshape([-1])), b.get::<1>(id).map(|x| x.reshape([-1]))),
            2 => (a.get::<2>(id).map(|x| x.reshape([-1])), b.get::<2>(id).map(|x| x.reshape([-1]))),
            _ => (None, None),
        };
        assert_eq!(pair.0.is_some(), pair.1.is_some(), "{what}: {id:?} on one side only");
        let pair = pair.0.zip(pair.1);
        if let Some((x, y)) = pair {
            close_scaled::<1>(&format!("{what}: gradient of {id:?}"), x, y);
            n += 1;
        }
    }
    n
}

fn random<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

fn leaf<const D: usize>(t: &Tensor<D>, device: &Device) -> Tensor<D> {
    Tensor::from_data(t.to_data(), device).require_grad()
}

/// `Cell::run`'s fused path, spelled out (so that it also runs where the model would not take it).
fn run_fused(cell: &Cell, x: Tensor<3>, pad: Option<&Tensor<2, Bool>>, reverse: bool, init: RecurrentState) -> (Tensor<3>, RecurrentState) {
    let Cell::Lstm(c) = cell else { unreachable!("an LSTM") };
    let (w, b, u) = c.stacked();
    let xp = burn::tensor::module::linear(x, w, Some(b));
    let keep = pad.map(|p| p.clone().bool_not().float());
    let (out, h, c) = fused::lstm(xp, u, init.h, init.c.unwrap(), keep, reverse);
    (out, RecurrentState { h, c: Some(c) })
}

/// One LSTM layer run: outputs, last h, last c, the gradients of x, h0 and c0,
/// and the weights' gradients.
type LayerRun = (Tensor<3>, Tensor<2>, Tensor<2>, (Tensor<3>, Tensor<2>, Tensor<2>), GradientsParams);

/// The fused run `a` against the step loop's `r`: every output and gradient.
fn same_layer_run(what: &str, cell: &Cell, a: LayerRun, r: LayerRun) {
    close(&format!("{what}: outputs"), a.0, r.0);
    close(&format!("{what}: last h"), a.1, r.1);
    close(&format!("{what}: last c"), a.2, r.2);
    close_scaled(&format!("{what}: dx"), a.3 .0, r.3 .0);
    close_scaled(&format!("{what}: dh0"), a.3 .1, r.3 .1);
    close_scaled(&format!("{what}: dc0"), a.3 .2, r.3 .2);
    assert_eq!(same_param_grads(what, cell, &a.4, &r.4), 16, "{what}: all eight weights and eight biases");
}

#[test]
fn lstm_layer_matches_the_step_loop() {
    for base in all_devices() {
        let ad = base.clone().autodiff();
        let cpu = fused::host_kernels(&ad);
        ad.seed(17);
        let (b, s, d_in, h) = (3, 5, 6, 4);
        let cell = Cell::new(CellKind::Lstm, d_in, h, &ad);
        let (x0, h0, c0) = (random([b, s, d_in], &base), random([b, h], &base), random([b, h], &base));
        let (p1, p2, p3) = (random([b, s, h], &ad), random([b, h], &ad), random([b, h], &ad));
        let pad = attend_model::attention::padding_mask(&[5, 2, 4], s, &ad);
        // lavapipe is slow: one combination there.
        let combos: Vec<(bool, bool)> = if cpu { vec![(false, false), (false, true), (true, false), (true, true)] } else { vec![(true, true)] };
        for (reverse, padded) in combos {
            {
                let pad = padded.then_some(&pad);
                let go = |fused_path: bool| {
                    let (x, hi, ci) = (leaf(&x0, &ad), leaf(&h0, &ad), leaf(&c0, &ad));
                    let init = RecurrentState { h: hi.clone(), c: Some(ci.clone()) };
                    let (out, fin) = match (fused_path, cpu) {
                        (true, true) => cell.run(x.clone(), pad, reverse, init),
                        (true, false) => run_fused(&cell, x.clone(), pad, reverse, init),
                        (false, _) => cell.run_plain(x.clone(), pad, reverse, init),
                    };
                    let c = fin.c.clone().unwrap();
                    let loss = (out.clone() * p1.clone()).sum() + (fin.h.clone() * p2.clone()).sum() + (c.clone() * p3.clone()).sum();
                    let g = loss.backward();
                    let dx = (x.grad(&g).unwrap(), hi.grad(&g).unwrap(), ci.grad(&g).unwrap());
                    (out, fin.h, c, dx, GradientsParams::from_grads(g, &cell))
                };
                let (a, r) = (go(true), go(false));
                same_layer_run(&format!("{base:?} reverse {reverse} pad {}", pad.is_some()), &cell, a, r);
            }
        }
    }
}

fn seq2seq(layers: usize, bidirectional: bool, device: &Device) -> RecurrentSeq2Seq {
    seq2seq_sized(layers, bidirectional, 5, device)
}

fn seq2seq_sized(layers: usize, bidirectional: bool, hidden: usize, device: &Device) -> RecurrentSeq2Seq {
    RecurrentSeq2SeqConfig::new(13, 11)
        .with_cell(CellKind::Lstm)
        .with_d_embed(6)
        .with_d_hidden(hidden)
        .with_encoder_layers(layers)
        .with_decoder_layers(layers)
        .with_bidirectional(bidirectional)
        .with_attention(Some(Score::Additive))
        .with_dropout(0.0)
        .init(device)
        .unwrap()
}

fn ids(rows: &[&[i64]], device: &Device) -> Tensor<2, Int> {
    let len = rows[0].len();
    Tensor::from_data(TensorData::new(rows.concat(), [rows.len(), len]), device)
}

#[test]
fn attention_decoder_matches_the_step_loop() {
    // (On wgpu `decode` takes the plain loop too: nothing to compare there.)
    for base in all_devices().into_iter().filter(fused::host_kernels) {
        let ad = base.clone().autodiff();
        for (layers, bidirectional) in [(1, false), (2, true)] {
            ad.seed(23);
            let model = seq2seq(layers, bidirectional, &ad);
            let src = ids(&[&[4, 5, 6, 7], &[8, 9, 0, 0], &[10, 3, 2, 0]], &ad);
            let src_pad = attend_model::attention::padding_mask(&[4, 2, 3], 4, &ad);
            let tgt = ids(&[&[1, 5, 6], &[1, 7, 0], &[1, 2, 3]], &ad);
            let probe = random([3, 3, 11], &ad);
            let go = |fused_path: bool| {
                let memory = model.encode(src.clone(), Some(src_pad.clone())).unwrap();
                let (logits, w) = if fused_path { model.decode(tgt.clone(), &memory) } else { model.decode_plain(tgt.clone(), &memory) }.unwrap();
                let g = (logits.clone() * probe.clone()).sum().backward();
                (logits, w, GradientsParams::from_grads(g, &model))
            };
            let (a, r) = (go(true), go(false));
            let what = format!("{base:?} layers {layers} bidirectional {bidirectional}");
            close(&format!("{what}: logits"), a.0, r.0);
            close(&format!("{what}: attention"), a.1[0].clone(), r.1[0].clone());
            let n = same_param_grads(&what, &model, &a.2, &r.2);
            assert!(n >= 20, "{what}: only {n} gradients compared");
        }
    }
}

/// A decoder large enough that its attention runs in parallel over rows at
/// two threads (batch · source · attention width ≥ 2¹⁵).
#[test]
fn attention_decoder_matches_the_step_loop_in_parallel() {
    for base in all_devices().into_iter().filter(fused::host_kernels) {
        let ad = base.clone().autodiff();
        ad.seed(37);
        let model = seq2seq_sized(1, false, 128, &ad);
        let (b, s, t) = (8, 32, 5);
        let src_ids: Vec<i64> = (0..b * s).map(|i| 3 + (i as i64 * 7) % 10).collect();
        let src = Tensor::<2, Int>::from_data(TensorData::new(src_ids, [b, s]), &ad);
        let lens: Vec<usize> = (0..b).map(|r| s - 3 * r).collect();
        let pad = attend_model::attention::padding_mask(&lens, s, &ad);
        let tgt_ids: Vec<i64> = (0..b * t).map(|i| 1 + (i as i64 * 5) % 10).collect();
        let tgt = Tensor::<2, Int>::from_data(TensorData::new(tgt_ids, [b, t]), &ad);
        let probe = random([b, t, 11], &ad);
        let go = |fused_path: bool| {
            let memory = model.encode(src.clone(), Some(pad.clone())).unwrap();
            let (logits, w) = if fused_path { model.decode(tgt.clone(), &memory) } else { model.decode_plain(tgt.clone(), &memory) }.unwrap();
            let g = (logits.clone() * probe.clone()).sum().backward();
            (logits, w, GradientsParams::from_grads(g, &model))
        };
        let (a, r) = (go(true), go(false));
        let what = format!("{base:?} parallel rows");
        close(&format!("{what}: logits"), a.0, r.0);
        close(&format!("{what}: attention"), a.1[0].clone(), r.1[0].clone());
        assert!(same_param_grads(&what, &model, &a.2, &r.2) >= 15);
    }
}

/// The fused decoder with given dropout multipliers between two layers,
/// against the same loop written with the model's own cells and attention:
/// 3 rows, and 24 rows in a pool of 3 threads (the recurrence then runs as
/// three blocks of rows in parallel, each with its rows of the masks).
#[test]
fn attention_decoder_with_dropout_masks_matches_the_loop() {
    for base in all_devices() {
        for (b, threads) in [(3, None), (24, Some(3))] {
            if threads.is_some() && !fused::host_kernels(&base) {
                continue;
            }
            let ad = base.clone().autodiff();
            ad.seed(29);
            let model = seq2seq(2, false, &ad);
            let t = 4;
            let src_ids: Vec<i64> = (0..b * 4).map(|i| 2 + (i as i64 * 7) % 11).collect();
            let src = Tensor::<2, Int>::from_data(TensorData::new(src_ids, [b, 4]), &ad);
            let lens: Vec<usize> = (0..b).map(|r| 4 - r % 3).collect();
            let pad = attend_model::attention::padding_mask(&lens, 4, &ad);
            let emb0 = random([b, t, 6], &base);
            let drop = Tensor::<4>::random([1, t, b, 5], Distribution::Bernoulli(0.6), &ad) * 2.0;
            let probe = random([b, t, 5], &ad);
            let go = |fused_path: bool| {
                let memory = model.encode(src.clone(), Some(pad.clone())).unwrap();
                let emb = leaf(&emb0, &ad);
                let (hs, ctx) = if fused_path { fused_decoder(&model, emb.clone(), &memory, drop.clone()) } else { plain_decoder(&model, emb.clone(), &memory, drop.clone()) };
                let g = ((hs.clone() * probe.clone()).sum() + ctx.clone().sum()).backward();
                (hs, ctx, emb.grad(&g).unwrap(), GradientsParams::from_grads(g, &model))
            };
            let a = match threads {
                Some(n) => rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap().install(|| go(true)),
                None => go(true),
            };
            let r = go(false);
            let what = format!("{base:?} with dropout masks, {b} rows, threads {threads:?}");
            close(&format!("{what}: states"), a.0, r.0);
            close(&format!("{what}: contexts"), a.1, r.1);
            close_scaled(&format!("{what}: d embedding"), a.2, r.2);
            assert!(same_param_grads(&what, &model, &a.3, &r.3) >= 20);
        }
    }
}

/// The LSTM layer over 24 rows in a pool of 3 threads (three blocks of rows
/// in parallel) against the step loop: outputs, final state, every gradient.
#[test]
fn lstm_layer_split_over_rows_matches_the_step_loop() {
    for base in all_devices().into_iter().filter(fused::host_kernels) {
        let ad = base.clone().autodiff();
        ad.seed(31);
        let (b, s, d_in, h) = (24, 6, 5, 4);
        let cell = Cell::new(CellKind::Lstm, d_in, h, &ad);
        let (x0, h0, c0) = (random([b, s, d_in], &base), random([b, h], &base), random([b, h], &base));
        let (p1, p2, p3) = (random([b, s, h], &ad), random([b, h], &ad), random([b, h], &ad));
        let lens: Vec<usize> = (0..b).map(|r| s - r % 4).collect();
        let pad = attend_model::attention::padding_mask(&lens, s, &ad);
        for reverse in [false, true] {
            let go = |fused_path: bool| {
                let (x, hi, ci) = (leaf(&x0, &ad), leaf(&h0, &ad), leaf(&c0, &ad));
                let init = RecurrentState { h: hi.clone(), c: Some(ci.clone()) };
                let (out, fin) = if fused_path { cell.run(x.clone(), Some(&pad), reverse, init) } else { cell.run_plain(x.clone(), Some(&pad), reverse, init) };
                let c = fin.c.clone().unwrap();
                let loss = (out.clone() * p1.clone()).sum() + (fin.h.clone() * p2.clone()).sum() + (c.clone() * p3.clone()).sum();
                let g = loss.backward();
                let dx = (x.grad(&g).unwrap(), hi.grad(&g).unwrap(), ci.grad(&g).unwrap());
                (out, fin.h, c, dx, GradientsParams::from_grads(g, &cell))
            };
            let a = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap().install(|| go(true));
            let r = go(false);
            same_layer_run(&format!("{base:?} split rows, reverse {reverse}"), &cell, a, r);
        }
    }
}

fn lstm(cell: &Cell) -> &attend_model::lstm::LstmCell {
    let Cell::Lstm(c) = cell else { unreachable!("an LSTM") };
    c
}

fn fused_decoder(m: &RecurrentSeq2Seq, emb: Tensor<3>, mem: &RecurrentMemory, drop: Tensor<4>) -> (Tensor<3>, Tensor<3>) {
    let att = m.attention.as_ref().unwrap();
    let (d_embed, d_key) = (emb.dims()[2], mem.keys.dims()[2]);
    let (w0, b0, u0) = lstm(&m.decoder[0]).stacked();
    let g4 = u0.dims()[1];
    let (w1, b1, u1) = lstm(&m.decoder[1]).stacked();
    let deep = Tensor::cat(vec![w1, u1, b1.reshape([1, g4])], 0).unsqueeze::<3>();
    let x = fused::AttentionLstmInputs {
        ep: burn::tensor::module::linear(emb, w0.clone().slice([0..d_embed, 0..g4]), Some(b0)),
        wc: w0.slice([d_embed..d_embed + d_key, 0..g4]),
        u0,
        deep: Some(deep),
        drop: Some(drop),
        keys: mem.keys.clone(),
        prep: mem.prepared.clone().unwrap(),
        ws: att.w.as_ref().unwrap().weight.val(),
        v: att.v.as_ref().unwrap().weight.val().reshape([-1]),
        keep: mem.pad.clone().map(|p| p.bool_not().float()),
        h0: mem.init.h.clone(),
        c0: mem.init.c.clone().unwrap(),
    };
    let (hs, ctx, _) = fused::attention_lstm(x);
    (hs, ctx)
}

fn plain_decoder(m: &RecurrentSeq2Seq, emb: Tensor<3>, mem: &RecurrentMemory, drop: Tensor<4>) -> (Tensor<3>, Tensor<3>) {
    let [b, t, d_embed] = emb.dims();
    let att = m.attention.as_ref().unwrap();
    let mut states = vec![mem.init.clone(); 2];
    let (mut hs, mut ctxs) = (Vec::new(), Vec::new());
    for step in 0..t {
        let (ctx, _) = att.forward(states[1].h.clone(), mem.keys.clone(), mem.prepared.clone().unwrap(), mem.pad.as_ref());
        let mut input = Tensor::cat(vec![emb.clone().slice([0..b, step..step + 1, 0..d_embed]).reshape([b, d_embed]), ctx.clone()], 1);
        for (l, cell) in m.decoder.iter().enumerate() {
            let d_in = input.dims()[1];
            let xs: Vec<Tensor<2>> = cell.project(input.reshape([b, 1, d_in])).into_iter().map(|p| p.reshape([b, 5])).collect();
            states[l] = cell.step(&xs, states[l].clone());
            input = states[l].h.clone() * drop.clone().slice([0..1, step..step + 1, 0..b, 0..5]).reshape([b, 5]);
        }
        hs.push(states[1].h.clone());
        ctxs.push(ctx);
    }
    (Tensor::stack(hs, 1), Tensor::stack(ctxs, 1))
}
