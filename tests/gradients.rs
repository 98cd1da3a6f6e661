//! Property tests: every op's gradient, and random expression graphs, against central
//! finite differences of plain `f64` code (an oracle that shares nothing with the
//! engine's derivatives).
//!
//! The case count comes from `PROPTEST_CASES` (default 256); raise it for a deeper run:
//! `PROPTEST_CASES=10000 cargo test --release --test gradients`.

mod common;

use common::unary::unary_cases;
use common::{assert_close, assert_derivative, central_difference, expr};
use proptest::prelude::*;
use scalargrad::{log_softmax, logsumexp, softmax, Value};

proptest! {
    #[test]
    fn unary_ops_match_finite_differences(u in 0.0..1.0f64, negative in any::<bool>()) {
        for op in unary_cases() {
            let x0 = op.point(u, negative);
            let x = Value::new(x0);
            let y = (op.build)(&x);
            y.backward();
            let expected = (op.value)(x0);
            assert_close(y.data(), expected, 1e-12 * expected.abs().max(1.0));
            let fd = central_difference(&|v: &[f64]| (op.value)(v[0]), &[x0], 0);
            assert_derivative(&format!("{} at {x0}", op.name), x.grad(), fd);
        }
    }

    #[test]
    fn binary_ops_match_finite_differences(a in -3.0..3.0f64, b in -3.0..3.0f64, p in 0.1..3.0f64) {
        // Keep max/min away from ties and division away from 0.
        let b_far = if (a - b).abs() < 1e-3 { b + 0.01 } else { b };
        let d = if b.abs() < 0.1 { b + 0.5 } else { b };
        type Case = (&'static str, fn(&Value, &Value) -> Value, fn(f64, f64) -> f64, f64, f64);
        let cases: [Case; 7] = [
            ("add", |a, b| a + b, |a, b| a + b, a, b),
            ("sub", |a, b| a - b, |a, b| a - b, a, b),
            ("mul", |a, b| a * b, |a, b| a * b, a, b),
            ("div", |a, b| a / b, |a, b| a / b, a, d),
            ("pow", Value::pow, f64::powf, p, b),
            ("max", Value::max, f64::max, a, b_far),
            ("min", Value::min, f64::min, a, b_far),
        ];
        for (name, build, oracle, a0, b0) in cases {
            let (x, y) = (Value::new(a0), Value::new(b0));
            let z = build(&x, &y);
            z.backward();
            let expected = oracle(a0, b0);
            assert_close(z.data(), expected, 1e-12 * expected.abs().max(1.0));
            let f = |v: &[f64]| oracle(v[0], v[1]);
            assert_derivative(&format!("∂{name}/∂a at ({a0}, {b0})"), x.grad(), central_difference(&f, &[a0, b0], 0));
            assert_derivative(&format!("∂{name}/∂b at ({a0}, {b0})"), y.grad(), central_difference(&f, &[a0, b0], 1));
        }
    }

    #[test]
    fn fused_reductions_match_finite_differences(
        xs in proptest::collection::vec(-5.0..5.0f64, 1..8),
        weights in proptest::collection::vec(-2.0..2.0f64, 8),
    ) {
        // A weighted sum of the outputs of the vector-valued ops gives one scalar to check.
        let weigh = |outs: &[f64]| outs.iter().zip(&weights).map(|(o, w)| o * w).sum::<f64>();
        let lse = |v: &[f64]| {
            let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
        };
        type Case<'a> = (&'static str, Box<dyn Fn(&[Value]) -> Value + 'a>, Box<dyn Fn(&[f64]) -> f64 + 'a>);
        let cases: Vec<Case> = vec![
            ("sum", Box::new(Value::sum), Box::new(|v: &[f64]| v.iter().sum())),
            ("dot with itself reversed", Box::new(|v: &[Value]| {
                let rev: Vec<Value> = v.iter().rev().cloned().collect();
                Value::dot(v, &rev)
            }), Box::new(|v: &[f64]| v.iter().zip(v.iter().rev()).map(|(a, b)| a * b).sum())),
            ("logsumexp", Box::new(logsumexp), Box::new(lse)),
            ("softmax", Box::new(|v: &[Value]| {
                let p = softmax(v);
                Value::dot(&p, &weights[..p.len()].iter().map(|&w| Value::new(w)).collect::<Vec<_>>())
            }), Box::new(|v: &[f64]| {
                let l = lse(v);
                weigh(&v.iter().map(|x| (x - l).exp()).collect::<Vec<_>>())
            })),
            ("log_softmax", Box::new(|v: &[Value]| {
                let lp = log_softmax(v);
                lp.iter().zip(&weights).map(|(l, &w)| l * w).sum()
            }), Box::new(|v: &[f64]| {
                let l = lse(v);
                weigh(&v.iter().map(|x| x - l).collect::<Vec<_>>())
            })),
        ];
        for (name, build, oracle) in &cases {
            let leaves: Vec<Value> = xs.iter().map(|&x| Value::new(x)).collect();
            let y = build(&leaves);
            y.backward();
            assert_close(y.data(), oracle(&xs), 1e-10 * oracle(&xs).abs().max(1.0));
            for (i, leaf) in leaves.iter().enumerate() {
                let fd = central_difference(&**oracle, &xs, i);
                assert_derivative(&format!("{name}, input {i} of {xs:?}"), leaf.grad(), fd);
            }
        }
    }

    /// Random DAGs with shared subexpressions, constants and every op.
    #[test]
    fn random_expressions_match_finite_differences(e in expr(60)) {
        let (leaves, out) = e.build();
        out.backward();
        let expected = e.eval(&e.inputs);
        assert_close(out.data(), expected, 1e-9 * expected.abs().max(1.0));
        let estimates: Vec<_> = (0..leaves.len())
            .map(|i| central_difference(&|x: &[f64]| e.eval(x), &e.inputs, i))
            .collect();
        // Rarely, a composition changes too fast for any finite step to follow; such
        // a case cannot be judged and is drawn again (too many rejections fail the test).
        prop_assume!(estimates.iter().all(|fd| fd.is_reliable()));
        for (i, (leaf, fd)) in leaves.iter().zip(estimates).enumerate() {
            assert_derivative(&format!("input {i}"), leaf.grad(), fd);
        }
    }
}
