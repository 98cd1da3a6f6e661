//! The tools around the engine: gradcheck (including a negative control),
//! check_finite, DOT export, printing, labels.

use scalargrad::check::{gradcheck, numerical_gradient, GradcheckError, Options};
use scalargrad::Value;

#[test]
fn gradcheck_passes_a_correct_function_and_reports_every_input() {
    let f = |v: &[Value]| (&v[0] * &v[1]).tanh() + v[2].exp() / (1.0 + &v[0] * &v[0]);
    let report = gradcheck(f, &[0.3, -1.2, 0.5], &Options::default()).expect("gradients agree");
    assert_eq!(report.inputs.len(), 3);
    assert!(report.max_abs_error() < 1e-8, "{report:?}");
    assert!(report.max_rel_error() < 1e-6, "{report:?}");
}

/// The negative control: a custom op with a deliberately wrong derivative must fail,
/// naming the input and both numbers. This proves the checker can fail.
#[test]
fn gradcheck_catches_a_wrong_custom_derivative() {
    // sin with the derivative of cos claimed as its own
    let wrong = |v: &[Value]| &v[1] * v[0].custom("bad_sin", f64::sin, |x| -x.sin());
    let err = gradcheck(wrong, &[0.7, 2.0], &Options::default()).unwrap_err();
    match &err {
        GradcheckError::Mismatch {
            input,
            analytic,
            numeric,
            ..
        } => {
            assert_eq!(*input, 0);
            assert!((analytic - (-2.0 * 0.7f64.sin())).abs() < 1e-12);
            assert!((numeric - 2.0 * 0.7f64.cos()).abs() < 1e-6);
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("input 0"), "{message}");
}

#[test]
fn gradcheck_names_the_worst_input() {
    // input 1 is off by 1, input 2 by 10
    let f = |v: &[Value]| {
        &v[0] + v[1].custom("off_by_1", |x| x, |_| 2.0) + v[2].custom("off_by_10", |x| x, |_| 11.0)
    };
    let err = gradcheck(f, &[1.0, 1.0, 1.0], &Options::default()).unwrap_err();
    assert!(
        matches!(err, GradcheckError::Mismatch { input: 2, .. }),
        "{err:?}"
    );
}

#[test]
fn gradcheck_rejects_bad_options_and_non_finite_points() {
    let f = |v: &[Value]| v[0].ln();
    let bad = Options {
        eps: 0.0,
        ..Options::default()
    };
    assert!(matches!(
        gradcheck(f, &[1.0], &bad),
        Err(GradcheckError::InvalidOptions(_))
    ));
    assert!(matches!(
        gradcheck(f, &[-1.0], &Options::default()),
        Err(GradcheckError::NonFinite { input: None, .. })
    ));
}

#[test]
fn numerical_gradient_of_a_quadratic() {
    // f = x² + 3xy: ∂x = 2x + 3y = 8, ∂y = 3x = 3 at (1, 2)
    let g = numerical_gradient(|v| &v[0] * &v[0] + 3.0 * &v[0] * &v[1], &[1.0, 2.0], 1e-6);
    assert!(
        (g[0] - 8.0).abs() < 1e-6 && (g[1] - 3.0).abs() < 1e-6,
        "{g:?}"
    );
}

#[test]
fn check_finite_names_the_first_bad_node() {
    let x = Value::new(-2.0).with_label("x");
    let root = x.sqrt().with_label("root"); // NaN starts here
    let y = (&root * 3.0 + 1.0).with_label("y"); // and spreads here
    let err = y.check_finite().unwrap_err();
    assert_eq!(err.label.as_deref(), Some("root"));
    assert_eq!(err.op, "sqrt");
    assert_eq!(err.operands, vec![-2.0]);
    assert!(err.to_string().contains("'root'"), "{err}");
}

#[test]
fn check_finite_sees_non_finite_gradients() {
    let x = Value::new(0.0).with_label("x");
    let y = x.sqrt(); // finite value 0, infinite derivative
    assert!(y.check_finite().is_ok());
    y.backward();
    let err = y.check_finite().unwrap_err();
    assert_eq!(err.label.as_deref(), Some("x"));
    assert_eq!(err.grad, f64::INFINITY);
}

/// A NaN value also makes NaN gradients of the operands of the node that holds it,
/// and those come first in topological order: the NaN value is named, not them.
#[test]
fn check_finite_names_a_nan_value_before_the_gradients_it_spoils() {
    let c = Value::new(2.0).with_label("c");
    let w = Value::new(f64::NAN).with_label("w");
    let y = &c * &w;
    y.backward();
    assert!(c.grad().is_nan(), "the test needs c's gradient to be NaN");
    let err = y.check_finite().unwrap_err();
    assert_eq!(err.label.as_deref(), Some("w"), "{err}");
    assert!(err.to_string().starts_with("non-finite data"), "{err}");
}

/// A gradient goes non-finite at one node and spreads to everything older: the node
/// nearest the output is named.
#[test]
fn check_finite_names_where_a_gradient_first_went_non_finite() {
    let x = Value::new(0.0).with_label("x");
    let a = (&x * 2.0).with_label("a");
    let b = a.sqrt(); // sqrt'(0) = +inf: a's gradient is the first to go infinite
    b.backward();
    assert_eq!(
        x.grad(),
        f64::INFINITY,
        "the test needs the infinity to spread"
    );
    let err = b.check_finite().unwrap_err();
    assert_eq!(err.label.as_deref(), Some("a"), "{err}");
    assert_eq!(err.op, "*");
    assert!(err.to_string().starts_with("non-finite gradient"), "{err}");
}

#[test]
fn dot_export_has_every_node_and_edge() {
    let a = Value::new(2.0).with_label("a");
    let b = Value::new(-3.0).with_label("b");
    let c = (&a * &b).with_label("c");
    let d = (&c + &a).tanh().with_label("d");
    d.backward();
    let dot = d.to_dot();
    for needle in [
        "a | data 2.0000",
        "b | data -3.0000",
        "c | data -6.0000",
        "label=\"*\"",
        "label=\"+\"",
        "label=\"tanh\"",
    ] {
        assert!(dot.contains(needle), "missing {needle} in\n{dot}");
    }
    // 5 value nodes (a, b, c, c + a, d) and 3 op nodes (*, +, tanh). Edges: one from
    // each op to its result (3), one from each operand to its op (2 + 2 + 1).
    assert_eq!(dot.matches("shape=record").count(), 5);
    assert_eq!(dot.matches(" -> ").count(), 3 + 5);
}

/// An op name with quotes and backslashes stays inside its quoted DOT string.
#[test]
fn dot_export_escapes_op_names() {
    let x = Value::new(1.0);
    let y = x.custom("we\"ird\\", |x| x, |_| 1.0);
    let dot = y.to_dot();
    assert!(dot.contains(r#"n1_op [label="we\"ird\\"];"#), "{dot}");
}

/// Nodes are named by position, not address: the same graph gives the same text.
#[test]
fn dot_export_is_deterministic() {
    let build = || {
        let a = Value::new(1.5).with_label("a");
        let b = (&a * &a + 2.0).tanh();
        b.backward();
        b.to_dot()
    };
    assert_eq!(build(), build());
}

#[test]
fn printing_reads_like_micrograd_and_debug_shows_one_node() {
    let x = Value::new(2.0);
    let y = (&x * &x).with_label("y");
    y.backward();
    assert_eq!(x.to_string(), "Value(data=2.0000, grad=4.0000)");
    assert_eq!(format!("{y:.1}"), "Value(data=4.0, grad=1.0)");
    let debug = format!("{y:?}");
    assert_eq!(
        debug,
        "Value { data: 4.0, grad: 1.0, op: \"*\", label: \"y\" }"
    );
}

#[test]
fn labels_survive_clones_and_vanish_with_their_node() {
    let w = Value::new(1.0).with_label("w");
    let alias = w.clone();
    assert_eq!(alias.label().as_deref(), Some("w"));
    drop(w);
    drop(alias);
    // A new node at a possibly reused address must not inherit the label.
    let fresh = Value::new(2.0);
    assert_eq!(fresh.label(), None);
}

#[test]
fn operators_cover_every_combination() {
    let a = Value::new(6.0);
    let b = Value::new(3.0);
    let results = [
        (&a + &b).data(),
        (a.clone() - b.clone()).data(),
        (&a * b.clone()).data(),
        (a.clone() / &b).data(),
        (&a + 1.0).data(),
        (2.0 - &a).data(),
        (a.clone() * 2.0).data(),
        (12.0 / a.clone()).data(),
        (-&a).data(),
        (-a.clone()).data(),
    ];
    assert_eq!(
        results,
        [9.0, 3.0, 18.0, 2.0, 7.0, -4.0, 12.0, 2.0, -6.0, -6.0]
    );
    let mut c = a.clone();
    c += &b;
    c -= 1.0;
    c *= b.clone();
    c /= 2.0;
    assert_eq!(c.data(), 12.0); // ((6 + 3 − 1)·3)/2
    let xs = [Value::new(1.0), Value::new(2.0), Value::new(4.0)];
    assert_eq!(xs.iter().sum::<Value>().data(), 7.0);
    assert_eq!(xs.iter().product::<Value>().data(), 8.0);
    assert_eq!(xs.clone().into_iter().sum::<Value>().data(), 7.0);
    assert_eq!(xs.into_iter().product::<Value>().data(), 8.0);
    assert_eq!(std::iter::empty::<Value>().sum::<Value>().data(), 0.0);
    assert_eq!(std::iter::empty::<Value>().product::<Value>().data(), 1.0);
}

#[test]
#[should_panic(expected = "same length")]
fn dot_of_mismatched_slices_panics_with_a_clear_message() {
    let _ = Value::dot(&[Value::new(1.0)], &[]);
}

/// `f` is evaluated once for the graph and twice per input, as the docs say.
#[test]
fn gradcheck_calls_f_once_plus_twice_per_input() {
    let calls = std::cell::Cell::new(0);
    let f = |v: &[Value]| {
        calls.set(calls.get() + 1);
        &v[0] * &v[1] + v[2].tanh()
    };
    gradcheck(f, &[0.5, -1.0, 0.3], &Options::default()).unwrap();
    assert_eq!(calls.get(), 1 + 2 * 3);
}
