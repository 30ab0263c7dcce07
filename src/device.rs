//! The one place that knows which backends are compiled in: maps a `--device`
//! spec to a Burn `Device`. Everything else receives a `Device` and runs on
//! whatever backend it names.
//!
//! Specs: `auto` (the first compiled of cpu, wgpu), `cpu` (flex, else ndarray:
//! flex was the faster on 32 of the 34 rows of `benches/vs-pytorch.sh`,
//! BENCHMARKS.md),
//! `ndarray`, `flex`, `wgpu` (the platform's best adapter), `wgpu:N` (N-th
//! discrete GPU), `wgpu:integrated:N`, `wgpu:cpu` (a software adapter such as
//! Mesa's lavapipe), `vulkan[:N]`, `metal[:N]`; several, comma-separated, for
//! data-parallel training ([`parse_devices`]).

#[allow(unused_imports)]
use burn::prelude::{Device, DeviceKind};

/// Backends this binary was built with, in preference order.
pub fn compiled_backends() -> Vec<&'static str> {
    let mut v = Vec::new();
    if cfg!(feature = "ndarray") {
        v.push("ndarray");
    }
    if cfg!(feature = "flex") {
        v.push("flex");
    }
    if cfg!(feature = "wgpu") {
        v.push("wgpu");
    }
    if cfg!(feature = "vulkan") {
        v.push("vulkan");
    }
    if cfg!(feature = "metal") {
        v.push("metal");
    }
    v
}

fn not_compiled(backend: &str, feature: &str) -> String {
    format!(
        "--device {backend}: the {backend} backend is not compiled into this binary (built with: {}); \
         rebuild with `--features {feature}`",
        compiled_backends().join(", ")
    )
}

/// Brings up the GPU adapter `device` names, so that one that does not exist
/// (`wgpu:7` on a machine with one GPU) is an error naming the flag here,
/// not a panic in a runtime thread at the first tensor.
#[cfg(feature = "wgpu")]
fn acquire(device: Device, spec: &str) -> Result<Device, String> {
    use burn::backend::wgpu::{graphics::AutoGraphicsApi, try_init_setup, RuntimeOptions, WgpuInitError};
    use burn::backend::{CubeDevice, DispatchDevice};
    #[allow(irrefutable_let_patterns)]
    if let DispatchDevice::Cube(CubeDevice::Wgpu(w)) = device.as_dispatch() {
        match try_init_setup::<AutoGraphicsApi>(w, RuntimeOptions::default()) {
            // Registered already (an earlier flag or call named the same adapter): it exists.
            Ok(_) | Err(WgpuInitError::Registration { .. }) => {}
            Err(WgpuInitError::AdapterUnavailable { message, .. }) => {
                return Err(format!("--device {spec}: no such adapter on this machine ({message})"));
            }
            Err(e) => return Err(format!("--device {spec}: {e}")),
        }
    }
    Ok(device)
}

#[allow(dead_code)]
fn gpu_kind(rest: Option<&str>, spec: &str) -> Result<DeviceKind, String> {
    let bad = || format!("--device {spec}: expected an index, `integrated:N` or `cpu` after the backend");
    Ok(match rest {
        None => DeviceKind::DefaultDevice,
        Some("cpu") => DeviceKind::Cpu,
        Some(r) => match r.strip_prefix("integrated:") {
            Some(n) => DeviceKind::IntegratedGpu(n.parse().map_err(|_| bad())?),
            None => DeviceKind::DiscreteGpu(r.parse().map_err(|_| bad())?),
        },
    })
}

/// The devices of a comma-separated spec (`wgpu:0,wgpu:1`: data-parallel
/// training over both); at least one.
pub fn parse_devices(spec: &str) -> Result<Vec<Device>, String> {
    let devices: Vec<Device> = spec.split(',').map(parse_device).collect::<Result<_, _>>()?;
    if devices.is_empty() {
        return Err(format!("--device {spec}: no device"));
    }
    Ok(devices)
}

/// The Burn device for `spec` (see the module docs).
pub fn parse_device(spec: &str) -> Result<Device, String> {
    let spec = spec.trim().to_ascii_lowercase();
    #[cfg_attr(not(feature = "wgpu"), allow(unused_variables))]
    let (backend, rest) = match spec.split_once(':') {
        Some((b, r)) => (b.to_string(), Some(r)),
        None => (spec.clone(), None),
    };
    match backend.as_str() {
        "auto" => {
            let first = compiled_backends().first().copied().ok_or("no backend compiled in")?;
            parse_device(if first == "ndarray" || first == "flex" { "cpu" } else { first })
        }
        "cpu" => {
            #[cfg(feature = "flex")]
            return parse_device("flex");
            #[cfg(all(not(feature = "flex"), feature = "ndarray"))]
            return parse_device("ndarray");
            #[allow(unreachable_code)]
            Err(not_compiled("cpu", "flex"))
        }
        "ndarray" => {
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            return Ok(Device::ndarray());
            #[allow(unreachable_code)]
            Err(not_compiled("ndarray", "ndarray"))
        }
        "flex" => {
            #[cfg(feature = "flex")]
            return Ok(Device::flex());
            #[allow(unreachable_code)]
            Err(not_compiled("flex", "flex"))
        }
        "wgpu" => {
            #[cfg(feature = "wgpu")]
            return acquire(Device::wgpu(gpu_kind(rest, &spec)?), &spec);
            #[allow(unreachable_code)]
            Err(not_compiled("wgpu", "wgpu"))
        }
        "vulkan" => {
            #[cfg(feature = "vulkan")]
            return acquire(Device::vulkan(gpu_kind(rest, &spec)?), &spec);
            #[allow(unreachable_code)]
            Err(not_compiled("vulkan", "vulkan"))
        }
        "metal" => {
            #[cfg(feature = "metal")]
            return acquire(Device::metal(gpu_kind(rest, &spec)?), &spec);
            #[allow(unreachable_code)]
            Err(not_compiled("metal", "metal"))
        }
        _ => Err(format!(
            "--device {spec}: unknown device; use auto, cpu, ndarray, flex, wgpu, wgpu:N, wgpu:cpu, vulkan or metal"
        )),
    }
}
