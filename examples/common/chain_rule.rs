//! The chain-rule computation, shared by `examples/chain_rule.rs` and
//! `tests/concepts.rs`.
//!
//! One tanh neuron, `out = tanh(x1·w1 + x2·w2 + b)`. For each weight, the derivative of
//! the output is the product of the local derivatives along its path:
//!
//! ```text
//! d(out)/d(wᵢ) = d(cᵢ)/d(wᵢ) × d(n)/d(cᵢ) × d(out)/d(n)
//!              =     xᵢ     ×     1     ×  (1 − out²)
//! ```
//!
//! where `cᵢ = xᵢ·wᵢ` is the weight's contribution and `n` the pre-activation; the last
//! two factors together are d(out)/d(cᵢ).
#![allow(dead_code)] // the example and the test each use their own subset

use scalargrad::check::numerical_gradient;
use scalargrad::Value;

/// micrograd's lecture neuron, as [x1, x2, w1, w2, b]: the bias makes the
/// pre-activation `ln(1 + √2)`, where tanh is `1/√2` and its slope exactly ½.
pub const INPUTS: [f64; 5] = [2.0, 0.0, -3.0, 1.0, 6.881_373_587_019_543];

/// The neuron as a function of [x1, x2, w1, w2, b], for gradcheck and finite
/// differences.
pub fn neuron(v: &[Value]) -> Value {
    (&v[0] * &v[2] + &v[1] * &v[3] + &v[4]).tanh()
}

/// One parameter's derivative, factor by factor, beside `backward()` and a central
/// difference.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: &'static str,
    /// d(c)/d(w) = x for a weight; `None` for the bias, which enters `n` directly.
    pub dc_dw: Option<f64>,
    /// d(n)/d(c) = 1: a sum passes the gradient through unchanged.
    pub dn_dc: f64,
    /// d(out)/d(n) = 1 − out².
    pub dout_dn: f64,
    /// The product of the factors: the chain rule by hand.
    pub product: f64,
    /// What `backward()` put in the parameter's `grad`.
    pub backward: f64,
    /// A central finite difference with step 1e-6.
    pub finite_difference: f64,
}

/// The neuron's graph with every node named, after `backward()`.
pub struct Worked {
    pub out: Value,
    pub rows: Vec<Row>,
}

/// Builds the neuron at `inputs` ([x1, x2, w1, w2, b]), runs `backward()`, and works
/// each parameter's derivative by hand.
pub fn work(inputs: &[f64; 5]) -> Worked {
    let x1 = Value::new(inputs[0]).with_label("x1");
    let x2 = Value::new(inputs[1]).with_label("x2");
    let w1 = Value::new(inputs[2]).with_label("w1");
    let w2 = Value::new(inputs[3]).with_label("w2");
    let b = Value::new(inputs[4]).with_label("b");
    let c1 = (&x1 * &w1).with_label("c1 = x1·w1");
    let c2 = (&x2 * &w2).with_label("c2 = x2·w2");
    let n = ((&c1 + &c2).with_label("c1 + c2") + &b).with_label("n = c1 + c2 + b");
    let out = n.tanh().with_label("out = tanh(n)");
    out.backward();

    let numeric = numerical_gradient(neuron, inputs, 1e-6);
    let dout_dn = 1.0 - out.data().powi(2);
    let dn_dc = 1.0;
    let row = |name, dc_dw: Option<f64>, param: &Value, fd| {
        let product = dc_dw.unwrap_or(1.0) * dn_dc * dout_dn;
        Row {
            name,
            dc_dw,
            dn_dc,
            dout_dn,
            product,
            backward: param.grad(),
            finite_difference: fd,
        }
    };
    let rows = vec![
        row("w1", Some(x1.data()), &w1, numeric[2]),
        row("w2", Some(x2.data()), &w2, numeric[3]),
        row("b", None, &b, numeric[4]),
    ];
    Worked { out, rows }
}

/// `out` as a function of `w1` alone (the others at `inputs`), for the tangent picture.
pub fn out_of_w1(inputs: &[f64; 5], w1: f64) -> f64 {
    (inputs[0] * w1 + inputs[1] * inputs[3] + inputs[4]).tanh()
}
