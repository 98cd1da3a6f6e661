//! Weight initialisation: why the starting weights must differ, and how large they
//! should be.
//!
//! (a) A 2-8-8-1 tanh network trained on two moons from a constant initialisation keeps
//! every neuron of a layer identical: the largest difference between two neurons after
//! training is exactly 0, although every weight moved. From random weights the neurons
//! differ and the network fits the moons better.
//!
//! (b) A deep network (9 hidden layers of 24, tanh or ReLU) is run forward and backward
//! once. With too small weights the gradient reaching the first layer is a vanishing
//! fraction of the one at the last; with too large weights it explodes (ReLU) or the
//! units saturate (tanh); with Xavier (tanh) or He (ReLU) it stays within an order of
//! magnitude across the layers. Prints both tables, checks both claims, and draws the
//! decision regions of (a) and the per-layer gradient norms of (b).
//!
//! Run: `cargo run --release --example init` (`-- --help` for options).

#[path = "common/mod.rs"]
mod common;
#[path = "common/init.rs"]
mod experiment;

use std::error::Error;
use std::process::ExitCode;

use scalargrad::nn::{Activation, Init};

use common::plot::{self, LineChart, Panel, Series};
use experiment::{Profile, SymmetryRun, SETTINGS};

const USAGE: &str = "\
Show that a constant initialisation keeps the neurons of a layer identical, and how the
scale of the initial weights makes gradients vanish, explode, or stay steady in a deep
network.

Usage: cargo run --release --example init [-- OPTIONS]

Options:
  --seed N    seed for the weights (N) and the data (N + 1) [default: 3]
  --out DIR   folder for init_symmetry.svg and init_gradients.svg
              [default: target/scalargrad-examples/init]
  -h, --help  print this help";

fn main() -> ExitCode {
    common::main(USAGE, init)
}

fn init() -> Result<(), Box<dyn Error>> {
    let (seed, out) = common::seed_and_out(USAGE, experiment::SEED)?;

    // --- 1. Symmetry: constant against random initial weights. ---------------------------
    println!(
        "1. A 2-8-8-1 tanh network, {} SGD steps (lr {}) on two moons, from two starts:\n",
        experiment::SYMMETRY_STEPS,
        experiment::SYMMETRY_LR
    );
    println!(
        "   {:<22} {:>28} {:>15} {:>17} {:>9}",
        "initial weights", "largest neuron difference", "largest move", "loss", "accuracy"
    );
    println!("   {:<22} {:>13} {:>14}", "", "layer 1", "layer 2");
    let constant = experiment::symmetry_run(Init::Constant(experiment::CONSTANT), seed);
    let random = experiment::symmetry_run(Init::XavierUniform, seed);
    for (name, run) in [
        (format!("constant {}", experiment::CONSTANT), &constant),
        ("random (Xavier)".to_owned(), &random),
    ] {
        print_symmetry(&name, run);
    }
    if constant.spread.iter().any(|&d| d != 0.0) {
        return Err("the constant start did not stay symmetric".into());
    }
    if constant.moved == 0.0 {
        return Err("the constant start did not train at all".into());
    }
    if random.spread.contains(&0.0) {
        return Err("the random start left a layer's neurons identical".into());
    }
    println!(
        "\n   From the constant start every weight moved (by up to {:.3}) but every neuron of a \
         layer\n   moved the same way: the difference is exactly 0, so each layer is one neuron \
         in eight copies.\n",
        constant.moved
    );

    // --- 2. Scale: gradients through a deep network at initialisation. ------------------
    println!(
        "2. A deep network (2 inputs, {} hidden layers of {}, 1 linear output), one batch of \
         {} points,\n   forward and backward once. ‖∂loss/∂h‖ at each hidden layer's output \
         h, layer 1 nearest the input:\n",
        experiment::HIDDEN_LAYERS,
        experiment::WIDTH,
        experiment::BATCH
    );
    let profiles: Vec<Profile> = SETTINGS
        .iter()
        .map(|s| experiment::profile(s, seed))
        .collect();
    print!("   {:<18}", "");
    for l in 1..=experiment::HIDDEN_LAYERS {
        print!(" {:>8}", format!("layer {l}"));
    }
    println!(" {:>11}", "first/last");
    for (setting, p) in SETTINGS.iter().zip(&profiles) {
        print!("   {:<18}", setting.name);
        for g in &p.grad_norms {
            print!(" {g:>8.1e}");
        }
        println!(" {:>11.1e}", p.first_to_last());
    }
    println!(
        "\n   The forward side of the same runs: the outputs' size, how many tanh units sit on \
         their flat\n   tails (|h| > 0.99, slope below 0.02), and the weights' gradients, which \
         are ∂loss/∂(w·x + b) times\n   the layer's input and so shrink or grow as a whole:\n"
    );
    println!(
        "   {:<18} {:>15} {:>15} {:>14} {:>21}",
        "", "rms(h) layer 1", "rms(h) layer 9", "saturated, 9", "‖∂W‖ over layers"
    );
    for (setting, p) in SETTINGS.iter().zip(&profiles) {
        let saturated = match setting.activation {
            Activation::Tanh => format!("{:.0}%", 100.0 * p.saturated[p.saturated.len() - 1]),
            _ => "-".to_owned(),
        };
        println!(
            "   {:<18} {:>15.1e} {:>15.1e} {saturated:>14} {:>21}",
            setting.name,
            p.activation_rms[0],
            p.activation_rms[p.activation_rms.len() - 1],
            format!(
                "{:.1e} … {:.1e}",
                p.weight_grad_norms
                    .iter()
                    .copied()
                    .fold(f64::INFINITY, f64::min),
                p.weight_grad_norms.iter().copied().fold(0.0, f64::max)
            ),
        );
    }
    check_scales(&profiles)?;
    println!(
        "\n   Checked: too small vanishes (first/last < 1e-6 for tanh and ReLU), too large \
         explodes (ReLU,\n   first/last > 1e3) or saturates (tanh, over a quarter of the units), \
         and Xavier and He stay within\n   an order of magnitude across the nine layers."
    );

    // --- 3. Pictures. -------------------------------------------------------------------
    let dir = common::output_dir("init", out)?;
    let symmetry_path = dir.join("init_symmetry.svg");
    let classes: Vec<usize> = constant
        .data
        .targets
        .iter()
        .map(|&t| usize::from(t > 0.5))
        .collect();
    let panels: Vec<Panel> = [("constant", &constant), ("random", &random)]
        .into_iter()
        .map(|(name, run)| Panel {
            title: format!("{name} init: {:.0}% train accuracy", 100.0 * run.accuracy),
            inputs: &run.data.inputs,
            classes: &classes,
            classify: Box::new(move |x, y| usize::from(run.model.predict(&[x, y])[0] > 0.0)),
        })
        .collect();
    plot::decision_panels(
        &symmetry_path,
        "2-8-8-1 tanh network after training",
        &panels,
        2,
    )?;
    let gradients_path = dir.join("init_gradients.svg");
    let series: Vec<Series> = SETTINGS
        .iter()
        .zip(&profiles)
        .map(|(s, p)| Series {
            name: s.name.to_owned(),
            points: p
                .grad_norms
                .iter()
                .enumerate()
                .map(|(l, &g)| (l as f64 + 1.0, g))
                .collect(),
        })
        .collect();
    LineChart {
        log_y: true,
        legend_right: true,
        ..LineChart::new(
            "gradient reaching each layer of a deep network, at initialisation",
            "hidden layer (1 = nearest the input)",
            "‖∂loss/∂h‖ (log scale)",
        )
    }
    .draw(&gradients_path, &series)?;
    println!(
        "\npictures: {} and {}",
        symmetry_path.display(),
        gradients_path.display()
    );
    Ok(())
}

/// The claims of part 2, on the six profiles in `SETTINGS` order.
fn check_scales(p: &[Profile]) -> Result<(), Box<dyn Error>> {
    let checks = [
        (
            p[0].first_to_last() < 1e-6,
            "tanh with tiny weights did not vanish",
        ),
        (
            p[3].first_to_last() < 1e-6,
            "ReLU with tiny weights did not vanish",
        ),
        (
            p[4].first_to_last() > 1e3,
            "ReLU with large weights did not explode",
        ),
        (
            p[1].saturated[p[1].saturated.len() - 1] > 0.25,
            "tanh with large weights did not saturate",
        ),
        (
            p[2].spread() < 10.0,
            "Xavier did not keep tanh gradients steady",
        ),
        (
            p[5].spread() < 10.0,
            "He did not keep ReLU gradients steady",
        ),
    ];
    match checks.iter().find(|(ok, _)| !ok) {
        Some((_, what)) => Err((*what).into()),
        None => Ok(()),
    }
}

/// A neuron difference: "0" when exact, else three decimals.
fn difference(d: f64) -> String {
    if d == 0.0 {
        "0".to_owned()
    } else {
        format!("{d:.3}")
    }
}

fn print_symmetry(name: &str, run: &SymmetryRun) {
    println!(
        "   {name:<22} {:>13} {:>14} {:>15.4} {:>8.4} → {:.4} {:>8.0}%",
        difference(run.spread[0]),
        difference(run.spread[1]),
        run.moved,
        run.loss.0,
        run.loss.1,
        100.0 * run.accuracy
    );
}
