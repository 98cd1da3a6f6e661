//! The chain rule, worked by hand beside `backward()`.
//!
//! One tanh neuron, out = tanh(x1·w1 + x2·w2 + b), the example from micrograd's
//! lecture. For each weight, the derivative of the output is the product of the local
//! derivatives along its path:
//!
//!   d(out)/d(wᵢ) = d(cᵢ)/d(wᵢ) × d(n)/d(cᵢ) × d(out)/d(n)
//!                =     xᵢ     ×     1     ×  (1 − out²)
//!
//! where cᵢ = xᵢ·wᵢ is the weight's contribution and n the pre-activation (the last two
//! factors make d(out)/d(cᵢ)). The example prints each factor, the product, what
//! `backward()` computed and a finite difference; then every node of the graph; then
//! checks it all with `gradcheck`; writes the graph as a Graphviz DOT file (and an SVG,
//! if `dot` is installed); and draws the derivative as the slope of a tangent.
//!
//! Run: `cargo run --example chain_rule [-- --out DIR]`

#[path = "common/mod.rs"]
mod common;
#[path = "common/chain_rule.rs"]
mod experiment;

use std::error::Error;
use std::process::{Command, ExitCode};

use scalargrad::check::{gradcheck, Options};

use common::plot::{LineChart, Series};
use experiment::INPUTS;

const USAGE: &str = "\
Work the chain rule by hand for one tanh neuron, beside backward() and finite
differences; write the graph as DOT (and SVG if Graphviz is installed) and draw the
derivative as a tangent.

Usage: cargo run --example chain_rule [-- OPTIONS]

Options:
  --out DIR   folder for chain_rule.dot, chain_rule_graph.svg and chain_rule_tangent.svg
              [default: target/scalargrad-examples/chain_rule]
  -h, --help  print this help";

fn main() -> ExitCode {
    common::main(USAGE, chain_rule)
}

fn chain_rule() -> Result<(), Box<dyn Error>> {
    let out_dir = common::out_only(USAGE)?;

    // --- 1 and 2. Forward (every node named), backward(), and the same by hand. ---------
    let worked = experiment::work(&INPUTS);
    let out = &worked.out;
    println!(
        "1. Forward pass: out = tanh(x1·w1 + x2·w2 + b) = {:.6}\n",
        out.data()
    );
    let dout_dn = worked.rows[0].dout_dn;
    println!("2. The chain rule by hand: d(out)/d(n) = 1 − out² = {dout_dn:.6}");
    println!(
        "   {:<4} {:>14} {:>14} {:>14} {:>12} {:>12} {:>12}",
        "", "d(c)/d(w) = x", "d(n)/d(c)", "d(out)/d(n)", "product", "backward()", "finite diff"
    );
    for row in &worked.rows {
        if (row.product - row.backward).abs() > 1e-12
            || (row.finite_difference - row.backward).abs() > 1e-6
        {
            return Err(
                format!("the chain rule disagrees with backward() for {}", row.name).into(),
            );
        }
        let dc_dw = row
            .dc_dw
            .map_or_else(|| "(n/a)".to_owned(), |x| format!("{x:.6}"));
        println!(
            "   {:<4} {dc_dw:>14} {:>14.6} {:>14.6} {:>12.6} {:>12.6} {:>12.6}",
            row.name, row.dn_dc, row.dout_dn, row.product, row.backward, row.finite_difference
        );
    }

    // --- 3. Every node, operands before results. ----------------------------------------
    println!("\n3. Every node of the graph (topological order):");
    for node in out.nodes() {
        let name = node.label().unwrap_or_default();
        println!("   {name:<18} {node}");
    }

    // --- 4. gradcheck: backward against central differences, every input. ---------------
    let report = gradcheck(experiment::neuron, &INPUTS, &Options::default())?;
    println!(
        "\n4. gradcheck passed: largest absolute error {:.2e}, relative {:.2e}",
        report.max_abs_error(),
        report.max_rel_error()
    );

    // --- 5. The graph as a picture. ------------------------------------------------------
    let dir = common::output_dir("chain_rule", out_dir)?;
    let dot_path = dir.join("chain_rule.dot");
    std::fs::write(&dot_path, out.to_dot())?;
    println!("\n5. Graph written to {}", dot_path.display());
    let svg_path = dir.join("chain_rule_graph.svg");
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

    // --- 6. The derivative is a slope. --------------------------------------------------
    // out as a function of w1 alone, and the line through (w1, out) whose slope is the
    // gradient backward() found: it touches the curve there.
    let (w1, slope) = (INPUTS[2], worked.rows[0].backward);
    let ws: Vec<f64> = (0..=200).map(|i| w1 - 2.0 + f64::from(i) / 50.0).collect();
    let tangent_path = dir.join("chain_rule_tangent.svg");
    LineChart::new(
        "d(out)/d(w1) is the slope of out(w1) at w1 = −3",
        "w1 (the other inputs fixed)",
        "out",
    )
    .draw(
        &tangent_path,
        &[
            Series {
                name: "out = tanh(x1·w1 + x2·w2 + b)".to_owned(),
                points: ws
                    .iter()
                    .map(|&w| (w, experiment::out_of_w1(&INPUTS, w)))
                    .collect(),
            },
            Series {
                name: format!("tangent, slope = w1.grad() = {slope:.3}"),
                points: ws
                    .iter()
                    .filter(|&&w| (w - w1).abs() <= 0.6)
                    .map(|&w| (w, out.data() + slope * (w - w1)))
                    .collect(),
            },
        ],
    )?;
    println!(
        "\n6. The tangent to out(w1) at w1 = {w1}, slope {slope:.3}, drawn in {}",
        tangent_path.display()
    );
    Ok(())
}
