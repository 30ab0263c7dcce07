//! Training for attend, in three layers:
//!
//! - [`trainer`]: the one training loop ([`trainer::fit`]) and what it owns —
//!   checkpoints, the run directory, `metrics.csv`, learning-rate schedules,
//!   gradient clipping, weight averaging, Ctrl-C, progress display and
//!   data-parallel training;
//! - [`tasks`]: translation and the copy task, language models, classifiers,
//!   spellers and word2vec, each a folder with its config sections, data,
//!   training and use of a trained run;
//! - [`config`]: a run's settings as TOML, resolved and checked per task.
//!
//! Apart from them: [`plot`] (heatmaps and charts) and [`bench`] (speed on
//! the PyTorch peers' shapes).

pub mod bench;
pub mod config;
pub mod error;
pub mod plot;
pub mod tasks;
pub mod trainer;

pub use config::{RunConfig, Task};
pub use error::{Result, TrainError};
pub use tasks::translate::loaded::LoadedRun;

/// The CPU backends' random generator is global, so unit tests that seed it
/// and then draw from it hold this lock: another test's draws cannot land in
/// between.
#[cfg(test)]
pub(crate) fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
