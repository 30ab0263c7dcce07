//! The linear layer, dropout and the GELU as fused operations on the host
//! kernels ([`super::cpu::dense`], [`super::cpu::elementwise`]): one
//! autodiff node each, and on flex no intermediate tensors (Burn records a
//! linear layer as a matmul and a broadcast add, a dropout as a random
//! tensor and two products, a GELU backward as a composition of five
//! operations). The models use them on CPU backends only
//! ([`super::host_kernels`]); elsewhere they call Burn's own.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::Autodiff;
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Backend, Dispatch, TensorMetadata};
use burn::nn::Dropout;
use burn::prelude::*;

use super::cpu::{dense, elementwise, layer_norm, loss, read, read_ints, write};
use super::{host_kernels, FusedOps};

/// `[rows, d_in]`, d_out of x and a weight `[d_in, d_out]` (or, `transposed`, `[d_out, d_in]`).
fn linear_dims<B: Backend>(x: &FloatTensor<B>, w: &FloatTensor<B>, transposed: bool) -> ([usize; 2], usize) {
    let w = w.shape().dims::<2>();
    (x.shape().dims::<2>(), if transposed { w[0] } else { w[1] })
}

/// y = x W (+ b) on the host: `x` `[rows, d_in]`, `w` `[d_in, d_out]` (or,
/// `transposed`, `[d_out, d_in]`), `b` `[d_out]`.
pub(super) fn linear_forward<B: Backend>(x: FloatTensor<B>, w: FloatTensor<B>, b: Option<FloatTensor<B>>, transposed: bool) -> FloatTensor<B> {
    let device = x.device();
    let ([rows, d_in], d_out) = linear_dims::<B>(&x, &w, transposed);
    let (x, w, b) = (read::<B>(x), read::<B>(w), b.map(read::<B>));
    let w = dense::Weight { data: w.as_slice(), transposed };
    let y = dense::forward(x.as_slice(), w, b.as_ref().map(|b| b.as_slice()), rows, d_in, d_out);
    write::<B>(y, &[rows, d_out], &device)
}

/// x with each element kept (and scaled by 1/keep) or zeroed by the mask of `seed`.
pub(super) fn dropout_forward<B: Backend>(x: FloatTensor<B>, keep: f32, seed: usize) -> FloatTensor<B> {
    let (device, shape) = (x.device(), x.shape().to_vec());
    let y = elementwise::dropout(read::<B>(x).as_slice(), seed as u64, keep);
    write::<B>(y, &shape, &device)
}

/// Layer norm's gradients `(dx, dγ, dβ)` on the host kernel ([`layer_norm`]).
pub(super) fn layer_norm_backward<B: Backend>(x: FloatTensor<B>, gamma: FloatTensor<B>, epsilon: f64, grad: FloatTensor<B>) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let (device, shape) = (x.device(), x.shape().to_vec());
    let d = shape.last().copied().unwrap_or(1);
    let (x, gamma, grad) = (read::<B>(x), read::<B>(gamma), read::<B>(grad));
    let (dx, dgamma, dbeta) = layer_norm::backward(x.as_slice(), gamma.as_slice(), grad.as_slice(), d, epsilon as f32);
    (write::<B>(dx, &shape, &device), write::<B>(dgamma, &[d], &device), write::<B>(dbeta, &[d], &device))
}

/// GELU(x), element-wise.
pub(super) fn gelu_forward<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    let (device, shape) = (x.device(), x.shape().to_vec());
    write::<B>(elementwise::gelu(read::<B>(x).as_slice()), &shape, &device)
}

/// [`FusedOps::fused_cross_entropy`] on the host kernel ([`loss`]): the loss `[1]` and the softmax `[n, V]`.
pub(super) fn cross_entropy_forward<B: Backend>(logits: FloatTensor<B>, targets: IntTensor<B>, weight: FloatTensor<B>, smoothing: f32) -> (FloatTensor<B>, FloatTensor<B>) {
    let device = logits.device();
    let [n, v] = logits.shape().dims::<2>();
    let (logits, targets, weight) = (read::<B>(logits), read_ints::<B>(targets), read::<B>(weight));
    let (total, probs) = loss::forward(logits.as_slice(), &targets, weight.as_slice(), v, smoothing);
    (write::<B>(vec![total], &[1], &device), write::<B>(probs, &[n, v], &device))
}

/// [`FusedOps::fused_cross_entropy_backward`] on the host kernel.
pub(super) fn cross_entropy_backward<B: Backend>(probs: FloatTensor<B>, targets: IntTensor<B>, weight: FloatTensor<B>, smoothing: f32, grad: FloatTensor<B>) -> FloatTensor<B> {
    let device = probs.device();
    let [n, v] = probs.shape().dims::<2>();
    let g = read::<B>(grad).as_slice().first().copied().unwrap_or(0.0);
    let (probs, targets, weight) = (read::<B>(probs), read_ints::<B>(targets), read::<B>(weight));
    write::<B>(loss::backward(probs.as_slice(), &targets, weight.as_slice(), v, smoothing, g), &[n, v], &device)
}

#[derive(Debug)]
struct LinearBackward;

impl<B: Backend, const N: usize> Backward<B, N> for LinearBackward {
    type State = (FloatTensor<B>, FloatTensor<B>, bool);

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (x, w, transposed) = ops.state;
        let device = grad.device();
        let ([rows, d_in], d_out) = linear_dims::<B>(&x, &w, transposed);
        let w_shape = w.shape().to_vec();
        let dy = read::<B>(grad);
        let mut parents = ops.parents.into_iter();
        if let Some(Some(node)) = parents.next() {
            let w = read::<B>(w);
            let dx = dense::backward_x(dy.as_slice(), dense::Weight { data: w.as_slice(), transposed }, rows, d_in, d_out);
            grads.register::<B>(node.id, write::<B>(dx, &[rows, d_in], &device));
        }
        if let Some(Some(node)) = parents.next() {
            let dw = dense::backward_w(read::<B>(x).as_slice(), dy.as_slice(), transposed, rows, d_in, d_out);
            grads.register::<B>(node.id, write::<B>(dw, &w_shape, &device));
        }
        if let Some(Some(node)) = parents.next() {
            grads.register::<B>(node.id, write::<B>(dense::backward_b(dy.as_slice(), d_out), &[d_out], &device));
        }
    }
}

/// The linear node under autodiff (see [`FusedOps::fused_linear`]).
pub(super) fn linear_node<B: Backend + FusedOps, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
    w: FloatTensor<Autodiff<B, C>>,
    b: Option<FloatTensor<Autodiff<B, C>>>,
    transposed: bool,
) -> FloatTensor<Autodiff<B, C>> {
    let (xi, wi) = (x.primitive().clone(), w.primitive().clone());
    let y = linear_forward::<B>(xi.clone(), wi.clone(), b.as_ref().map(|b| b.primitive().clone()), transposed);
    match b {
        Some(b) => match LinearBackward.prepare::<C>([x.node(), w.node(), b.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((xi, wi, transposed), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        },
        None => match LinearBackward.prepare::<C>([x.node(), w.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((xi, wi, transposed), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        },
    }
}

#[derive(Debug)]
struct DropoutBackward;

impl<B: Backend> Backward<B, 1> for DropoutBackward {
    type State = (f32, usize);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (keep, seed) = ops.state;
        if let [Some(node)] = ops.parents {
            // The same mask, recomputed from the seed.
            grads.register::<B>(node.id, dropout_forward::<B>(grad, keep, seed));
        }
    }
}

/// The dropout node under autodiff (see [`FusedOps::fused_dropout`]).
pub(super) fn dropout_node<B: Backend + FusedOps, C: CheckpointStrategy>(x: FloatTensor<Autodiff<B, C>>, keep: f32, seed: usize) -> FloatTensor<Autodiff<B, C>> {
    match DropoutBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish((keep, seed), dropout_forward::<B>(x.into_primitive(), keep, seed)),
        OpsKind::UnTracked(prep) => prep.finish(dropout_forward::<B>(x.into_primitive(), keep, seed)),
    }
}

#[derive(Debug)]
struct GeluBackward;

impl<B: Backend> Backward<B, 1> for GeluBackward {
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        if let [Some(node)] = ops.parents {
            let (device, shape) = (grad.device(), grad.shape().to_vec());
            let dx = elementwise::gelu_backward(read::<B>(ops.state).as_slice(), read::<B>(grad).as_slice());
            grads.register::<B>(node.id, write::<B>(dx, &shape, &device));
        }
    }
}

/// The GELU node under autodiff (see [`FusedOps::fused_gelu`]).
pub(super) fn gelu_node<B: Backend + FusedOps, C: CheckpointStrategy>(x: FloatTensor<Autodiff<B, C>>) -> FloatTensor<Autodiff<B, C>> {
    match GeluBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let xi = x.primitive().clone();
            prep.finish(xi.clone(), gelu_forward::<B>(xi))
        }
        OpsKind::UnTracked(prep) => prep.finish(gelu_forward::<B>(x.into_primitive())),
    }
}

/// x W + b over the flattened leading dimensions of `x` `[.., d_in]` as one
/// fused operation; on a backend without the host kernels, Burn's `linear`.
pub fn linear<const D: usize>(x: Tensor<D>, w: Tensor<2>, b: Option<Tensor<1>>) -> Tensor<D> {
    let mut dims = x.dims();
    let d_in = dims[D - 1];
    let rows = x.shape().num_elements() / d_in.max(1);
    dims[D - 1] = w.dims()[1];
    let x = x.reshape([rows, d_in]);
    let y = if host_kernels(&x.device()) {
        let has_bias = b.is_some();
        let b = b.unwrap_or_else(|| Tensor::zeros([1], &w.device()));
        Tensor::<2>::from_dispatch(<Dispatch as FusedOps>::fused_linear(x.into_dispatch(), w.into_dispatch(), b.into_dispatch(), has_bias, false))
    } else {
        burn::tensor::module::linear(x, w, b)
    };
    y.reshape(dims) // [.., d_out]
}

/// x Tᵀ for `x` `[.., d]` and `table` `[vocab, d]`: logits against every row of
/// the table (a tied output layer) as one fused operation reading the table
/// as stored (no transposed copy; its gradient comes out in its own layout);
/// on a backend without the host kernels, one flattened matmul.
pub fn linear_transposed<const D: usize>(x: Tensor<D>, table: Tensor<2>) -> Tensor<D> {
    let mut dims = x.dims();
    let d = dims[D - 1];
    let rows = x.shape().num_elements() / d.max(1);
    dims[D - 1] = table.dims()[0];
    let x = x.reshape([rows, d]);
    let y = if host_kernels(&x.device()) {
        let none = Tensor::<1>::zeros([1], &table.device()).into_dispatch();
        Tensor::<2>::from_dispatch(<Dispatch as FusedOps>::fused_linear(x.into_dispatch(), table.into_dispatch(), none, false, true))
    } else {
        x.matmul(table.transpose())
    };
    y.reshape(dims) // [.., vocab]
}

thread_local! {
    /// This thread's own generator of dropout seeds (its seed, draws so far), when set.
    static OWN_DRAWS: std::cell::Cell<Option<(u64, u64)>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with the dropout seeds of this thread drawn from a generator of
/// its own, seeded by `seed`, instead of the backend's. For data-parallel
/// shares trained side by side on one CPU device: they would otherwise take
/// turns at the device's one generator in no fixed order. (Only the host
/// kernels' dropout draws here; elsewhere dropout draws from the backend.)
pub fn with_own_draws<T>(seed: u64, f: impl FnOnce() -> T) -> T {
    let outer = OWN_DRAWS.replace(Some((seed, 0)));
    let out = f();
    OWN_DRAWS.set(outer);
    out
}

/// SplitMix64's output function (Steele et al., 2014).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed for one dropout call: the next draw of this thread's own generator
/// where [`with_own_draws`] set one, else one draw from the backend's
/// generator (three 31-bit integers, which every integer type of every
/// backend holds).
pub(super) fn draw_seed(device: &Device) -> usize {
    if let Some((seed, n)) = OWN_DRAWS.get() {
        OWN_DRAWS.set(Some((seed, n + 1)));
        return mix(seed.wrapping_add((n + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))) as usize;
    }
    let r = Tensor::<1, Int>::random([3], burn::tensor::Distribution::Uniform(0.0, 2_147_483_647.0), device);
    let v = r.into_data().convert::<i64>().into_vec::<i64>().unwrap_or_default();
    let part = |i: usize| v.get(i).copied().unwrap_or(0) as u64;
    (part(0) | (part(1) << 31) | (part(2) << 62)) as usize
}

/// `layer.forward(x)` (inverted dropout while training), fused where the
/// backend has the host kernels: the same distribution of masks, drawn by
/// another generator (see [`elementwise`]).
pub fn dropout<const D: usize>(layer: &Dropout, x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    if !layer.training.is_enabled() || !device.is_autodiff() || layer.prob == 0.0 {
        return x;
    }
    if !host_kernels(&device) {
        return layer.forward(x);
    }
    let keep = (1.0 - layer.prob) as f32;
    Tensor::from_dispatch(<Dispatch as FusedOps>::fused_dropout(x.into_dispatch(), keep, draw_seed(&device)))
}

/// A dropout multiplier (0 or 1/keep) of `shape`: Bernoulli(keep) / keep, from
/// the host generator where the backend has the kernels, else from Burn's.
pub fn dropout_mask<const D: usize>(shape: [usize; D], keep: f32, device: &Device) -> Tensor<D> {
    if !host_kernels(device) {
        return Tensor::<D>::random(shape, burn::tensor::Distribution::Bernoulli(keep as f64), device) * (1.0 / keep);
    }
    let n = shape.iter().product();
    let mask = elementwise::mask(n, draw_seed(device) as u64, keep);
    Tensor::from_data(TensorData::new(mask, shape), device)
}

/// GELU(x) = x Φ(x), fused where the backend has the host kernels.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !host_kernels(&x.device()) {
        return burn::tensor::activation::gelu(x);
    }
    Tensor::from_dispatch(<Dispatch as FusedOps>::fused_gelu(x.into_dispatch()))
}
