//! Differentiable functions of one or two values: powers, exp/ln, trigonometry and the
//! usual activations. Each builds one node; its derivative lives in `op.rs`.
//!
//! Non-finite inputs follow IEEE semantics in both directions: the forward value is
//! what the `f64` method of the same name returns, and a NaN input yields a NaN
//! gradient (never a silent 0).

use crate::op::{Binary, Op, Param, Unary};
use crate::value::Value;

impl Value {
    #[inline]
    fn unary(&self, f: Unary) -> Value {
        Value::from_parts(|| {
            let safe = f.keeps_zeros() && self.is_zero_safe();
            (f.value(self.data()), safe, Op::Unary(f, self.clone()))
        })
    }

    fn param(&self, f: Param, c: f64) -> Value {
        Value::from_parts(|| {
            let safe = f.keeps_zeros(c) && self.is_zero_safe();
            (f.value(self.data(), c), safe, Op::Param(f, self.clone(), c))
        })
    }

    pub(crate) fn binary(&self, f: Binary, other: &Value) -> Value {
        Value::combine(f, self.clone(), other.clone())
    }

    /// `f(a, b)` as a new node that takes over the handles `a` and `b`: owned operands
    /// (temporaries such as the product in `a * b + c`) move into the node with no
    /// reference count touched.
    #[inline(always)]
    pub(crate) fn combine(f: Binary, a: Value, b: Value) -> Value {
        Value::from_parts(|| {
            let data = f.value(a.data(), b.data());
            let safe = f.keeps_zeros() & a.is_zero_safe() & b.is_zero_safe();
            (data, safe, Op::Binary(f, [a, b]))
        })
    }

    /// `xᶜ` for a constant `c`; derivative `c·x^(c−1)`.
    ///
    /// `x⁰` has derivative 0 everywhere, including at `x = 0`; a negative base to a
    /// fractional power is NaN (as [`f64::powf`]).
    ///
    /// ```
    /// let x = scalargrad::Value::new(4.0);
    /// let y = x.powf(1.5);
    /// y.backward();
    /// assert_eq!((y.data(), x.grad()), (8.0, 3.0)); // 1.5·√4
    /// ```
    #[must_use = "method returns a new Value and does not modify the original"]
    pub fn powf(&self, c: f64) -> Value {
        self.param(Param::Powf, c)
    }

    /// `xⁿ` for an integer `n`; derivative `n·x^(n−1)` (0 for `n = 0`).
    ///
    /// ```
    /// let x = scalargrad::Value::new(-2.0);
    /// let y = x.powi(3);
    /// y.backward();
    /// assert_eq!((y.data(), x.grad()), (-8.0, 12.0));
    /// ```
    #[must_use = "method returns a new Value and does not modify the original"]
    pub fn powi(&self, n: i32) -> Value {
        self.param(Param::Powi, f64::from(n))
    }

    /// `selfᵉˣᵖ` with both base and exponent differentiable:
    /// ∂/∂self = `exp·self^(exp−1)`, ∂/∂exp = `selfᵉˣᵖ·ln(self)`.
    ///
    /// As in PyTorch, ∂/∂exp is 0 where the base is 0 and the exponent is
    /// non-negative; a negative base gives NaN for ∂/∂exp.
    ///
    /// ```
    /// use scalargrad::Value;
    /// let (a, b) = (Value::new(2.0), Value::new(3.0));
    /// let y = a.pow(&b);
    /// y.backward();
    /// assert_eq!((y.data(), a.grad()), (8.0, 12.0));
    /// assert!((b.grad() - 8.0 * 2f64.ln()).abs() < 1e-12);
    /// ```
    #[must_use = "method returns a new Value and does not modify the original"]
    pub fn pow(&self, exponent: &Value) -> Value {
        self.binary(Binary::Pow, exponent)
    }

    /// `eˣ`; its own derivative.
    ///
    /// ```
    /// let x = scalargrad::Value::new(0.0);
    /// let y = x.exp();
    /// y.backward();
    /// assert_eq!((y.data(), x.grad()), (1.0, 1.0));
    /// ```
    #[must_use = "method returns a new Value and does not modify the original"]
    pub fn exp(&self) -> Value {
        self.unary(Unary::Exp)
    }

    /// Natural logarithm; derivative `1/x`. `ln 0 = −inf` (derivative `+inf`),
    /// `ln(−1)` is NaN.
    ///
    /// ```
    /// let x = scalargrad::Value::new(2.0);
    /// let y = x.ln();
    /// y.backward();
    /// assert_eq!(x.grad(), 0.5);
    /// assert_eq!(scalargrad::Value::new(0.0).ln().data(), f64::NEG_INFINITY);
    /// ```
    #[must_use = "method returns a new Value and does not modify the original"]
    pub fn ln(&self) -> Value {
        self.unary(Unary::Ln)
    }

    /// Square root; derivative `1/(2√x)`, which is `+inf` at 0. `√(−1)` is NaN.
    ///
    /// ```
    /// let x = scalargrad::Value::new(9.0);
    /// let y = x.sqrt();
    /// y.backward();
    /// assert_eq!((y.data(), x.grad()), (3.0, 1.0 / 6.0));
    /// ```
    #[must_use = "method returns a new Value and does not modify the original"]
    pub fn sqrt(&self) -> Value {
        self.unary(Unary::Sqrt)
    }

    /// `1/x`; derivative `−1/x²`.
    ///
    /// ```
    /// let x = scalargrad::Value::new(2.0);
    /// let y = x.recip();
    /// y.backward();
    /// assert_eq!((y.data(), x.grad()), (0.5, -0.25));
    /// ```
    #[must_use = "method returns a new Value and does not modify the original"]
    pub fn recip(&self) -> Value {
        self.unary(Unary::Recip)
    }

    /// `|x|`; derivative `sign(x)`, with `abs'(0) = 0`.
    ///
    /// ```
    /// let x = scalargrad::Value::new(-3.0);
    /// let y = x.abs();
    /// y.backward();
    /// assert_eq!((y.data(), x.grad()), (3.0, -1.0));
    /// ```
    #[must_use = "method returns a new Value and does not modify the original"]
    pub fn abs(&self) -> Value {
        self.unary(Unary::Abs)
    }

    /// Sine (radians); derivative `cos x`.
    ///
    /// ```
    /// let x = scalargrad::Value::new(0.0);
    /// let y = x.sin();
    /// y.backward();
    /// assert_eq!((y.data(), x.grad()), (0.0, 1.0));
    /// ```
    #[must_use = "method returns a new Value and does not modify the original"]
    pub fn sin(&self) -> Value {
        self.unary(Unary::Sin)
    }

    /// Cosine (radians); derivative `−sin x`.
    ///
    /// ```
    /// let x = scalargrad::Value::new(0.0);
    /// let y = x.cos();
    /// y.backward();
    /// assert_eq!((y.data(), x.grad()), (1.0, -0.0));
    /// ```
    #[must_use = "method returns a new Value and does not modify the original"]
    pub fn cos(&self) -> Value {
        self.unary(Unary::Cos)
    }

    /// Hyperbolic tangent; derivative `1 − tanh² x`. Saturates to ±1 (derivative 0) for
    /// large |x| without overflow.
    ///
    /// ```
    /// let x = scalargrad::Value::new(1000.0);
    /// let y = x.tanh();
    /// y.backward();
    /// assert_eq!((y.data(), x.grad()), (1.0, 0.0));
    /// ```
    #[must_use = "method returns a new Value and does not modify the original"]
    #[inline]
    pub fn tanh(&self) -> Value {
        self.unary(Unary::Tanh)
    }

    /// The logistic function `σ(x) = 1/(1 + e⁻ˣ)`; derivative `σ(x)(1 − σ(x))`.
    /// Computed so that neither sign of a large |x| overflows.
    ///
    /// ```
    /// let x = scalargrad::Value::new(0.0);
    /// let y = x.sigmoid();
    /// y.backward();
    /// assert_eq!((y.data(), x.grad()), (0.5, 0.25));
    /// assert_eq!(scalargrad::Value::new(-1000.0).sigmoid().data(), 0.0);
    /// ```
    #[must_use = "method returns a new Value and does not modify the original"]
    #[inline]
    pub fn sigmoid(&self) -> Value {
        self.unary(Unary::Sigmoid)
    }

    /// `max(x, 0)`; derivative 1 for `x > 0` and 0 for `x ≤ 0` (so `relu'(0) = 0`).
    /// `relu(NaN)` is NaN.
    ///
    /// ```
    /// let x = scalargrad::Value::new(-2.0);
    /// let y = x.relu();
    /// y.backward();
    /// assert_eq!((y.data(), x.grad()), (0.0, 0.0));
    /// assert!(scalargrad::Value::new(f64::NAN).relu().data().is_nan());
    /// ```
    #[must_use = "method returns a new Value and does not modify the original"]
    #[inline]
    pub fn relu(&self) -> Value {
        self.unary(Unary::Relu)
    }

    /// `x` for `x > 0`, `slope·x` otherwise; derivative 1 or `slope` (`slope` at 0, as
    /// PyTorch).
    ///
    /// ```
    /// let x = scalargrad::Value::new(-2.0);
    /// let y = x.leaky_relu(0.01);
    /// y.backward();
    /// assert_eq!((y.data(), x.grad()), (-0.02, 0.01));
    /// ```
    #[must_use = "method returns a new Value and does not modify the original"]
    pub fn leaky_relu(&self, slope: f64) -> Value {
        self.param(Param::LeakyRelu, slope)
    }

    /// `ln(1 + eˣ)`, a smooth relu; derivative `σ(x)`. Stable for large |x|.
    ///
    /// ```
    /// let x = scalargrad::Value::new(0.0);
    /// let y = x.softplus();
    /// y.backward();
    /// assert_eq!((y.data(), x.grad()), (2f64.ln(), 0.5));
    /// ```
    #[must_use = "method returns a new Value and does not modify the original"]
    pub fn softplus(&self) -> Value {
        self.unary(Unary::Softplus)
    }

    /// The larger of two values. The gradient goes to the larger operand; on a tie it is
    /// split 0.5/0.5 (as PyTorch's `maximum`). NaN in either operand gives NaN.
    ///
    /// ```
    /// use scalargrad::Value;
    /// let (a, b) = (Value::new(1.0), Value::new(1.0));
    /// let y = a.max(&b);
    /// y.backward();
    /// assert_eq!((a.grad(), b.grad()), (0.5, 0.5));
    /// ```
    #[must_use = "method returns a new Value and does not modify the original"]
    pub fn max(&self, other: &Value) -> Value {
        self.binary(Binary::Max, other)
    }

    /// The smaller of two values; gradient conventions as [`Value::max`].
    ///
    /// ```
    /// use scalargrad::Value;
    /// let (a, b) = (Value::new(1.0), Value::new(2.0));
    /// let y = a.min(&b);
    /// y.backward();
    /// assert_eq!((y.data(), a.grad(), b.grad()), (1.0, 1.0, 0.0));
    /// ```
    #[must_use = "method returns a new Value and does not modify the original"]
    pub fn min(&self, other: &Value) -> Value {
        self.binary(Binary::Min, other)
    }

    pub(crate) fn neg_node(&self) -> Value {
        self.unary(Unary::Neg)
    }
}
