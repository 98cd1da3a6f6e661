//! Known values: micrograd's published sanity numbers, and hand-derived cases per op
//! (the derivation is in the comment beside each).

mod common;

use common::assert_close;
use scalargrad::{log_softmax, logsumexp, softmax, Value};

/// micrograd's `test_more_ops`: forward 24.7041, dg/da 138.8338, dg/db 645.5773
/// (as published in micrograd's README, computed there with PyTorch).
#[test]
fn micrograd_sanity_expression() {
    let a = Value::new(-4.0);
    let b = Value::new(2.0);
    let mut c = &a + &b;
    let mut d = &a * &b + b.powi(3);
    c += &c + 1.0;
    c += 1.0 + &c + (-&a);
    d += &d * 2.0 + (&b + &a).relu();
    d += 3.0 * &d + (&b - &a).relu();
    let e = &c - &d;
    let f = e.powi(2);
    let mut g = &f / 2.0;
    g += 10.0 / &f;
    g.backward();
    // By hand: c = −2 → −3 → −1; d = 0 → 0 → 6; e = −7, f = 49, g = 24.5 + 10/49.
    assert_eq!((c.data(), d.data()), (-1.0, 6.0));
    assert_close(g.data(), 24.5 + 10.0 / 49.0, 1e-12);
    // The published figures, rounded to 4 decimals:
    assert_close(g.data(), 24.7041, 1e-4);
    assert_close(a.grad(), 138.8338, 1e-4);
    assert_close(b.grad(), 645.5773, 1e-4);
}

/// micrograd's `test_sanity_check`: x = −4; z = 2x + 2 + x; q = relu(z) + z·x;
/// h = relu(z·z); y = h + q + q·x. Then y = −20 and dy/dx = 46 (PyTorch agrees).
#[test]
fn micrograd_small_sanity_expression() {
    let x = Value::new(-4.0);
    let z = 2.0 * &x + 2.0 + &x;
    let q = z.relu() + &z * &x;
    let h = (&z * &z).relu();
    let y = &h + &q + &q * &x;
    y.backward();
    assert_eq!(y.data(), -20.0);
    assert_eq!(x.grad(), 46.0);
}

/// The classic neuron from micrograd's lecture: o = tanh(x1·w1 + x2·w2 + b) with
/// x1 = 2, x2 = 0, w1 = −3, w2 = 1, b = 6.881373587019543, so n = 0.8813735870195432
/// and o = tanh(n) = 1/√2. do/dn = 1 − o² = 0.5, so dw1 = x1·0.5 = 1, dx1 = w1·0.5 = −1.5,
/// dw2 = x2·0.5 = 0, dx2 = w2·0.5 = 0.5.
#[test]
fn tanh_neuron_from_the_lecture() {
    let x1 = Value::new(2.0);
    let x2 = Value::new(0.0);
    let w1 = Value::new(-3.0);
    let w2 = Value::new(1.0);
    let b = Value::new(6.881_373_587_019_543);
    let o = (&x1 * &w1 + &x2 * &w2 + &b).tanh();
    o.backward();
    assert_close(o.data(), std::f64::consts::FRAC_1_SQRT_2, 1e-12);
    assert_close(w1.grad(), 1.0, 1e-12);
    assert_close(x1.grad(), -1.5, 1e-12);
    assert_close(w2.grad(), 0.0, 1e-12);
    assert_close(x2.grad(), 0.5, 1e-12);
}

/// One case per op, each derived by hand at a convenient point.
#[test]
fn each_op_at_a_known_point() {
    // (name, y(x), x, expected y, expected dy/dx)
    type Case = (&'static str, fn(&Value) -> Value, f64, f64, f64);
    let cases: Vec<Case> = vec![
        // x = 2: 2³ = 8, 3·2² = 12
        ("powi(3)", |x| x.powi(3), 2.0, 8.0, 12.0),
        // x = 4: 4^0.5 = 2, 0.5·4^−0.5 = 0.25
        ("powf(0.5)", |x| x.powf(0.5), 4.0, 2.0, 0.25),
        // x = 0: e⁰ = 1, derivative e⁰ = 1
        ("exp", Value::exp, 0.0, 1.0, 1.0),
        // x = e: ln e = 1, 1/e
        (
            "ln",
            Value::ln,
            std::f64::consts::E,
            1.0,
            1.0 / std::f64::consts::E,
        ),
        // x = 16: √16 = 4, 1/(2·4) = 0.125
        ("sqrt", Value::sqrt, 16.0, 4.0, 0.125),
        // x = −4: 1/−4 = −0.25, −1/16
        ("recip", Value::recip, -4.0, -0.25, -0.0625),
        // x = −2.5: |x| = 2.5, sign = −1
        ("abs", Value::abs, -2.5, 2.5, -1.0),
        // x = π/2: sin = 1, cos(π/2) ≈ 6.1e−17
        ("sin", Value::sin, std::f64::consts::FRAC_PI_2, 1.0, 0.0),
        // x = π/2: cos ≈ 0, −sin = −1
        ("cos", Value::cos, std::f64::consts::FRAC_PI_2, 0.0, -1.0),
        // x = ln 3: tanh = (9−1)/(9+1) = 0.8, 1 − 0.64 = 0.36
        ("tanh", Value::tanh, 3f64.ln(), 0.8, 0.36),
        // x = ln 3: σ = 3/4, σ(1−σ) = 3/16
        ("sigmoid", Value::sigmoid, 3f64.ln(), 0.75, 0.1875),
        // x = 3: relu = 3, slope 1
        ("relu", Value::relu, 3.0, 3.0, 1.0),
        // x = −3: 0.1·−3 = −0.3, slope 0.1
        ("leaky_relu(0.1)", |x| x.leaky_relu(0.1), -3.0, -0.3, 0.1),
        // x = ln 3: ln(1 + 3) = ln 4, σ(ln 3) = 0.75
        ("softplus", Value::softplus, 3f64.ln(), 4f64.ln(), 0.75),
        // x = 5: −5, −1
        ("neg", |x| -x, 5.0, -5.0, -1.0),
    ];
    for (name, f, x0, y0, dy) in cases {
        let x = Value::new(x0);
        let y = f(&x);
        y.backward();
        assert!(
            (y.data() - y0).abs() < 1e-12,
            "{name}: value {} ≠ {y0}",
            y.data()
        );
        assert!(
            (x.grad() - dy).abs() < 1e-12,
            "{name}: grad {} ≠ {dy}",
            x.grad()
        );
    }
}

/// a = 3, b = 2: a/b = 1.5 with (1/2, −3/4); aᵇ = 9 with (2·3 = 6, 9·ln 3).
#[test]
fn binary_ops_at_a_known_point() {
    let (a, b) = (Value::new(3.0), Value::new(2.0));
    let q = &a / &b;
    q.backward();
    assert_eq!((q.data(), a.grad(), b.grad()), (1.5, 0.5, -0.75));

    let (a, b) = (Value::new(3.0), Value::new(2.0));
    let p = a.pow(&b);
    p.backward();
    assert_eq!((p.data(), a.grad()), (9.0, 6.0));
    assert_close(b.grad(), 9.0 * 3f64.ln(), 1e-12);
}

/// logsumexp([0, ln 3]) = ln 4; its gradient is the softmax (1/4, 3/4).
#[test]
fn logsumexp_and_softmax_at_a_known_point() {
    let xs = [Value::new(0.0), Value::new(3f64.ln())];
    let y = logsumexp(&xs);
    y.backward();
    assert_close(y.data(), 4f64.ln(), 1e-15);
    assert_close(xs[0].grad(), 0.25, 1e-15);
    assert_close(xs[1].grad(), 0.75, 1e-15);

    let p = softmax(&xs);
    assert_close(p[0].data(), 0.25, 1e-15);
    assert_close(p[1].data(), 0.75, 1e-15);
    let lp = log_softmax(&xs);
    assert_close(lp[1].data(), 0.75f64.ln(), 1e-15);
}

/// Stable for logits that would overflow `exp`: softmax([1000, 0]) = (1, e^−1000 → 0).
#[test]
fn softmax_of_huge_logits_is_finite() {
    let xs = [Value::new(1000.0), Value::new(0.0), Value::new(-1000.0)];
    let p = softmax(&xs);
    assert_eq!(p[0].data(), 1.0);
    assert_eq!(p[2].data(), 0.0);
    let total = Value::sum(&p);
    total.backward();
    assert!(total.check_finite().is_ok());
}
