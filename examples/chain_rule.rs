//! The chain rule, worked by hand beside `backward()`.
//!
//! One tanh neuron, out = tanh(x1·w1 + x2·w2 + b), the example from micrograd's
//! lecture. For each weight, the derivative of the output is the product of the local
//! derivatives along its path:
//!
//!   d(out)/d(wᵢ) = d(cᵢ)/d(wᵢ) × d(n)/d(cᵢ) × d(out)/d(n)
//!                =     xᵢ     ×     1     ×  (1 − out²)
//!
//! where cᵢ = xᵢ·wᵢ is the weight's contribution and n the pre-activation. The example
//! prints each factor, the product, what `backward()` computed and a finite
//! difference; then every node of the graph; then checks it all with `gradcheck`; and
//! writes the graph as a Graphviz DOT file (and an SVG, if `dot` is installed).
//!
//! Run: `cargo run --example chain_rule [-- --out DIR]`

#[path = "common/mod.rs"]
mod common;

use std::error::Error;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use scalargrad::check::{gradcheck, numerical_gradient, Options};
use scalargrad::Value;

const USAGE: &str = "\
Work the chain rule by hand for one tanh neuron, beside backward() and finite
differences, and write the graph as DOT (and SVG if Graphviz is installed).

Usage: cargo run --example chain_rule [-- OPTIONS]

Options:
  --out DIR   folder for graph.dot / graph.svg [default: target/scalargrad-examples/chain_rule]
  -h, --help  print this help";

/// The neuron as a function of [x1, x2, w1, w2, b], for gradcheck and finite differences.
fn neuron(v: &[Value]) -> Value {
    (&v[0] * &v[2] + &v[1] * &v[3] + &v[4]).tanh()
}

fn main() -> ExitCode {
    common::run(chain_rule)
}

fn chain_rule() -> Result<(), Box<dyn Error>> {
    if common::help_requested(USAGE) {
        return Ok(());
    }
    let mut out_dir: Option<PathBuf> = None;
    let mut args = lexopt::Parser::from_env();
    while let Some(arg) = args.next()? {
        match arg {
            lexopt::Arg::Long("out") => out_dir = Some(args.value()?.into()),
            _ => return Err(common::bad_arg(arg, USAGE)),
        }
    }

    // --- 1. Forward: build the graph, naming every node. ---------------------------------
    let inputs = [2.0, 0.0, -3.0, 1.0, 6.881_373_587_019_543];
    let x1 = Value::new(inputs[0]).with_label("x1");
    let x2 = Value::new(inputs[1]).with_label("x2");
    let w1 = Value::new(inputs[2]).with_label("w1");
    let w2 = Value::new(inputs[3]).with_label("w2");
    let b = Value::new(inputs[4]).with_label("b");
    let c1 = (&x1 * &w1).with_label("c1 = x1·w1");
    let c2 = (&x2 * &w2).with_label("c2 = x2·w2");
    let n = ((&c1 + &c2).with_label("c1 + c2") + &b).with_label("n = c1 + c2 + b");
    let out = n.tanh().with_label("out = tanh(n)");
    println!(
        "1. Forward pass: out = tanh(x1·w1 + x2·w2 + b) = {:.6}\n",
        out.data()
    );

    // --- 2. Backward, and the same numbers by hand. -------------------------------------
    out.backward();
    let numeric = numerical_gradient(neuron, &inputs, 1e-6);
    let dout_dn = 1.0 - out.data().powi(2);
    println!("2. The chain rule by hand: d(out)/d(n) = 1 − out² = {dout_dn:.6}");
    println!(
        "   {:<4} {:>14} {:>14} {:>14} {:>12} {:>12} {:>12}",
        "", "d(c)/d(w) = x", "d(n)/d(c)", "d(out)/d(n)", "product", "backward()", "finite diff"
    );
    for (w, x, fd) in [(&w1, &x1, numeric[2]), (&w2, &x2, numeric[3])] {
        let product = x.data() * 1.0 * dout_dn;
        if (product - w.grad()).abs() > 1e-12 || (fd - w.grad()).abs() > 1e-6 {
            return Err(format!("the chain rule disagrees with backward() for {w:?}").into());
        }
        println!(
            "   {:<4} {:>14.6} {:>14.6} {:>14.6} {:>12.6} {:>12.6} {:>12.6}",
            w.label().unwrap_or_default(),
            x.data(),
            1.0,
            dout_dn,
            product,
            w.grad(),
            fd
        );
    }
    println!(
        "   {:<4} {:>14} {:>14.6} {:>14.6} {:>12.6} {:>12.6} {:>12.6}",
        "b",
        "(n/a)",
        1.0,
        dout_dn,
        dout_dn,
        b.grad(),
        numeric[4]
    );

    // --- 3. Every node, operands before results. ----------------------------------------
    println!("\n3. Every node of the graph (topological order):");
    for node in out.nodes() {
        let name = node.label().unwrap_or_default();
        println!("   {name:<18} {node}");
    }

    // --- 4. gradcheck: backward against central differences, every input. ---------------
    let report = gradcheck(neuron, &inputs, &Options::default())?;
    println!(
        "\n4. gradcheck passed: largest absolute error {:.2e}, relative {:.2e}",
        report.max_abs_error(),
        report.max_rel_error()
    );

    // --- 5. The graph as a picture. ------------------------------------------------------
    let dir = common::output_dir("chain_rule", out_dir)?;
    let dot_path = dir.join("graph.dot");
    std::fs::write(&dot_path, out.to_dot())?;
    println!("\n5. Graph written to {}", dot_path.display());
    let svg_path = dir.join("graph.svg");
    match Command::new("dot")
        .arg("-Tsvg")
        .arg(&dot_path)
        .arg("-o")
        .arg(&svg_path)
        .status()
    {
        Ok(status) if status.success() => println!("   and rendered to {}", svg_path.display()),
        _ => println!(
            "   (Graphviz `dot` is not installed; render it with `dot -Tsvg {} -o graph.svg`)",
            dot_path.display()
        ),
    }
    Ok(())
}
