//! Learning-rate schedules: the rate to use at step `k` of `steps`.

use std::f64::consts::PI;

/// A learning rate that may change with the step number.
///
/// ```
/// use scalargrad::nn::schedule::Schedule;
/// // micrograd's demo: 1.0 − 0.9·k/100
/// let s = Schedule::LinearDecay { lr: 1.0, steps: 100 };
/// assert_eq!(s.lr_at(0), 1.0);
/// assert!((s.lr_at(50) - 0.55).abs() < 1e-15);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    /// The same rate at every step.
    Constant(f64),
    /// micrograd's decay, `lr·(1 − 0.9·k/steps)`: from `lr` down to a tenth of it at
    /// step `steps`, where it stays (the formula alone would turn negative, and the
    /// optimizer would climb the loss).
    LinearDecay {
        /// The rate at step 0.
        lr: f64,
        /// The step count over which it decays.
        steps: usize,
    },
    /// `lr·γ^⌊k/every⌋`: multiplied by `gamma` every `every` steps.
    StepDecay {
        /// The rate at step 0.
        lr: f64,
        /// Steps between decays (0 is taken as 1).
        every: usize,
        /// The factor applied at each decay.
        gamma: f64,
    },
    /// Cosine annealing from `lr` down to `min_lr` over `steps` steps, then `min_lr`.
    Cosine {
        /// The rate at step 0.
        lr: f64,
        /// The rate at the end.
        min_lr: f64,
        /// The length of the annealing.
        steps: usize,
    },
}

impl Schedule {
    /// The learning rate at step `k` (from 0).
    #[must_use]
    pub fn lr_at(self, k: usize) -> f64 {
        match self {
            Schedule::Constant(lr) => lr,
            Schedule::LinearDecay { lr, steps } => {
                let steps = steps.max(1);
                lr * (1.0 - 0.9 * k.min(steps) as f64 / steps as f64)
            }
            Schedule::StepDecay { lr, every, gamma } => {
                let decays = i32::try_from(k / every.max(1)).unwrap_or(i32::MAX);
                lr * gamma.powi(decays)
            }
            Schedule::Cosine { lr, min_lr, steps } => {
                let t = (k as f64 / steps.max(1) as f64).min(1.0);
                min_lr + 0.5 * (lr - min_lr) * (1.0 + (PI * t).cos())
            }
        }
    }
}
