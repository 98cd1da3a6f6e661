//! The loss experiment, shared by `examples/loss.rs` and `tests/concepts.rs`.
//!
//! A classifier outputs a logit `z` and a probability `p = σ(z)` for class 1. Two ways
//! to score it against a target `t ∈ {0, 1}`:
//!
//! - mean squared error `(p − t)²`, with `∂/∂z = 2(p − t)·p(1 − p)`;
//! - cross-entropy `−t·ln p − (1 − t)·ln(1 − p)`, with `∂/∂z = p − t`.
//!
//! Both fall as the classifier improves. But the sigmoid's slope `p(1 − p)` sits inside
//! the squared error's gradient: when the prediction is confidently wrong (`t = 1`,
//! `p ≈ 0`) that slope is nearly 0, so the squared error barely pushes, exactly where the
//! push is needed most. Cross-entropy's `ln` cancels the slope and pushes with
//! `p − t ≈ −1`.
#![allow(dead_code)] // the example and the test each use their own subset

use rand::{rngs::StdRng, SeedableRng};
use scalargrad::data::{self, Dataset};
use scalargrad::nn::loss::{accuracy, binary_cross_entropy_with_logits, mse};
use scalargrad::nn::optim::{Optimizer, Sgd};
use scalargrad::nn::{Activation, Init, Mlp, Module};
use scalargrad::Value;

/// The seed the example uses by default, and the test pins.
pub const SEED: u64 = 5;

/// The two losses compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Mean squared error on the probability `σ(z)`.
    Mse,
    /// Binary cross-entropy on the logit `z`.
    CrossEntropy,
}

impl Loss {
    pub const BOTH: [Loss; 2] = [Loss::Mse, Loss::CrossEntropy];

    pub fn name(self) -> &'static str {
        match self {
            Loss::Mse => "MSE",
            Loss::CrossEntropy => "cross-entropy",
        }
    }

    /// The loss of logits `z` against targets in {0, 1}, as a graph.
    pub fn of(self, logits: &[Value], targets: &[f64]) -> Value {
        match self {
            Loss::Mse => {
                let p: Vec<Value> = logits.iter().map(Value::sigmoid).collect();
                mse(&p, targets)
            }
            Loss::CrossEntropy => binary_cross_entropy_with_logits(logits, targets),
        }
    }

    /// `∂loss/∂z` for one example with logit `z` and target `t`, by `backward()`.
    pub fn gradient(self, z: f64, t: f64) -> f64 {
        let z = Value::new(z);
        self.of(std::slice::from_ref(&z), &[t]).backward();
        z.grad()
    }
}

// --- Training on the same task --------------------------------------------------------

/// Full-batch epochs and the SGD rate both losses train with.
pub const EPOCHS: usize = 300;
pub const LR: f64 = 1.0;

/// One training run.
#[derive(Clone, Debug)]
pub struct Run {
    pub loss: Loss,
    /// The loss before each epoch, and after the last.
    pub losses: Vec<f64>,
    /// The train accuracy before each epoch, and after the last.
    pub accuracies: Vec<f64>,
}

/// The task: 100 points of two moons from `seed`, and a 2-8-1 tanh network whose
/// weights come from `seed + 1`, the same for both losses.
pub fn task(seed: u64) -> (Dataset, Mlp) {
    let data = data::moons(100, 0.1, &mut StdRng::seed_from_u64(seed));
    let model = Mlp::builder(2, &[8, 1])
        .hidden(Activation::Tanh)
        .output(Activation::Linear)
        .init(Init::XavierUniform)
        .build(&mut StdRng::seed_from_u64(seed.wrapping_add(1)));
    (data, model)
}

/// Trains the task's network with `loss` for `epochs` epochs of full-batch SGD.
pub fn train(loss: Loss, seed: u64, epochs: usize) -> Run {
    let (data, model) = task(seed);
    let params = model.parameters();
    let labels = data.signed_targets();
    let mut sgd = Sgd::new(LR);
    let (mut losses, mut accuracies) = (Vec::new(), Vec::new());
    for epoch in 0..=epochs {
        let logits: Vec<Value> = data
            .inputs
            .iter()
            .map(|x| model.forward_data(x).remove(0))
            .collect();
        let scores: Vec<f64> = logits.iter().map(Value::data).collect();
        accuracies.push(accuracy(&scores, &labels));
        let l = loss.of(&logits, &data.targets);
        losses.push(l.data());
        if epoch < epochs {
            model.zero_grad();
            l.backward();
            sgd.step(&params);
        }
    }
    Run {
        loss,
        losses,
        accuracies,
    }
}

// --- A confidently wrong prediction ---------------------------------------------------

/// How many plain gradient steps on the logit itself (`z −= lr·∂loss/∂z`), starting
/// from `z0` with target 1, it takes `loss` to get the prediction right (`z > 0`);
/// `None` if it is still wrong after `max_steps`.
pub fn steps_to_fix(loss: Loss, z0: f64, lr: f64, max_steps: usize) -> Option<usize> {
    let mut z = z0;
    for k in 0..=max_steps {
        if z > 0.0 {
            return Some(k);
        }
        z -= lr * loss.gradient(z, 1.0);
    }
    None
}
