//! The loss: what training minimises, and how hard its gradient pushes.
//!
//! The same 2-8-1 tanh network, from the same initial weights, learns two moons twice:
//! once with mean squared error on the predicted probability, once with cross-entropy.
//! Both losses fall epoch by epoch. Then one confidently wrong prediction (target 1,
//! logit −6, probability 0.0025): the gradient each loss gives it, by `backward()`,
//! and how many gradient steps each takes to put it right. Cross-entropy pushes about
//! 1/(2p(1 − p)) times harder there, because the squared error's gradient carries the
//! sigmoid's slope, which is flat where the prediction is confidently wrong. Checks
//! both claims and draws the loss curves and the gradients against the logit.
//!
//! Run: `cargo run --release --example loss` (`-- --help` for options).

#[path = "common/mod.rs"]
mod common;
#[path = "common/loss.rs"]
mod experiment;

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

use common::plot::{LineChart, Series};
use experiment::{Loss, Run};

const USAGE: &str = "\
Train the same network with mean squared error and with cross-entropy, and compare the
gradients the two give a confidently wrong prediction.

Usage: cargo run --release --example loss [-- OPTIONS]

Options:
  --epochs N  full-batch SGD epochs per loss [default: 300]
  --seed N    seed for the data (N) and the initial weights (N + 1) [default: 5]
  --out DIR   folder for loss_curves.svg and loss_gradients.svg
              [default: target/scalargrad-examples/loss]
  -h, --help  print this help";

/// The confidently wrong prediction: target 1, logit −6.
const WRONG_LOGIT: f64 = -6.0;

fn main() -> ExitCode {
    common::main(USAGE, loss)
}

fn loss() -> Result<(), Box<dyn Error>> {
    let mut epochs = experiment::EPOCHS;
    let mut seed = experiment::SEED;
    let mut out: Option<PathBuf> = None;
    common::parse_flags(USAGE, |flag, args| {
        match flag {
            "epochs" => epochs = common::parse_value(args, "epochs")?,
            "seed" => seed = common::parse_value(args, "seed")?,
            "out" => out = Some(args.value()?.into()),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if epochs == 0 {
        return Err("--epochs must be at least 1".into());
    }

    // --- 1. The same task, two losses. --------------------------------------------------
    let (data, model) = experiment::task(seed);
    println!(
        "1. Two moons ({} points), {model:?}, the same initial weights, {epochs} epochs of \
         full-batch SGD (lr {}):\n",
        data.len(),
        experiment::LR
    );
    let runs: Vec<Run> = Loss::BOTH
        .iter()
        .map(|&l| experiment::train(l, seed, epochs))
        .collect();
    let checkpoints: Vec<usize> = [0, 10, 30, 100, epochs]
        .into_iter()
        .filter(|&e| e <= epochs)
        .collect();
    print!("   {:<14}", "epoch");
    for e in &checkpoints {
        print!(" {e:>15}");
    }
    println!();
    for run in &runs {
        print!("   {:<14}", run.loss.name());
        for &e in &checkpoints {
            print!(
                " {:>15}",
                format!("{:.4} ({:.0}%)", run.losses[e], 100.0 * run.accuracies[e])
            );
        }
        println!();
    }
    println!("   (loss, and train accuracy in brackets)");
    for run in &runs {
        let (first, last) = (run.losses[0], run.losses[epochs]);
        if last.is_nan() || last >= first / 2.0 {
            return Err(format!(
                "{} did not fall to half its start in {epochs} epochs: {first:.4} → {last:.4}",
                run.loss.name()
            )
            .into());
        }
    }

    // --- 2. A confidently wrong prediction. ---------------------------------------------
    let p = 1.0 / (1.0 + (-WRONG_LOGIT).exp());
    println!(
        "\n2. One confidently wrong prediction: target 1, logit z = {WRONG_LOGIT}, p = σ(z) = \
         {p:.4}.\n"
    );
    let mse_grad = Loss::Mse.gradient(WRONG_LOGIT, 1.0);
    let ce_grad = Loss::CrossEntropy.gradient(WRONG_LOGIT, 1.0);
    println!(
        "   {:<14} {:>8}   {:<31} {:>12}",
        "", "loss", "∂loss/∂z", "steps to fix"
    );
    for (loss, grad, formula) in [
        (Loss::Mse, mse_grad, "2(p − 1)·p(1 − p)"),
        (Loss::CrossEntropy, ce_grad, "p − 1"),
    ] {
        let value = loss
            .of(&[scalargrad::Value::new(WRONG_LOGIT)], &[1.0])
            .data();
        let fix = experiment::steps_to_fix(loss, WRONG_LOGIT, 1.0, 10_000)
            .map_or_else(|| "more than 10000".to_owned(), |k| k.to_string());
        println!(
            "   {:<14} {value:>8.4}   {grad:>9.5} = {formula:<19} {fix:>12}",
            loss.name()
        );
    }
    let ratio = ce_grad / mse_grad;
    println!(
        "   (steps to fix: gradient steps z −= 1·∂loss/∂z until z > 0)\n\n   Cross-entropy's gradient is {ratio:.1}× the squared error's: 1/(2p(1 − p)) = {:.1}. \
         The squared\n   error's gradient carries the sigmoid's slope p(1 − p) = {:.4}, flat \
         out here; cross-entropy's\n   logarithm cancels it.",
        1.0 / (2.0 * p * (1.0 - p)),
        p * (1.0 - p)
    );
    if ce_grad.is_nan() || ce_grad.abs() <= mse_grad.abs() {
        return Err("cross-entropy's gradient is not the larger one".into());
    }
    println!("\n   ∂loss/∂z at other logits (target 1):");
    println!(
        "   {:>6} {:>8} {:>12} {:>15}",
        "z", "p", "MSE", "cross-entropy"
    );
    for z in [-10.0f64, -6.0, -3.0, -1.0, 0.0, 2.0, 6.0] {
        println!(
            "   {z:>6} {:>8.4} {:>12.5} {:>15.5}",
            1.0 / (1.0 + (-z).exp()),
            Loss::Mse.gradient(z, 1.0),
            Loss::CrossEntropy.gradient(z, 1.0)
        );
    }

    // --- 3. Pictures. -------------------------------------------------------------------
    let dir = common::output_dir("loss", out)?;
    let curves_path = dir.join("loss_curves.svg");
    let per_epoch = |ys: &[f64]| ys.iter().enumerate().map(|(e, &y)| (e as f64, y)).collect();
    let curves: Vec<Series> = runs
        .iter()
        .flat_map(|run| {
            [
                Series {
                    name: format!("{}: loss", run.loss.name()),
                    points: per_epoch(&run.losses),
                },
                Series {
                    name: format!("{}: train accuracy", run.loss.name()),
                    points: per_epoch(&run.accuracies),
                },
            ]
        })
        .collect();
    LineChart::new(
        "the same network trained with each loss",
        "epoch",
        "loss / train accuracy",
    )
    .draw(&curves_path, &curves)?;
    let gradients_path = dir.join("loss_gradients.svg");
    let zs: Vec<f64> = (-100..=60).map(|i| f64::from(i) / 10.0).collect();
    let gradients: Vec<Series> = Loss::BOTH
        .iter()
        .map(|&loss| Series {
            name: format!("{}: ∂loss/∂z", loss.name()),
            points: zs.iter().map(|&z| (z, loss.gradient(z, 1.0))).collect(),
        })
        .collect();
    LineChart::new(
        "gradient for target 1: wrong (z < 0) to right (z > 0)",
        "logit z",
        "∂loss/∂z",
    )
    .draw(&gradients_path, &gradients)?;
    println!(
        "\npictures: {} and {}",
        curves_path.display(),
        gradients_path.display()
    );
    Ok(())
}
