//! Weight initialisation schemes.

use rand::{Rng, RngExt};

use crate::data::standard_normal;

/// How a layer's weights are drawn. Biases always start at 0, as in micrograd.
///
/// `fan_in` is the number of inputs of the layer and `fan_out` its number of neurons.
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// use scalargrad::nn::Init;
/// let mut rng = StdRng::seed_from_u64(0);
/// let w = Init::XavierUniform.sample(4, 4, &mut rng);
/// assert!(w.abs() <= (6.0f64 / 8.0).sqrt());
/// assert_eq!(Init::Constant(0.5).sample(4, 4, &mut rng), 0.5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Uniform on `[low, high)`. micrograd uses `Uniform { low: -1.0, high: 1.0 }`,
    /// which is the default.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Normal with mean 0 and standard deviation `std`.
    Normal {
        /// Standard deviation.
        std: f64,
    },
    /// Glorot/Xavier uniform: `U(−a, a)` with `a = √(6 / (fan_in + fan_out))`, which keeps
    /// the variance of activations and gradients steady through tanh layers.
    XavierUniform,
    /// Glorot/Xavier normal: `N(0, 2 / (fan_in + fan_out))`.
    XavierNormal,
    /// He/Kaiming normal: `N(0, 2 / fan_in)`, the ReLU counterpart of Xavier.
    HeNormal,
    /// Every weight equal to `c`: every neuron of a layer starts, and stays, identical.
    Constant(f64),
}

impl Default for Init {
    fn default() -> Init {
        Init::Uniform {
            low: -1.0,
            high: 1.0,
        }
    }
}

impl Init {
    /// Draws one weight for a layer with `fan_in` inputs and `fan_out` neurons.
    ///
    /// # Panics
    ///
    /// For the schemes scaled by the fans, if the scale would divide by 0: the Xavier
    /// schemes when `fan_in + fan_out` is 0, `HeNormal` when `fan_in` is 0. (A layer
    /// never asks for a weight then: it has no weights.)
    pub fn sample(self, fan_in: usize, fan_out: usize, rng: &mut impl Rng) -> f64 {
        // The fan a scheme divides by, which must not be 0.
        let divisor = |fan: usize, name: &str| {
            assert!(fan > 0, "{self:?} needs {name} > 0");
            fan as f64
        };
        match self {
            Init::Uniform { low, high } => low + (high - low) * rng.random::<f64>(),
            Init::Normal { std } => std * standard_normal(rng),
            Init::XavierUniform => {
                let a = (6.0 / divisor(fan_in + fan_out, "fan_in + fan_out")).sqrt();
                rng.random_range(-a..=a)
            }
            Init::XavierNormal => {
                (2.0 / divisor(fan_in + fan_out, "fan_in + fan_out")).sqrt() * standard_normal(rng)
            }
            Init::HeNormal => (2.0 / divisor(fan_in, "fan_in")).sqrt() * standard_normal(rng),
            Init::Constant(c) => c,
        }
    }
}
