//! `Op`: how a node was made, and the chain rule for each kind of node.
//!
//! Every op appears three times in this file, in the same order: once in a `value`
//! method (the forward formula), once in the matching `derivative` method (the local
//! derivative as an `f64`, with the math in a comment), and once in `derivative_value`
//! (the same local derivative built from `Value`s, so that a gradient can itself be
//! differentiated; see `higher.rs`). A fourth method, `keeps_zeros`, says whether the
//! `f64` derivative is finite wherever the op's operands and value are (see
//! `sparse.rs`). Adding an op means adding a variant to one of the small kind enums
//! below, one arm in each of those four methods, a `Value` method that builds it, and
//! a gradient test.
//!
//! The `f64` rules are the fast path of `backward()`; the `Value` rules are used only to
//! build gradient graphs, and never slow it down. Where a derivative is piecewise
//! constant (relu, abs, leaky relu, max, min) its `Value` form is a constant, so its own
//! derivative is 0, as it is almost everywhere. At a NaN operand that constant is NaN;
//! its own derivative is still 0, and NaN reaches higher derivatives through the other
//! uses of the operand.
//!
//! Derivative conventions at kinks and edges follow PyTorch:
//! `relu'(0) = 0`, `abs'(0) = 0`, `max`/`min` split a tie 0.5/0.5, `x^0` has
//! derivative 0 everywhere, and a NaN input gives a NaN derivative (NaN is never
//! silently turned into 0).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use crate::higher::GradError;
use crate::nn::Activation;
use crate::sparse;
use crate::value::{DerivativeGuard, Value};

/// The record of how a node was made: its kind and its operands.
///
/// Operands are stored inline and in order (never in a set), so traversal is
/// deterministic and a node used twice (`a * a`) is visited through both slots.
pub(crate) enum Op {
    /// An input or constant: nothing to propagate into.
    Leaf,
    /// `f(a, b)`; the operands are kept as an array so they can be viewed as a slice.
    ///
    /// Declared first of the computed kinds because it is the commonest: freeing tells
    /// the kinds apart by comparing the tag with each in turn, and reaches this one
    /// with the first comparison instead of the third.
    Binary(Binary, [Value; 2]),
    /// `f(x)` for a parameter-free function.
    Unary(Unary, Value),
    /// `f(x; c)` for a function with a constant parameter `c`.
    Param(Param, Value, f64),
    /// One fused node over many operands. For [`Nary::Dot`] the slice holds the
    /// factors pair by pair, `x₀, y₀, x₁, y₁, …`, so that every pass over it reads
    /// each pair together (see `Value::dot`).
    Nary(Nary, Box<[Value]>),
    /// A user-supplied function and its derivative.
    Custom(Rc<CustomFn>, Value),
    /// A whole neuron, `act(w·x + b)`, as one node. Both operand lists are shared
    /// handles (the neuron's parameters, and the inputs every neuron of a layer sees),
    /// so building the node copies no list of operands.
    Neuron(Rc<NeuronParams>, Rc<SharedInputs>),
}

/// A neuron's parameters, weights then bias, and its activation: one operand list of a
/// [`Op::Neuron`] node, shared by every node the neuron makes.
pub(crate) struct NeuronParams {
    /// `w₀ … wₙ₋₁` followed by the bias `b`.
    pub(crate) params: Box<[Value]>,
    pub(crate) activation: Activation,
    /// Whether every parameter is a leaf (as the crate's own models' are).
    pub(crate) all_leaves: bool,
    /// The last traversal that went through this list (see [`Op::lists_to_visit`]).
    pub(crate) seen: Cell<u64>,
    /// [`NeuronParams::keeps_zeros`]'s answer, and the `sparse::generation` it holds
    /// for.
    pub(crate) zero_safe: Cell<Option<(u64, bool)>>,
}

/// The inputs of one layer's forward pass: one operand list that every neuron of the
/// layer shares.
pub(crate) struct SharedInputs {
    pub(crate) values: Vec<Value>,
    /// The last traversal that went through this list (see [`Op::lists_to_visit`]).
    pub(crate) seen: Cell<u64>,
    /// Whether every value was zero-safe when the list was made (see `sparse.rs`).
    pub(crate) zero_safe: bool,
}

impl SharedInputs {
    /// A list of `values`, to be shared by the neurons of one layer in one forward
    /// pass. Its memory is that of a list freed earlier on this thread if there is one
    /// (see [`KEPT_LISTS`]).
    pub(crate) fn collect(values: impl IntoIterator<Item = Value>) -> Rc<SharedInputs> {
        let mut list = KEPT_LISTS
            .try_with(|kept| kept.borrow_mut().pop())
            .ok()
            .flatten()
            .unwrap_or_else(|| {
                Rc::new(SharedInputs {
                    values: Vec::new(),
                    seen: Cell::new(0),
                    zero_safe: false,
                })
            });
        let inputs = Rc::get_mut(&mut list).expect("a kept list has no other handle");
        inputs.values.extend(values);
        inputs.zero_safe = inputs.values.iter().all(Value::is_zero_safe);
        list
    }

    /// Lets go of one node's handle to `list`. The last handle hands each value to
    /// `release` and keeps the emptied list's memory for [`SharedInputs::collect`].
    fn let_go(mut list: Rc<SharedInputs>, release: impl FnMut(Value)) {
        let Some(inputs) = Rc::get_mut(&mut list) else {
            return;
        };
        inputs.values.drain(..).for_each(release);
        if inputs.values.capacity() <= MAX_KEPT_WIDTH {
            let _ = KEPT_LISTS.try_with(|kept| {
                let mut kept = kept.borrow_mut();
                if kept.len() < MAX_KEPT_LISTS {
                    kept.push(list);
                }
            });
        }
    }
}

/// The most emptied input lists a thread keeps: enough for a step over a few hundred
/// samples through a few layers.
const MAX_KEPT_LISTS: usize = 4096;

/// The widest input list that is kept for reuse. With [`MAX_KEPT_LISTS`], a thread
/// keeps at most 32 MiB of emptied lists (4096 × 1024 handles of 8 bytes), and never
/// gives them back while it runs.
const MAX_KEPT_WIDTH: usize = 1024;

thread_local! {
    /// Emptied input lists, kept for later forward passes: a training step makes one
    /// per layer per sample and frees them all with its graph, so the next step takes
    /// them back instead of allocating each afresh. Popping and pushing drop no value,
    /// so no node is freed while this is borrowed.
    static KEPT_LISTS: RefCell<Vec<Rc<SharedInputs>>> = const { RefCell::new(Vec::new()) };
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

/// A plain function of one number: a custom op's function or one of its derivatives.
pub(crate) type ScalarFn = fn(f64) -> f64;

/// A user-defined function of one operand, with the derivatives the user claims for it.
///
/// One `CustomFn` describes one derivative of the user's function: `order` 0 is the
/// function itself, and the node that `derivative_value` builds for it has order 1,
/// and so on. All of them share the user's name and list of derivatives.
pub(crate) struct CustomFn {
    pub(crate) name: Rc<str>,
    /// Which derivative of the user's function this node computes (0: the function).
    pub(crate) order: usize,
    /// The derivative of this node's function, as `backward()` uses it: the user's
    /// derivative of order `order + 1`, or [`no_derivative`] (NaN) if none was given.
    pub(crate) df: ScalarFn,
    /// The user's derivatives, first derivative first.
    pub(crate) derivatives: Rc<[ScalarFn]>,
}

/// A local derivative, as a gradient graph is built from it: a number fixed at the point
/// where the graph is built (its own derivative is 0), or an expression in the graph.
pub(crate) enum Partial {
    Const(f64),
    Expr(Value),
}

use Partial::{Const, Expr};

// ---------------------------------------------------------------------------------------
// Unary: forward formula and derivative. `x` is the operand, `y = f(x)` the result.
// ---------------------------------------------------------------------------------------

impl Unary {
    /// Adds `f'(x) × g` into `x`'s gradient, where `y = f(x)` and `g` is `y`'s adjoint.
    #[inline]
    pub(crate) fn propagate(self, x: &Value, y: f64, g: f64) {
        x.add_grad(g * self.derivative(x.data(), y));
    }

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

    /// [`Unary::derivative`] as a graph, given the operand `x` and the result `y`.
    pub(crate) fn derivative_value(self, x: &Value, y: &Value) -> Partial {
        match self {
            Unary::Neg => Const(-1.0),
            Unary::Exp => Expr(y.clone()),
            Unary::Ln => Expr(x.recip()),
            Unary::Sqrt => Expr(0.5 / y),
            Unary::Recip => Expr(-(y * y)),
            // sign x: constant on each side of 0
            Unary::Abs => Const(sign(x.data())),
            Unary::Sin => Expr(x.cos()),
            Unary::Cos => Expr(-x.sin()),
            Unary::Tanh => Expr(1.0 - y * y),
            Unary::Sigmoid => Expr(y * (1.0 - y)),
            // a step: constant on each side of 0
            Unary::Relu => Const(step(x.data(), 0.0)),
            Unary::Softplus => Expr(x.sigmoid()),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Param: forward formula and derivative, with the constant `c`.
// ---------------------------------------------------------------------------------------

impl Param {
    /// Adds `∂f(x; c)/∂x × g` into `x`'s gradient, where `g` is the node's adjoint.
    #[inline]
    pub(crate) fn propagate(self, x: &Value, c: f64, g: f64) {
        x.add_grad(g * self.derivative(x.data(), c));
    }

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
            // (n − 1 does not fit an i32 only for n = i32::MIN; x^(n−1) is then a powf)
            Param::Powi => {
                let x_pow_n_minus_1 = match (c as i32).checked_sub(1) {
                    Some(n_minus_1) => x.powi(n_minus_1),
                    None => x.powf(c - 1.0),
                };
                power_rule(x, c, x_pow_n_minus_1)
            }
            // d leaky_relu x = 1 for x > 0, c for x ≤ 0
            Param::LeakyRelu => step(x, c),
        }
    }

    /// [`Param::derivative`] as a graph.
    pub(crate) fn derivative_value(self, x: &Value, c: f64) -> Partial {
        match self {
            // x⁰ is a constant: its derivative is the constant 0 (NaN stays NaN)
            Param::Powf | Param::Powi if c == 0.0 && !x.data().is_nan() => Const(0.0),
            Param::Powf => Expr(c * x.powf(c - 1.0)),
            // n − 1 does not fit an i32 only for n = i32::MIN; x^(n−1) is then a powf
            Param::Powi => match (c as i32).checked_sub(1) {
                Some(n_minus_1) => Expr(c * x.powi(n_minus_1)),
                None => Expr(c * x.powf(c - 1.0)),
            },
            Param::LeakyRelu => Const(step(x.data(), c)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Binary: forward formula and the two partial derivatives (∂y/∂a, ∂y/∂b).
// ---------------------------------------------------------------------------------------

impl Binary {
    /// Adds each partial derivative × `g` into its operand's gradient, where
    /// `y = f(a, b)` and `g` is `y`'s adjoint.
    #[inline]
    pub(crate) fn propagate(self, [a, b]: &[Value; 2], y: f64, g: f64) {
        let (da, db) = self.derivative(a.data(), b.data(), y);
        a.add_grad(g * da);
        b.add_grad(g * db);
    }

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

    /// [`Binary::derivative`] as a graph, given the operands and the result `y`.
    pub(crate) fn derivative_value(self, a: &Value, b: &Value, y: &Value) -> [Partial; 2] {
        match self {
            Binary::Add => [Const(1.0), Const(1.0)],
            Binary::Sub => [Const(1.0), Const(-1.0)],
            Binary::Mul => [Expr(b.clone()), Expr(a.clone())],
            Binary::Div => [Expr(b.recip()), Expr(-(y / b))],
            Binary::Pow => {
                let (a0, b0) = (a.data(), b.data());
                // b·a^(b−1) is 0·∞ at a = b = 0, where the f64 rule says 0. Elsewhere
                // the expression is kept even at b = 0, where it is 0 but its
                // derivative in b, a^(b−1)(1 + b ln a), is not.
                let da = if a0 == 0.0 && b0 == 0.0 {
                    Const(0.0)
                } else {
                    Expr(b * a.pow(&(b - 1.0)))
                };
                let db = if a0 == 0.0 && b0 >= 0.0 {
                    Const(0.0)
                } else {
                    Expr(y * a.ln())
                };
                [da, db]
            }
            Binary::Max => {
                let (da, db) = tie_split(a.data(), b.data());
                [Const(da), Const(db)]
            }
            Binary::Min => {
                let (da, db) = tie_split(a.data(), b.data());
                [Const(db), Const(da)]
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Nary: forward formula and the partial derivative for operand `i`.
// ---------------------------------------------------------------------------------------

impl Nary {
    /// The value of the reduction over the operands' data (for `Dot`, the factors pair
    /// by pair), read straight from the operands rather than copied out first: a
    /// reduction may have millions of them. `Value::dot` works its value out in the
    /// pass that clones its factors instead, and checks it against this one in debug
    /// builds: a second pass over millions of factors cost it a fifth of its build.
    pub(crate) fn value(self, xs: &[Value]) -> f64 {
        match self {
            Nary::Sum => xs.iter().map(Value::data).sum(),
            Nary::Dot => xs
                .chunks_exact(2)
                .map(|pair| pair[0].data() * pair[1].data())
                .sum(),
            // ln Σ eˣⁱ = m + ln Σ e^(xᵢ−m) with m = max xᵢ, so no term overflows.
            Nary::LogSumExp => {
                let m = max_data(xs);
                if !m.is_finite() {
                    // Empty input or an infinite maximum: the result is that maximum
                    // (or NaN), and subtracting it would make ∞ − ∞.
                    return m;
                }
                m + xs.iter().map(|x| (x.data() - m).exp()).sum::<f64>().ln()
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
                for pair in operands.chunks_exact(2) {
                    let (a, b) = (&pair[0], &pair[1]);
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

    /// The partial derivative for each operand as a graph, pushed onto `out` in order.
    fn derivative_values(self, operands: &[Value], y: &Value, out: &mut Vec<Partial>) {
        match self {
            Nary::Sum => out.extend(operands.iter().map(|_| Const(1.0))),
            Nary::Dot => out.extend(
                operands
                    .chunks_exact(2)
                    .flat_map(|pair| [Expr(pair[1].clone()), Expr(pair[0].clone())]),
            ),
            // softmax(x)ᵢ = e^(xᵢ−m) / Σ e^(xⱼ−m). The shift m is a constant here: the
            // softmax does not depend on it, so holding it fixed changes no derivative.
            Nary::LogSumExp => {
                let m = max_data(operands);
                if !m.is_finite() {
                    out.extend(operands.iter().map(|x| Expr((x - y).exp())));
                    return;
                }
                let e: Vec<Value> = operands.iter().map(|x| (x - m).exp()).collect();
                let total = Value::sum(&e);
                out.extend(e.iter().map(|e| Expr(e / &total)));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Neuron: y = act(z) with z = w·x + b. Forward formula, then the local derivatives:
// ∂y/∂wᵢ = act'(z)·xᵢ, ∂y/∂b = act'(z), ∂y/∂xᵢ = act'(z)·wᵢ.
// ---------------------------------------------------------------------------------------

impl NeuronParams {
    /// The neuron's output for inputs with data `x`: the weighted sum in input order,
    /// then the bias, then the activation. Both the forward pass and `Neuron::predict`
    /// compute it here, so the two agree bit for bit.
    pub(crate) fn value(&self, x: &[f64]) -> f64 {
        let (w, b) = self.weights_and_bias();
        let z: f64 = w.iter().zip(x).map(|(w, x)| w.data() * x).sum();
        self.activation.apply_f64(z + b.data())
    }

    pub(crate) fn weights_and_bias(&self) -> (&[Value], &Value) {
        let (b, w) = self
            .params
            .split_last()
            .expect("a neuron always has a bias");
        (w, b)
    }

    /// Whether `act'(z)` can be read from the output alone (see
    /// [`NeuronParams::slope`]), which a neuron node needs. It cannot for a leaky relu
    /// whose slope is negative (or NaN): a positive output then comes from either sign
    /// of `z`, so such a neuron is built from separate nodes instead.
    pub(crate) fn fuses(&self) -> bool {
        match self.activation {
            Activation::LeakyRelu(s) => s >= 0.0,
            Activation::Relu | Activation::Tanh | Activation::Sigmoid | Activation::Linear => true,
        }
    }

    /// `act'(z)`, read from the output `y` alone, so `z` need not be kept: relu and
    /// leaky relu (with a slope ≥ 0, see [`NeuronParams::fuses`]) by the sign of y,
    /// which is then the sign of z, tanh as 1 − y², the sigmoid as y(1 − y). At z = 0
    /// the conventions are the elementwise ops' (relu'(0) = 0, the slope for leaky
    /// relu).
    fn slope(&self, y: f64) -> f64 {
        match self.activation {
            Activation::Relu => step(y, 0.0),
            Activation::LeakyRelu(s) => step(y, s),
            Activation::Tanh => Unary::Tanh.derivative(f64::NAN, y),
            Activation::Sigmoid => Unary::Sigmoid.derivative(f64::NAN, y),
            Activation::Linear => 1.0,
        }
    }

    fn propagate(&self, x: &[Value], y: f64, g: f64) {
        // g·(act'·xᵢ) rather than (g·act')·xᵢ, and operands in operand order (weights,
        // bias, inputs): the same products, added in the same order, as the graph
        // `derivative_values` builds, so both give identical numbers even where one node
        // is several operands.
        let slope = self.slope(y);
        let (w, b) = self.weights_and_bias();
        for (w, x) in w.iter().zip(x) {
            w.add_grad(g * (x.data() * slope));
        }
        b.add_grad(g * slope);
        for (w, x) in w.iter().zip(x) {
            x.add_grad(g * (w.data() * slope));
        }
    }

    /// [`NeuronParams::propagate`]'s partials as graphs: parameters first, then inputs.
    fn derivative_values(&self, x: &[Value], y: &Value, out: &mut Vec<Partial>) {
        let slope = match self.activation {
            Activation::Relu | Activation::LeakyRelu(_) | Activation::Linear => {
                Const(self.slope(y.data()))
            }
            // The elementwise ops' rules, which read only y (the node itself), as
            // `slope` does for numbers.
            Activation::Tanh => Unary::Tanh.derivative_value(y, y),
            Activation::Sigmoid => Unary::Sigmoid.derivative_value(y, y),
        };
        let times = |v: &Value| match &slope {
            Const(c) => Expr(v * *c),
            Expr(s) => Expr(v * s),
        };
        let (w, _) = self.weights_and_bias();
        out.extend(x.iter().map(times));
        out.push(match &slope {
            Const(c) => Const(*c),
            Expr(s) => Expr(s.clone()),
        });
        out.extend(w.iter().map(times));
    }
}

// ---------------------------------------------------------------------------------------
// Custom: the user's derivatives, one order after another.
// ---------------------------------------------------------------------------------------

impl CustomFn {
    /// The user's function of order 0 with its derivatives `[f', f'', …]`.
    pub(crate) fn new(name: &str, derivatives: &[ScalarFn]) -> CustomFn {
        let derivatives: Rc<[ScalarFn]> = derivatives.into();
        CustomFn::of_order(name.into(), 0, derivatives)
    }

    fn of_order(name: Rc<str>, order: usize, derivatives: Rc<[ScalarFn]>) -> CustomFn {
        CustomFn {
            name,
            order,
            df: derivatives.get(order).copied().unwrap_or(no_derivative),
            derivatives,
        }
    }

    /// The derivative as a graph: a custom node of the next order, whose data is the
    /// user's derivative at `x` and whose own derivative is the one after it.
    ///
    /// # Errors
    ///
    /// [`GradError::MissingDerivative`] if the user gave no derivative of that order.
    fn derivative_value(&self, x: &Value) -> Result<Partial, GradError> {
        let Some(&df) = self.derivatives.get(self.order) else {
            return Err(GradError::MissingDerivative {
                op: self.name.to_string(),
                order: self.order + 1,
            });
        };
        let next = CustomFn::of_order(self.name.clone(), self.order + 1, self.derivatives.clone());
        // A user's derivative may be infinite at a finite point: never zero-safe.
        Ok(Expr(Value::from_op(df(x.data()), false, || {
            Op::Custom(Rc::new(next), x.clone())
        })))
    }

    /// The user's name, with primes for a derivative: `f`, `f'`, `f''`, `f'''`, `f^(4)`.
    fn display_name(&self) -> String {
        match self.order {
            0..=3 => format!("{}{}", self.name, "'".repeat(self.order)),
            n => format!("{}^({n})", self.name),
        }
    }
}

/// The derivative `backward()` uses for a custom node whose derivative the user did not
/// give: NaN, the IEEE answer for "unknown". `try_grad` reports it as an error instead.
fn no_derivative(_: f64) -> f64 {
    f64::NAN
}

// ---------------------------------------------------------------------------------------
// Which ops turn a zero adjoint into zeros only: their local derivatives are finite
// wherever their operands' data and their own is (see `sparse.rs`).
// ---------------------------------------------------------------------------------------

impl Unary {
    pub(crate) fn keeps_zeros(self) -> bool {
        match self {
            // 0.5/y is ∞ at x = 0; 1/x and −y² overflow for tiny finite x.
            Unary::Sqrt | Unary::Ln | Unary::Recip => false,
            // Constants, y itself, 1 − y², y(1 − y), σ(x), cos x, sin x, sign and step.
            Unary::Neg
            | Unary::Exp
            | Unary::Abs
            | Unary::Sin
            | Unary::Cos
            | Unary::Tanh
            | Unary::Sigmoid
            | Unary::Relu
            | Unary::Softplus => true,
        }
    }
}

impl Param {
    pub(crate) fn keeps_zeros(self, c: f64) -> bool {
        match self {
            // 1 or c.
            Param::LeakyRelu => c.is_finite(),
            // c·x^(c−1) is 0, 1 or 2x for these; other powers are ∞ at 0 or can
            // overflow where xᶜ does not.
            Param::Powf | Param::Powi => c == 0.0 || c == 1.0 || c == 2.0,
        }
    }
}

impl Binary {
    pub(crate) fn keeps_zeros(self) -> bool {
        match self {
            // 1/b and −y/b overflow for tiny finite b; aᵇ's partials are ∞ at a = 0.
            Binary::Div | Binary::Pow => false,
            // ±1, the other operand, or a split of 1.
            Binary::Add | Binary::Sub | Binary::Mul | Binary::Max | Binary::Min => true,
        }
    }
}

impl Nary {
    pub(crate) fn keeps_zeros(self) -> bool {
        match self {
            // 1, the other factor, a softmax weight in [0, 1].
            Nary::Sum | Nary::Dot | Nary::LogSumExp => true,
        }
    }
}

impl NeuronParams {
    /// Whether the neuron's nodes keep zeros as far as the neuron goes: its parameters
    /// are zero-safe and its slope is never steeper than 1, so that the terms
    /// 0·(xᵢ·act') and 0·(wᵢ·act') cannot be 0·∞ (`xᵢ·act'` could overflow with a
    /// steeper leaky relu). Checked once per `sparse::generation`: checking the
    /// parameters at every forward pass made the W1 `Mlp` step 10% slower (73 → 81 µs).
    pub(crate) fn keeps_zeros(&self) -> bool {
        let generation = sparse::generation();
        if let Some((checked, answer)) = self.zero_safe.get() {
            if checked == generation {
                return answer;
            }
        }
        let gentle = match self.activation {
            Activation::Relu | Activation::Tanh | Activation::Sigmoid | Activation::Linear => true,
            Activation::LeakyRelu(s) => s.abs() <= 1.0,
        };
        let answer = gentle && self.params.iter().all(Value::is_zero_safe);
        self.zero_safe.set(Some((generation, answer)));
        answer
    }
}

// ---------------------------------------------------------------------------------------
// The chain rule for one node.
// ---------------------------------------------------------------------------------------

impl Op {
    /// The operands, in the order the op was built with, as (at most) two lists: a
    /// neuron's parameters and its inputs live in separate shared lists.
    pub(crate) fn operand_lists(&self) -> [&[Value]; 2] {
        match self {
            Op::Leaf => [&[], &[]],
            Op::Unary(_, x) | Op::Param(_, x, _) | Op::Custom(_, x) => {
                [std::slice::from_ref(x), &[]]
            }
            Op::Binary(_, xs) => [xs, &[]],
            Op::Nary(_, xs) => [xs, &[]],
            Op::Neuron(p, x) => [&p.params, &x.values],
        }
    }

    /// The operand lists a traversal still has to look into, in pass `pass`: all of
    /// them, except a neuron's shared list that an earlier node of the same pass has
    /// already gone through.
    ///
    /// Skipping a list is sound when every node that shares it is finished only after
    /// the list's operands are: for one layer's inputs, which only that layer's sibling
    /// neurons share (none of them lies below another), and for a parameter list of
    /// leaves, which have nothing to wait for. A parameter list with computed values is
    /// always gone through.
    pub(crate) fn lists_to_visit(&self, pass: u64) -> [&[Value]; 2] {
        let first_time = |seen: &Cell<u64>| seen.replace(pass) != pass;
        match self {
            Op::Neuron(p, x) => [
                if !p.all_leaves || first_time(&p.seen) {
                    &p.params
                } else {
                    &[]
                },
                if first_time(&x.seen) { &x.values } else { &[] },
            ],
            _ => self.operand_lists(),
        }
    }

    /// Whether a neuron with output `y` and adjoint `g` passes back only ±0 because its
    /// slope is 0 (see `sparse.rs`); false for any other op.
    #[inline]
    pub(crate) fn is_neuron_with_slope_0(&self, y: f64, g: f64) -> bool {
        matches!(self, Op::Neuron(p, _) if p.slope(y) == 0.0 && g.is_finite())
    }

    /// Whether this is [`Op::Leaf`].
    #[inline]
    pub(crate) fn is_leaf(&self) -> bool {
        matches!(self, Op::Leaf)
    }

    /// Takes the op apart when its node is freed, handing each operand it owns to
    /// `release`. A neuron's shared lists are only let go of: the last node to hold
    /// one hands over its operands.
    ///
    /// `free_graph` reads the operands of `Unary`, `Param` and `Binary` nodes straight
    /// from the slot (see there), and frees leaves without taking them apart, so only
    /// the other shapes come through here today; this stays the complete, safe
    /// statement of what every op owns.
    #[inline]
    pub(crate) fn release_operands(self, mut release: impl FnMut(Value)) {
        match self {
            Op::Leaf => {}
            Op::Unary(_, x) | Op::Param(_, x, _) | Op::Custom(_, x) => release(x),
            Op::Binary(_, [a, b]) => {
                release(a);
                release(b);
            }
            // `release` is passed on by reference: moved, its captures would be copied
            // through the stack in a way the processor has to wait for.
            Op::Nary(_, xs) => xs.into_vec().into_iter().for_each(&mut release),
            Op::Neuron(params, inputs) => {
                if let Some(params) = Rc::into_inner(params) {
                    params.params.into_vec().into_iter().for_each(&mut release);
                }
                SharedInputs::let_go(inputs, &mut release);
            }
        }
    }

    /// The operands, in the order the op was built with.
    pub(crate) fn operands(&self) -> impl Iterator<Item = &Value> + Clone {
        let [first, second] = self.operand_lists();
        first.iter().chain(second)
    }

    /// Adds `local derivative × g` into each operand's gradient, where `y` is this
    /// node's data and `g` its adjoint.
    #[inline]
    pub(crate) fn propagate(&self, y: f64, g: f64) {
        match self {
            Op::Leaf => {}
            Op::Unary(f, x) => f.propagate(x, y, g),
            Op::Param(f, x, c) => f.propagate(x, *c, g),
            Op::Binary(f, xs) => f.propagate(xs, y, g),
            Op::Nary(f, xs) => f.propagate(xs, y, g),
            Op::Custom(f, x) => {
                let slope = {
                    let _user_code = DerivativeGuard::begin();
                    (f.df)(x.data())
                };
                x.add_grad(g * slope);
            }
            Op::Neuron(p, x) => p.propagate(&x.values, y, g),
        }
    }

    /// Pushes the local derivative of the node `y` (made by this op) with respect to
    /// each operand onto `out`, in operand order, as graphs.
    ///
    /// # Errors
    ///
    /// [`GradError::MissingDerivative`] for a custom op without that derivative.
    pub(crate) fn derivative_values(
        &self,
        y: &Value,
        out: &mut Vec<Partial>,
    ) -> Result<(), GradError> {
        match self {
            Op::Leaf => {}
            Op::Unary(f, x) => out.push(f.derivative_value(x, y)),
            Op::Param(f, x, c) => out.push(f.derivative_value(x, *c)),
            Op::Binary(f, [a, b]) => out.extend(f.derivative_value(a, b, y)),
            Op::Nary(f, xs) => f.derivative_values(xs, y, out),
            Op::Custom(f, x) => out.push(f.derivative_value(x)?),
            Op::Neuron(p, x) => p.derivative_values(&x.values, y, out),
        }
        Ok(())
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
            Op::Custom(f, _) => f.display_name(),
            Op::Neuron(p, _) => format!("{}(w·x+b)", p.activation.name()),
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
        write!(f, "CustomFn({})", self.display_name())
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
