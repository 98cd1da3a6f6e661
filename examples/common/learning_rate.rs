//! The learning-rate experiment, shared by `examples/learning_rate.rs` and
//! `tests/concepts.rs`.
//!
//! Gradient descent moves every parameter by `−lr · ∂loss/∂p`. The same network, from
//! the same initial weights, on the same data, is trained once per learning rate; only
//! the step size differs. Too small a step barely moves; too large a step overshoots the
//! valley it is in, further each time, until the loss grows without bound or turns
//! NaN/inf. Such a run is stopped and reported as diverged, never a panic.
#![allow(dead_code)] // the example and the test each use their own subset

use rand::{rngs::StdRng, SeedableRng};
use scalargrad::data::{self, Dataset};
use scalargrad::nn::loss::mse;
use scalargrad::nn::optim::{Optimizer, Sgd};
use scalargrad::nn::{Activation, Init, Mlp, Module};
use scalargrad::Value;

/// The seed the example uses by default, and the test pins.
pub const SEED: u64 = 2;

/// The learning rates the example sweeps: four decades, with a point between each.
pub const LEARNING_RATES: [f64; 9] = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0];

/// Training steps per learning rate (full batch).
pub const STEPS: usize = 300;

/// A run has reached its target once its loss is at most this fraction of the targets'
/// variance, which is the loss of the best constant guess: the network then explains 90%
/// of the variance (R² ≥ 0.9), which only a fit of the sine's shape does.
pub const TARGET_FRACTION: f64 = 0.1;

/// A run has diverged once its loss is this many times where it started, or is not
/// finite (nor any gradient).
pub const BLOW_UP: f64 = 10.0;

/// The task: fit a noisy sine on [−π, π] with a 1-16-1 tanh network, mean squared error.
pub struct Task {
    pub data: Dataset,
    seed: u64,
}

impl Task {
    /// 40 points from `seed`; the network's weights come from `seed + 1`, the same for
    /// every learning rate.
    pub fn new(seed: u64) -> Task {
        Task {
            data: data::sine(40, 0.1, &mut StdRng::seed_from_u64(seed)),
            seed,
        }
    }

    /// A fresh copy of the initial network.
    pub fn model(&self) -> Mlp {
        Mlp::builder(1, &[16, 1])
            .hidden(Activation::Tanh)
            .output(Activation::Linear)
            .init(Init::XavierUniform)
            .build(&mut StdRng::seed_from_u64(self.seed.wrapping_add(1)))
    }

    /// The loss a run must reach: `TARGET_FRACTION` of the targets' variance.
    pub fn target(&self) -> f64 {
        let y = &self.data.targets;
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let variance = y.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / y.len() as f64;
        TARGET_FRACTION * variance
    }

    /// The mean squared error of `model` over the data, as a graph.
    pub fn loss(&self, model: &Mlp) -> Value {
        let predictions: Vec<Value> = self
            .data
            .inputs
            .iter()
            .map(|x| model.forward_data(x).remove(0))
            .collect();
        mse(&predictions, &self.data.targets)
    }
}

/// How one learning rate did.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub lr: f64,
    /// The loss before each step, up to the end or to the step that diverged.
    pub losses: Vec<f64>,
    /// The first step whose loss was at most [`Task::target`].
    pub steps_to_target: Option<usize>,
    /// The step at which the run was stopped as diverged, and why.
    pub diverged: Option<(usize, String)>,
}

/// What a learning rate did, in words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regime {
    /// Never reached the target and never diverged, and the loss fell: too small.
    Crawls,
    /// Reached the target.
    Converges,
    /// Never reached the target and never diverged, but the loss did not fall: too
    /// large, in a run too short to see it blow up.
    Rises,
    /// Blew up.
    Diverges,
}

impl Outcome {
    pub fn regime(&self) -> Regime {
        match (&self.diverged, self.steps_to_target) {
            (Some(_), _) => Regime::Diverges,
            (None, Some(_)) => Regime::Converges,
            (None, None) if self.final_loss() < self.losses[0] => Regime::Crawls,
            (None, None) => Regime::Rises,
        }
    }

    /// Whether the loss was still going down over the last `window` steps (over all of
    /// them, in a shorter run): a run that crawls has not stalled, it is just slow.
    pub fn still_falling(&self, window: usize) -> bool {
        let last = self.losses.len().saturating_sub(1);
        last > 0 && self.losses[last] < self.losses[last - window.min(last)]
    }

    /// The loss after the last step taken (NaN if none was recorded).
    pub fn final_loss(&self) -> f64 {
        self.losses.last().copied().unwrap_or(f64::NAN)
    }
}

/// Trains a fresh copy of the task's network with plain SGD at `lr` for `steps` steps.
pub fn train(task: &Task, lr: f64, steps: usize) -> Outcome {
    let model = task.model();
    let params = model.parameters();
    let mut sgd = Sgd::new(lr);
    let mut losses = Vec::with_capacity(steps + 1);
    let mut steps_to_target = None;
    let mut diverged = None;
    let target = task.target();
    for k in 0..=steps {
        let loss = task.loss(&model);
        model.zero_grad();
        loss.backward();
        // A NaN or an infinity anywhere in the graph, data or gradient, is the end.
        if let Err(e) = loss.check_finite() {
            diverged = Some((k, format!("{} turned NaN/inf", describe(&e))));
            break;
        }
        let value = loss.data();
        losses.push(value);
        if value > BLOW_UP * losses[0] {
            diverged = Some((k, format!("loss {value:.3e} > {BLOW_UP}× the start")));
            break;
        }
        if steps_to_target.is_none() && value <= target {
            steps_to_target = Some(k);
        }
        if k < steps {
            sgd.step(&params);
        }
    }
    Outcome {
        lr,
        losses,
        steps_to_target,
        diverged,
    }
}

fn describe(e: &scalargrad::NonFiniteError) -> &'static str {
    if e.data.is_finite() {
        "a gradient"
    } else {
        "a value"
    }
}

/// One run per learning rate, all from the same initial weights.
pub fn sweep(task: &Task, lrs: &[f64], steps: usize) -> Vec<Outcome> {
    lrs.iter().map(|&lr| train(task, lr, steps)).collect()
}
