//! Helpers shared by the examples: train a run of a task with some settings
//! into a fresh directory, on the device `ATTEND_DEVICE` names.
#![allow(dead_code)]

use std::path::PathBuf;

use attend::train::config::Task;
use attend::train::tasks::{self, DataFlags, Plan, TrainReport, TrainRequest};
use attend::train::trainer::FitOptions;

/// `runs/example-NAME`, emptied first (each example run starts afresh).
pub fn fresh_run(name: &str) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let dir = PathBuf::from("runs").join(format!("example-{name}"));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(dir)
}

/// The device spec the examples run on: `ATTEND_DEVICE` (e.g. `wgpu`), else `auto`.
pub fn device_spec() -> String {
    std::env::var("ATTEND_DEVICE").unwrap_or_else(|_| "auto".into())
}

/// The (first) device the examples run on.
pub fn device() -> Result<attend::burn::prelude::Device, Box<dyn std::error::Error>> {
    Ok(attend::device::parse_devices(&device_spec())?.remove(0))
}

/// Trains a `task` run in `runs/example-NAME` with the task's defaults and
/// `sets` (`SECTION.KEY=VALUE`), as `attend train --task TASK --set …` would.
pub fn train(task: Task, name: &str, data: DataFlags, sets: &[&str]) -> Result<(Plan, TrainReport), Box<dyn std::error::Error>> {
    let request = TrainRequest {
        task: Some(task),
        sets: sets.iter().map(|s| s.to_string()).collect(),
        data,
        out: Some(fresh_run(name)?),
        device: Some(device_spec()),
        ..Default::default()
    };
    let plan = tasks::plan(&request)?;
    let devices = if tasks::uses_devices(&plan.config) { attend::device::parse_devices(plan.config.device())? } else { Vec::new() };
    let report = tasks::train(&plan, &devices, &FitOptions::default())?;
    Ok((plan, report))
}
