//! Higher-order derivatives: `grad` applied to its own results, `hessian`, `hvp` and
//! `gradgradcheck`.
//!
//! Oracles: closed forms derived in the comments, and central differences of first
//! derivatives. Those first derivatives come from `backward()`, the `f64` path that
//! shares no code with the `Value` derivatives under test and is itself checked
//! against plain `f64` finite differences in `tests/gradients.rs`.
//!
//! The case count comes from `PROPTEST_CASES` (default 256); raise it for a deeper run:
//! `PROPTEST_CASES=10000 cargo test --release --test higher_order`.

mod common;

use common::unary::{sigmoid, unary_cases};
use common::{
    assert_close, assert_derivative, central_difference, expr, on_small_stack, Estimate, Expr, Step,
};
use proptest::prelude::*;
use scalargrad::check::{gradcheck, gradgradcheck, GradgradcheckError, Options};
use scalargrad::{grad, hessian, hvp, logsumexp, try_grad, try_hvp, GradError, Value};

/// The derivatives of order 1..=k of `f` at `x0`, each from `grad` of the previous one.
fn derivatives(x0: f64, k: usize, f: impl Fn(&Value) -> Value) -> Vec<f64> {
    let x = Value::new(x0);
    let mut d = f(&x);
    (0..k)
        .map(|_| {
            d = grad(&d, std::slice::from_ref(&x)).remove(0);
            d.data()
        })
        .collect()
}

/// Asserts `actual` = `expected` to relative `rel` (absolute below 1); `what` names the
/// derivative in the message.
#[track_caller]
fn assert_rel(what: impl std::fmt::Display, actual: f64, expected: f64, rel: f64) {
    let tol = rel * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tol,
        "{what}: expected {expected} ± {tol:e}, got {actual}"
    );
}

// ---------------------------------------------------------------------------------------
// Closed forms.
// ---------------------------------------------------------------------------------------

/// x³ at 3: 3x² = 27, 6x = 18, 6, then 0. The same through powi, powf and products.
#[test]
fn cube_at_three() {
    for (name, f) in [
        ("powi", (|x: &Value| x.powi(3)) as fn(&Value) -> Value),
        ("powf", |x| x.powf(3.0)),
        ("x·x·x", |x| x * x * x),
    ] {
        assert_eq!(derivatives(3.0, 4, f), [27.0, 18.0, 6.0, 0.0], "{name}");
    }
}

/// sin' = cos, sin'' = −sin, sin''' = −cos, sin'''' = sin.
#[test]
fn sine_derivatives_cycle() {
    for x in [-2.0, -0.3, 0.0, 0.7, 3.0] {
        let d = derivatives(x, 4, Value::sin);
        let expected = [f64::cos(x), -f64::sin(x), -f64::cos(x), f64::sin(x)];
        for (k, (a, e)) in d.iter().zip(expected).enumerate() {
            assert_rel(format!("derivative {} of sin at {x}", k + 1), *a, e, 1e-14);
        }
    }
}

/// exp is every derivative of itself.
#[test]
fn exp_is_its_own_derivative_at_every_order() {
    for x in [-3.0, 0.0, 1.5] {
        for (k, d) in derivatives(x, 5, Value::exp).into_iter().enumerate() {
            assert_rel(
                format!("derivative {} of exp at {x}", k + 1),
                d,
                x.exp(),
                1e-14,
            );
        }
    }
}

/// tanh' = 1 − t², so tanh'' = −2t·t' = −2 tanh (1 − tanh²).
#[test]
fn tanh_second_derivative() {
    for x in [-3.0, -0.5, 0.0, 0.25, 2.0] {
        let t = f64::tanh(x);
        assert_rel(
            format!("tanh'' at {x}"),
            derivatives(x, 2, Value::tanh)[1],
            -2.0 * t * (1.0 - t * t),
            1e-14,
        );
    }
}

/// σ' = σ(1 − σ), so σ'' = σ'(1 − σ) − σσ' = σ(1 − σ)(1 − 2σ).
#[test]
fn sigmoid_second_derivative() {
    for x in [-4.0, -1.0, 0.0, 0.5, 3.0] {
        let s = sigmoid(x);
        assert_rel(
            format!("sigmoid'' at {x}"),
            derivatives(x, 2, Value::sigmoid)[1],
            s * (1.0 - s) * (1.0 - 2.0 * s),
            1e-14,
        );
    }
}

fn rosenbrock(v: &[Value]) -> Value {
    (1.0 - &v[0]).powi(2) + 100.0 * (&v[1] - v[0].powi(2)).powi(2)
}

/// f = (1 − x)² + 100(y − x²)².
/// ∂f/∂x = −2(1 − x) − 400x(y − x²),  ∂f/∂y = 200(y − x²).
/// ∂²f/∂x² = 2 − 400(y − x²) + 800x² = 1200x² − 400y + 2,
/// ∂²f/∂x∂y = −400x,  ∂²f/∂y² = 200.
#[test]
fn rosenbrock_hessian() {
    let by_hand = |x: f64, y: f64| {
        vec![
            vec![1200.0 * x * x - 400.0 * y + 2.0, -400.0 * x],
            vec![-400.0 * x, 200.0],
        ]
    };
    for (x, y) in [(1.0, 1.0), (0.0, 0.0), (-1.2, 1.0), (0.5, -0.5), (2.0, 3.0)] {
        let h = hessian(rosenbrock, &[x, y]);
        let expected = by_hand(x, y);
        for i in 0..2 {
            for j in 0..2 {
                assert_rel(
                    format!("∂²f/∂{i}∂{j} at ({x}, {y})"),
                    h[i][j],
                    expected[i][j],
                    1e-13,
                );
            }
        }
    }
    // The numbers, for the record: at the minimum, and at the classic start.
    assert_eq!(
        hessian(rosenbrock, &[1.0, 1.0]),
        [[802.0, -400.0], [-400.0, 200.0]]
    );
    let h = hessian(rosenbrock, &[-1.2, 1.0]);
    assert_rel("∂²f/∂x² at (-1.2, 1)", h[0][0], 1330.0, 1e-13);
    assert_rel("∂²f/∂x∂y at (-1.2, 1)", h[0][1], 480.0, 1e-13);
}

/// A two-argument op: its name, how to build it, and its second partials in closed form.
type BinaryCase = (
    &'static str,
    fn(&Value, &Value) -> Value,
    fn(f64, f64) -> [[f64; 2]; 2],
);

fn binary_hessians() -> Vec<BinaryCase> {
    vec![
        ("add", |a, b| a + b, |_, _| [[0.0, 0.0], [0.0, 0.0]]),
        ("sub", |a, b| a - b, |_, _| [[0.0, 0.0], [0.0, 0.0]]),
        ("mul", |a, b| a * b, |_, _| [[0.0, 1.0], [1.0, 0.0]]),
        // a/b: ∂a∂a = 0, ∂a∂b = −1/b², ∂b∂b = 2a/b³
        (
            "div",
            |a, b| a / b,
            |a, b| [[0.0, -1.0 / (b * b)], [-1.0 / (b * b), 2.0 * a / b.powi(3)]],
        ),
        // aᵇ: ∂a∂a = b(b − 1)a^(b−2), ∂a∂b = a^(b−1)(1 + b ln a), ∂b∂b = aᵇ ln² a
        ("pow", Value::pow, |a, b| {
            let ab = a.powf(b - 1.0) * (1.0 + b * a.ln());
            [
                [b * (b - 1.0) * a.powf(b - 2.0), ab],
                [ab, a.powf(b) * a.ln().powi(2)],
            ]
        }),
        ("max", Value::max, |_, _| [[0.0, 0.0], [0.0, 0.0]]),
        ("min", Value::min, |_, _| [[0.0, 0.0], [0.0, 0.0]]),
    ]
}

proptest! {
    #[test]
    fn unary_second_derivatives_match_closed_forms(u in 0.0..1.0f64, negative in any::<bool>()) {
        for op in unary_cases() {
            let x0 = op.point(u, negative);
            let d = derivatives(x0, 2, op.build);
            assert_rel(format!("{}'' at {x0}", op.name), d[1], (op.d2)(x0), 1e-12);
        }
    }

    #[test]
    fn binary_hessians_match_closed_forms(a in -3.0..3.0f64, b in -3.0..3.0f64, p in 0.1..3.0f64) {
        // As in tests/gradients.rs: no ties for max/min, no division by ~0, a positive
        // base for pow.
        let b_far = if (a - b).abs() < 1e-3 { b + 0.01 } else { b };
        let d = if b.abs() < 0.1 { b + 0.5 } else { b };
        for (name, build, closed) in binary_hessians() {
            let (a0, b0) = match name {
                "div" => (a, d),
                "pow" => (p, b),
                "max" | "min" => (a, b_far),
                _ => (a, b),
            };
            let h = hessian(|v: &[Value]| build(&v[0], &v[1]), &[a0, b0]);
            let expected = closed(a0, b0);
            for i in 0..2 {
                for j in 0..2 {
                    let what = format!("∂²{name}/∂{i}∂{j} at ({a0}, {b0})");
                    assert_rel(what, h[i][j], expected[i][j], 1e-11);
                }
            }
        }
    }

    /// logsumexp's Hessian is diag(p) − p·pᵀ with p = softmax(x); stable for large x.
    #[test]
    fn logsumexp_hessian_is_the_softmax_jacobian(
        xs in proptest::collection::vec(-5.0..5.0f64, 1..6),
        shift in prop_oneof![Just(0.0), Just(1000.0), Just(-1000.0)],
    ) {
        let xs: Vec<f64> = xs.iter().map(|x| x + shift).collect();
        let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = xs.iter().map(|x| (x - m).exp()).sum();
        let p: Vec<f64> = xs.iter().map(|x| (x - m).exp() / total).collect();
        let h = hessian(logsumexp, &xs);
        for i in 0..xs.len() {
            for j in 0..xs.len() {
                let expected = if i == j { p[i] } else { 0.0 } - p[i] * p[j];
                prop_assert!((h[i][j] - expected).abs() <= 1e-14, "H[{}][{}] = {} vs {}", i, j, h[i][j], expected);
            }
        }
    }

    /// Σ xᵢ has a zero Hessian; Σ xᵢ·yᵢ has ∂xᵢ∂yᵢ = 1 and nothing else.
    #[test]
    fn sum_and_dot_hessians(xs in proptest::collection::vec(-5.0..5.0f64, 2..7)) {
        let n = xs.len();
        let h = hessian(Value::sum, &xs);
        prop_assert!(h.iter().flatten().all(|&e| e == 0.0));
        let half = n / 2;
        let h = hessian(|v: &[Value]| Value::dot(&v[..half], &v[half..2 * half]), &xs);
        for (i, row) in h.iter().enumerate() {
            for (j, &e) in row.iter().enumerate() {
                let paired = i < 2 * half && j < 2 * half && (i + half == j || j + half == i);
                prop_assert_eq!(e, if paired { 1.0 } else { 0.0 }, "H[{}][{}]", i, j);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Random expression graphs.
// ---------------------------------------------------------------------------------------

fn output(e: &Expr) -> impl Fn(&[Value]) -> Value + '_ {
    |v: &[Value]| e.run(v).pop().expect("at least one step")
}

/// The gradient at `x` from `backward()`: the first derivatives the finite differences
/// of second derivatives are taken of.
fn gradient_by_backward(e: &Expr, x: &[f64]) -> Vec<f64> {
    let leaves: Vec<Value> = x.iter().map(|&x| Value::new(x)).collect();
    output(e)(&leaves).backward();
    leaves.iter().map(Value::grad).collect()
}

proptest! {
    /// A dot whose left and right factors share nodes (`x·x` terms, and a node in
    /// several pairs) gives each node several terms, added in one order by `backward()`
    /// and in the order of the dot's partials by `grad`. Both go pair by pair, so they
    /// agree to the last bit.
    #[test]
    fn a_dot_sharing_factors_grads_as_backward_does(
        data in proptest::collection::vec(-3.0..3.0f64, 3),
        pairs in proptest::collection::vec((0..3usize, 0..3usize), 1..8),
    ) {
        let leaves: Vec<Value> = data.iter().map(|&x| Value::new(x)).collect();
        let xs: Vec<Value> = pairs.iter().map(|&(i, _)| leaves[i].clone()).collect();
        let ys: Vec<Value> = pairs.iter().map(|&(_, j)| leaves[j].clone()).collect();
        // Scaled, so that the dot's adjoint is not 1 and every term is rounded.
        let out = Value::dot(&xs, &ys) * 0.7;
        let g = grad(&out, &leaves);
        out.backward();
        for (i, (leaf, gi)) in leaves.iter().zip(&g).enumerate() {
            prop_assert!(
                gi.data().to_bits() == leaf.grad().to_bits(),
                "input {}: grad gives {:e}, backward {:e}", i, gi.data(), leaf.grad()
            );
        }
    }
}

/// `∂/∂xⱼ (∂f/∂xᵢ)` by central differences of `backward()`'s gradient.
fn second_difference(e: &Expr, i: usize, j: usize) -> Estimate {
    central_difference(&|x: &[f64]| gradient_by_backward(e, x)[i], &e.inputs, j)
}

fn agree(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

proptest! {
    /// Every second derivative of a random DAG (shared subexpressions, constants, every
    /// op) against central differences of `backward()`'s first derivatives.
    #[test]
    fn second_derivatives_match_differences_of_first_derivatives(e in expr(40)) {
        let h = hessian(output(&e), &e.inputs);
        let n = e.inputs.len();
        let estimates: Vec<Vec<Estimate>> = (0..n)
            .map(|i| (0..n).map(|j| second_difference(&e, i, j)).collect())
            .collect();
        // Where a kink (relu, abs, max, …) lies inside the stencil, or the derivative
        // changes too fast for the step, the difference cannot judge; such a case is drawn
        // again (too many rejections fail the test).
        prop_assume!(estimates.iter().flatten().all(Estimate::is_reliable));
        for i in 0..n {
            for j in 0..n {
                let what = format!("∂²f/∂x{j}∂x{i} from grad, against differences of backward()");
                assert_derivative(&what, h[i][j], estimates[i][j]);
            }
        }
    }

    /// Every ∂³f/∂xᵢ³ of a random DAG, from `grad` applied three times, against central
    /// differences of `hessian`'s diagonal. The only test whose result depends on the
    /// third derivative given to the custom op (`Step::Custom`).
    #[test]
    fn third_derivatives_match_differences_of_second_derivatives(e in expr(40)) {
        let estimates: Vec<Estimate> = (0..e.inputs.len())
            .map(|i| {
                let second = |x: &[f64]| hessian(output(&e), x)[i][i];
                central_difference(&second, &e.inputs, i)
            })
            .collect();
        // As for second derivatives: a kink in the stencil makes the case drawn again.
        prop_assume!(estimates.iter().all(Estimate::is_reliable));
        let (leaves, out) = e.build();
        for (i, x) in leaves.iter().enumerate() {
            let x = std::slice::from_ref(x);
            let first = grad(&out, x).remove(0);
            let second = grad(&first, x).remove(0);
            let third = grad(&second, x).remove(0);
            let what = format!("∂³f/∂x{i}³ from grad, against differences of hessian");
            assert_derivative(&what, third.data(), estimates[i]);
        }
    }

    /// Mixed partials are symmetric: ∂²f/∂xᵢ∂xⱼ = ∂²f/∂xⱼ∂xᵢ, although the two are
    /// built along different gradient graphs.
    #[test]
    fn mixed_partials_are_symmetric(e in expr(40)) {
        let h = hessian(output(&e), &e.inputs);
        let scale = h.iter().flatten().fold(1.0f64, |m, x| m.max(x.abs()));
        for (i, row) in h.iter().enumerate() {
            for (j, &hij) in row.iter().enumerate().take(i) {
                prop_assert!(
                    (hij - h[j][i]).abs() <= 1e-10 * scale,
                    "H[{}][{}] = {} but H[{}][{}] = {}", i, j, hij, j, i, h[j][i]
                );
            }
        }
    }

    /// The first-order gradient graph computes what `backward()` does. The two add the
    /// same products in the same order, so they agree exactly; only logsumexp's softmax
    /// is rounded differently (g·(e/Σ) against (g·e)/Σ). (These expressions never use
    /// one node among both a dot's left and right factors, since their right factors
    /// are fresh `tanh` nodes: see `a_dot_sharing_factors_grads_as_backward_does`.)
    #[test]
    fn first_order_grad_equals_backward(e in expr(60)) {
        let (leaves, out) = e.build();
        let g = grad(&out, &leaves);
        out.backward();
        let exact = !e.steps.iter().any(|s| matches!(s, Step::LogSumExp(_)));
        for (i, (leaf, gi)) in leaves.iter().zip(&g).enumerate() {
            let (a, b) = (gi.data(), leaf.grad());
            prop_assert!(
                agree(a, b) || (!exact && (a - b).abs() <= 1e-12 * (1.0 + b.abs())),
                "input {}: grad gives {}, backward {}", i, a, b
            );
        }
    }

    /// `grad`, of any order, leaves every `.grad()` of the graph as it was.
    #[test]
    fn grad_leaves_every_grad_untouched(e in expr(40)) {
        let (leaves, out) = e.build();
        out.backward();
        let nodes = out.nodes();
        let before: Vec<u64> = nodes.iter().map(|v| v.grad().to_bits()).collect();
        let g = grad(&out, &leaves);
        let g2 = grad(&g[0], &leaves);
        let _g3 = grad(&g2[0], &leaves[..1]);
        let after: Vec<u64> = nodes.iter().map(|v| v.grad().to_bits()).collect();
        prop_assert_eq!(before, after);
        // …and the gradient graph's own nodes start at zero.
        prop_assert!(g[0].nodes().iter().all(|v| v.grad() == 0.0 || nodes.iter().any(|n| n.ptr_eq(v))));
    }

    /// `hvp` is the Hessian times the direction.
    #[test]
    fn hvp_is_hessian_times_vector(e in expr(30), v in proptest::collection::vec(-2.0..2.0f64, 4)) {
        let v = &v[..e.inputs.len()];
        let h = hessian(output(&e), &e.inputs);
        let hv = hvp(output(&e), &e.inputs, v);
        for (i, row) in h.iter().enumerate() {
            let expected: f64 = row.iter().zip(v).map(|(a, b)| a * b).sum();
            prop_assert!(
                agree(hv[i], expected) || (hv[i] - expected).abs() <= 1e-10 * (1.0 + expected.abs()),
                "(H·v)[{}]: hvp gives {}, H·v is {}", i, hv[i], expected
            );
        }
    }

    /// `gradgradcheck` passes on random DAGs wherever finite differences can judge them.
    #[test]
    fn gradgradcheck_passes_on_random_expressions(e in expr(20)) {
        let n = e.inputs.len();
        let reliable = (0..n).all(|i| (0..n).all(|j| second_difference(&e, i, j).is_reliable()));
        prop_assume!(reliable);
        let result = gradgradcheck(output(&e), &e.inputs, &Options::default());
        prop_assert!(result.is_ok(), "{}", result.unwrap_err());
    }
}

// ---------------------------------------------------------------------------------------
// Conventions, shared with backward().
// ---------------------------------------------------------------------------------------

/// First and second derivative of a unary function at `x`.
fn first_two(x: f64, f: impl Fn(&Value) -> Value) -> (f64, f64) {
    let d = derivatives(x, 2, f);
    (d[0], d[1])
}

#[test]
fn piecewise_ops_have_zero_second_derivatives() {
    for x in [-1.0, 0.0, 2.0] {
        assert_eq!(first_two(x, Value::relu), (f64::from(x > 0.0), 0.0)); // relu'(0) = 0
        assert_eq!(first_two(x, Value::abs).1, 0.0);
        assert_eq!(first_two(x, |x| x.leaky_relu(0.1)).1, 0.0);
    }
    assert_eq!(first_two(0.0, Value::abs).0, 0.0); // abs'(0) = 0
    assert_eq!(first_two(0.0, |x| x.leaky_relu(0.1)).0, 0.1);
    // A tie splits 0.5/0.5, and the split is a constant.
    for f in [Value::max, Value::min] {
        let (a, b) = (Value::new(1.0), Value::new(1.0));
        let y = f(&a, &b);
        let g = grad(&y, &[a.clone(), b.clone()]);
        assert_eq!((g[0].data(), g[1].data()), (0.5, 0.5));
        let h = grad(&g[0], &[a, b]);
        assert_eq!((h[0].data(), h[1].data()), (0.0, 0.0));
    }
}

#[test]
fn powers_at_zero_follow_backward() {
    // x⁰ has derivative 0 everywhere, including at 0, and so do its higher derivatives.
    assert_eq!(derivatives(0.0, 3, |x| x.powi(0)), [0.0, 0.0, 0.0]);
    assert_eq!(derivatives(0.0, 3, |x| x.powf(0.0)), [0.0, 0.0, 0.0]);
    // x¹: 1 even at 0 (0⁰ = 1), then 0.
    assert_eq!(derivatives(0.0, 2, |x| x.powi(1)), [1.0, 0.0]);
    // n·x^(n−1) where n − 1 does not fit an i32.
    let n = f64::from(i32::MIN);
    assert_eq!(
        derivatives(1.0, 2, |x| x.powi(i32::MIN)),
        [n, n * (n - 1.0)]
    );
    // aᵇ at a = 0, b ≥ 0: ∂/∂b is 0, as backward() says.
    for b0 in [0.0, 2.0] {
        let (a, b) = (Value::new(0.0), Value::new(b0));
        let y = a.pow(&b);
        let g = grad(&y, &[a.clone(), b.clone()]);
        y.backward();
        assert_eq!((g[0].data(), g[1].data()), (a.grad(), b.grad()), "b = {b0}");
        assert_eq!(g[1].data(), 0.0);
    }
}

/// A NaN input gives NaN derivatives of every order through smooth ops. A
/// piecewise-constant derivative is a NaN constant there: its own derivative is 0, and
/// NaN reaches the second derivative through the other uses of x, as in relu(x)·x.
#[test]
fn nan_propagates_through_every_order() {
    for f in [Value::exp, Value::tanh, Value::sin, Value::sqrt] {
        let d = derivatives(f64::NAN, 3, f);
        assert!(d.iter().all(|d| d.is_nan()), "{d:?}");
    }
    for f in [Value::relu, Value::abs] {
        assert!(derivatives(f64::NAN, 1, f)[0].is_nan());
        assert!(derivatives(f64::NAN, 2, |x| f(x) * x)[1].is_nan());
    }
    let (a, b) = (Value::new(f64::NAN), Value::new(1.0));
    let g = grad(&a.max(&b), &[a.clone(), b.clone()]);
    assert!(g[0].data().is_nan() && g[1].data().is_nan());
}

// ---------------------------------------------------------------------------------------
// What grad returns.
// ---------------------------------------------------------------------------------------

#[test]
fn unrelated_inputs_get_a_constant_zero_and_the_output_a_one() {
    let (x, unused) = (Value::new(2.0), Value::new(5.0));
    let y = x.exp();
    let g = grad(&y, &[unused.clone(), y.clone(), x.clone(), x.clone()]);
    assert_eq!(g[0].data(), 0.0);
    assert!(g[0].operands().is_empty(), "a constant leaf");
    assert_eq!(g[1].data(), 1.0); // dy/dy
    assert_eq!(g[2].data(), 2f64.exp());
    assert!(
        g[2].ptr_eq(&g[3]),
        "a repeated input gets the same gradient"
    );
    assert!(grad(&y, &[]).is_empty());
    // The second derivative of something linear in x is 0, and of an unrelated input 0.
    let z = &x * 3.0;
    let g = grad(&z, std::slice::from_ref(&x)).remove(0);
    let second = grad(&g, &[x.clone(), unused]);
    assert_eq!(second[..].len(), 2);
    assert_eq!((second[0].data(), second[1].data()), (0.0, 0.0));
    assert_eq!(grad(&g, &[x])[0].data(), 0.0);
}

/// y = (x²)·3 with u = x² in between: dy/du = 3, and dy/dx = 6x.
#[test]
fn gradient_with_respect_to_an_intermediate_node() {
    let x = Value::new(2.0);
    let u = &x * &x;
    let y = &u * 3.0;
    let g = grad(&y, &[u, x.clone()]);
    assert_eq!((g[0].data(), g[1].data()), (3.0, 12.0));
    assert_eq!(grad(&g[1], &[x])[0].data(), 6.0);
}

/// A gradient graph is an ordinary graph: backward() on it gives second derivatives.
#[test]
fn backward_through_a_gradient_graph() {
    let x = Value::new(0.7);
    let y = x.sin() * &x; // y = x sin x; y'' = 2 cos x − x sin x
    let dy = grad(&y, std::slice::from_ref(&x)).remove(0);
    assert_eq!(x.grad(), 0.0);
    dy.backward();
    assert_rel(
        "(x sin x)'' at 0.7",
        x.grad(),
        2.0 * 0.7f64.cos() - 0.7 * 0.7f64.sin(),
        1e-15,
    );
}

#[test]
fn gradients_print_as_their_ops() {
    let x = Value::new(1.0);
    let y = x.sin();
    let dy = grad(&y, std::slice::from_ref(&x)).remove(0);
    assert_eq!(dy.op_name(), "cos");
    let y = x.custom_with_derivatives("f", |x| x, &[|_| 1.0, |_| 0.0, |_| 0.0, |_| 0.0]);
    let names: Vec<String> = {
        let mut d = y;
        (0..4)
            .map(|_| {
                d = grad(&d, std::slice::from_ref(&x)).remove(0);
                d.op_name()
            })
            .collect()
    };
    assert_eq!(names, ["f'", "f''", "f'''", "f^(4)"]);
}

// ---------------------------------------------------------------------------------------
// Custom ops and their derivatives.
// ---------------------------------------------------------------------------------------

fn cube_with(derivatives: &[fn(f64) -> f64]) -> impl Fn(&Value) -> Value + '_ {
    move |x| x.custom_with_derivatives("cube", |x| x * x * x, derivatives)
}

#[test]
fn custom_ops_differentiate_as_far_as_their_derivatives_go() {
    let all: [fn(f64) -> f64; 3] = [|x| 3.0 * x * x, |x| 6.0 * x, |_| 6.0];
    assert_eq!(derivatives(3.0, 3, cube_with(&all)), [27.0, 18.0, 6.0]);

    let x = Value::new(3.0);
    let mut d = cube_with(&all)(&x);
    for _ in 0..3 {
        d = try_grad(&d, std::slice::from_ref(&x)).unwrap().remove(0);
    }
    let err = try_grad(&d, &[x]).unwrap_err();
    assert_eq!(
        err,
        GradError::MissingDerivative {
            op: "cube".into(),
            order: 4
        }
    );
    let message = err.to_string();
    assert!(
        message.contains("`cube`") && message.contains("order 4"),
        "{message}"
    );
    assert!(message.contains("custom_with_derivatives"), "{message}");
}

#[test]
fn a_custom_op_without_derivatives_fails_only_when_differentiated() {
    let (x, w) = (Value::new(2.0), Value::new(0.5));
    let y = x.custom_with_derivatives("opaque", |x| x.sin(), &[]) * &w;
    // The path to w does not go through the custom op's derivative…
    let gw = try_grad(&y, std::slice::from_ref(&w)).unwrap();
    assert_eq!(gw[0].data(), 2f64.sin());
    // …the path to x does.
    let err = try_grad(&y, &[x.clone(), w]).unwrap_err();
    assert_eq!(
        err,
        GradError::MissingDerivative {
            op: "opaque".into(),
            order: 1
        }
    );
    // backward() has nothing to use either, and says so with NaN.
    y.backward();
    assert!(x.grad().is_nan());
}

#[test]
fn backward_through_a_missing_derivative_gives_nan() {
    let x = Value::new(2.0);
    let y = x.custom("square", |x| x * x, |x| 2.0 * x);
    let dy = grad(&y, std::slice::from_ref(&x)).remove(0);
    assert_eq!(dy.data(), 4.0);
    dy.backward();
    assert!(x.grad().is_nan());
    assert!(dy.check_finite().is_err());
}

#[test]
#[should_panic(expected = "the custom op `square` has no derivative of order 2")]
fn grad_panics_with_the_missing_derivative() {
    let x = Value::new(2.0);
    let y = x.custom("square", |x| x * x, |x| 2.0 * x);
    let dy = grad(&y, std::slice::from_ref(&x)).remove(0);
    let _ = grad(&dy, &[x]);
}

// ---------------------------------------------------------------------------------------
// gradgradcheck and hvp.
// ---------------------------------------------------------------------------------------

#[test]
fn gradgradcheck_passes_on_rosenbrock() {
    let report = gradgradcheck(rosenbrock, &[-1.2, 1.0], &Options::default()).unwrap();
    assert_rel(
        "∂²f/∂x² at (-1.2, 1)",
        report.entries[0][0].analytic,
        1330.0,
        1e-13,
    );
    assert!(report.max_rel_error() < 1e-6, "{report:?}");
    assert_eq!(report.gradient.len(), 2);
}

/// `f` is evaluated once for the graph and twice per input, as the docs say.
#[test]
fn gradgradcheck_calls_f_once_plus_twice_per_input() {
    let calls = std::cell::Cell::new(0);
    let f = |v: &[Value]| {
        calls.set(calls.get() + 1);
        rosenbrock(v)
    };
    gradgradcheck(f, &[-1.2, 1.0], &Options::default()).unwrap();
    assert_eq!(calls.get(), 1 + 2 * 2);
}

/// The negative control: a custom op whose first derivative is right and second is
/// wrong passes gradcheck and must fail gradgradcheck, at the entry that uses it.
#[test]
fn gradgradcheck_catches_a_wrong_second_derivative() {
    // f(x, y) = x³ + y², with (x³)'' claimed to be 3x instead of 6x.
    let f = |v: &[Value]| {
        v[0].custom_with_derivatives("cube", |x| x * x * x, &[|x| 3.0 * x * x, |x| 3.0 * x])
            + v[1].powi(2)
    };
    let opts = Options::default();
    assert!(gradcheck(f, &[2.0, 1.0], &opts).is_ok());
    match gradgradcheck(f, &[2.0, 1.0], &opts).unwrap_err() {
        GradgradcheckError::Mismatch {
            row,
            col,
            analytic,
            numeric,
            report,
            ..
        } => {
            assert_eq!((row, col), (0, 0));
            assert_eq!(analytic, 6.0); // 3x at 2
            assert_close(numeric, 12.0, 1e-6); // 6x at 2
            assert_close(report.entries[1][1].analytic, 2.0, 0.0); // y² is right
        }
        other => panic!("expected a mismatch, got {other}"),
    }
}

#[test]
fn gradgradcheck_reports_other_failures() {
    let opts = Options::default();
    let no_second = |v: &[Value]| v[0].custom("square", |x| x * x, |x| 2.0 * x);
    let err = gradgradcheck(no_second, &[1.0], &opts).unwrap_err();
    assert!(matches!(
        err,
        GradgradcheckError::Grad(GradError::MissingDerivative { order: 2, .. })
    ));
    assert!(std::error::Error::source(&err).is_some());

    let err = gradgradcheck(|v: &[Value]| v[0].ln(), &[-1.0], &opts).unwrap_err();
    assert!(
        matches!(err, GradgradcheckError::NonFinite { entry: None, .. }),
        "{err}"
    );

    let bad = Options {
        eps: 0.0,
        ..Options::default()
    };
    let err = gradgradcheck(|v: &[Value]| v[0].exp(), &[1.0], &bad).unwrap_err();
    assert!(
        matches!(err, GradgradcheckError::InvalidOptions(_)),
        "{err}"
    );
}

#[test]
fn hvp_checks_the_direction_length() {
    let f = |v: &[Value]| &v[0] * &v[1];
    assert_eq!(
        try_hvp(f, &[1.0, 2.0], &[1.0]),
        Err(GradError::LengthMismatch {
            inputs: 2,
            direction: 1
        })
    );
    // f = xy: H = [[0, 1], [1, 0]].
    assert_eq!(hvp(f, &[1.0, 2.0], &[3.0, 5.0]), [5.0, 3.0]);
}

// ---------------------------------------------------------------------------------------
// Stack safety.
// ---------------------------------------------------------------------------------------

/// A 100,000-node chain: its gradient graph and the gradient graph of that, built and
/// dropped on a 256 KiB stack. Any recursion per node would overflow it.
#[test]
fn gradient_graphs_of_a_long_chain_on_a_small_stack() {
    on_small_stack(256 * 1024, || {
        let x0 = Value::new(0.5);
        let mut x = x0.clone();
        for i in 0..100_000 {
            x = if i % 2 == 0 { x.sin() } else { &x * 1.000_01 };
        }
        assert_eq!(x.nodes().len(), 150_001); // a node per step plus the constants
        let g = grad(&x, std::slice::from_ref(&x0)).remove(0);
        x.backward();
        assert_eq!(g.data(), x0.grad());
        let g2 = grad(&g, std::slice::from_ref(&x0)).remove(0);
        assert!(g2.data().is_finite());
        drop(x);
        drop(g);
        drop(g2);
        assert_eq!(x0.data(), 0.5);
    });
}
