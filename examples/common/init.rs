//! The initialisation experiments, shared by `examples/init.rs` and `tests/concepts.rs`.
//!
//! (a) Symmetry. Neurons of a layer that start with the same weights compute the same
//! output, receive the same gradient and take the same step, so they stay identical for
//! ever: the layer is one neuron, copied. Random weights break the tie.
//!
//! (b) Scale. Backpropagation multiplies the gradient by each layer's weights on its way
//! back. With `n` inputs per neuron and weights of standard deviation `σ`, each layer
//! scales it by about `σ·√n` (times the activation's slope: `√(1/2)` on average for ReLU,
//! at most 1 for tanh). Below 1 the gradient vanishes towards the input, above 1 it
//! explodes; Xavier (`σ² = 2/(fan_in + fan_out)`, for tanh) and He (`σ² = 2/fan_in`, for
//! ReLU) pick `σ` to make the factor about 1.
#![allow(dead_code)] // the example and the test each use their own subset

use rand::{rngs::StdRng, SeedableRng};
use scalargrad::data::{self, Dataset};
use scalargrad::nn::loss::{accuracy, binary_cross_entropy_with_logits, mse};
use scalargrad::nn::optim::{Optimizer, Sgd};
use scalargrad::nn::{Activation, Init, Layer, Mlp, Module};
use scalargrad::Value;

/// The seed the example uses by default, and the test pins.
pub const SEED: u64 = 3;

// --- (a) Symmetry ---------------------------------------------------------------------

/// The weight every parameter starts at in the constant initialisation.
pub const CONSTANT: f64 = 0.5;

/// Training settings for the symmetry experiment: a 2-8-8-1 tanh network on 60 points of
/// two moons, cross-entropy, plain SGD.
pub const SYMMETRY_STEPS: usize = 300;
pub const SYMMETRY_LR: f64 = 0.5;

/// What training did to one network.
pub struct SymmetryRun {
    pub model: Mlp,
    pub data: Dataset,
    /// For each hidden layer, the largest difference between any neuron's parameters and
    /// the first neuron's, after training.
    pub spread: Vec<f64>,
    /// The largest distance any parameter moved from where it started.
    pub moved: f64,
    /// The loss before training and after.
    pub loss: (f64, f64),
    /// Train accuracy after training.
    pub accuracy: f64,
}

/// Trains a 2-8-8-1 tanh network, initialised by `init` with weights from `seed`, on two
/// moons from `seed + 1`.
pub fn symmetry_run(init: Init, seed: u64) -> SymmetryRun {
    let data = data::moons(60, 0.1, &mut StdRng::seed_from_u64(seed.wrapping_add(1)));
    let model = Mlp::builder(2, &[8, 8, 1])
        .hidden(Activation::Tanh)
        .init(init)
        .build(&mut StdRng::seed_from_u64(seed));
    let params = model.parameters();
    let start = model.parameter_values();
    let loss = |m: &Mlp| {
        let logits: Vec<Value> = data
            .inputs
            .iter()
            .map(|x| m.forward_data(x).remove(0))
            .collect();
        binary_cross_entropy_with_logits(&logits, &data.targets)
    };
    let first = loss(&model).data();
    let mut sgd = Sgd::new(SYMMETRY_LR);
    for _ in 0..SYMMETRY_STEPS {
        let l = loss(&model);
        model.zero_grad();
        l.backward();
        sgd.step(&params);
    }
    let last = loss(&model).data();
    let moved = start
        .iter()
        .zip(model.parameter_values())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let spread = model.layers()[..model.layers().len() - 1]
        .iter()
        .map(largest_difference_between_neurons)
        .collect();
    let scores: Vec<f64> = data.inputs.iter().map(|x| model.predict(x)[0]).collect();
    let accuracy = accuracy(&scores, &data.signed_targets());
    SymmetryRun {
        model,
        data,
        spread,
        moved,
        loss: (first, last),
        accuracy,
    }
}

/// The largest `|θ_j − θ_0|` over every neuron `j` of the layer and every parameter
/// (weights and bias): 0 exactly when all its neurons are copies of the first.
pub fn largest_difference_between_neurons(layer: &Layer) -> f64 {
    let neurons = layer.neurons();
    let first = neurons[0].parameter_values();
    neurons
        .iter()
        .flat_map(|n| {
            n.parameter_values()
                .into_iter()
                .zip(first.iter())
                .map(|(p, q)| (p - q).abs())
                .collect::<Vec<_>>()
        })
        .fold(0.0, f64::max)
}

// --- (b) Scale ------------------------------------------------------------------------

/// The deep network: 9 hidden layers of `WIDTH` neurons and a linear output neuron.
pub const HIDDEN_LAYERS: usize = 9;
pub const WIDTH: usize = 24;
/// The batch the gradients are measured on: this many points of two moons.
pub const BATCH: usize = 32;

/// One initialisation to measure.
#[derive(Clone, Copy, Debug)]
pub struct Setting {
    pub name: &'static str,
    pub activation: Activation,
    pub init: Init,
}

/// Too small, too large and just right, for tanh and for ReLU.
pub const SETTINGS: [Setting; 6] = [
    Setting {
        name: "tanh, N(0, 0.01²)",
        activation: Activation::Tanh,
        init: Init::Normal { std: 0.01 },
    },
    Setting {
        name: "tanh, N(0, 1)",
        activation: Activation::Tanh,
        init: Init::Normal { std: 1.0 },
    },
    Setting {
        name: "tanh, Xavier",
        activation: Activation::Tanh,
        init: Init::XavierNormal,
    },
    Setting {
        name: "ReLU, N(0, 0.01²)",
        activation: Activation::Relu,
        init: Init::Normal { std: 0.01 },
    },
    Setting {
        name: "ReLU, N(0, 1)",
        activation: Activation::Relu,
        init: Init::Normal { std: 1.0 },
    },
    Setting {
        name: "ReLU, He",
        activation: Activation::Relu,
        init: Init::HeNormal,
    },
];

/// Per-layer measurements of one freshly initialised deep network, hidden layers only
/// (index 0 is the layer nearest the input).
#[derive(Clone, Debug)]
pub struct Profile {
    /// `‖∂loss/∂h‖` over the batch, where `h` is the layer's output: the gradient that
    /// backpropagation carries into the layer.
    pub grad_norms: Vec<f64>,
    /// `‖∂loss/∂W‖`, the gradient of the layer's weights.
    pub weight_grad_norms: Vec<f64>,
    /// The root mean square of the layer's outputs over the batch.
    pub activation_rms: Vec<f64>,
    /// The fraction of the layer's outputs that are saturated: `|h| > 0.99` for tanh
    /// (where its slope is below 0.02), `h = 0` for ReLU (where it is 0).
    pub saturated: Vec<f64>,
}

impl Profile {
    /// `‖∂loss/∂h‖` at the first hidden layer over that at the last: ≪ 1 when the
    /// gradient vanishes on its way back, ≫ 1 when it explodes.
    pub fn first_to_last(&self) -> f64 {
        self.grad_norms[0] / self.grad_norms[self.grad_norms.len() - 1]
    }

    /// The largest `‖∂loss/∂h‖` of any hidden layer over the smallest.
    pub fn spread(&self) -> f64 {
        let max = self.grad_norms.iter().copied().fold(0.0, f64::max);
        let min = self
            .grad_norms
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        max / min
    }
}

/// Builds the deep network for `setting` from `seed`, runs one batch of two moons
/// (from `seed + 1`) forward and backward with a mean-squared-error loss against the
/// ±1 labels, and measures every hidden layer. Nothing is trained.
pub fn profile(setting: &Setting, seed: u64) -> Profile {
    let mut sizes = vec![WIDTH; HIDDEN_LAYERS];
    sizes.push(1);
    let model = Mlp::builder(2, &sizes)
        .hidden(setting.activation)
        .output(Activation::Linear)
        .init(setting.init)
        .build(&mut StdRng::seed_from_u64(seed));
    let batch = data::moons(BATCH, 0.1, &mut StdRng::seed_from_u64(seed.wrapping_add(1)));

    // Forward layer by layer, keeping each hidden layer's outputs to read their
    // gradients after backward().
    let mut hidden: Vec<Vec<Value>> = vec![Vec::new(); HIDDEN_LAYERS];
    let mut outputs = Vec::with_capacity(BATCH);
    for x in &batch.inputs {
        let mut act: Vec<Value> = x.iter().map(|&v| Value::new(v)).collect();
        for (l, layer) in model.layers().iter().enumerate() {
            act = layer.forward(&act);
            if l < HIDDEN_LAYERS {
                hidden[l].extend(act.iter().cloned());
            }
        }
        outputs.push(act.remove(0));
    }
    let loss = mse(&outputs, &batch.signed_targets());
    loss.backward();

    let norm = |xs: &mut dyn Iterator<Item = f64>| xs.map(|g| g * g).sum::<f64>().sqrt();
    let grad_norms = hidden
        .iter()
        .map(|h| norm(&mut h.iter().map(Value::grad)))
        .collect();
    let weight_grad_norms = model.layers()[..HIDDEN_LAYERS]
        .iter()
        .map(|layer| {
            norm(
                &mut layer
                    .neurons()
                    .iter()
                    .flat_map(|n| n.weights().iter().map(Value::grad)),
            )
        })
        .collect();
    let activation_rms = hidden
        .iter()
        .map(|h| norm(&mut h.iter().map(Value::data)) / (h.len() as f64).sqrt())
        .collect();
    let saturated = hidden
        .iter()
        .map(|h| {
            let count = h
                .iter()
                .filter(|v| match setting.activation {
                    Activation::Relu => v.data() == 0.0,
                    _ => v.data().abs() > 0.99,
                })
                .count();
            count as f64 / h.len() as f64
        })
        .collect();
    Profile {
        grad_norms,
        weight_grad_norms,
        activation_rms,
        saturated,
    }
}
