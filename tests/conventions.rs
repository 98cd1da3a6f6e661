//! Derivative conventions at kinks and domain edges (PyTorch's), and IEEE behaviour for
//! NaN and infinities. Each expectation is stated beside its case.

use scalargrad::Value;

/// The value and derivative of a unary function at `x`.
fn at(x: f64, f: impl Fn(&Value) -> Value) -> (f64, f64) {
    let v = Value::new(x);
    let y = f(&v);
    y.backward();
    (y.data(), v.grad())
}

#[test]
fn kinks_follow_pytorch() {
    assert_eq!(at(0.0, Value::relu), (0.0, 0.0)); // relu'(0) = 0
    assert_eq!(at(0.0, Value::abs), (0.0, 0.0)); // abs'(0) = 0
    assert_eq!(at(0.0, |x| x.leaky_relu(0.1)), (0.0, 0.1)); // slope at 0, as PyTorch
    for (a0, b0, expected) in [
        (1.0, 1.0, (0.5, 0.5)),
        (2.0, 1.0, (1.0, 0.0)),
        (1.0, 2.0, (0.0, 1.0)),
    ] {
        let (a, b) = (Value::new(a0), Value::new(b0));
        a.max(&b).backward();
        assert_eq!((a.grad(), b.grad()), expected, "max({a0}, {b0})");
        let (a, b) = (Value::new(a0), Value::new(b0));
        a.min(&b).backward();
        assert_eq!(
            (b.grad(), a.grad()),
            expected,
            "min({a0}, {b0}) mirrors max"
        );
    }
}

#[test]
fn domain_edges_follow_ieee() {
    assert_eq!(at(0.0, Value::sqrt), (0.0, f64::INFINITY)); // sqrt'(0) = +inf
    assert_eq!(at(0.0, Value::ln), (f64::NEG_INFINITY, f64::INFINITY)); // ln 0 = −inf
    let (y, g) = at(-1.0, Value::ln);
    assert!(y.is_nan() && g.is_finite()); // ln(−1) is NaN; 1/x is still −1 there
    let (y, g) = at(-8.0, |x| x.powf(1.0 / 3.0));
    assert!(y.is_nan() && g.is_nan()); // negative base, fractional power
    assert_eq!(at(0.0, |x| x.powf(0.0)), (1.0, 0.0)); // x⁰ is constant, even at 0
    assert_eq!(at(0.0, |x| x.powi(0)), (1.0, 0.0));
    assert_eq!(at(0.0, Value::recip), (f64::INFINITY, f64::NEG_INFINITY));
    // a/b at b = 0: 1/0 = +inf, ∂/∂a = 1/b = +inf, ∂/∂b = −a/b² = −inf; 0/0 is NaN.
    let (a, b) = (Value::new(1.0), Value::new(0.0));
    let y = &a / &b;
    y.backward();
    assert_eq!(
        (y.data(), a.grad(), b.grad()),
        (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY)
    );
    let (a, b) = (Value::new(0.0), Value::new(0.0));
    let y = &a / &b;
    y.backward();
    assert!(y.data().is_nan() && b.grad().is_nan());
}

/// The most negative integer power: n − 1 does not fit an i32, and must not overflow.
#[test]
fn powi_at_i32_min_does_not_overflow() {
    let (y, g) = at(1.0, |x| x.powi(i32::MIN));
    assert_eq!((y, g), (1.0, f64::from(i32::MIN)));
}

#[test]
fn pow_with_zero_base_has_zero_exponent_gradient() {
    let (a, b) = (Value::new(0.0), Value::new(2.0));
    let y = a.pow(&b);
    y.backward();
    assert_eq!((y.data(), a.grad(), b.grad()), (0.0, 0.0, 0.0));
}

#[test]
fn saturating_functions_stay_finite() {
    for x in [-1000.0, 1000.0] {
        for f in [Value::tanh, Value::sigmoid, Value::softplus] {
            let (y, g) = at(x, f);
            assert!(
                y.is_finite() && g.is_finite(),
                "f({x}) = {y}, f'({x}) = {g}"
            );
        }
    }
    assert_eq!(at(1000.0, Value::softplus), (1000.0, 1.0));
    assert_eq!(at(-1000.0, Value::sigmoid), (0.0, 0.0));
}

/// NaN in, NaN out, in value and gradient: never silently 0 (as `f64::max` would give).
#[test]
fn nan_propagates_through_every_op() {
    // (−x has the constant derivative −1, NaN or not, as in PyTorch.)
    assert!(at(f64::NAN, |x| -x).0.is_nan());
    let unary: [fn(&Value) -> Value; 14] = [
        Value::relu,
        Value::abs,
        Value::exp,
        Value::ln,
        Value::sqrt,
        Value::tanh,
        Value::sigmoid,
        Value::softplus,
        Value::sin,
        Value::cos,
        Value::recip,
        |x| x.leaky_relu(0.1),
        |x| x.powf(2.0),
        |x| x.powi(2),
    ];
    for (i, f) in unary.iter().enumerate() {
        let (y, g) = at(f64::NAN, f);
        assert!(y.is_nan(), "op {i}: value {y}");
        assert!(g.is_nan(), "op {i}: gradient {g}");
    }
    for f in [Value::max, Value::min] {
        let (a, b) = (Value::new(f64::NAN), Value::new(1.0));
        let y = f(&a, &b);
        y.backward();
        assert!(y.data().is_nan() && a.grad().is_nan());
        let y = f(&b, &a);
        assert!(y.data().is_nan());
    }
}
