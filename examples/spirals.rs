//! Three interleaved spirals, separated by an MLP with a softmax output.
//!
//! 2-32-32-3 ReLU network (He initialisation), softmax cross-entropy on the three
//! logits, Adam with cosine learning-rate decay. Shows a progress bar while it trains,
//! then the accuracy, and draws the three decision regions as SVG.
//!
//! Run: `cargo run --release --example spirals` (`-- --help` for options).

#[path = "common/mod.rs"]
mod common;

use std::error::Error;
use std::process::ExitCode;

use common::TrainFlags;

use indicatif::{ProgressBar, ProgressStyle};
use rand::{rngs::StdRng, SeedableRng};
use scalargrad::data;
use scalargrad::nn::loss::{argmax, class_accuracy, softmax_cross_entropy};
use scalargrad::nn::optim::{Adam, Optimizer};
use scalargrad::nn::schedule::Schedule;
use scalargrad::nn::{Init, Mlp, Module};
use scalargrad::Value;

const USAGE: &str = "\
Separate three spirals with a 2-32-32-3 MLP (softmax cross-entropy, Adam) and draw
the decision regions.

Usage: cargo run --release --example spirals [-- OPTIONS]

Options:
  --steps N     training steps (full batch) [default: 600]
  --lr F        Adam learning rate at step 0, decaying by a cosine [default: 0.02]
  --seed N      seed for the data (N) and the weights (N + 1) [default: 0]
  --out DIR     folder for the picture [default: target/scalargrad-examples/spirals]
  -h, --help    print this help";

fn main() -> ExitCode {
    common::main(USAGE, spirals)
}

fn spirals() -> Result<(), Box<dyn Error>> {
    let TrainFlags {
        steps,
        lr,
        seed,
        out,
    } = TrainFlags::parse(USAGE, 600, 0.02)?;

    // --- 1. Data and model. --------------------------------------------------------------
    let train = data::spirals(60, 3, 0.2, &mut StdRng::seed_from_u64(seed));
    let classes: Vec<usize> = train.targets.iter().map(|&t| t as usize).collect();
    let model = Mlp::builder(2, &[32, 32, 3])
        .init(Init::HeNormal)
        .build(&mut StdRng::seed_from_u64(seed.wrapping_add(1)));
    println!(
        "{} points in 3 spirals; {model:?}, {} parameters",
        train.len(),
        model.num_parameters()
    );

    // --- 2. Train: mean softmax cross-entropy over the whole set. --------------------------
    let schedule = Schedule::Cosine {
        lr,
        min_lr: lr / 20.0,
        steps,
    };
    let mut adam = Adam::new(lr);
    let params = model.parameters();
    let bar = ProgressBar::new(steps as u64);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} steps  {msg}",
    )?);
    let mut last_loss = f64::NAN;
    for k in 0..steps {
        let terms: Vec<Value> = train
            .inputs
            .iter()
            .zip(&classes)
            .map(|(x, &c)| softmax_cross_entropy(&model.forward_data(x), c))
            .collect();
        let loss = Value::sum(&terms) / terms.len() as f64;
        model.zero_grad();
        loss.backward();
        adam.set_lr(schedule.lr_at(k));
        adam.step(&params);
        last_loss = loss.data();
        bar.set_message(format!("loss {last_loss:.4}"));
        bar.inc(1);
    }
    bar.finish();

    // --- 3. Accuracy and picture. ------------------------------------------------------
    let outputs: Vec<Vec<f64>> = train.inputs.iter().map(|x| model.predict(x)).collect();
    let acc = class_accuracy(&outputs, &classes);
    println!(
        "final loss {last_loss:.4}, train accuracy {:.1}%",
        acc * 100.0
    );
    let dir = common::output_dir("spirals", out)?;
    let picture = dir.join("spiral_regions.svg");
    common::plot::decision_regions(
        &picture,
        "three spirals: decision regions",
        &train.inputs,
        &classes,
        |x, y| argmax(&model.predict(&[x, y])).unwrap_or(0),
    )?;
    println!("picture: {}", picture.display());
    if acc < 0.95 {
        return Err(format!("the network did not separate the spirals (accuracy {acc})").into());
    }
    Ok(())
}
