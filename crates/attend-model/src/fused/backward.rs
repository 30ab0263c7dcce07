//! The fused operations under autodiff: each is one graph node whose forward
//! runs on the inner backend and whose backward calls the closed-form
//! gradients of [`FusedOps`] (Burn records no node for the steps inside).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::Autodiff;
use burn::backend::tensor::{BoolTensor, FloatTensor, IntTensor};
use burn::backend::{AutodiffBackend, Backend};

use super::{ops, FusedOps};

/// What the attention backward needs: q, k, v, the weights, the mask, the dropout multiplier, the scale.
type AttentionState<B> = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, Option<BoolTensor<B>>, Option<FloatTensor<B>>, f32);

#[derive(Debug)]
struct AttentionBackward;

impl<B: Backend + FusedOps> Backward<B, 3> for AttentionBackward {
    type State = AttentionState<B>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (q, k, v, weights, mask, keep, scale) = ops.state;
        let (dq, dk, dv) = ops::attention_backward::<B>(q, k, v, weights, mask, keep, scale, grad);
        for (parent, g) in ops.parents.into_iter().zip([dq, dk, dv]) {
            if let Some(node) = parent {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

#[derive(Debug)]
struct LayerNormBackward<const N: usize>;

impl<B: Backend + FusedOps, const N: usize> Backward<B, N> for LayerNormBackward<N> {
    type State = (FloatTensor<B>, FloatTensor<B>, f64);

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (x, gamma, epsilon) = ops.state;
        let (dx, dgamma, dbeta) = B::fused_layer_norm_backward(x, gamma, epsilon, grad);
        // Parents: x, γ and (when N = 3) β.
        for (parent, g) in ops.parents.into_iter().zip([dx, dgamma, dbeta]) {
            if let Some(node) = parent {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

#[derive(Debug)]
struct CrossEntropyBackward;

impl<B: Backend + FusedOps> Backward<B, 1> for CrossEntropyBackward {
    type State = (FloatTensor<B>, IntTensor<B>, FloatTensor<B>, f32);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (probs, targets, weight, smoothing) = ops.state;
        if let [Some(node)] = ops.parents {
            grads.register::<B>(node.id, B::fused_cross_entropy_backward(probs, targets, weight, smoothing, grad));
        }
    }
}

/// The attention node: the forward on the inner backend, the closed-form
/// backward later (see [`FusedOps::fused_attention`] for the arguments).
#[allow(clippy::too_many_arguments)]
fn attention_node<B: Backend + FusedOps, C: CheckpointStrategy>(
    q: FloatTensor<Autodiff<B, C>>,
    k: FloatTensor<Autodiff<B, C>>,
    v: FloatTensor<Autodiff<B, C>>,
    mask: BoolTensor<B>,
    masked: bool,
    keep: FloatTensor<Autodiff<B, C>>,
    dropped: bool,
    scale: f32,
) -> (FloatTensor<Autodiff<B, C>>, FloatTensor<Autodiff<B, C>>) {
    // The dropout multiplier is a constant of the step, not a parameter.
    let keep = keep.into_primitive();
    let from_inner = <Autodiff<B, C> as AutodiffBackend>::from_inner;
    match AttentionBackward.prepare::<C>([q.node(), k.node(), v.node()]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let (qi, ki, vi) = (q.primitive().clone(), k.primitive().clone(), v.primitive().clone());
            let (context, weights) = B::fused_attention(qi.clone(), ki.clone(), vi.clone(), mask.clone(), masked, keep.clone(), dropped, scale);
            let state = (qi, ki, vi, weights.clone(), masked.then_some(mask), dropped.then_some(keep), scale);
            // The weights are returned for display: they carry no gradient.
            (prep.finish(state, context), from_inner(weights))
        }
        OpsKind::UnTracked(prep) => {
            let (context, weights) = B::fused_attention(q.into_primitive(), k.into_primitive(), v.into_primitive(), mask, masked, keep, dropped, scale);
            (prep.finish(context), from_inner(weights))
        }
    }
}

impl<B: Backend + FusedOps, C: CheckpointStrategy> FusedOps for Autodiff<B, C> {
    fn fused_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        mask: BoolTensor<Self>,
        masked: bool,
        keep: FloatTensor<Self>,
        dropped: bool,
        scale: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        attention_node::<B, C>(q, k, v, mask, masked, keep, dropped, scale)
    }

    fn fused_layer_norm(x: FloatTensor<Self>, gamma: FloatTensor<Self>, beta: FloatTensor<Self>, epsilon: f64) -> FloatTensor<Self> {
        let (xi, gi) = (x.primitive().clone(), gamma.primitive().clone());
        match LayerNormBackward::<3>.prepare::<C>([x.node(), gamma.node(), beta.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::fused_layer_norm(xi.clone(), gi.clone(), beta.primitive().clone(), epsilon);
                prep.finish((xi, gi, epsilon), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fused_layer_norm(xi, gi, beta.into_primitive(), epsilon)),
        }
    }

    fn fused_layer_norm_no_bias(x: FloatTensor<Self>, gamma: FloatTensor<Self>, epsilon: f64) -> FloatTensor<Self> {
        let (xi, gi) = (x.primitive().clone(), gamma.primitive().clone());
        match LayerNormBackward::<2>.prepare::<C>([x.node(), gamma.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::fused_layer_norm_no_bias(xi.clone(), gi.clone(), epsilon);
                prep.finish((xi, gi, epsilon), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fused_layer_norm_no_bias(xi, gi, epsilon)),
        }
    }

    fn fused_attention_heads(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        pad: BoolTensor<Self>,
        has_pad: bool,
        attn: BoolTensor<Self>,
        has_attn: bool,
        seed: usize,
        keep: f32,
        dropped: bool,
        scale: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let s = super::heads::Settings::new::<B>(has_pad.then_some(pad), has_attn.then_some(attn), dropped.then_some((seed as u64, keep)), scale);
        super::heads::node::<B, C>(q, k, v, s)
    }

    fn fused_linear(x: FloatTensor<Self>, w: FloatTensor<Self>, b: FloatTensor<Self>, has_bias: bool, transposed: bool) -> FloatTensor<Self> {
        super::pointwise::linear_node::<B, C>(x, w, has_bias.then_some(b), transposed)
    }

    fn fused_dropout(x: FloatTensor<Self>, keep: f32, seed: usize) -> FloatTensor<Self> {
        super::pointwise::dropout_node::<B, C>(x, keep, seed)
    }

    fn fused_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        super::pointwise::gelu_node::<B, C>(x)
    }

    fn fused_lstm(
        xp: FloatTensor<Self>,
        u: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        keep: FloatTensor<Self>,
        has_keep: bool,
        reverse: bool,
    ) -> FloatTensor<Self> {
        super::recurrent::lstm_node::<B, C>(xp, u, h0, c0, has_keep.then_some(keep), reverse)
    }

    fn fused_attention_lstm(
        ep: FloatTensor<Self>,
        wc: FloatTensor<Self>,
        u0: FloatTensor<Self>,
        deep: FloatTensor<Self>,
        drop: FloatTensor<Self>,
        has_drop: bool,
        keys: FloatTensor<Self>,
        prep: FloatTensor<Self>,
        ws: FloatTensor<Self>,
        v: FloatTensor<Self>,
        keep: FloatTensor<Self>,
        has_keep: bool,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        layers: usize,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let drop = has_drop.then_some(drop);
        let keep = has_keep.then_some(keep);
        super::recurrent::attention_lstm_node::<B, C>(super::recurrent::DecoderInputs { ep, wc, u0, deep, drop, keys, prep, ws, v, keep, h0, c0, layers })
    }

    fn fused_cross_entropy(
        logits: FloatTensor<Self>,
        targets: IntTensor<Self>,
        weight: FloatTensor<Self>,
        smoothing: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let weight = weight.into_primitive();
        match CrossEntropyBackward.prepare::<C>([logits.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (loss, probs) = B::fused_cross_entropy(logits.primitive().clone(), targets.clone(), weight.clone(), smoothing);
                (prep.finish((probs.clone(), targets, weight, smoothing), loss), <Self as AutodiffBackend>::from_inner(probs))
            }
            OpsKind::UnTracked(prep) => {
                let (loss, probs) = B::fused_cross_entropy(logits.into_primitive(), targets, weight, smoothing);
                (prep.finish(loss), <Self as AutodiffBackend>::from_inner(probs))
            }
        }
    }
}
