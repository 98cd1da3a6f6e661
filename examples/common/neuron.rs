//! The neuron experiment, shared by `examples/neuron.rs` and `tests/concepts.rs`.
//!
//! One neuron computes `σ(w1·x1 + w2·x2 + b)`: it draws one straight line through the
//! plane and says "1" on one side of it. AND and OR are on one side of a line each;
//! XOR is not, so no single neuron can get more than three of its four rows right.
//! A hidden layer of four neurons bends the boundary, and XOR is learnt.
#![allow(dead_code)] // the example and the test each use their own subset

use rand::{rngs::StdRng, SeedableRng};
use scalargrad::nn::loss::{accuracy, binary_cross_entropy_with_logits};
use scalargrad::nn::optim::{Adam, Optimizer};
use scalargrad::nn::{Activation, Init, Mlp, Module, Neuron};
use scalargrad::Value;

/// The seed the example uses by default, and the test pins.
pub const SEED: u64 = 1;

/// The four rows of a two-input truth table.
pub const INPUTS: [[f64; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];

/// A boolean function of two inputs, given by its truth table.
#[derive(Clone, Copy, Debug)]
pub struct Gate {
    pub name: &'static str,
    /// The output for each row of [`INPUTS`].
    pub targets: [f64; 4],
}

pub const AND: Gate = Gate {
    name: "AND",
    targets: [0.0, 0.0, 0.0, 1.0],
};
pub const OR: Gate = Gate {
    name: "OR",
    targets: [0.0, 1.0, 1.0, 1.0],
};
pub const XOR: Gate = Gate {
    name: "XOR",
    targets: [0.0, 1.0, 1.0, 0.0],
};

/// How the training went.
#[derive(Clone, Debug)]
pub struct Run {
    /// The loss before each step.
    pub losses: Vec<f64>,
    /// The fraction of rows right before each step, and after the last one.
    pub accuracies: Vec<f64>,
    /// The model's probability of "1" for each row, after training.
    pub outputs: [f64; 4],
}

impl Run {
    /// The best accuracy seen at any point of training.
    pub fn best_accuracy(&self) -> f64 {
        self.accuracies.iter().copied().fold(0.0, f64::max)
    }

    /// The accuracy after the last step.
    pub fn final_accuracy(&self) -> f64 {
        self.accuracies.last().copied().unwrap_or(0.0)
    }
}

/// The settings both models train with: Adam at this rate for this many steps on the
/// four rows, cross-entropy loss (the sigmoid is folded into the loss, where it is
/// computed without overflow).
pub const STEPS: usize = 500;
pub const LR: f64 = 0.1;

/// Trains `logit(x)` (a graph builder over `params`) on a gate and records the run.
fn train(
    gate: &Gate,
    params: &[Value],
    logit: impl Fn(&[f64; 2]) -> Value,
    predict: impl Fn(&[f64; 2]) -> f64,
) -> Run {
    let labels: Vec<f64> = gate.targets.iter().map(|&t| 2.0 * t - 1.0).collect();
    let accuracy_now = || {
        let scores: Vec<f64> = INPUTS.iter().map(&predict).collect();
        accuracy(&scores, &labels)
    };
    let mut adam = Adam::new(LR);
    let (mut losses, mut accuracies) = (Vec::new(), Vec::new());
    for _ in 0..STEPS {
        let logits: Vec<Value> = INPUTS.iter().map(&logit).collect();
        let loss = binary_cross_entropy_with_logits(&logits, &gate.targets);
        accuracies.push(accuracy_now());
        losses.push(loss.data());
        for p in params {
            p.set_grad(0.0);
        }
        loss.backward();
        adam.step(params);
    }
    accuracies.push(accuracy_now());
    let outputs = INPUTS.map(|x| sigmoid(predict(&x)));
    Run {
        losses,
        accuracies,
        outputs,
    }
}

/// One neuron with two inputs, small random weights from `seed`, trained on `gate`.
/// Its activation is the identity here because the sigmoid lives in the loss; the
/// trained neuron is `σ(w·x + b)`.
pub fn train_neuron(gate: &Gate, seed: u64) -> (Neuron, Run) {
    let neuron = Neuron::new(
        2,
        1,
        Activation::Linear,
        Init::XavierUniform,
        &mut StdRng::seed_from_u64(seed),
    );
    let run = train(
        gate,
        &neuron.parameters(),
        |x| neuron.forward(&x.map(Value::new)),
        |x| neuron.predict(x),
    );
    (neuron, run)
}

/// A 2-4-1 MLP (tanh hidden layer, one output logit), trained on `gate`.
pub fn train_mlp(gate: &Gate, seed: u64) -> (Mlp, Run) {
    let model = Mlp::builder(2, &[4, 1])
        .hidden(Activation::Tanh)
        .output(Activation::Linear)
        .init(Init::XavierUniform)
        .build(&mut StdRng::seed_from_u64(seed));
    let run = train(
        gate,
        &model.parameters(),
        |x| model.forward_data(x).remove(0),
        |x| model.predict(x)[0],
    );
    (model, run)
}

/// The best accuracy any single neuron reaches on `gate`, by trying every line
/// `w1·x1 + w2·x2 + b = 0` on a grid of `w1, w2, b` in [−2, 2] (step 1/8): training
/// aside, this is what the best neuron of all could do.
pub fn best_line_accuracy(gate: &Gate) -> f64 {
    let grid: Vec<f64> = (-16..=16).map(|i| f64::from(i) / 8.0).collect();
    let labels: Vec<f64> = gate.targets.iter().map(|&t| 2.0 * t - 1.0).collect();
    let mut best = 0.0f64;
    for &w1 in &grid {
        for &w2 in &grid {
            for &b in &grid {
                let scores: Vec<f64> = INPUTS.iter().map(|x| w1 * x[0] + w2 * x[1] + b).collect();
                best = best.max(accuracy(&scores, &labels));
            }
        }
    }
    best
}

/// The logistic sigmoid on a plain number.
pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}
