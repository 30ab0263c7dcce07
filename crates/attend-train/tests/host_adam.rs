//! The trainer's Adam (one host pass per weight on the CPU backends) against
//! Burn's `Adam`, step after step: the same weights, moments and step count,
//! at one thread and with the weight split over a pool of three.

use attend_train::trainer::optim::HostAdam;
use burn::optim::{AdamConfig, AdamState, Optimizer};
use burn::prelude::*;
use burn::tensor::Distribution;

#[allow(deprecated)]
fn device() -> Device {
    Device::ndarray()
}

fn vals<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.clone().try_into_vec_as::<f32>().unwrap()
}

fn same<const D: usize>(what: &str, a: &Tensor<D>, b: &Tensor<D>) {
    let (a, b) = (vals(a), vals(b));
    assert_eq!(a.len(), b.len(), "{what}: sizes");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(x.to_bits() == y.to_bits(), "{what}[{i}]: {x} by the host step, {y} by Burn's");
    }
}

/// Four steps of each optimizer from the same weight with the same gradients.
fn run<const D: usize>(shape: [usize; D], device: &Device) {
    let (beta_1, beta_2, epsilon) = (0.9, 0.98, 1e-9);
    let host = HostAdam::new(beta_1, beta_2, epsilon);
    let plain = AdamConfig::new().with_beta_1(beta_1).with_beta_2(beta_2).with_epsilon(epsilon).build();
    let w0 = Tensor::<D>::random(shape, Distribution::Normal(0.0, 1.0), device);
    let (mut a, mut b) = (w0.clone(), w0);
    let (mut sa, mut sb): (Option<AdamState<D>>, Option<AdamState<D>>) = (None, None);
    for (step, lr) in [1e-3, 5e-4, 2e-3, 1e-4].into_iter().enumerate() {
        // Gradients of very different sizes, some exactly zero.
        let g = Tensor::<D>::random(shape, Distribution::Normal(0.0, 1.0), device) * (10f32).powi(step as i32 - 2);
        let g = g.clone().mask_fill(g.clone().abs().lower_elem(1e-3), 0.0);
        let (na, ns) = host.step(lr, a, g.clone(), sa);
        let (nb, nt) = plain.step(lr, b, g, sb);
        let what = format!("{shape:?} step {}", step + 1);
        same(&format!("{what}: weight"), &na, &nb);
        let (ma, mb) = (&ns.as_ref().unwrap().momentum, &nt.as_ref().unwrap().momentum);
        assert_eq!(ma.time, mb.time, "{what}: step count");
        same(&format!("{what}: first moment"), &ma.moment_1, &mb.moment_1);
        same(&format!("{what}: second moment"), &ma.moment_2, &mb.moment_2);
        (a, b, sa, sb) = (na, nb, ns, nt);
    }
}

#[test]
fn host_adam_matches_burns_adam_to_the_bit() {
    let device = device();
    device.seed(5);
    assert!(attend_model::fused::host_kernels(&device), "the host path runs on ndarray");
    // 20,800 elements: split into parallel chunks at several threads.
    run([160, 130], &device);
    run([7], &device);
    rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap().install(|| {
        run([160, 130], &device);
        run([3, 4, 5], &device);
    });
}
