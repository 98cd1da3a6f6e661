//! Regression: a 1-16-16-1 tanh MLP fits a noisy sine with mean squared error.
//!
//! Trains on 60 noisy samples of sin(x) on [−π, π] with Adam and mini-batches, prints
//! the training loss and the error against the true sine on a fine grid, and draws the
//! fit beside the truth and the data as SVG.
//!
//! Run: `cargo run --release --example sine` (`-- --help` for options).

#[path = "common/mod.rs"]
mod common;

use std::error::Error;
use std::f64::consts::PI;
use std::process::ExitCode;

use rand::{rngs::StdRng, SeedableRng};
use scalargrad::data;
use scalargrad::nn::loss::mse;
use scalargrad::nn::optim::{Adam, Optimizer};
use scalargrad::nn::{Activation, Init, Mlp, Module};
use scalargrad::Value;

use common::plot::Series;
use common::TrainFlags;

const USAGE: &str = "\
Fit a noisy sine with a 1-16-16-1 tanh MLP (MSE, Adam, mini-batches) and plot the fit.

Usage: cargo run --release --example sine [-- OPTIONS]

Options:
  --steps N     training steps [default: 1500]
  --batch N     mini-batch size [default: 16]
  --lr F        Adam learning rate [default: 0.01]
  --seed N      seed for data (N), weights (N + 1) and batches (N + 2) [default: 0]
  --out DIR     folder for the picture [default: target/scalargrad-examples/sine]
  -h, --help    print this help";

fn main() -> ExitCode {
    common::main(USAGE, sine)
}

fn sine() -> Result<(), Box<dyn Error>> {
    let mut batch = 16usize;
    let TrainFlags {
        steps,
        lr,
        seed,
        out,
    } = TrainFlags::parse_with(USAGE, 1500, 0.01, 0, |flag, p| {
        if flag != "batch" {
            return Ok(false);
        }
        batch = common::parse_value(p, "batch")?;
        Ok(true)
    })?;
    if batch == 0 {
        return Err("--batch must be positive".into());
    }

    // --- 1. Data and model. --------------------------------------------------------------
    let train = data::sine(60, 0.1, &mut StdRng::seed_from_u64(seed));
    let model = Mlp::builder(1, &[16, 16, 1])
        .hidden(Activation::Tanh)
        .init(Init::XavierNormal)
        .build(&mut StdRng::seed_from_u64(seed.wrapping_add(1)));
    let mut batches = StdRng::seed_from_u64(seed.wrapping_add(2));
    println!("{} samples of sin(x) + noise(0.1); {model:?}", train.len());

    // --- 2. Train on random mini-batches. --------------------------------------------------
    let mut adam = Adam::new(lr);
    let params = model.parameters();
    for k in 0..steps {
        let b = train.select(&train.sample_batch(batch, &mut batches));
        let predictions: Vec<Value> = b
            .inputs
            .iter()
            .map(|x| model.forward_data(x).remove(0))
            .collect();
        let loss = mse(&predictions, &b.targets);
        model.zero_grad();
        loss.backward();
        adam.step(&params);
        if k % (steps / 10).max(1) == 0 {
            println!("step {k:5}  batch loss {:.5}", loss.data());
        }
    }

    // --- 3. How close to the true sine? ------------------------------------------------
    let grid: Vec<f64> = (0..=200)
        .map(|i| -PI + 2.0 * PI * f64::from(i) / 200.0)
        .collect();
    let fit: Vec<(f64, f64)> = grid.iter().map(|&x| (x, model.predict(&[x])[0])).collect();
    let rms =
        (fit.iter().map(|&(x, y)| (y - x.sin()).powi(2)).sum::<f64>() / fit.len() as f64).sqrt();
    let train_mse = mse(
        &train
            .inputs
            .iter()
            .map(|x| Value::new(model.predict(x)[0]))
            .collect::<Vec<_>>(),
        &train.targets,
    )
    .data();
    println!("train MSE {train_mse:.5} (the noise alone gives about 0.01)");
    println!("RMS distance from the true sine on [-π, π]: {rms:.4}");

    let dir = common::output_dir("sine", out)?;
    let picture = dir.join("sine_fit.svg");
    let data_points: Vec<(f64, f64)> = train
        .inputs
        .iter()
        .zip(&train.targets)
        .map(|(x, &y)| (x[0], y))
        .collect();
    common::plot::fit_chart(
        &picture,
        "sine regression: MLP fit vs truth",
        &data_points,
        &[
            Series {
                name: "sin(x)".into(),
                points: grid.iter().map(|&x| (x, x.sin())).collect(),
            },
            Series {
                name: "MLP".into(),
                points: fit,
            },
        ],
    )?;
    println!("picture: {}", picture.display());
    // A diverged run's error is NaN, which no comparison with 0.15 catches.
    if rms.is_nan() || rms > 0.15 {
        return Err(format!("the fit is poor: RMS error {rms:.3} from the true sine").into());
    }
    Ok(())
}
