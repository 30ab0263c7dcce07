//! Multi-head attention on the host kernel ([`super::cpu::attention`]) as
//! one autodiff node: q, k and v are read where they lie (the heads split
//! off the projections by a view), the context comes out merged
//! `[b, s_q, h·d]` for the output projection, and the gradients of q, k and
//! v come out in the projections' own layout (as `[b, h, s, d]` views), so
//! neither the split nor the merge of the heads copies anything on flex.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::Autodiff;
use burn::backend::tensor::{BoolTensor, FloatTensor};
use burn::backend::{AutodiffBackend, Backend, Dispatch, TensorMetadata};
use burn::nn::Dropout;
use burn::prelude::*;

use super::cpu::attention::{self as kernel, Dims, Heads, Options};
use super::cpu::{read_bools, read_view, write, write_view, HostView};
use super::FusedOps;

/// The non-tensor arguments of one call, kept for the backward pass.
#[derive(Debug, Clone)]
pub(super) struct Settings {
    pad: Option<Arc<Vec<bool>>>,
    attn: Option<Arc<Vec<bool>>>,
    dropout: Option<(u64, f32)>,
    scale: f32,
}

impl Settings {
    pub(super) fn new<B: Backend>(pad: Option<BoolTensor<B>>, attn: Option<BoolTensor<B>>, dropout: Option<(u64, f32)>, scale: f32) -> Self {
        Self { pad: pad.map(|p| Arc::new(read_bools::<B>(p))), attn: attn.map(|a| Arc::new(read_bools::<B>(a))), dropout, scale }
    }
    fn options(&self) -> Options<'_> {
        Options { pad: self.pad.as_deref().map(Vec::as_slice), attn: self.attn.as_deref().map(Vec::as_slice), dropout: self.dropout, scale: self.scale }
    }
}

fn heads(v: &HostView) -> Heads<'_> {
    let s = &v.strides;
    Heads { data: v.data(), offset: v.offset, strides: [s[0], s[1], s[2], s[3]] }
}

fn dims<B: Backend>(q: &FloatTensor<B>, k: &FloatTensor<B>) -> Dims {
    let ([b, h, sq, d], sk) = (q.shape().dims::<4>(), k.shape().dims::<4>()[2]);
    Dims { b, h, sq, sk, d }
}

/// The forward pass on backend tensors: the merged context `[b, s_q, h·d]`
/// and the weights before dropout `[b, h, s_q, s_k]`.
pub(super) fn forward<B: Backend>(q: FloatTensor<B>, k: FloatTensor<B>, v: FloatTensor<B>, s: &Settings) -> (FloatTensor<B>, FloatTensor<B>) {
    let (d, device) = (dims::<B>(&q, &k), q.device());
    let (q, k, v) = (read_view::<B>(q), read_view::<B>(k), read_view::<B>(v));
    let (ctx, w) = kernel::forward(d, &heads(&q), &heads(&k), &heads(&v), &s.options());
    (write::<B>(ctx, &[d.b, d.sq, d.h * d.d], &device), write::<B>(w, &[d.b, d.h, d.sq, d.sk], &device))
}

#[derive(Debug)]
struct HeadsBackward;

impl<B: Backend> Backward<B, 3> for HeadsBackward {
    type State = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, Settings);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (q, k, v, w, s) = ops.state;
        let (d, device) = (dims::<B>(&q, &k), grad.device());
        let (qv, kv, vv) = (read_view::<B>(q), read_view::<B>(k), read_view::<B>(v));
        let (w, g) = (super::cpu::read::<B>(w), super::cpu::read::<B>(grad));
        let (dq, dk, dv) = kernel::backward(d, &heads(&qv), &heads(&kv), &heads(&vv), &s.options(), w.as_slice(), g.as_slice());
        // Each comes out as [b, s, h, d]: registered as a [b, h, s, d] view of it.
        let view = |x: Vec<f32>, s: usize| {
            let hd = d.h * d.d;
            write_view::<B>(x, &[d.b, d.h, s, d.d], &[s * hd, d.d, hd, 1], &device)
        };
        for ((parent, g), s) in ops.parents.into_iter().zip([dq, dk, dv]).zip([d.sq, d.sk, d.sk]) {
            if let Some(node) = parent {
                grads.register::<B>(node.id, view(g, s));
            }
        }
    }
}

/// The node under autodiff (see [`FusedOps::fused_attention_heads`]).
pub(super) fn node<B: Backend + FusedOps, C: CheckpointStrategy>(
    q: FloatTensor<Autodiff<B, C>>,
    k: FloatTensor<Autodiff<B, C>>,
    v: FloatTensor<Autodiff<B, C>>,
    s: Settings,
) -> (FloatTensor<Autodiff<B, C>>, FloatTensor<Autodiff<B, C>>) {
    let from_inner = <Autodiff<B, C> as AutodiffBackend>::from_inner;
    match HeadsBackward.prepare::<C>([q.node(), k.node(), v.node()]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let (qi, ki, vi) = (q.into_primitive(), k.into_primitive(), v.into_primitive());
            let (ctx, w) = forward::<B>(qi.clone(), ki.clone(), vi.clone(), &s);
            // The weights are returned for display: they carry no gradient.
            (prep.finish((qi, ki, vi, w.clone(), s), ctx), from_inner(w))
        }
        OpsKind::UnTracked(prep) => {
            let (ctx, w) = forward::<B>(q.into_primitive(), k.into_primitive(), v.into_primitive(), &s);
            (prep.finish(ctx), from_inner(w))
        }
    }
}

/// Multi-head attention of `q` `[b, h, s_q, d]` over `k`/`v` `[b, h, s_k, d]`
/// on the host kernel, masks `key_pad` `[b, s_k]` and `attn` `[s_q, s_k]`
/// (`true` = not allowed), the weights' dropout drawn as
/// [`super::dropout`] draws it: the merged context `[b, s_q, h·d]` and the
/// weights before dropout `[b, h, s_q, s_k]`. Only where
/// [`super::host_kernels`] holds; the models check.
pub fn attention_heads(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    key_pad: Option<Tensor<2, Bool>>,
    attn: Option<Tensor<2, Bool>>,
    dropout: &Dropout,
) -> (Tensor<3>, Tensor<4>) {
    let device = q.device();
    let d = q.dims()[3];
    let drop = (dropout.training.is_enabled() && device.is_autodiff() && dropout.prob > 0.0)
        .then(|| (super::pointwise::draw_seed(&device), (1.0 - dropout.prob) as f32));
    let placeholder = || Tensor::<2, Bool>::empty([1, 1], &device);
    let (has_pad, has_attn) = (key_pad.is_some(), attn.is_some());
    let (ctx, w) = <Dispatch as FusedOps>::fused_attention_heads(
        q.into_dispatch(),
        k.into_dispatch(),
        v.into_dispatch(),
        key_pad.unwrap_or_else(placeholder).into_dispatch(),
        has_pad,
        attn.unwrap_or_else(placeholder).into_dispatch(),
        has_attn,
        drop.map_or(0, |(seed, _)| seed),
        drop.map_or(1.0, |(_, keep)| keep),
        drop.is_some(),
        1.0 / (d as f32).sqrt(),
    );
    (Tensor::from_dispatch(ctx), Tensor::from_dispatch(w))
}
