//! Higher-order derivatives: gradients built as `Value`s, which can be differentiated
//! again.
//!
//! [`grad`] runs the chain rule over the same topological order as `backward()`, but
//! instead of adding `f64`s into `grad` cells it builds each adjoint as a new node of the
//! graph, from the `Value` form of every op's local derivative (`derivative_value` in
//! `op.rs`). The result is an ordinary graph: `grad` of it gives second derivatives, and
//! so on. [`hessian`] and [`hvp`] are built on top.
//!
//! ```
//! use scalargrad::{grad, Value};
//!
//! let x = Value::new(3.0);
//! let y = x.powi(3); // x³
//! let dy = grad(&y, &[x.clone()]).remove(0); // 3x² = 27
//! let d2y = grad(&dy, &[x.clone()]).remove(0); // 6x = 18
//! let d3y = grad(&d2y, &[x.clone()]).remove(0); // 6
//! assert_eq!((dy.data(), d2y.data(), d3y.data()), (27.0, 18.0, 6.0));
//! assert_eq!(x.grad(), 0.0); // no `grad` cell was touched
//! ```

use std::error::Error;
use std::fmt;

use crate::backward::IndexedOrder;
use crate::op::Partial;
use crate::value::Value;

/// Why a gradient graph could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GradError {
    /// A custom op on a path from the output to an input was not given the derivative of
    /// this order (see [`Value::custom_with_derivatives`]).
    MissingDerivative {
        /// The name the custom op was given.
        op: String,
        /// The order of the derivative that is missing (2 for the second derivative of
        /// the user's function).
        order: usize,
    },
    /// [`try_hvp`] was given a direction whose length differs from the point's.
    LengthMismatch {
        /// The number of inputs.
        inputs: usize,
        /// The length of the direction.
        direction: usize,
    },
}

impl fmt::Display for GradError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GradError::MissingDerivative { op, order } => write!(
                f,
                "the custom op `{op}` has no derivative of order {order}: list its \
                 derivatives up to that order with Value::custom_with_derivatives"
            ),
            GradError::LengthMismatch { inputs, direction } => write!(
                f,
                "a Hessian-vector product needs one direction entry per input: got \
                 {direction} entries for {inputs} inputs"
            ),
        }
    }
}

impl Error for GradError {}

/// The gradient `[∂output/∂w for w in wrt]` as new `Value`s, built into the graph so that
/// they can be differentiated again (PyTorch's `create_graph=True`).
///
/// The result for an input the output does not depend on is a constant 0, and for the
/// output itself a constant 1. Every `.grad()` is left as it was: the adjoints live in
/// scratch space, never in the nodes. The conventions are those of `backward()`, and so
/// are the numbers: each gradient's `data()` is what `backward()` would add to
/// `w.grad()`, up to rounding in `logsumexp`'s softmax. Piecewise-constant derivatives
/// (relu, abs, leaky relu, max, min) become constants, so their own derivatives are 0.
///
/// A gradient may share nodes with the graph it came from (the gradient of `a·b` with
/// respect to `a` is the node `b` itself), so use it as a value: compute with it,
/// differentiate it, but do not `set_data` on it.
///
/// The cost is linear in the size of the graph, apart from one sort of its nodes into
/// creation order, and nothing recurses: a chain of any length is fine. Only nodes on
/// a path from `output` to some `w` are differentiated.
///
/// # Panics
///
/// If a custom op on the way has no derivative of the order needed; [`try_grad`] returns
/// that as an error instead.
///
/// ```
/// use scalargrad::{grad, Value};
///
/// let (x, y) = (Value::new(2.0), Value::new(-1.0));
/// let f = &x * &x * &y + y.sin(); // f = x²y + sin y
/// let g = grad(&f, &[x.clone(), y.clone()]);
/// assert_eq!(g[0].data(), -4.0); // ∂f/∂x = 2xy
/// assert_eq!(g[1].data(), 4.0 + (-1f64).cos()); // ∂f/∂y = x² + cos y
/// let h = grad(&g[0], &[x.clone(), y.clone()]); // ∂²f/∂x², ∂²f/∂x∂y
/// assert_eq!((h[0].data(), h[1].data()), (-2.0, 4.0)); // 2y, 2x
/// ```
#[must_use]
pub fn grad(output: &Value, wrt: &[Value]) -> Vec<Value> {
    try_grad(output, wrt).unwrap_or_else(|e| panic!("scalargrad::grad: {e}"))
}

/// [`grad`], returning an error instead of panicking when a custom op lacks a
/// derivative.
///
/// # Errors
///
/// [`GradError::MissingDerivative`] naming the custom op and the order of derivative
/// that was needed but not given. Nothing is changed by a failed call.
///
/// ```
/// use scalargrad::{try_grad, GradError, Value};
///
/// let x = Value::new(0.5);
/// let y = x.custom("square", |x| x * x, |x| 2.0 * x); // no second derivative given
/// let dy = try_grad(&y, &[x.clone()])?.remove(0);
/// assert_eq!(dy.data(), 1.0);
/// let err = try_grad(&dy, &[x]).unwrap_err();
/// assert_eq!(err, GradError::MissingDerivative { op: "square".into(), order: 2 });
/// # Ok::<(), GradError>(())
/// ```
pub fn try_grad(output: &Value, wrt: &[Value]) -> Result<Vec<Value>, GradError> {
    let order = IndexedOrder::new(output);
    let n = order.nodes.len();
    let root = n - 1;
    let targets: Vec<Option<usize>> = wrt.iter().map(|w| order.position(w)).collect();

    // Only nodes with a path to some target need differentiating: a node is needed if
    // it is a target or uses a needed node (operands come first, so one forward sweep).
    let mut is_target = vec![false; n];
    targets.iter().flatten().for_each(|&k| is_target[k] = true);
    let mut needed = is_target.clone();
    for k in 0..n {
        if !needed[k] && order.operands_of(k).iter().any(|&p| needed[p]) {
            needed[k] = true;
        }
    }

    // The chain rule, output first. Each node's incoming contributions wait in
    // `pending` until every user has been processed, and are then added in one node.
    let mut pending: Vec<Vec<Value>> = vec![Vec::new(); n];
    let mut adjoints: Vec<Option<Value>> = vec![None; n];
    let mut partials = Vec::new();
    for k in (0..n).rev() {
        if !needed[k] {
            continue;
        }
        // The adjoint of the output is 1, kept implicit (`None`) so that nothing is
        // multiplied by it.
        let adjoint = if k == root {
            None
        } else {
            // Every node in the order is reachable from the output, so a needed node
            // has a user, which is needed too and has already added its term.
            let mut terms = std::mem::take(&mut pending[k]);
            debug_assert!(!terms.is_empty(), "a needed node without a term");
            if terms.len() == 1 {
                terms.pop()
            } else {
                Some(Value::sum(&terms))
            }
        };
        if is_target[k] {
            adjoints[k] = Some(adjoint.clone().unwrap_or_else(|| Value::new(1.0)));
        }
        let node = order.nodes[k];
        partials.clear();
        node.node.op.derivative_values(node, &mut partials)?;
        for (&p, partial) in order.operands_of(k).iter().zip(partials.drain(..)) {
            if needed[p] {
                pending[p].push(times(adjoint.as_ref(), partial));
            }
        }
    }

    Ok(targets
        .iter()
        .map(|k| {
            k.and_then(|k| adjoints[k].clone())
                .unwrap_or_else(|| Value::new(0.0))
        })
        .collect())
}

/// `adjoint × partial` as a node, where `None` stands for an adjoint of exactly 1.
/// Multiplying by ±1 is exact, so it builds no product node.
fn times(adjoint: Option<&Value>, partial: Partial) -> Value {
    match (adjoint, partial) {
        (None, Partial::Const(c)) => Value::new(c),
        (None, Partial::Expr(d)) => d,
        (Some(g), Partial::Const(1.0)) => g.clone(),
        (Some(g), Partial::Const(-1.0)) => -g,
        (Some(g), Partial::Const(c)) => g * c,
        (Some(g), Partial::Expr(d)) => g * d,
    }
}

/// The Hessian of `f` at `x`: `H[i][j] = ∂²f/∂xᵢ∂xⱼ`, exact, from [`grad`] applied twice
/// (row i is the gradient of `∂f/∂xᵢ`).
///
/// `f` is called once, on fresh leaves holding `x`. Rows are computed separately, so
/// the matrix is symmetric up to rounding wherever `f` is twice continuously
/// differentiable.
///
/// # Panics
///
/// If `f` uses a custom op without a second derivative; [`try_hessian`] returns that as
/// an error instead.
///
/// ```
/// use scalargrad::{hessian, Value};
///
/// // The Rosenbrock function (1 − x)² + 100(y − x²)², at its minimum (1, 1):
/// let rosenbrock = |v: &[Value]| (1.0 - &v[0]).powi(2) + 100.0 * (&v[1] - v[0].powi(2)).powi(2);
/// let h = hessian(rosenbrock, &[1.0, 1.0]);
/// assert_eq!(h, vec![vec![802.0, -400.0], vec![-400.0, 200.0]]);
/// ```
#[must_use]
pub fn hessian<F: Fn(&[Value]) -> Value>(f: F, x: &[f64]) -> Vec<Vec<f64>> {
    try_hessian(f, x).unwrap_or_else(|e| panic!("scalargrad::hessian: {e}"))
}

/// [`hessian`], returning an error instead of panicking.
///
/// # Errors
///
/// [`GradError::MissingDerivative`] if `f` uses a custom op without a first or second
/// derivative.
///
/// ```
/// use scalargrad::{try_hessian, Value};
/// let h = try_hessian(|v: &[Value]| &v[0] * &v[1], &[2.0, 3.0])?;
/// assert_eq!(h, vec![vec![0.0, 1.0], vec![1.0, 0.0]]);
/// # Ok::<(), scalargrad::GradError>(())
/// ```
pub fn try_hessian<F: Fn(&[Value]) -> Value>(f: F, x: &[f64]) -> Result<Vec<Vec<f64>>, GradError> {
    let xs = leaves(x);
    hessian_of(&f(&xs), &xs)
}

/// The second derivatives of `y` with respect to `xs`, row `i` the gradient of
/// `∂y/∂xᵢ`.
pub(crate) fn hessian_of(y: &Value, xs: &[Value]) -> Result<Vec<Vec<f64>>, GradError> {
    try_grad(y, xs)?
        .iter()
        .map(|gi| Ok(try_grad(gi, xs)?.iter().map(Value::data).collect()))
        .collect()
}

/// The Hessian-vector product `H·v` of `f` at `x`, without forming `H`: the gradient of
/// `∇f(x)·v`, so it costs two gradient graphs whatever the number of inputs.
///
/// # Panics
///
/// If `v` and `x` differ in length, or `f` uses a custom op without a second
/// derivative; [`try_hvp`] returns those as errors instead.
///
/// ```
/// use scalargrad::{hvp, Value};
///
/// // f = x²y: H = [[2y, 2x], [2x, 0]], so at (1, 2), H·(1, 0) = (4, 2).
/// let f = |v: &[Value]| &v[0] * &v[0] * &v[1];
/// assert_eq!(hvp(f, &[1.0, 2.0], &[1.0, 0.0]), vec![4.0, 2.0]);
/// ```
#[must_use]
pub fn hvp<F: Fn(&[Value]) -> Value>(f: F, x: &[f64], v: &[f64]) -> Vec<f64> {
    try_hvp(f, x, v).unwrap_or_else(|e| panic!("scalargrad::hvp: {e}"))
}

/// [`hvp`], returning an error instead of panicking.
///
/// # Errors
///
/// [`GradError::LengthMismatch`] if `v` and `x` differ in length;
/// [`GradError::MissingDerivative`] if `f` uses a custom op without a first or second
/// derivative.
///
/// ```
/// use scalargrad::{try_hvp, GradError, Value};
/// let f = |v: &[Value]| v[0].powi(3);
/// assert_eq!(try_hvp(f, &[2.0], &[0.5])?, vec![6.0]); // 6x · 0.5
/// let err = try_hvp(f, &[2.0], &[1.0, 1.0]).unwrap_err();
/// assert_eq!(err, GradError::LengthMismatch { inputs: 1, direction: 2 });
/// # Ok::<(), GradError>(())
/// ```
pub fn try_hvp<F: Fn(&[Value]) -> Value>(
    f: F,
    x: &[f64],
    v: &[f64],
) -> Result<Vec<f64>, GradError> {
    if v.len() != x.len() {
        return Err(GradError::LengthMismatch {
            inputs: x.len(),
            direction: v.len(),
        });
    }
    let xs = leaves(x);
    let y = f(&xs);
    let g = try_grad(&y, &xs)?;
    let g_dot_v = Value::dot(&g, &leaves(v));
    Ok(try_grad(&g_dot_v, &xs)?.iter().map(Value::data).collect())
}

/// A new leaf for each number.
pub(crate) fn leaves(x: &[f64]) -> Vec<Value> {
    x.iter().map(|&x| Value::new(x)).collect()
}
