//! Shared test helpers: closeness checks, an independent finite-difference oracle, and
//! the random-expression generator used by the property tests.
#![allow(dead_code)] // each test file uses its own subset

pub mod unary;

use proptest::prelude::*;
use scalargrad::nn::{Activation, Layer, Mlp, Neuron};
use scalargrad::Value;

/// Asserts `|actual − expected| ≤ tol`, naming both numbers.
#[track_caller]
pub fn assert_close(actual: f64, expected: f64, tol: f64) {
    assert!(
        (actual - expected).abs() <= tol,
        "expected {expected} ± {tol}, got {actual} (off by {:e})",
        (actual - expected).abs()
    );
}

/// Runs `f` on a thread whose whole stack is `bytes`, failing if it overflows: how the
/// stack-safety tests prove that nothing recurses once per node.
pub fn on_small_stack(bytes: usize, f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(bytes)
        .spawn(f)
        .expect("spawn a thread")
        .join()
        .expect("no stack overflow or panic on a small stack");
}

/// A finite-difference estimate of a derivative, with a bound on its own error.
#[derive(Clone, Copy, Debug)]
pub struct Estimate {
    /// Central difference with step h.
    pub value: f64,
    /// How far the true derivative may be from `value`: truncation error (estimated by
    /// comparing steps h and 2h, which also exposes a kink inside the stencil) plus the
    /// rounding error of the differences.
    pub error: f64,
}

/// Central differences of a plain `f64` function along `x[i]`, with an error bound.
pub fn central_difference(f: &dyn Fn(&[f64]) -> f64, x: &[f64], i: usize) -> Estimate {
    let h = 1e-5 * x[i].abs().max(1.0);
    let mut at = x.to_vec();
    let mut eval = |dx: f64| {
        at[i] = x[i] + dx;
        f(&at)
    };
    let (p1, m1, p2, m2) = (eval(h), eval(-h), eval(2.0 * h), eval(-2.0 * h));
    let d1 = (p1 - m1) / (2.0 * h);
    let d2 = (p2 - m2) / (4.0 * h);
    let rounding = 8.0 * f64::EPSILON * (p1.abs() + m1.abs() + p2.abs() + m2.abs()) / h;
    Estimate {
        value: d1,
        error: 10.0 * (d1 - d2).abs() + rounding,
    }
}

impl Estimate {
    /// Whether the estimate can judge a derivative at all: false where the function
    /// changes too fast for the step (its error bound swamps its value).
    pub fn is_reliable(&self) -> bool {
        self.error <= 1e-3 * (1.0 + self.value.abs())
    }
}

/// Asserts that an analytic derivative agrees with a finite-difference estimate, up to
/// the estimate's own error plus a small relative slack.
#[track_caller]
pub fn assert_derivative(what: &str, analytic: f64, estimate: Estimate) {
    let tol = estimate.error + 1e-6 * (1.0 + estimate.value.abs());
    assert!(
        (analytic - estimate.value).abs() <= tol,
        "{what}: got {analytic}, finite differences give {} (tolerance {tol:e})",
        estimate.value
    );
}

// ---------------------------------------------------------------------------------------
// Random expression DAGs.
// ---------------------------------------------------------------------------------------

/// One step of a random expression: combines earlier nodes (by index, so nodes are
/// shared) into a new one. Every op of the engine appears.
#[derive(Clone, Debug)]
pub enum Step {
    Const(f64),
    /// `(a + b) / 2`: halved, like every step that could grow, so that values and
    /// derivatives stay in a range where finite differences can judge them.
    Add(usize, usize),
    /// `(a − b) / 2`.
    Sub(usize, usize),
    /// `a · tanh(b)`: a product that cannot blow up over many steps.
    Mul(usize, usize),
    /// `a / (1 + b²)`: a quotient with a denominator away from zero.
    Div(usize, usize),
    /// `(1 + a²)^(tanh(b)/2)`: base and exponent differentiable, base positive.
    Pow(usize, usize),
    Max(usize, usize),
    Min(usize, usize),
    Neg(usize),
    /// `exp(tanh a)`.
    Exp(usize),
    /// `ln(1 + a²)`.
    Ln(usize),
    /// `sqrt(1 + a²)`.
    Sqrt(usize),
    /// `1 / (2 + sin a)`.
    Recip(usize),
    Abs(usize),
    Sin(usize),
    Cos(usize),
    Tanh(usize),
    Sigmoid(usize),
    Relu(usize),
    LeakyRelu(usize),
    Softplus(usize),
    /// `tanh(a)^c` for a real c, on `1.5 + tanh a` so the base is positive.
    Powf(usize, f64),
    /// `tanh(a)^n`.
    Powi(usize, i32),
    /// A user op: `a / (1 + a²)` with derivatives `(1 − a²) / (1 + a²)²`,
    /// `2a(a² − 3) / (1 + a²)³` and `−6(a⁴ − 6a² + 1) / (1 + a²)⁴`; the third serves
    /// third-order `grad`s, checked in `tests/higher_order.rs`.
    Custom(usize),
    /// `Σ xᵢ / n`.
    Sum(Vec<usize>),
    /// `Σ xᵢ·tanh(yᵢ) / n`.
    Dot(Vec<usize>, Vec<usize>),
    LogSumExp(Vec<usize>),
    /// A fused neuron, `act(Σ xᵢ·tanh(wᵢ) + b) / (n + 1)`: inputs, weights (through
    /// tanh, to keep values bounded), bias, and the activation's index in
    /// [`ACTIVATIONS`].
    Neuron(Vec<usize>, Vec<usize>, usize, usize),
}

/// The activations a [`Step::Neuron`] can use.
pub const ACTIVATIONS: [Activation; 5] = [
    Activation::Relu,
    Activation::Tanh,
    Activation::Sigmoid,
    Activation::LeakyRelu(0.1),
    Activation::Linear,
];

/// A random expression over `inputs` leaves: the steps, each building one node from
/// earlier ones. The output is the last node.
#[derive(Clone, Debug)]
pub struct Expr {
    pub inputs: Vec<f64>,
    pub steps: Vec<Step>,
}

fn pick(n: usize) -> impl Strategy<Value = usize> {
    0..n
}

fn step(n: usize) -> BoxedStrategy<Step> {
    let i = || pick(n);
    let list = || proptest::collection::vec(pick(n), 1..6);
    prop_oneof![
        (-2.0..2.0f64).prop_map(Step::Const),
        (i(), i()).prop_map(|(a, b)| Step::Add(a, b)),
        (i(), i()).prop_map(|(a, b)| Step::Sub(a, b)),
        (i(), i()).prop_map(|(a, b)| Step::Mul(a, b)),
        (i(), i()).prop_map(|(a, b)| Step::Div(a, b)),
        (i(), i()).prop_map(|(a, b)| Step::Pow(a, b)),
        (i(), i()).prop_map(|(a, b)| Step::Max(a, b)),
        (i(), i()).prop_map(|(a, b)| Step::Min(a, b)),
        i().prop_map(Step::Neg),
        i().prop_map(Step::Exp),
        i().prop_map(Step::Ln),
        i().prop_map(Step::Sqrt),
        i().prop_map(Step::Recip),
        i().prop_map(Step::Abs),
        i().prop_map(Step::Sin),
        i().prop_map(Step::Cos),
        i().prop_map(Step::Tanh),
        i().prop_map(Step::Sigmoid),
        i().prop_map(Step::Relu),
        i().prop_map(Step::LeakyRelu),
        i().prop_map(Step::Softplus),
        (i(), -2.5..2.5f64).prop_map(|(a, c)| Step::Powf(a, c)),
        (i(), -3..4i32).prop_map(|(a, n)| Step::Powi(a, n)),
        i().prop_map(Step::Custom),
        list().prop_map(Step::Sum),
        (1..5usize)
            .prop_flat_map(move |len| (
                proptest::collection::vec(pick(n), len),
                proptest::collection::vec(pick(n), len)
            ))
            .prop_map(|(a, b)| Step::Dot(a, b)),
        list().prop_map(Step::LogSumExp),
        (1..5usize)
            .prop_flat_map(move |len| (
                proptest::collection::vec(pick(n), len),
                proptest::collection::vec(pick(n), len),
                pick(n),
                0..ACTIVATIONS.len(),
            ))
            .prop_map(|(x, w, b, act)| Step::Neuron(x, w, b, act)),
    ]
    .boxed()
}

/// Expressions with 1–4 inputs in [−2, 2] and up to `max_steps` steps.
pub fn expr(max_steps: usize) -> impl Strategy<Value = Expr> {
    (1..=4usize, 1..=max_steps).prop_flat_map(|(n_inputs, n_steps)| {
        let inputs = proptest::collection::vec(-2.0..2.0f64, n_inputs);
        let steps: Vec<BoxedStrategy<Step>> = (0..n_steps).map(|k| step(n_inputs + k)).collect();
        (inputs, steps).prop_map(|(inputs, steps)| Expr { inputs, steps })
    })
}

/// The operations an expression needs, so that one interpreter serves both `Value`
/// and plain `f64` (the oracle).
pub trait Scalar: Clone {
    fn constant(c: f64) -> Self;
    fn apply(step: &Step, nodes: &[Self]) -> Self;
}

impl Scalar for f64 {
    fn constant(c: f64) -> f64 {
        c
    }

    fn apply(step: &Step, v: &[f64]) -> f64 {
        use self::unary::sigmoid;
        match *step {
            Step::Const(c) => c,
            Step::Add(a, b) => (v[a] + v[b]) * 0.5,
            Step::Sub(a, b) => (v[a] - v[b]) * 0.5,
            Step::Mul(a, b) => v[a] * v[b].tanh(),
            Step::Div(a, b) => v[a] / (1.0 + v[b] * v[b]),
            Step::Pow(a, b) => (1.0 + v[a] * v[a]).powf(v[b].tanh() * 0.5),
            Step::Max(a, b) => v[a].max(v[b]),
            Step::Min(a, b) => v[a].min(v[b]),
            Step::Neg(a) => -v[a],
            Step::Exp(a) => v[a].tanh().exp(),
            Step::Ln(a) => (1.0 + v[a] * v[a]).ln(),
            Step::Sqrt(a) => (1.0 + v[a] * v[a]).sqrt(),
            Step::Recip(a) => 1.0 / (2.0 + v[a].sin()),
            Step::Abs(a) => v[a].abs(),
            Step::Sin(a) => v[a].sin(),
            Step::Cos(a) => v[a].cos(),
            Step::Tanh(a) => v[a].tanh(),
            Step::Sigmoid(a) => sigmoid(v[a]),
            Step::Relu(a) => v[a].max(0.0),
            Step::LeakyRelu(a) => {
                if v[a] > 0.0 {
                    v[a]
                } else {
                    0.1 * v[a]
                }
            }
            Step::Softplus(a) => {
                if v[a] > 30.0 {
                    v[a] // ln(1 + eˣ) = x to within rounding here
                } else {
                    (1.0 + v[a].exp()).ln()
                }
            }
            Step::Powf(a, c) => (1.5 + v[a].tanh()).powf(c),
            Step::Powi(a, n) => (1.5 + v[a].tanh()).powi(n),
            Step::Custom(a) => v[a] / (1.0 + v[a] * v[a]),
            Step::Sum(ref xs) => xs.iter().map(|&i| v[i]).sum::<f64>() / xs.len() as f64,
            Step::Dot(ref xs, ref ys) => {
                xs.iter()
                    .zip(ys)
                    .map(|(&i, &j)| v[i] * v[j].tanh())
                    .sum::<f64>()
                    / xs.len() as f64
            }
            Step::LogSumExp(ref xs) => {
                let m = xs.iter().map(|&i| v[i]).fold(f64::NEG_INFINITY, f64::max);
                m + xs.iter().map(|&i| (v[i] - m).exp()).sum::<f64>().ln()
            }
            Step::Neuron(ref xs, ref ws, b, act) => {
                let z = xs
                    .iter()
                    .zip(ws)
                    .map(|(&i, &j)| v[i] * v[j].tanh())
                    .sum::<f64>()
                    + v[b];
                let y = match ACTIVATIONS[act] {
                    Activation::Relu => z.max(0.0),
                    Activation::Tanh => z.tanh(),
                    Activation::Sigmoid => sigmoid(z),
                    Activation::LeakyRelu(s) => {
                        if z > 0.0 {
                            z
                        } else {
                            s * z
                        }
                    }
                    Activation::Linear => z,
                };
                y / (xs.len() + 1) as f64
            }
        }
    }
}

impl Scalar for Value {
    fn constant(c: f64) -> Value {
        Value::new(c)
    }

    fn apply(step: &Step, v: &[Value]) -> Value {
        let one_plus_square = |x: &Value| 1.0 + x * x;
        let pick = |xs: &[usize]| xs.iter().map(|&i| v[i].clone()).collect::<Vec<_>>();
        match *step {
            Step::Const(c) => Value::new(c),
            Step::Add(a, b) => (&v[a] + &v[b]) * 0.5,
            Step::Sub(a, b) => (&v[a] - &v[b]) * 0.5,
            Step::Mul(a, b) => &v[a] * v[b].tanh(),
            Step::Div(a, b) => &v[a] / one_plus_square(&v[b]),
            Step::Pow(a, b) => one_plus_square(&v[a]).pow(&(v[b].tanh() * 0.5)),
            Step::Max(a, b) => v[a].max(&v[b]),
            Step::Min(a, b) => v[a].min(&v[b]),
            Step::Neg(a) => -&v[a],
            Step::Exp(a) => v[a].tanh().exp(),
            Step::Ln(a) => one_plus_square(&v[a]).ln(),
            Step::Sqrt(a) => one_plus_square(&v[a]).sqrt(),
            Step::Recip(a) => (2.0 + v[a].sin()).recip(),
            Step::Abs(a) => v[a].abs(),
            Step::Sin(a) => v[a].sin(),
            Step::Cos(a) => v[a].cos(),
            Step::Tanh(a) => v[a].tanh(),
            Step::Sigmoid(a) => v[a].sigmoid(),
            Step::Relu(a) => v[a].relu(),
            Step::LeakyRelu(a) => v[a].leaky_relu(0.1),
            Step::Softplus(a) => v[a].softplus(),
            Step::Powf(a, c) => (1.5 + v[a].tanh()).powf(c),
            Step::Powi(a, n) => (1.5 + v[a].tanh()).powi(n),
            Step::Custom(a) => v[a].custom_with_derivatives(
                "x/(1+x²)",
                |x| x / (1.0 + x * x),
                &[
                    |x| (1.0 - x * x) / (1.0 + x * x).powi(2),
                    |x| 2.0 * x * (x * x - 3.0) / (1.0 + x * x).powi(3),
                    |x| -6.0 * (x.powi(4) - 6.0 * x * x + 1.0) / (1.0 + x * x).powi(4),
                ],
            ),
            Step::Sum(ref xs) => Value::sum(&pick(xs)) / xs.len() as f64,
            Step::Dot(ref xs, ref ys) => {
                let tanh_ys: Vec<Value> = ys.iter().map(|&j| v[j].tanh()).collect();
                Value::dot(&pick(xs), &tanh_ys) / xs.len() as f64
            }
            Step::LogSumExp(ref xs) => scalargrad::logsumexp(&pick(xs)),
            Step::Neuron(ref xs, ref ws, b, act) => {
                // A one-neuron model whose parameters are nodes of this expression.
                let template = Neuron::from_weights(&vec![0.0; xs.len()], 0.0, ACTIVATIONS[act]);
                let model = Mlp::from_layers(vec![Layer::from_neurons(vec![template])]);
                let mut params: Vec<Value> = ws.iter().map(|&j| v[j].tanh()).collect();
                params.push(v[b].clone());
                let neuron = model
                    .with_parameters(&params)
                    .expect("one value per parameter");
                neuron.forward(&pick(xs)).remove(0) / (xs.len() + 1) as f64
            }
        }
    }
}

impl Expr {
    /// Runs the expression over any scalar type; returns every node, output last.
    pub fn run<S: Scalar>(&self, inputs: &[S]) -> Vec<S> {
        let mut nodes: Vec<S> = inputs.to_vec();
        for step in &self.steps {
            let node = S::apply(step, &nodes);
            nodes.push(node);
        }
        nodes
    }

    /// The output as a plain function of the inputs: the independent oracle.
    pub fn eval(&self, x: &[f64]) -> f64 {
        *self
            .run(x)
            .last()
            .expect("an expression has at least one step")
    }

    /// Builds the graph; returns the input leaves and the output.
    pub fn build(&self) -> (Vec<Value>, Value) {
        let leaves: Vec<Value> = self.inputs.iter().map(|&x| Value::new(x)).collect();
        let out = self.run(&leaves).pop().expect("at least one step");
        (leaves, out)
    }
}
