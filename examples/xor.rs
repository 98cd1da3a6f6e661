//! A small tanh MLP learns XOR, the problem no single neuron can solve.
//!
//! 2-4-1 network, tanh hidden layer, a logit output trained with binary cross-entropy
//! and Adam on 100 noisy points around the four corners of the square. Prints the loss
//! as it falls, the accuracy, and draws the learned regions as SVG.
//!
//! Run: `cargo run --release --example xor` (`-- --help` for options).

#[path = "common/mod.rs"]
mod common;

use std::error::Error;
use std::process::ExitCode;

use common::TrainFlags;

use rand::{rngs::StdRng, SeedableRng};
use scalargrad::data;
use scalargrad::nn::loss::{accuracy, binary_cross_entropy_with_logits};
use scalargrad::nn::optim::{Adam, Optimizer};
use scalargrad::nn::{Activation, Mlp, Module};
use scalargrad::Value;

const USAGE: &str = "\
Train a 2-4-1 tanh MLP on XOR with binary cross-entropy and Adam, and draw its regions.

Usage: cargo run --release --example xor [-- OPTIONS]

Options:
  --steps N     training steps [default: 300]
  --lr F        Adam learning rate [default: 0.05]
  --seed N      seed for the data (N) and the weights (N + 1) [default: 0]
  --out DIR     folder for the picture [default: target/scalargrad-examples/xor]
  -h, --help    print this help";

fn main() -> ExitCode {
    common::main(USAGE, xor)
}

fn xor() -> Result<(), Box<dyn Error>> {
    let TrainFlags {
        steps,
        lr,
        seed,
        out,
    } = TrainFlags::parse(USAGE, 300, 0.05)?;

    // --- 1. Data: noisy corners; class 1 where the coordinates differ in sign. -----------
    let train = data::xor(100, 0.15, &mut StdRng::seed_from_u64(seed));
    let model = Mlp::builder(2, &[4, 1])
        .hidden(Activation::Tanh)
        .build(&mut StdRng::seed_from_u64(seed.wrapping_add(1)));
    println!("{} points; {model}", train.len());

    // --- 2. Train with binary cross-entropy on the output logit. -------------------------
    let mut adam = Adam::new(lr);
    let params = model.parameters();
    for k in 0..steps {
        let logits: Vec<Value> = train
            .inputs
            .iter()
            .map(|x| model.forward_data(x).remove(0))
            .collect();
        let loss = binary_cross_entropy_with_logits(&logits, &train.targets);
        model.zero_grad();
        loss.backward();
        adam.step(&params);
        if k % (steps / 10).max(1) == 0 || k + 1 == steps {
            println!("step {k:4}  loss {:.5}", loss.data());
        }
    }

    // --- 3. Accuracy and picture. ------------------------------------------------------
    let logits: Vec<f64> = train.inputs.iter().map(|x| model.predict(x)[0]).collect();
    let acc = accuracy(&logits, &train.signed_targets());
    println!("train accuracy {:.1}%", acc * 100.0);
    let dir = common::output_dir("xor", out)?;
    let picture = dir.join("xor_regions.svg");
    let classes: Vec<usize> = train.targets.iter().map(|&t| t as usize).collect();
    common::plot::decision_regions(
        &picture,
        "XOR: learned regions",
        &train.inputs,
        &classes,
        |x, y| usize::from(model.predict(&[x, y])[0] > 0.0),
    )?;
    println!("picture: {}", picture.display());
    if acc < 0.95 {
        return Err(format!("the network did not learn XOR (accuracy {acc})").into());
    }
    Ok(())
}
