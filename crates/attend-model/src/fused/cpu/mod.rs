//! Host kernels of the fused recurrent operations: plain Rust over `f32`
//! slices, with the gemm crate (the one flex itself calls) for the matrix
//! products and the vectorised functions of [`math`] for the gates.
//!
//! A whole recurrence runs here as one call, the way cuDNN and PyTorch's
//! `nn.LSTM` run it: no per-step tensors, no per-step autodiff nodes, the
//! four gates of a step from one matrix product, and back-propagation
//! through time (Werbos, 1990) written out by hand, with the weight
//! gradients of all steps as one product over the stacked steps.
//!
//! Tensors reach the kernels through [`read`] and leave through [`write`]:
//! on flex without a copy (its buffers are plain host memory), on any other
//! backend through `TensorData` (a copy each way; on a GPU a transfer, which
//! is why the models use these kernels on CPU backends only).

pub mod adam;
pub mod attention;
pub mod attention_lstm;
pub mod dense;
pub mod elementwise;
pub mod layer_norm;
pub mod loss;
pub mod lstm;
pub mod math;

use std::any::Any;

use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Backend, TensorMetadata};
use burn::tensor::TensorData;

/// A float tensor's values on the host, row-major and contiguous.
pub struct HostTensor {
    data: HostData,
    /// Its shape.
    pub shape: Vec<usize>,
}

enum HostData {
    Owned(Vec<f32>),
    #[cfg(feature = "flex")]
    Flex(burn::backend::flex::FlexTensor),
}

impl HostTensor {
    /// The values.
    pub fn as_slice(&self) -> &[f32] {
        match &self.data {
            HostData::Owned(v) => v,
            #[cfg(feature = "flex")]
            HostData::Flex(t) => t.as_slice::<f32>().expect("a contiguous f32 flex tensor"),
        }
    }
}

/// The values of `t` on the host (no copy on flex when `t` is contiguous f32).
pub fn read<B: Backend>(t: FloatTensor<B>) -> HostTensor {
    let shape = t.shape().to_vec();
    #[cfg(feature = "flex")]
    {
        use burn::tensor::DType;
        let mut slot = Some(t);
        if let Some(f) = (&mut slot as &mut dyn Any).downcast_mut::<Option<burn::backend::flex::FlexTensor>>() {
            let f = f.take().expect("just put there");
            if f.dtype() == DType::F32 {
                let f = if f.is_contiguous() { f } else { f.to_contiguous() };
                return HostTensor { data: HostData::Flex(f), shape };
            }
            let data = f.into_data().convert::<f32>();
            return HostTensor { data: HostData::Owned(data.into_vec::<f32>().expect("converted to f32")), shape };
        }
        let t = slot.take().expect("not taken");
        return read_generic::<B>(t, shape);
    }
    #[allow(unreachable_code)]
    read_generic::<B>(t, shape)
}

fn read_generic<B: Backend>(t: FloatTensor<B>, shape: Vec<usize>) -> HostTensor {
    let data = burn::tensor::try_read_sync(B::float_into_data(t))
        .expect("a CPU-side read of the tensor")
        .expect("the backend returned the tensor's data")
        .convert::<f32>();
    HostTensor { data: HostData::Owned(data.into_vec::<f32>().expect("converted to f32")), shape }
}

/// A float tensor's values on the host as stored: element (i₀, i₁, …) at
/// `offset + Σ iₖ·strides[k]` of [`Self::data`] (no copy on flex, whose
/// views, e.g. the heads split off a `[batch, seq, d_model]` tensor, keep
/// their strides; other backends give a contiguous copy).
pub struct HostView {
    data: HostData,
    /// Its shape.
    pub shape: Vec<usize>,
    /// The step of each dimension, in elements.
    pub strides: Vec<usize>,
    /// Where element (0, …, 0) is.
    pub offset: usize,
}

impl HostView {
    /// The whole buffer the strides index into.
    pub fn data(&self) -> &[f32] {
        match &self.data {
            HostData::Owned(v) => v,
            #[cfg(feature = "flex")]
            HostData::Flex(t) => t.storage::<f32>(),
        }
    }
}

fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for k in (0..shape.len().saturating_sub(1)).rev() {
        strides[k] = strides[k + 1] * shape[k + 1];
    }
    strides
}

/// The values of `t` as stored (see [`HostView`]).
pub fn read_view<B: Backend>(t: FloatTensor<B>) -> HostView {
    #[cfg(feature = "flex")]
    {
        use burn::tensor::DType;
        let mut slot = Some(t);
        if let Some(f) = (&mut slot as &mut dyn Any).downcast_mut::<Option<burn::backend::flex::FlexTensor>>() {
            let f = f.take().expect("just put there");
            let layout = f.layout();
            if f.dtype() == DType::F32 && layout.strides().iter().all(|&s| s >= 0) {
                let (shape, offset) = (layout.shape().to_vec(), layout.start_offset());
                let strides = layout.strides().iter().map(|&s| s as usize).collect();
                return HostView { data: HostData::Flex(f), shape, strides, offset };
            }
            let host = read::<burn::backend::Flex>(f);
            let strides = contiguous_strides(&host.shape);
            return HostView { data: host.data, shape: host.shape, strides, offset: 0 };
        }
        let host = read::<B>(slot.take().expect("not taken"));
        let strides = contiguous_strides(&host.shape);
        return HostView { data: host.data, shape: host.shape, strides, offset: 0 };
    }
    #[allow(unreachable_code)]
    {
        let host = read::<B>(t);
        let strides = contiguous_strides(&host.shape);
        HostView { data: host.data, shape: host.shape, strides, offset: 0 }
    }
}

/// A tensor of logical `shape` whose element (i₀, i₁, …) is
/// `values[Σ iₖ·strides[k]]` (no copy on flex: its layout takes the strides;
/// other backends get the values gathered into order).
pub fn write_view<B: Backend>(values: Vec<f32>, shape: &[usize], strides: &[usize], device: &B::Device) -> FloatTensor<B> {
    #[cfg(feature = "flex")]
    {
        use burn::backend::flex::{FlexTensor, Layout};
        let mut out: Option<FloatTensor<B>> = None;
        if let Some(slot) = (&mut out as &mut dyn Any).downcast_mut::<Option<FlexTensor>>() {
            let bytes = burn::tensor::Bytes::from_elems(values);
            let layout = Layout::new(shape.into(), strides.iter().map(|&s| s as isize).collect(), 0);
            *slot = Some(FlexTensor::new(bytes, layout, burn::tensor::DType::F32));
            return out.expect("just written");
        }
    }
    let n: usize = shape.iter().product();
    let mut ordered = Vec::with_capacity(n);
    let mut index = vec![0usize; shape.len()];
    for _ in 0..n {
        ordered.push(values[index.iter().zip(strides).map(|(i, s)| i * s).sum::<usize>()]);
        for k in (0..shape.len()).rev() {
            index[k] += 1;
            if index[k] < shape[k] {
                break;
            }
            index[k] = 0;
        }
    }
    write::<B>(ordered, shape, device)
}

/// The values of a boolean tensor on the host (through the backend's
/// integer conversion: backends store booleans as u8 or u32).
pub fn read_bools<B: Backend>(t: burn::backend::tensor::BoolTensor<B>) -> Vec<bool> {
    let ints = B::bool_into_int(t, burn::tensor::IntDType::I64);
    read_ints::<B>(ints).into_iter().map(|v| v != 0).collect()
}

/// The values of an integer tensor on the host, as i64.
pub fn read_ints<B: Backend>(t: IntTensor<B>) -> Vec<i64> {
    burn::tensor::try_read_sync(B::int_into_data(t))
        .expect("a CPU-side read of the tensor")
        .expect("the backend returned the tensor's data")
        .convert::<i64>()
        .into_vec::<i64>()
        .expect("converted to i64")
}

/// A tensor of `shape` on `device` holding `values` (no copy on flex).
pub fn write<B: Backend>(values: Vec<f32>, shape: &[usize], device: &B::Device) -> FloatTensor<B> {
    debug_assert_eq!(values.len(), shape.iter().product::<usize>());
    #[cfg(feature = "flex")]
    {
        use burn::backend::flex::{FlexTensor, Layout};
        let mut out: Option<FloatTensor<B>> = None;
        if let Some(slot) = (&mut out as &mut dyn Any).downcast_mut::<Option<FlexTensor>>() {
            let bytes = burn::tensor::Bytes::from_elems(values);
            *slot = Some(FlexTensor::new(bytes, Layout::contiguous(shape.into()), burn::tensor::DType::F32));
            return out.expect("just written");
        }
    }
    B::float_from_data(TensorData::new(values, shape.to_vec()), device)
}

/// A matrix operand: `data[i·rs + j·cs]` is element (i, j).
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> Mat<'a> {
    /// Row-major with `cols` columns.
    pub fn rows(data: &'a [f32], cols: usize) -> Self {
        Self { data, rs: cols, cs: 1 }
    }
    /// The transpose of a row-major matrix with `cols` columns.
    pub fn transposed(data: &'a [f32], cols: usize) -> Self {
        Self { data, rs: 1, cs: cols }
    }
    fn check(&self, rows: usize, cols: usize) {
        if rows > 0 && cols > 0 {
            assert!((rows - 1) * self.rs + (cols - 1) * self.cs < self.data.len(), "matrix operand out of bounds");
        }
    }
}

/// Products below this many multiply-adds run on one thread.
const PARALLEL_MIN: usize = 1 << 20;

/// `dst` (row-major, `m × n`, row stride `dst_rs`) = (`dst` if `accumulate`, else 0) + `a` `[m, k]` · `b` `[k, n]`.
#[allow(clippy::too_many_arguments)]
pub fn matmul(m: usize, n: usize, k: usize, dst: &mut [f32], dst_rs: usize, accumulate: bool, a: Mat, b: Mat) {
    if m > 0 && n > 0 {
        assert!((m - 1) * dst_rs + n <= dst.len(), "matmul destination out of bounds");
    }
    // SAFETY: `dst` holds the m × n destination (checked) and is borrowed mutably.
    unsafe { gemm_raw(m, n, k, dst.as_mut_ptr(), dst_rs, accumulate, a, b) }
}

/// A new `[m, n]` row-major matrix `a` `[m, k]` · `b` `[k, n]`, written once
/// (not zeroed first: gemm stores into it without reading it).
pub fn matmul_new(m: usize, n: usize, k: usize, a: Mat, b: Mat) -> Vec<f32> {
    if k == 0 {
        return vec![0.0; m * n];
    }
    output(m * n, |dst| {
        // SAFETY: `dst` holds m × n elements; gemm writes every one of them
        // (without `accumulate` it stores, never reads, the destination).
        unsafe { gemm_raw(m, n, k, dst.as_mut_ptr().cast::<f32>(), n, false, a, b) }
    })
}

/// # Safety
/// `dst` must be valid for writes (and, with `accumulate`, reads) of the
/// `m × n` matrix with row stride `dst_rs`.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_raw(m: usize, n: usize, k: usize, dst: *mut f32, dst_rs: usize, accumulate: bool, a: Mat, b: Mat) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                // SAFETY: row i of the destination, valid by the contract.
                unsafe { std::ptr::write_bytes(dst.add(i * dst_rs), 0, n) };
            }
        }
        return;
    }
    a.check(m, k);
    b.check(k, n);
    let threads = threads();
    let parallelism = if threads > 1 && m * n * k >= PARALLEL_MIN { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: the operands' bounds were checked above, the destination's by the contract.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            parallelism,
        );
    }
}

thread_local! {
    /// Set while a thread runs one block of [`par_row_blocks`].
    static IN_BLOCK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The threads a host kernel may split its work over: rayon's, or one
/// inside a block of [`par_row_blocks`] (whose blocks already use them all).
pub fn threads() -> usize {
    if IN_BLOCK.get() {
        1
    } else {
        rayon::current_num_threads()
    }
}

/// Runs `f` on blocks of the rows `0..b`, one block per thread (each at least
/// `min_rows` rows; one block, run here, when there is one thread or too few
/// rows), in parallel, each block single-threaded inside; the results in row
/// order. For recurrences, whose rows are independent but whose steps are
/// not: a step's products are too small to split well over threads (the
/// hand-over costs as much as it saves), a whole recurrence per block is not.
pub fn par_row_blocks<T: Send>(b: usize, min_rows: usize, f: impl Fn(std::ops::Range<usize>) -> T + Sync) -> Vec<T> {
    use rayon::prelude::*;
    let parts = threads().min(b / min_rows.max(1)).max(1);
    if parts == 1 {
        return vec![f(0..b)];
    }
    let chunk = b.div_ceil(parts);
    let blocks: Vec<_> = (0..parts).map(|p| (p * chunk).min(b)..((p + 1) * chunk).min(b)).filter(|r| !r.is_empty()).collect();
    blocks
        .into_par_iter()
        .map(|rows| in_block(|| f(rows)))
        .collect()
}

/// Runs `f` as one block of [`par_row_blocks`] (its kernels single-threaded).
pub fn in_block<T>(f: impl FnOnce() -> T) -> T {
    let outer = IN_BLOCK.replace(true);
    let out = f();
    IN_BLOCK.set(outer);
    out
}

/// A vector of `n` floats that `fill` writes in full (it receives them
/// uninitialised, so no pass zeroes them first; every kernel passed here
/// writes every element).
pub fn output(n: usize, fill: impl FnOnce(&mut [std::mem::MaybeUninit<f32>])) -> Vec<f32> {
    let mut v = Vec::with_capacity(n);
    fill(&mut v.spare_capacity_mut()[..n]);
    // SAFETY: `fill` initialised all n elements (the contract of every caller).
    unsafe { v.set_len(n) };
    v
}

/// Sums the rows of `x` `[rows, cols]` into `out` `[cols]` (added to what it holds).
pub fn add_row_sums(x: &[f32], cols: usize, out: &mut [f32]) {
    for row in x.chunks_exact(cols) {
        for (o, v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}

#[cfg(test)]
mod timing {
    /// `cargo test --release -p attend-model --features flex -- --ignored --nocapture cpu::timing`:
    /// µs per product at the LSTM benchmark's shapes, on 1 and 2 threads.
    #[test]
    #[ignore]
    fn timing() {
        for &(m, n, k) in &[(64, 512, 128), (64, 128, 512), (32, 512, 128), (128, 512, 1280), (1280, 1000, 256), (256, 1000, 1280), (64, 128, 128)] {
            let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
            let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
            let mut line = format!("{m}x{n}x{k}:");
            for threads in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let mut dst = vec![0.0; m * n];
                let reps = (2e9 / (m * n * k) as f64).max(3.0) as usize;
                let us = pool.install(|| {
                    super::matmul(m, n, k, &mut dst, n, false, super::Mat::rows(&a, k), super::Mat::rows(&b, n));
                    let t = std::time::Instant::now();
                    for _ in 0..reps {
                        super::matmul(m, n, k, &mut dst, n, false, super::Mat::rows(&a, k), super::Mat::rows(&b, n));
                    }
                    t.elapsed().as_secs_f64() * 1e6 / reps as f64
                });
                line += &format!("  {threads}t {us:.1} µs ({:.0} GFLOP/s)", 2.0 * (m * n * k) as f64 / us / 1e3);
            }
            println!("{line}");
        }
    }
}
