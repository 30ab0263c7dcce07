//! Helpers shared by the examples: configs from `SECTION.KEY=VALUE` pairs and
//! a fresh output directory.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use attend::train::config::{parse_value, RunConfig};

/// A run config: the built-in defaults, then `base` overrides, then `extra`.
pub fn config(base: &[(&str, &str)], extra: &[(&str, &str)]) -> Result<RunConfig, Box<dyn std::error::Error>> {
    let sets: Vec<(String, toml::Value)> = base.iter().chain(extra).map(|(k, v)| (k.to_string(), parse_value(v))).collect();
    Ok(RunConfig::resolve(None, &sets)?)
}

/// `runs/example-NAME`, emptied first (each example run starts afresh).
pub fn fresh_run(name: &str) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let dir = PathBuf::from("runs").join(format!("example-{name}"));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(dir)
}

/// The device the examples run on: `ATTEND_DEVICE` (e.g. `wgpu`), else `auto`.
pub fn device() -> Result<attend::burn::prelude::Device, Box<dyn std::error::Error>> {
    let spec = std::env::var("ATTEND_DEVICE").unwrap_or_else(|_| "auto".into());
    Ok(attend::device::parse_device(&spec)?)
}

/// A Ctrl-C flag that is never raised (the examples run to the end).
pub fn no_interrupt() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}
