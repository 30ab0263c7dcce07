//! Helpers shared by the model tests: the devices to compare on, and the
//! tolerances a fast path is held to against the plain version it replaces.
#![allow(dead_code)]

use burn::prelude::*;

/// The CPU backends this build compiles in (ndarray, flex).
#[allow(deprecated)]
pub fn cpu_devices() -> Vec<Device> {
    let mut v = Vec::new();
    #[cfg(feature = "ndarray")]
    v.push(Device::ndarray());
    #[cfg(feature = "flex")]
    v.push(Device::flex());
    v
}

/// The CPU backends and, when compiled in, wgpu on its CPU adapter.
pub fn all_devices() -> Vec<Device> {
    #[allow(unused_mut)]
    let mut v = cpu_devices();
    #[cfg(feature = "wgpu")]
    v.push(Device::wgpu(burn::prelude::DeviceKind::Cpu));
    v
}

/// A tensor's values.
pub fn vals<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().unwrap()
}

/// `got` equals `want` element by element within 2e-5 + 1e-4·|want|.
pub fn close<const D: usize>(what: &str, got: Tensor<D>, want: Tensor<D>) {
    assert_eq!(got.dims(), want.dims(), "{what}: shapes");
    for (i, (x, y)) in vals(got).iter().zip(&vals(want)).enumerate() {
        assert!((x - y).abs() <= 2e-5 + 1e-4 * y.abs(), "{what}[{i}]: {x} vs {y} by the reference");
    }
}

/// `got` equals `want` within 1e-5 + 1e-4 of `want`'s largest magnitude (for
/// gradients: sums of many terms, whose small elements carry absolute error).
pub fn close_scaled<const D: usize>(what: &str, got: Tensor<D>, want: Tensor<D>) {
    assert_eq!(got.dims(), want.dims(), "{what}: shapes");
    let (a, b) = (vals(got), vals(want));
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!((x - y).abs() <= 1e-5 + 1e-4 * scale, "{what}[{i}]: {x} vs {y} by the reference (scale {scale})");
    }
}
