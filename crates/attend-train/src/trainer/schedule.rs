//! Learning-rate schedules as pure functions of the step, so resuming at step
//! n gives the same rate as never having stopped.
//!
//! Noam (Vaswani et al., 2017, §5.3): lr = factor · d_model^-0.5 ·
//! min(step^-0.5, step · warmup^-1.5): linear warm-up, then inverse square root.
//! The same numbers as Burn's `NoamLrScheduler` (checked by a test).

use serde::{Deserialize, Serialize};

/// Which schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// Warm-up then inverse square root; `lr` is the factor.
    #[default]
    Noam,
    /// Linear warm-up to `lr`, then constant.
    Constant,
    /// Linear warm-up to `lr`, then cosine decay to `min_lr` at the last step.
    Cosine,
}

/// A schedule with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub kind: ScheduleKind,
    pub lr: f64,
    pub min_lr: f64,
    pub warmup: usize,
    pub d_model: usize,
    /// Total steps (for cosine).
    pub total: usize,
}

impl Schedule {
    /// The learning rate of 1-based `step`.
    pub fn at(&self, step: usize) -> f64 {
        let step = step.max(1) as f64;
        let warmup = self.warmup.max(1) as f64;
        match self.kind {
            ScheduleKind::Noam => {
                self.lr * (self.d_model as f64).powf(-0.5) * step.powf(-0.5).min(step * warmup.powf(-1.5))
            }
            ScheduleKind::Constant => self.lr * (step / warmup).min(1.0),
            ScheduleKind::Cosine => {
                if step <= warmup {
                    return self.lr * step / warmup;
                }
                let span = (self.total as f64 - warmup).max(1.0);
                let progress = ((step - warmup) / span).min(1.0);
                self.min_lr + 0.5 * (self.lr - self.min_lr) * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::lr_scheduler::noam::NoamLrSchedulerConfig;

    #[test]
    fn noam_matches_burns_scheduler() {
        let mut burn = NoamLrSchedulerConfig::new(2.0).with_warmup_steps(100).with_model_size(256).init().unwrap();
        let ours = Schedule { kind: ScheduleKind::Noam, lr: 2.0, min_lr: 0.0, warmup: 100, d_model: 256, total: 0 };
        for step in 1..=300 {
            let b = burn.step().base();
            assert!((b - ours.at(step)).abs() < 1e-12, "step {step}: burn {b} ours {}", ours.at(step));
        }
    }

    #[test]
    fn cosine_warms_up_and_decays_to_floor() {
        let s = Schedule { kind: ScheduleKind::Cosine, lr: 1e-3, min_lr: 1e-4, warmup: 10, d_model: 0, total: 110 };
        assert!((s.at(5) - 5e-4).abs() < 1e-12);
        assert!((s.at(10) - 1e-3).abs() < 1e-12);
        assert!((s.at(60) - 5.5e-4).abs() < 1e-12);
        assert!((s.at(110) - 1e-4).abs() < 1e-12);
    }
}
