//! The fused recurrences as backend operations and autodiff nodes: a whole
//! LSTM layer over a sequence (one direction), and the teacher-forced
//! LSTM decoder with additive attention (Bahdanau et al., 2014), each one
//! node whose backward is the back-propagation through time of
//! [`super::cpu`]. Burn's autodiff gives a node one output, so each packs its
//! differentiable outputs into one flat tensor that the Tensor-level
//! functions of [`super`] slice apart (their gradients are assembled by the
//! slices' own backward).

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::Autodiff;
use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, Backend, Dispatch, TensorMetadata};
use burn::prelude::*;

use super::cpu::{attention_lstm as alstm, lstm, read, write, HostTensor};
use super::FusedOps;

fn dims<B: Backend>(t: &FloatTensor<B>) -> Vec<usize> {
    t.shape().to_vec()
}

/// [`lstm::forward`] on backend tensors: the packed outputs
/// `[b·s·h (outputs) + b·h (last h) + b·h (last c)]` and the saved state.
pub(super) fn lstm_forward<B: Backend>(
    xp: FloatTensor<B>,
    u: FloatTensor<B>,
    h0: FloatTensor<B>,
    c0: FloatTensor<B>,
    keep: Option<FloatTensor<B>>,
    reverse: bool,
) -> (FloatTensor<B>, lstm::Dims, lstm::Saved) {
    let device = xp.device();
    let [b, s, g] = dims::<B>(&xp)[..] else { panic!("fused_lstm: xp must be [batch, seq, 4·hidden]") };
    let d = lstm::Dims { b, s, h: g / 4 };
    let (xp, u, h0, c0) = (read::<B>(xp), read::<B>(u), read::<B>(h0), read::<B>(c0));
    let keep = keep.map(read::<B>);
    let (mut out, sv) = lstm::forward(d, xp.as_slice(), u.as_slice(), h0.as_slice(), c0.as_slice(), keep.as_ref().map(HostTensor::as_slice), reverse);
    let (h_last, c_last) = sv.last_state(d);
    out.extend_from_slice(&h_last);
    out.extend_from_slice(&c_last);
    let n = out.len();
    (write::<B>(out, &[n], &device), d, sv)
}

#[derive(Debug, Clone)]
struct LstmState<B: Backend> {
    u: FloatTensor<B>,
    keep: Option<FloatTensor<B>>,
    reverse: bool,
    dims: lstm::Dims,
    saved: Arc<lstm::Saved>,
}

#[derive(Debug)]
struct LstmBackward;

impl<B: Backend> Backward<B, 4> for LstmBackward {
    type State = LstmState<B>;

    fn backward(self, ops: Ops<Self::State, 4>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let st = ops.state;
        let device = grad.device();
        let lstm::Dims { b, s, h } = st.dims;
        let (grad, u) = (read::<B>(grad), read::<B>(st.u));
        let keep = st.keep.map(read::<B>);
        let g = grad.as_slice();
        let (d_out, rest) = g.split_at(b * s * h);
        let (d_h, d_c) = rest.split_at(b * h);
        let (dxp, du, dh0, dc0) = lstm::backward(st.dims, &st.saved, u.as_slice(), keep.as_ref().map(HostTensor::as_slice), st.reverse, d_out, d_h, d_c);
        let shapes: [&[usize]; 4] = [&[b, s, 4 * h], &[h, 4 * h], &[b, h], &[b, h]];
        for ((parent, g), shape) in ops.parents.into_iter().zip([dxp, du, dh0, dc0]).zip(shapes) {
            if let Some(node) = parent {
                grads.register::<B>(node.id, write::<B>(g, shape, &device));
            }
        }
    }
}

/// The LSTM node under autodiff (see [`FusedOps::fused_lstm`]).
pub(super) fn lstm_node<B: Backend + FusedOps, C: CheckpointStrategy>(
    xp: FloatTensor<Autodiff<B, C>>,
    u: FloatTensor<Autodiff<B, C>>,
    h0: FloatTensor<Autodiff<B, C>>,
    c0: FloatTensor<Autodiff<B, C>>,
    keep: Option<FloatTensor<Autodiff<B, C>>>,
    reverse: bool,
) -> FloatTensor<Autodiff<B, C>> {
    let keep = keep.map(|k| k.into_primitive());
    match LstmBackward.prepare::<C>([xp.node(), u.node(), h0.node(), c0.node()]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let ui = u.primitive().clone();
            let (out, dims, saved) = lstm_forward::<B>(xp.into_primitive(), ui.clone(), h0.into_primitive(), c0.into_primitive(), keep.clone(), reverse);
            prep.finish(LstmState { u: ui, keep, reverse, dims, saved: Arc::new(saved) }, out)
        }
        OpsKind::UnTracked(prep) => {
            let (out, _, _) = lstm_forward::<B>(xp.into_primitive(), u.into_primitive(), h0.into_primitive(), c0.into_primitive(), keep, reverse);
            prep.finish(out)
        }
    }
}

/// The inputs of the attention decoder as backend tensors, in the order of
/// [`alstm::Inputs`] (the optional ones `None` when absent).
#[derive(Debug, Clone)]
pub(super) struct DecoderInputs<B: Backend> {
    pub ep: FloatTensor<B>,
    pub wc: FloatTensor<B>,
    pub u0: FloatTensor<B>,
    pub deep: FloatTensor<B>,
    pub drop: Option<FloatTensor<B>>,
    pub keys: FloatTensor<B>,
    pub prep: FloatTensor<B>,
    pub ws: FloatTensor<B>,
    pub v: FloatTensor<B>,
    pub keep: Option<FloatTensor<B>>,
    pub h0: FloatTensor<B>,
    pub c0: FloatTensor<B>,
    pub layers: usize,
}

struct HostInputs {
    t: Vec<HostTensor>,
    drop: Option<HostTensor>,
    keep: Option<HostTensor>,
}

impl HostInputs {
    fn new<B: Backend>(x: DecoderInputs<B>) -> Self {
        let t = [x.ep, x.wc, x.u0, x.deep, x.keys, x.prep, x.ws, x.v, x.h0, x.c0].into_iter().map(read::<B>).collect();
        Self { t, drop: x.drop.map(read::<B>), keep: x.keep.map(read::<B>) }
    }
    fn inputs(&self) -> alstm::Inputs<'_> {
        let s = |i: usize| self.t[i].as_slice();
        alstm::Inputs {
            ep: s(0),
            wc: s(1),
            u0: s(2),
            deep: s(3),
            drop: self.drop.as_ref().map(HostTensor::as_slice),
            keys: s(4),
            prep: s(5),
            ws: s(6),
            v: s(7),
            keep: self.keep.as_ref().map(HostTensor::as_slice),
            h0: s(8),
            c0: s(9),
        }
    }
}

fn decoder_dims<B: Backend>(x: &DecoderInputs<B>) -> alstm::Dims {
    let [b, t, g] = dims::<B>(&x.ep)[..] else { panic!("fused_attention_lstm: ep must be [batch, steps, 4·hidden]") };
    let [_, s, k] = dims::<B>(&x.keys)[..] else { panic!("fused_attention_lstm: keys must be [batch, source, width]") };
    let a = dims::<B>(&x.prep)[2];
    alstm::Dims { b, t, s, h: g / 4, k, a, layers: x.layers.max(1) }
}

/// [`alstm::forward`] on backend tensors: the packed differentiable outputs
/// `[b·t·h (top states) + b·t·k (contexts)]`, the alignment weights
/// `[b, t, s]`, and the saved state.
pub(super) fn attention_lstm_forward<B: Backend>(x: DecoderInputs<B>) -> (FloatTensor<B>, FloatTensor<B>, alstm::Dims, alstm::Saved) {
    let device = x.ep.device();
    let d = decoder_dims(&x);
    let host = HostInputs::new(x);
    let (out, sv) = alstm::forward(d, &host.inputs());
    let mut packed = out.hs;
    packed.extend_from_slice(&out.ctxs);
    let n = packed.len();
    (write::<B>(packed, &[n], &device), write::<B>(out.alphas, &[d.b, d.t, d.s], &device), d, sv)
}

#[derive(Debug, Clone)]
struct DecoderState<B: Backend> {
    inputs: DecoderInputs<B>,
    dims: alstm::Dims,
    saved: Arc<alstm::Saved>,
}

#[derive(Debug)]
struct DecoderBackward;

impl<B: Backend> Backward<B, 10> for DecoderBackward {
    type State = DecoderState<B>;

    fn backward(self, ops: Ops<Self::State, 10>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let st = ops.state;
        let device = grad.device();
        let alstm::Dims { b, t, s, h, k, a, layers } = st.dims;
        let grad = read::<B>(grad);
        let (d_hs, d_ctxs) = grad.as_slice().split_at(b * t * h);
        let host = HostInputs::new(st.inputs);
        let g = alstm::backward(st.dims, &host.inputs(), &st.saved, d_hs, d_ctxs);
        let g4 = 4 * h;
        let shapes: [Vec<usize>; 10] = [
            vec![b, t, g4],
            vec![k, g4],
            vec![h, g4],
            vec![layers - 1, 2 * h + 1, g4],
            vec![b, s, k],
            vec![b, s, a],
            vec![h, a],
            vec![a],
            vec![b, h],
            vec![b, h],
        ];
        let all = [g.ep, g.wc, g.u0, g.deep, g.keys, g.prep, g.ws, g.v, g.h0, g.c0];
        for ((parent, g), shape) in ops.parents.into_iter().zip(all).zip(shapes) {
            if let Some(node) = parent {
                grads.register::<B>(node.id, write::<B>(g, &shape, &device));
            }
        }
    }
}

/// The attention decoder node under autodiff (see [`FusedOps::fused_attention_lstm`]).
pub(super) fn attention_lstm_node<B: Backend + FusedOps, C: CheckpointStrategy>(
    x: DecoderInputs<Autodiff<B, C>>,
) -> (FloatTensor<Autodiff<B, C>>, FloatTensor<Autodiff<B, C>>) {
    let nodes = [x.ep.node(), x.wc.node(), x.u0.node(), x.deep.node(), x.keys.node(), x.prep.node(), x.ws.node(), x.v.node(), x.h0.node(), x.c0.node()];
    let inner = DecoderInputs::<B> {
        ep: x.ep.into_primitive(),
        wc: x.wc.into_primitive(),
        u0: x.u0.into_primitive(),
        deep: x.deep.into_primitive(),
        drop: x.drop.map(|t| t.into_primitive()),
        keys: x.keys.into_primitive(),
        prep: x.prep.into_primitive(),
        ws: x.ws.into_primitive(),
        v: x.v.into_primitive(),
        keep: x.keep.map(|t| t.into_primitive()),
        h0: x.h0.into_primitive(),
        c0: x.c0.into_primitive(),
        layers: x.layers,
    };
    let from_inner = <Autodiff<B, C> as AutodiffBackend>::from_inner;
    match DecoderBackward.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let (packed, alphas, dims, saved) = attention_lstm_forward::<B>(inner.clone());
            // The alignment weights are returned for display: they carry no gradient.
            (prep.finish(DecoderState { inputs: inner, dims, saved: Arc::new(saved) }, packed), from_inner(alphas))
        }
        OpsKind::UnTracked(prep) => {
            let (packed, alphas, _, _) = attention_lstm_forward::<B>(inner);
            (prep.finish(packed), from_inner(alphas))
        }
    }
}

/// Whether the host kernels serve `device`: the fused operations are on and
/// it is a CPU backend (on a GPU they would run on the host, after a copy).
pub fn host_kernels(device: &Device) -> bool {
    if !super::available(device) {
        return false;
    }
    match device.clone().inner().as_dispatch() {
        #[cfg(feature = "flex")]
        burn::backend::DispatchDevice::Flex(_) => true,
        #[cfg(feature = "ndarray")]
        burn::backend::DispatchDevice::NdArray(_) => true,
        _ => false,
    }
}

fn placeholder(device: &Device) -> FloatTensor<Dispatch> {
    Tensor::<1>::zeros([1], device).into_dispatch()
}

/// [`FusedOps::fused_lstm`] on tensors: the outputs `[b, s, h]` and the last
/// h and c `[b, h]` (at each row's last real step).
pub fn lstm(xp: Tensor<3>, u: Tensor<2>, h0: Tensor<2>, c0: Tensor<2>, keep: Option<Tensor<2>>, reverse: bool) -> (Tensor<3>, Tensor<2>, Tensor<2>) {
    let [b, s, g] = xp.dims();
    let (h, device) = (g / 4, xp.device());
    let has_keep = keep.is_some();
    let keep = keep.map_or_else(|| placeholder(&device), Tensor::into_dispatch);
    let packed = <Dispatch as FusedOps>::fused_lstm(xp.into_dispatch(), u.into_dispatch(), h0.into_dispatch(), c0.into_dispatch(), keep, has_keep, reverse);
    let packed = Tensor::<1>::from_dispatch(packed);
    let n = b * s * h;
    let out = packed.clone().slice([0..n]).reshape([b, s, h]); // [b, s, h]
    let last_h = packed.clone().slice([n..n + b * h]).reshape([b, h]);
    let last_c = packed.slice([n + b * h..n + 2 * b * h]).reshape([b, h]);
    (out, last_h, last_c)
}

/// The parameters and inputs of [`attention_lstm`] (shapes as in
/// [`FusedOps::fused_attention_lstm`]).
#[derive(Debug, Clone)]
pub struct AttentionLstmInputs {
    pub ep: Tensor<3>,
    pub wc: Tensor<2>,
    pub u0: Tensor<2>,
    /// `None` with one layer.
    pub deep: Option<Tensor<3>>,
    pub drop: Option<Tensor<4>>,
    pub keys: Tensor<3>,
    pub prep: Tensor<3>,
    pub ws: Tensor<2>,
    pub v: Tensor<1>,
    pub keep: Option<Tensor<2>>,
    pub h0: Tensor<2>,
    pub c0: Tensor<2>,
}

/// [`FusedOps::fused_attention_lstm`] on tensors: the top layer's states
/// `[b, t, h]`, the contexts `[b, t, k]` and the alignment weights `[b, t, s]`.
pub fn attention_lstm(x: AttentionLstmInputs) -> (Tensor<3>, Tensor<3>, Tensor<3>) {
    let [b, t, g] = x.ep.dims();
    let (h, k, device) = (g / 4, x.keys.dims()[2], x.ep.device());
    let layers = x.deep.as_ref().map_or(1, |d| d.dims()[0] + 1);
    let (has_drop, has_keep) = (x.drop.is_some(), x.keep.is_some());
    let (packed, alphas) = <Dispatch as FusedOps>::fused_attention_lstm(
        x.ep.into_dispatch(),
        x.wc.into_dispatch(),
        x.u0.into_dispatch(),
        x.deep.map_or_else(|| placeholder(&device), Tensor::into_dispatch),
        x.drop.map_or_else(|| placeholder(&device), Tensor::into_dispatch),
        has_drop,
        x.keys.into_dispatch(),
        x.prep.into_dispatch(),
        x.ws.into_dispatch(),
        x.v.into_dispatch(),
        x.keep.map_or_else(|| placeholder(&device), Tensor::into_dispatch),
        has_keep,
        x.h0.into_dispatch(),
        x.c0.into_dispatch(),
        layers,
    );
    let packed = Tensor::<1>::from_dispatch(packed);
    let n = b * t * h;
    let hs = packed.clone().slice([0..n]).reshape([b, t, h]); // [b, t, h]
    let ctxs = packed.slice([n..n + b * t * k]).reshape([b, t, k]); // [b, t, k]
    (hs, ctxs, Tensor::from_dispatch(alphas))
}
