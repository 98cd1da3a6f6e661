//! Every one-argument op once: how to build it, its `f64` twin, its second derivative
//! in closed form, and a domain away from kinks and poles. `tests/gradients.rs` checks
//! first derivatives against the twin, `tests/higher_order.rs` second derivatives
//! against the closed form, both on the same domains.

use scalargrad::Value;

/// One unary op (see the module).
pub struct UnaryCase {
    pub name: &'static str,
    pub build: fn(&Value) -> Value,
    /// The same function on plain `f64`s.
    pub value: fn(f64) -> f64,
    /// Its second derivative.
    pub d2: fn(f64) -> f64,
    /// The range of |x| to test in.
    pub magnitude: (f64, f64),
    /// Whether negative inputs are in the domain too.
    pub negative: bool,
}

impl UnaryCase {
    /// A point in the op's domain from `u ∈ [0, 1)` and a sign.
    pub fn point(&self, u: f64, negative: bool) -> f64 {
        let (lo, hi) = self.magnitude;
        let x = lo + u * (hi - lo);
        if negative && self.negative {
            -x
        } else {
            x
        }
    }
}

/// The logistic function on plain numbers, the tests' reference for `Value::sigmoid`.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

pub fn unary_cases() -> Vec<UnaryCase> {
    let op = |name, build, value, d2, lo, hi, negative| UnaryCase {
        name,
        build,
        value,
        d2,
        magnitude: (lo, hi),
        negative,
    };
    vec![
        op("neg", |x| -x, |x| -x, |_| 0.0, 0.0, 5.0, true),
        op("exp", Value::exp, f64::exp, f64::exp, 0.0, 5.0, true),
        // (1/x)' = −1/x²
        op(
            "ln",
            Value::ln,
            f64::ln,
            |x| -1.0 / (x * x),
            0.05,
            10.0,
            false,
        ),
        // (½x^−½)' = −¼x^(−3/2)
        op(
            "sqrt",
            Value::sqrt,
            f64::sqrt,
            |x| -0.25 * x.powf(-1.5),
            0.05,
            10.0,
            false,
        ),
        // (−x⁻²)' = 2x⁻³
        op(
            "recip",
            Value::recip,
            f64::recip,
            |x| 2.0 / x.powi(3),
            0.1,
            10.0,
            true,
        ),
        op("abs", Value::abs, f64::abs, |_| 0.0, 1e-3, 5.0, true),
        op("sin", Value::sin, f64::sin, |x| -x.sin(), 0.0, 10.0, true),
        op("cos", Value::cos, f64::cos, |x| -x.cos(), 0.0, 10.0, true),
        op(
            "tanh",
            Value::tanh,
            f64::tanh,
            |x| -2.0 * x.tanh() * (1.0 - x.tanh().powi(2)),
            0.0,
            5.0,
            true,
        ),
        op(
            "sigmoid",
            Value::sigmoid,
            sigmoid,
            |x| sigmoid(x) * (1.0 - sigmoid(x)) * (1.0 - 2.0 * sigmoid(x)),
            0.0,
            10.0,
            true,
        ),
        op(
            "relu",
            Value::relu,
            |x| x.max(0.0),
            |_| 0.0,
            1e-3,
            5.0,
            true,
        ),
        // softplus' = σ, so softplus'' = σ(1 − σ)
        op(
            "softplus",
            Value::softplus,
            |x| (1.0 + x.exp()).ln(),
            |x| sigmoid(x) * (1.0 - sigmoid(x)),
            0.0,
            10.0,
            true,
        ),
        op(
            "leaky_relu(0.2)",
            |x| x.leaky_relu(0.2),
            |x| if x > 0.0 { x } else { 0.2 * x },
            |_| 0.0,
            1e-3,
            5.0,
            true,
        ),
        op(
            "powf(2.5)",
            |x| x.powf(2.5),
            |x| x.powf(2.5),
            |x| 3.75 * x.sqrt(),
            0.05,
            4.0,
            false,
        ),
        op(
            "powf(-0.5)",
            |x| x.powf(-0.5),
            |x| x.powf(-0.5),
            |x| 0.75 * x.powf(-2.5),
            0.05,
            4.0,
            false,
        ),
        op(
            "powi(3)",
            |x| x.powi(3),
            |x| x * x * x,
            |x| 6.0 * x,
            0.0,
            4.0,
            true,
        ),
        op(
            "powi(-2)",
            |x| x.powi(-2),
            |x| 1.0 / (x * x),
            |x| 6.0 / x.powi(4),
            0.1,
            4.0,
            true,
        ),
        // (x sin x)'' = 2 cos x − x sin x
        op(
            "custom",
            |x| {
                x.custom_with_derivatives(
                    "x·sin",
                    |x| x * x.sin(),
                    &[|x| x.sin() + x * x.cos(), |x| 2.0 * x.cos() - x * x.sin()],
                )
            },
            |x| x * x.sin(),
            |x| 2.0 * x.cos() - x * x.sin(),
            0.0,
            5.0,
            true,
        ),
    ]
}
