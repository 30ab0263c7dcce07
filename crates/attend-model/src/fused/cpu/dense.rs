//! The linear layer y = x W + b on the host, forward and backward, each
//! product one gemm call with the bias folded in (the output starts as the
//! broadcast bias and the product is accumulated onto it) and the
//! transposes of the backward read through strides, never copied.
//!
//! On flex a `Linear` under autodiff is a matmul node and a broadcast add
//! node; each of flex's matmul outputs is allocated zeroed and then copied
//! once more to re-align it (`FlexTensor::empty` → `Bytes::from_bytes_vec`),
//! and the bias add and its gradient are strided broadcast loops. Here the
//! output is written once.

use super::{add_row_sums, matmul, matmul_new, Mat};

/// The weight W `[d_in, d_out]` as stored: row-major, or (`transposed`) as
/// its transpose `[d_out, d_in]` row-major, e.g. an embedding table serving
/// as the tied output layer (Press & Wolf, 2017).
#[derive(Clone, Copy)]
pub struct Weight<'a> {
    pub data: &'a [f32],
    pub transposed: bool,
}

impl Weight<'_> {
    /// W as a `[d_in, d_out]` operand.
    fn w(&self, d_in: usize, d_out: usize) -> Mat<'_> {
        if self.transposed {
            Mat::transposed(self.data, d_in)
        } else {
            Mat::rows(self.data, d_out)
        }
    }
    /// Wᵀ as a `[d_out, d_in]` operand.
    fn wt(&self, d_in: usize, d_out: usize) -> Mat<'_> {
        if self.transposed {
            Mat::rows(self.data, d_in)
        } else {
            Mat::transposed(self.data, d_out)
        }
    }
}

/// y `[rows, d_out]` = x `[rows, d_in]` · W `[d_in, d_out]` (+ b `[d_out]`).
pub fn forward(x: &[f32], w: Weight, b: Option<&[f32]>, rows: usize, d_in: usize, d_out: usize) -> Vec<f32> {
    let Some(b) = b else {
        return matmul_new(rows, d_out, d_in, Mat::rows(x, d_in), w.w(d_in, d_out));
    };
    let mut y = Vec::with_capacity(rows * d_out);
    for _ in 0..rows {
        y.extend_from_slice(&b[..d_out]);
    }
    matmul(rows, d_out, d_in, &mut y, d_out, true, Mat::rows(x, d_in), w.w(d_in, d_out));
    y
}

/// dx `[rows, d_in]` = dy · Wᵀ.
pub fn backward_x(dy: &[f32], w: Weight, rows: usize, d_in: usize, d_out: usize) -> Vec<f32> {
    matmul_new(rows, d_in, d_out, Mat::rows(dy, d_out), w.wt(d_in, d_out))
}

/// dW = xᵀ · dy, in the layout of the weight: `[d_in, d_out]`, or
/// (`transposed`) its transpose dyᵀ · x `[d_out, d_in]`.
pub fn backward_w(x: &[f32], dy: &[f32], transposed: bool, rows: usize, d_in: usize, d_out: usize) -> Vec<f32> {
    if transposed {
        matmul_new(d_out, d_in, rows, Mat::transposed(dy, d_out), Mat::rows(x, d_in))
    } else {
        matmul_new(d_in, d_out, rows, Mat::transposed(x, d_in), Mat::rows(dy, d_out))
    }
}

/// db `[d_out]` = the column sums of dy.
pub fn backward_b(dy: &[f32], d_out: usize) -> Vec<f32> {
    let mut db = vec![0.0; d_out];
    add_row_sums(dy, d_out, &mut db);
    db
}
