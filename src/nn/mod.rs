//! Neural networks on top of [`Value`]: neurons, layers and MLPs, with the losses,
//! optimizers, learning-rate schedules, initialisers and persistence that training
//! tiny networks needs.
//!
//! A training step is ordinary code: build the loss as a graph, call `backward()`,
//! let the optimizer step, and reset the gradients.
//!
//! ```
//! use rand::{rngs::StdRng, SeedableRng};
//! use scalargrad::data;
//! use scalargrad::nn::{loss, optim::{Optimizer, Sgd}, Mlp, Module};
//!
//! let mut rng = StdRng::seed_from_u64(1);
//! let train = data::moons(40, 0.1, &mut rng);
//! let labels = train.signed_targets();
//! let model = Mlp::new(2, &[8, 1], &mut rng);
//! let mut sgd = Sgd::new(0.1);
//! let mut losses = Vec::new();
//! for _ in 0..20 {
//!     let scores: Vec<_> = train.inputs.iter().map(|x| model.forward_data(x).remove(0)).collect();
//!     let l = loss::hinge(&scores, &labels);
//!     model.zero_grad();
//!     l.backward();
//!     sgd.step(&model.parameters());
//!     losses.push(l.data());
//! }
//! assert!(losses[19] < losses[0]);
//! ```

mod activation;
mod init;
pub mod loss;
mod mlp;
pub mod optim;
mod persist;
pub mod schedule;

use std::error::Error;
use std::fmt;

pub use activation::Activation;
pub use init::Init;
pub use mlp::{Layer, Mlp, MlpBuilder, Neuron};
pub use persist::PersistError;

use crate::value::Value;

/// Anything with trainable parameters.
pub trait Module {
    /// Every trainable parameter, in a fixed order. For the crate's types this is
    /// micrograd's order (layer by layer, neuron by neuron, weights then bias), so a run
    /// elsewhere can be replayed number for number.
    fn parameters(&self) -> Vec<Value>;

    /// Sets every parameter's gradient to 0 (call it before each `backward()`:
    /// gradients accumulate).
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.set_grad(0.0);
        }
    }

    /// The number of parameters.
    fn num_parameters(&self) -> usize {
        self.parameters().len()
    }

    /// A snapshot of the parameters as plain numbers, in [`Module::parameters`] order:
    /// the way to move a model across threads or into a file.
    fn parameter_values(&self) -> Vec<f64> {
        self.parameters().iter().map(Value::data).collect()
    }

    /// Overwrites the parameters with `values`, in [`Module::parameters`] order.
    ///
    /// # Errors
    ///
    /// [`ParameterCountError`] if `values` has the wrong length; nothing is changed.
    fn set_parameter_values(&self, values: &[f64]) -> Result<(), ParameterCountError> {
        let params = self.parameters();
        if params.len() != values.len() {
            return Err(ParameterCountError {
                expected: params.len(),
                got: values.len(),
            });
        }
        for (p, &v) in params.iter().zip(values) {
            p.set_data(v);
        }
        Ok(())
    }
}

/// A parameter list of the wrong length was given to a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParameterCountError {
    /// How many parameters the model has.
    pub expected: usize,
    /// How many values were given.
    pub got: usize,
}

impl fmt::Display for ParameterCountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the model has {} parameters but {} values were given",
            self.expected, self.got
        )
    }
}

impl Error for ParameterCountError {}
