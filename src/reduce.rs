//! Fused reductions over slices of values: `sum`, `dot`, `logsumexp`, and the
//! `softmax` family built on it.
//!
//! A fused node replaces a chain of binary nodes: `Value::sum` over n terms is one node
//! with n operands rather than n − 1 additions, which saves memory and time and keeps
//! the graph shallow.

use crate::op::{Nary, Op};
use crate::value::Value;

impl Value {
    /// A fused node of kind `f` over clones of `operands`.
    fn nary(f: Nary, operands: &[Value]) -> Value {
        // The operands are cloned and their zero-safe flags read in one pass: a
        // reduction may have millions of them, most no longer in the caches.
        let mut all_safe = true;
        let operands: Box<[Value]> = operands
            .iter()
            .map(|x| {
                all_safe &= x.is_zero_safe();
                x.clone()
            })
            .collect();
        let safe = f.keeps_zeros() && all_safe;
        Value::from_op(f.value(&operands), safe, || Op::Nary(f, operands))
    }

    /// `Σ xᵢ` as one node; each term's derivative is 1. The sum of no terms is −0.0,
    /// as `Iterator::sum` gives for `f64` (it starts from −0.0, so that a sum of −0.0
    /// terms keeps its sign); it equals 0, and prints as `-0`.
    ///
    /// ```
    /// use scalargrad::Value;
    /// let xs = [Value::new(1.0), Value::new(2.0), Value::new(3.0)];
    /// let s = Value::sum(&xs);
    /// s.backward();
    /// assert_eq!(s.data(), 6.0);
    /// assert!(xs.iter().all(|x| x.grad() == 1.0));
    /// assert!(Value::sum(&[]).data().is_sign_negative()); // −0.0
    /// ```
    #[must_use]
    pub fn sum(xs: &[Value]) -> Value {
        Value::nary(Nary::Sum, xs)
    }

    /// `Σ xᵢ·yᵢ` as one node; ∂/∂xᵢ = yᵢ and ∂/∂yᵢ = xᵢ.
    ///
    /// The node's operands ([`Value::operands`], and the edges of
    /// [`Value::to_dot`]) are the factors pair by pair: `x₀, y₀, x₁, y₁, …`.
    ///
    /// # Panics
    ///
    /// If the slices differ in length.
    ///
    /// ```
    /// use scalargrad::Value;
    /// let w = [Value::new(2.0), Value::new(-1.0)];
    /// let x = [Value::new(3.0), Value::new(4.0)];
    /// let y = Value::dot(&w, &x);
    /// y.backward();
    /// assert_eq!(y.data(), 2.0);
    /// assert_eq!((w[0].grad(), x[1].grad()), (3.0, -1.0));
    /// let operands = y.operands();
    /// assert!(operands[1].ptr_eq(&x[0]) && operands[2].ptr_eq(&w[1]));
    /// ```
    #[must_use]
    pub fn dot(xs: &[Value], ys: &[Value]) -> Value {
        assert_eq!(
            xs.len(),
            ys.len(),
            "Value::dot needs two slices of the same length, got {} and {}",
            xs.len(),
            ys.len()
        );
        // Pair by pair (see `Op::Nary`): factors made together, as `xᵢ` and `yᵢ`
        // often are, lie side by side, and each pass over the node reads them in one
        // sweep of memory instead of two. The value is worked out in the same pass.
        let mut all_safe = true;
        // `-0.0`, as `Iterator::sum` starts from: the sum of no terms, or of −0s, is −0.
        let mut value = -0.0;
        let mut operands = Vec::with_capacity(2 * xs.len());
        for (x, y) in xs.iter().zip(ys) {
            all_safe &= x.is_zero_safe() & y.is_zero_safe();
            value += x.data() * y.data();
            operands.push(x.clone());
            operands.push(y.clone());
        }
        let operands = operands.into_boxed_slice();
        // The same products added in the same order; a NaN's bits are left unspecified.
        debug_assert!({
            let check = Nary::Dot.value(&operands);
            value.to_bits() == check.to_bits() || (value.is_nan() && check.is_nan())
        });
        let safe = Nary::Dot.keeps_zeros() && all_safe;
        Value::from_op(value, safe, || Op::Nary(Nary::Dot, operands))
    }
}

/// `ln Σ exp(xᵢ)` as one node, computed with the maximum subtracted so that large
/// inputs do not overflow; ∂/∂xᵢ = softmax(x)ᵢ. The empty sum gives `−inf`.
///
/// ```
/// use scalargrad::{logsumexp, Value};
/// let xs = [Value::new(1000.0), Value::new(1000.0)];
/// let y = logsumexp(&xs);
/// y.backward();
/// assert!((y.data() - (1000.0 + 2f64.ln())).abs() < 1e-12);
/// assert_eq!(xs[0].grad(), 0.5);
/// ```
#[must_use]
pub fn logsumexp(xs: &[Value]) -> Value {
    Value::nary(Nary::LogSumExp, xs)
}

/// `xᵢ − logsumexp(x)` for each i: the log-probabilities of a softmax, stable for any
/// logits. Shares one `logsumexp` node among all outputs.
///
/// ```
/// use scalargrad::{log_softmax, Value};
/// let logits = [Value::new(0.0), Value::new(0.0)];
/// let lp = log_softmax(&logits);
/// assert!((lp[0].data() - 0.5f64.ln()).abs() < 1e-15);
/// ```
#[must_use]
pub fn log_softmax(xs: &[Value]) -> Vec<Value> {
    let lse = logsumexp(xs);
    xs.iter().map(|x| x - &lse).collect()
}

/// `exp(xᵢ) / Σ exp(xⱼ)` for each i, computed as `exp(log_softmax(x)ᵢ)` so that large
/// logits do not overflow.
///
/// ```
/// use scalargrad::{softmax, Value};
/// let p = softmax(&[Value::new(1.0), Value::new(1.0), Value::new(1.0)]);
/// let total: f64 = p.iter().map(|p| p.data()).sum();
/// assert!((total - 1.0).abs() < 1e-15);
/// ```
#[must_use]
pub fn softmax(xs: &[Value]) -> Vec<Value> {
    log_softmax(xs).iter().map(Value::exp).collect()
}
