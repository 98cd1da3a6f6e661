//! `Op`: how a node was made, and the chain rule for each kind of node.
//!
//! Every op appears twice in this file, in the same order: once in a `value` method
//! (the forward formula) and once in the matching `derivative` method (the local
//! derivative, with the math in a comment). Adding an op means adding a variant to one of
//! the small kind enums below, one arm in each of those two methods, a `Value` method
//! that builds it, and a gradient test.
//!
//! Derivative conventions at kinks and edges follow PyTorch:
//! `relu'(0) = 0`, `abs'(0) = 0`, `max`/`min` split a tie 0.5/0.5, `x^0` has
//! derivative 0 everywhere, and a NaN input gives a NaN derivative (NaN is never
//! silently turned into 0).

use std::fmt;
use std::rc::Rc;

use crate::value::Value;

/// The record of how a node was made: its kind and its operands.
///
/// Operands are stored inline and in order (never in a set), so traversal is
/// deterministic and a node used twice (`a * a`) is visited through both slots.
pub(crate) enum Op {
    /// An input or constant: nothing to propagate into.
    Leaf,
    /// `f(x)` for a parameter-free function.
    Unary(Unary, Value),
    /// `f(x; c)` for a function with a constant parameter `c`.
    Param(Param, Value, f64),
    /// `f(a, b)`; the operands are kept as an array so they can be viewed as a slice.
    Binary(Binary, [Value; 2]),
    /// One fused node over many operands. For [`Nary::Dot`] the slice holds the left
    /// factors followed by the right factors.
    Nary(Nary, Box<[Value]>),
    /// A user-supplied function and its derivative.
    Custom(Rc<CustomFn>, Value),
}

/// Parameter-free functions of one operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unary {
    Neg,
    Exp,
    Ln,
    Sqrt,
    Recip,
    Abs,
    Sin,
    Cos,
    Tanh,
    Sigmoid,
    Relu,
    Softplus,
}

/// Functions of one operand with a constant parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Param {
    /// `x^c` for a real constant `c`.
    Powf,
    /// `x^n` for an integer `n` (stored exactly as an `f64`).
    Powi,
    /// `x` for `x > 0`, else `c·x`.
    LeakyRelu,
}

/// Functions of two operands, both differentiable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Max,
    Min,
}

/// Fused reductions over any number of operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Nary {
    /// `Σ xᵢ`.
    Sum,
    /// `Σ xᵢ·yᵢ`.
    Dot,
    /// `ln Σ exp(xᵢ)`, computed with the maximum subtracted.
    LogSumExp,
}

/// A user-defined function of one operand, with the derivative the user claims for it.
pub(crate) struct CustomFn {
    pub(crate) name: Box<str>,
    pub(crate) df: fn(f64) -> f64,
}

// ---------------------------------------------------------------------------------------
// Unary: forward formula and derivative. `x` is the operand, `y = f(x)` the result.
// ---------------------------------------------------------------------------------------

impl Unary {
    pub(crate) fn value(self, x: f64) -> f64 {
        match self {
            Unary::Neg => -x,
            Unary::Exp => x.exp(),
            Unary::Ln => x.ln(),
            Unary::Sqrt => x.sqrt(),
            Unary::Recip => x.recip(),
            Unary::Abs => x.abs(),
            Unary::Sin => x.sin(),
            Unary::Cos => x.cos(),
            Unary::Tanh => x.tanh(),
            Unary::Sigmoid => sigmoid(x),
            // `x.max(0.0)` would turn NaN into 0; this keeps NaN.
            Unary::Relu => {
                if x > 0.0 || x.is_nan() {
                    x
                } else {
                    0.0
                }
            }
            // ln(1 + eˣ) = max(x, 0) + ln(1 + e^−|x|): never overflows.
            Unary::Softplus => {
                if x.is_nan() {
                    x
                } else {
                    x.max(0.0) + (-x.abs()).exp().ln_1p()
                }
            }
        }
    }

    pub(crate) fn derivative(self, x: f64, y: f64) -> f64 {
        match self {
            // d(−x) = −1
            Unary::Neg => -1.0,
            // d eˣ = eˣ = y
            Unary::Exp => y,
            // d ln x = 1/x  (ln 0 = −inf, derivative +inf)
            Unary::Ln => x.recip(),
            // d √x = 1/(2√x) = 0.5/y  (+inf at 0)
            Unary::Sqrt => 0.5 / y,
            // d (1/x) = −1/x² = −y²
            Unary::Recip => -(y * y),
            // d |x| = sign(x), with sign(0) = 0
            Unary::Abs => sign(x),
            // d sin x = cos x
            Unary::Sin => x.cos(),
            // d cos x = −sin x
            Unary::Cos => -x.sin(),
            // d tanh x = 1 − tanh² x
            Unary::Tanh => 1.0 - y * y,
            // d σ(x) = σ(x)(1 − σ(x))
            Unary::Sigmoid => y * (1.0 - y),
            // d relu x = 1 for x > 0, 0 for x ≤ 0
            Unary::Relu => step(x, 0.0),
            // d softplus x = σ(x)
            Unary::Softplus => sigmoid(x),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Param: forward formula and derivative, with the constant `c`.
// ---------------------------------------------------------------------------------------

impl Param {
    pub(crate) fn value(self, x: f64, c: f64) -> f64 {
        match self {
            Param::Powf => x.powf(c),
            // `c` holds an i32 exactly, so the cast is lossless.
            Param::Powi => x.powi(c as i32),
            Param::LeakyRelu => {
                if x > 0.0 {
                    x
                } else {
                    c * x
                }
            }
        }
    }

    pub(crate) fn derivative(self, x: f64, c: f64) -> f64 {
        match self {
            // d xᶜ = c·x^(c−1); x⁰ is constant, so its derivative is 0 even at x = 0
            Param::Powf => power_rule(x, c, x.powf(c - 1.0)),
            // d xⁿ = n·x^(n−1), the same rule with an integer power
            Param::Powi => power_rule(x, c, x.powi(c as i32 - 1)),
            // d leaky_relu x = 1 for x > 0, c for x ≤ 0
            Param::LeakyRelu => step(x, c),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Binary: forward formula and the two partial derivatives (∂y/∂a, ∂y/∂b).
// ---------------------------------------------------------------------------------------

impl Binary {
    pub(crate) fn value(self, a: f64, b: f64) -> f64 {
        match self {
            Binary::Add => a + b,
            Binary::Sub => a - b,
            Binary::Mul => a * b,
            Binary::Div => a / b,
            Binary::Pow => a.powf(b),
            // `f64::max`/`min` return the other operand when one is NaN; these keep NaN.
            Binary::Max => {
                if a.is_nan() || b.is_nan() {
                    f64::NAN
                } else {
                    a.max(b)
                }
            }
            Binary::Min => {
                if a.is_nan() || b.is_nan() {
                    f64::NAN
                } else {
                    a.min(b)
                }
            }
        }
    }

    pub(crate) fn derivative(self, a: f64, b: f64, y: f64) -> (f64, f64) {
        match self {
            // ∂(a+b) = (1, 1)
            Binary::Add => (1.0, 1.0),
            // ∂(a−b) = (1, −1)
            Binary::Sub => (1.0, -1.0),
            // ∂(a·b) = (b, a)
            Binary::Mul => (b, a),
            // ∂(a/b) = (1/b, −a/b²) = (1/b, −y/b)
            Binary::Div => (b.recip(), -y / b),
            // ∂(aᵇ) = (b·a^(b−1), aᵇ·ln a); as in PyTorch, ∂/∂b is 0 where a = 0 and b ≥ 0
            Binary::Pow => {
                let da = power_rule(a, b, a.powf(b - 1.0));
                let db = if a == 0.0 && b >= 0.0 {
                    0.0
                } else {
                    y * a.ln()
                };
                (da, db)
            }
            // ∂max = (1, 0) where a wins, (0, 1) where b wins, (½, ½) on a tie
            Binary::Max => tie_split(a, b),
            // ∂min mirrors max
            Binary::Min => {
                let (da, db) = tie_split(a, b);
                (db, da)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Nary: forward formula and the partial derivative for operand `i`.
// ---------------------------------------------------------------------------------------

impl Nary {
    /// The value of the reduction over operand data (`xs` for `Dot` is left ++ right).
    pub(crate) fn value(self, xs: &[f64]) -> f64 {
        match self {
            Nary::Sum => xs.iter().sum(),
            Nary::Dot => {
                let (l, r) = xs.split_at(xs.len() / 2);
                l.iter().zip(r).map(|(a, b)| a * b).sum()
            }
            // ln Σ eˣⁱ = m + ln Σ e^(xᵢ−m) with m = max xᵢ, so no term overflows.
            Nary::LogSumExp => {
                let m = nan_max(xs.iter().copied());
                if !m.is_finite() {
                    // Empty input or an infinite maximum: the result is that maximum
                    // (or NaN), and subtracting it would make ∞ − ∞.
                    return m;
                }
                m + xs.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
            }
        }
    }

    /// Propagates the upstream adjoint `g` into every operand.
    fn propagate(self, operands: &[Value], y: f64, g: f64) {
        match self {
            // ∂/∂xᵢ Σ x = 1
            Nary::Sum => operands.iter().for_each(|x| x.add_grad(g)),
            // ∂/∂xᵢ Σ x·y = yᵢ and ∂/∂yᵢ = xᵢ
            Nary::Dot => {
                let (l, r) = operands.split_at(operands.len() / 2);
                for (a, b) in l.iter().zip(r) {
                    let (ad, bd) = (a.data(), b.data());
                    a.add_grad(g * bd);
                    b.add_grad(g * ad);
                }
            }
            // ∂/∂xᵢ ln Σ eˣ = e^(xᵢ−m) / Σ e^(xⱼ−m), the softmax. Recomputed from the
            // maximum m rather than as e^(xᵢ−y): y = m + ln Σ has lost the low digits of
            // the sum when m is large.
            Nary::LogSumExp => {
                let m = max_data(operands);
                if !m.is_finite() {
                    operands
                        .iter()
                        .for_each(|x| x.add_grad(g * (x.data() - y).exp()));
                    return;
                }
                let total: f64 = operands.iter().map(|x| (x.data() - m).exp()).sum();
                operands
                    .iter()
                    .for_each(|x| x.add_grad(g * (x.data() - m).exp() / total));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The chain rule for one node.
// ---------------------------------------------------------------------------------------

impl Op {
    /// The operands, in the order the op was built with.
    pub(crate) fn operands(&self) -> &[Value] {
        match self {
            Op::Leaf => &[],
            Op::Unary(_, x) | Op::Param(_, x, _) | Op::Custom(_, x) => std::slice::from_ref(x),
            Op::Binary(_, xs) => xs,
            Op::Nary(_, xs) => xs,
        }
    }

    /// Adds `local derivative × g` into each operand's gradient, where `y` is this
    /// node's data and `g` its adjoint.
    pub(crate) fn propagate(&self, y: f64, g: f64) {
        match self {
            Op::Leaf => {}
            Op::Unary(f, x) => x.add_grad(g * f.derivative(x.data(), y)),
            Op::Param(f, x, c) => x.add_grad(g * f.derivative(x.data(), *c)),
            Op::Binary(f, [a, b]) => {
                let (da, db) = f.derivative(a.data(), b.data(), y);
                a.add_grad(g * da);
                b.add_grad(g * db);
            }
            Op::Nary(f, xs) => f.propagate(xs, y, g),
            Op::Custom(f, x) => x.add_grad(g * (f.df)(x.data())),
        }
    }

    /// A short name for printing and for the DOT graph.
    pub(crate) fn name(&self) -> String {
        match self {
            Op::Leaf => String::new(),
            Op::Unary(f, _) => f.symbol().to_owned(),
            Op::Param(Param::Powf | Param::Powi, _, c) => format!("^{c}"),
            Op::Param(Param::LeakyRelu, _, c) => format!("leaky_relu({c})"),
            Op::Binary(f, _) => f.symbol().to_owned(),
            Op::Nary(f, _) => f.symbol().to_owned(),
            Op::Custom(f, _) => f.name.to_string(),
        }
    }
}

impl Unary {
    fn symbol(self) -> &'static str {
        match self {
            Unary::Neg => "neg",
            Unary::Exp => "exp",
            Unary::Ln => "ln",
            Unary::Sqrt => "sqrt",
            Unary::Recip => "recip",
            Unary::Abs => "abs",
            Unary::Sin => "sin",
            Unary::Cos => "cos",
            Unary::Tanh => "tanh",
            Unary::Sigmoid => "sigmoid",
            Unary::Relu => "relu",
            Unary::Softplus => "softplus",
        }
    }
}

impl Binary {
    fn symbol(self) -> &'static str {
        match self {
            Binary::Add => "+",
            Binary::Sub => "-",
            Binary::Mul => "*",
            Binary::Div => "/",
            Binary::Pow => "pow",
            Binary::Max => "max",
            Binary::Min => "min",
        }
    }
}

impl Nary {
    fn symbol(self) -> &'static str {
        match self {
            Nary::Sum => "sum",
            Nary::Dot => "dot",
            Nary::LogSumExp => "logsumexp",
        }
    }
}

impl fmt::Debug for CustomFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CustomFn({})", self.name)
    }
}

// ---------------------------------------------------------------------------------------
// Small helpers shared by several rules.
// ---------------------------------------------------------------------------------------

/// The logistic function, in the form that cannot overflow for either sign of `x`.
pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// The maximum of `xs`, NaN if any is NaN, `−inf` if there are none.
fn nan_max(xs: impl Iterator<Item = f64>) -> f64 {
    xs.fold(f64::NEG_INFINITY, |m, x| {
        if x.is_nan() || m.is_nan() {
            f64::NAN
        } else {
            m.max(x)
        }
    })
}

fn max_data(xs: &[Value]) -> f64 {
    nan_max(xs.iter().map(Value::data))
}

/// `sign(x)` with `sign(0) = 0` and NaN kept.
fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        x * 0.0
    }
}

/// 1 where `x > 0`, `below` where `x ≤ 0`, NaN where `x` is NaN.
fn step(x: f64, below: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x.is_nan() {
        x
    } else {
        below
    }
}

/// `c·x^(c−1)` given `x^(c−1)`, and exactly 0 when `c = 0` (x⁰ is a constant).
fn power_rule(x: f64, c: f64, x_pow_c_minus_1: f64) -> f64 {
    if c == 0.0 && !x.is_nan() {
        0.0
    } else {
        c * x_pow_c_minus_1
    }
}

/// The gradient split of `max(a, b)`: all to the larger operand, half each on a tie.
fn tie_split(a: f64, b: f64) -> (f64, f64) {
    if a > b {
        (1.0, 0.0)
    } else if a < b {
        (0.0, 1.0)
    } else if a == b {
        (0.5, 0.5)
    } else {
        (f64::NAN, f64::NAN)
    }
}
