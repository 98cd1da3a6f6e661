//! Train, save, load, and get the same predictions, bit for bit.
//!
//! Trains a small moons classifier, saves it as JSON (atomically), loads it into a new
//! model, and compares the two models' outputs on fresh points. Then shows the typed
//! errors for a corrupt file and for a file that does not exist.
//!
//! Run: `cargo run --release --example save_load` (`-- --help` for options).

#[path = "common/mod.rs"]
mod common;

use std::error::Error;
use std::process::ExitCode;

use rand::{rngs::StdRng, SeedableRng};
use scalargrad::data;
use scalargrad::nn::loss::{accuracy, hinge};
use scalargrad::nn::optim::{Optimizer, Sgd};
use scalargrad::nn::{Mlp, Module};
use scalargrad::Value;

const USAGE: &str = "\
Train a small moons classifier, save it to JSON, load it back and check that the
loaded model predicts exactly the same outputs.

Usage: cargo run --release --example save_load [-- OPTIONS]

Options:
  --out DIR     folder for model.json [default: target/scalargrad-examples/save_load]
  -h, --help    print this help";

fn main() -> ExitCode {
    common::main(USAGE, save_load)
}

fn save_load() -> Result<(), Box<dyn Error>> {
    let out = common::out_only(USAGE)?;

    // --- 1. Train a model briefly. -------------------------------------------------------
    let train = data::moons(100, 0.1, &mut StdRng::seed_from_u64(7));
    let labels = train.signed_targets();
    let model = Mlp::new(2, &[16, 16, 1], &mut StdRng::seed_from_u64(8));
    let mut sgd = Sgd::new(0.5);
    for _ in 0..50 {
        let scores: Vec<Value> = train
            .inputs
            .iter()
            .map(|x| model.forward_data(x).remove(0))
            .collect();
        let loss = hinge(&scores, &labels);
        model.zero_grad();
        loss.backward();
        sgd.step(&model.parameters());
    }
    let scores: Vec<f64> = train.inputs.iter().map(|x| model.predict(x)[0]).collect();
    println!(
        "1. trained {model:?}: train accuracy {:.0}%",
        100.0 * accuracy(&scores, &labels)
    );

    // --- 2. Save and load. ----------------------------------------------------------------
    let dir = common::output_dir("save_load", out)?;
    let path = dir.join("model.json");
    model.save(&path)?;
    let bytes = std::fs::metadata(&path)?.len();
    let loaded = Mlp::load(&path)?;
    println!(
        "2. saved to {} ({bytes} bytes) and loaded back: {loaded:?}",
        path.display()
    );

    // --- 3. Same outputs, bit for bit, on points neither model has seen. ------------------
    let fresh = data::moons(1000, 0.2, &mut StdRng::seed_from_u64(9));
    let same = fresh
        .inputs
        .iter()
        .filter(|x| model.predict(x)[0].to_bits() == loaded.predict(x)[0].to_bits())
        .count();
    println!(
        "3. identical outputs on {same} of {} fresh points",
        fresh.len()
    );
    if same != fresh.len() {
        return Err("the loaded model differs from the saved one".into());
    }

    // --- 4. What a bad file looks like. ---------------------------------------------------
    let corrupt = dir.join("corrupt.json");
    std::fs::write(
        &corrupt,
        "{ \"format\": \"scalargrad-mlp\", \"version\": 1, \"inputs\": 2,",
    )?;
    match Mlp::load(&corrupt) {
        Err(e) => println!("4. loading a truncated file: {e}"),
        Ok(_) => return Err("a truncated file loaded".into()),
    }
    match Mlp::load(dir.join("missing.json")) {
        Err(e) => println!("   loading a missing file: {e}"),
        Ok(_) => return Err("a missing file loaded".into()),
    }
    Ok(())
}
