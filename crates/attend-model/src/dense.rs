//! A linear layer y = x W + b over any leading dimensions as one 2-D matrix
//! product, `[rows, d_in] · [d_in, d_out]`, with `rows` the product of the
//! leading dimensions (the fold PyTorch's `F.linear` and Burn's own
//! `linear_weight_backward` make).
//!
//! Burn's `Linear::forward` on a 3-D input keeps a batched product against
//! the broadcast weight whenever each batch's rows are a multiple of 32, or
//! folding them would not make the output squarer (`MatmulTransformPolicy`,
//! burn-std). Under autodiff that product's backward computes the weight's
//! gradient once per batch element, `[batch, d_in, d_out]`, and then sums
//! them: for the LSTM's output layer at batch 32, 512 MB allocated, zeroed,
//! copied and summed per step for a 16 MB gradient. Same values and gradients
//! here, up to the order of a sum. On CPU backends the product (with its
//! bias) is one fused operation ([`crate::fused::linear`]).

use burn::nn::Linear;
use burn::prelude::*;

/// `layer.forward(x)` as one 2-D product (see the module docs).
pub fn linear<const D: usize>(layer: &Linear, x: Tensor<D>) -> Tensor<D> {
    linear_with(x, layer.weight.val(), layer.bias.as_ref().map(|b| b.val()))
}

/// x W + b for `x` `[.., d_in]`, `w` `[d_in, d_out]`, `b` `[d_out]`, as one 2-D product.
pub fn linear_with<const D: usize>(x: Tensor<D>, w: Tensor<2>, b: Option<Tensor<1>>) -> Tensor<D> {
    if crate::fused::host_kernels(&x.device()) {
        return crate::fused::linear(x, w, b);
    }
    if D <= 2 {
        return burn::tensor::module::linear(x, w, b);
    }
    let mut dims = x.dims();
    let d_in = dims[D - 1];
    let rows = x.shape().num_elements() / d_in.max(1);
    dims[D - 1] = w.dims()[1];
    burn::tensor::module::linear(x.reshape([rows, d_in]), w, b).reshape(dims) // [.., d_out]
}
