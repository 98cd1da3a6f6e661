//! Activation functions a layer applies after its weighted sum.

use std::fmt;

use crate::op::{Param, Unary};
use crate::value::Value;

/// The nonlinearity a neuron applies to `w·x + b`.
///
/// ```
/// use scalargrad::nn::Activation;
/// use scalargrad::Value;
/// assert_eq!(Activation::Relu.apply(&Value::new(-2.0)).data(), 0.0);
/// assert_eq!(Activation::Tanh.apply_f64(0.0), 0.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// `max(x, 0)`: micrograd's choice for hidden layers.
    Relu,
    /// `tanh x`.
    Tanh,
    /// `1/(1 + e⁻ˣ)`.
    Sigmoid,
    /// `x` for `x > 0`, else `slope·x`.
    LeakyRelu(f64),
    /// The identity: a linear output layer.
    Linear,
}

impl Activation {
    /// Applies the activation to a graph node.
    #[must_use]
    pub fn apply(self, x: &Value) -> Value {
        match self {
            Activation::Relu => x.relu(),
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => x.sigmoid(),
            Activation::LeakyRelu(slope) => x.leaky_relu(slope),
            Activation::Linear => x.clone(),
        }
    }

    /// Applies the activation to a plain number, with the same formula as
    /// [`Activation::apply`] (bit for bit), for evaluation without a graph.
    #[must_use]
    pub fn apply_f64(self, x: f64) -> f64 {
        match self {
            Activation::Relu => Unary::Relu.value(x),
            Activation::Tanh => Unary::Tanh.value(x),
            Activation::Sigmoid => Unary::Sigmoid.value(x),
            Activation::LeakyRelu(slope) => Param::LeakyRelu.value(x, slope),
            Activation::Linear => x,
        }
    }

    /// The name used in saved models and in printing: `relu`, `tanh`, `sigmoid`,
    /// `leaky_relu` or `linear`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::LeakyRelu(_) => "leaky_relu",
            Activation::Linear => "linear",
        }
    }
}

impl fmt::Display for Activation {
    /// Prints micrograd's neuron prefix: `ReLU`, `Tanh`, `Sigmoid`, `LeakyReLU`, `Linear`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Activation::Relu => "ReLU",
            Activation::Tanh => "Tanh",
            Activation::Sigmoid => "Sigmoid",
            Activation::LeakyRelu(_) => "LeakyReLU",
            Activation::Linear => "Linear",
        })
    }
}
