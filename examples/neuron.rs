//! The neuron: a weighted sum of the inputs plus a bias, passed through an activation.
//!
//! One neuron `σ(w1·x1 + w2·x2 + b)` learns AND and OR, whose truth tables a straight
//! line can split. The same neuron, trained the same way, cannot learn XOR: its best
//! accuracy at any step stays at or below 75% (three of the four rows), and a search
//! over thousands of lines finds none better. A 2-4-1 MLP, whose hidden layer bends the
//! boundary, learns XOR. Prints each model's weights, outputs and accuracy, checks
//! those claims, and draws the four decision regions as one SVG.
//!
//! Run: `cargo run --example neuron` (`-- --help` for options).

#[path = "common/mod.rs"]
mod common;
#[path = "common/neuron.rs"]
mod experiment;

use std::error::Error;
use std::process::ExitCode;

use scalargrad::nn::{Mlp, Module, Neuron};

use common::plot::{self, Panel};
use experiment::{Gate, Run, AND, INPUTS, OR, XOR};

const USAGE: &str = "\
Train one neuron on AND, OR and XOR, and a 2-4-1 MLP on XOR; show that the neuron
cannot learn XOR and the MLP can, and draw the decision regions.

Usage: cargo run --example neuron [-- OPTIONS]

Options:
  --seed N    seed for the initial weights [default: 1]
  --out DIR   folder for neuron.svg [default: target/scalargrad-examples/neuron]
  -h, --help  print this help";

fn main() -> ExitCode {
    common::main(USAGE, neuron)
}

fn neuron() -> Result<(), Box<dyn Error>> {
    let (seed, out) = common::seed_and_out(USAGE, experiment::SEED)?;

    // --- 1. One neuron per gate. --------------------------------------------------------
    println!(
        "1. One neuron, out = σ(w1·x1 + w2·x2 + b), trained {} steps (Adam, lr {}, \
         cross-entropy) on each truth table:\n",
        experiment::STEPS,
        experiment::LR
    );
    let mut neurons = Vec::new();
    for gate in [AND, OR, XOR] {
        let (neuron, run) = experiment::train_neuron(&gate, seed);
        print_neuron(&gate, &neuron, &run);
        neurons.push((gate, neuron, run));
    }

    // --- 2. Why XOR fails: no line gets all four rows. ---------------------------------
    println!("2. The best any line w1·x1 + w2·x2 + b = 0 can do (35,937 lines on a grid):");
    for gate in [AND, OR, XOR] {
        println!(
            "   {:<3}  {:>5.1}%",
            gate.name,
            100.0 * experiment::best_line_accuracy(&gate)
        );
    }
    println!(
        "   XOR's 1s, (0,1) and (1,0), have the same midpoint (½,½) as its 0s, (0,0) and (1,1): \
         a side of a\n   line that holds both 1s holds their midpoint, and so at least one 0.\n"
    );

    // --- 3. A hidden layer solves it. ---------------------------------------------------
    let (mlp, mlp_run) = experiment::train_mlp(&XOR, seed);
    println!(
        "3. A 2-4-1 MLP (tanh hidden layer, {} parameters) on XOR:",
        mlp.num_parameters()
    );
    print_outputs(&XOR, &mlp_run);

    // --- 4. Check the claims. -----------------------------------------------------------
    for (gate, _, run) in &neurons[..2] {
        if run.final_accuracy() < 1.0 {
            return Err(format!("the neuron did not learn {}", gate.name).into());
        }
    }
    let xor_best = neurons[2].2.best_accuracy();
    if xor_best > 0.75 || experiment::best_line_accuracy(&XOR) > 0.75 {
        return Err("a single neuron got more than three XOR rows right".into());
    }
    if mlp_run.final_accuracy() < 1.0 {
        return Err("the 2-4-1 MLP did not learn XOR".into());
    }
    println!(
        "4. Checked: the neuron learns AND and OR (100%), its best on XOR is {:.0}% (≤ 75%), \
         and the MLP learns XOR (100%).",
        100.0 * xor_best
    );

    // --- 5. Picture. --------------------------------------------------------------------
    let dir = common::output_dir("neuron", out)?;
    let path = dir.join("neuron.svg");
    let inputs: Vec<Vec<f64>> = INPUTS.iter().map(|x| x.to_vec()).collect();
    let classes: Vec<Vec<usize>> = [AND, OR, XOR]
        .iter()
        .map(|g| g.targets.iter().map(|&t| usize::from(t > 0.5)).collect())
        .collect();
    let mut panels: Vec<Panel> = neurons
        .iter()
        .zip(&classes)
        .map(|((gate, neuron, run), classes)| Panel {
            title: format!(
                "{}: one neuron, {:.0}% (best {:.0}%)",
                gate.name,
                100.0 * run.final_accuracy(),
                100.0 * run.best_accuracy()
            ),
            inputs: &inputs,
            classes,
            classify: Box::new(move |x, y| usize::from(neuron.predict(&[x, y]) > 0.0)),
        })
        .collect();
    panels.push(Panel {
        title: format!("XOR: 2-4-1 MLP, {:.0}%", 100.0 * mlp_run.final_accuracy()),
        inputs: &inputs,
        classes: &classes[2],
        classify: Box::new(|x, y| usize::from(mlp_predict(&mlp, x, y) > 0.0)),
    });
    plot::decision_panels(&path, "what one neuron can and cannot separate", &panels, 4)?;
    println!("\npicture: {}", path.display());
    Ok(())
}

fn mlp_predict(mlp: &Mlp, x: f64, y: f64) -> f64 {
    mlp.predict(&[x, y])[0]
}

fn print_neuron(gate: &Gate, neuron: &Neuron, run: &Run) {
    let w: Vec<f64> = neuron.weights().iter().map(|w| w.data()).collect();
    println!(
        "   {}: w = [{:.3}, {:.3}], b = {:.3}",
        gate.name,
        w[0],
        w[1],
        neuron.bias().data()
    );
    print_outputs(gate, run);
}

fn print_outputs(gate: &Gate, run: &Run) {
    println!("      x1 x2  target  output");
    for ((x, t), out) in INPUTS.iter().zip(gate.targets).zip(run.outputs) {
        let mark = if (out > 0.5) == (t > 0.5) {
            ""
        } else {
            "  wrong"
        };
        println!("      {}  {}     {t}    {out:.3}{mark}", x[0], x[1]);
    }
    println!(
        "      loss {:.4} → {:.4}; accuracy {:.0}% at the end, best {:.0}% at any step\n",
        run.losses[0],
        run.losses.last().copied().unwrap_or(f64::NAN),
        100.0 * run.final_accuracy(),
        100.0 * run.best_accuracy()
    );
}
