//! micrograd's classic demo: a 2-16-16-1 MLP learns to separate two moons.
//!
//! 100 points with noise 0.1, ReLU hidden layers and a linear output, micrograd's
//! max-margin (hinge) loss plus a 1e-4 L2 penalty, and full-batch SGD with its
//! decaying learning rate 1.0 − 0.9·k/100. Prints a line per step, then the final loss,
//! train accuracy, accuracy on a fresh test sample of moons (unless `--data` replaced
//! them) and the time taken, and draws the decision boundary and the training curves as
//! SVG. Exits with an error if the network does not separate its training data (95%).
//!
//! Run: `cargo run --release --example moons` (`-- --help` for options).

#[path = "common/mod.rs"]
mod common;

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use rand::{rngs::StdRng, SeedableRng};
use scalargrad::data::{self, Dataset};
use scalargrad::nn::loss::{accuracy, hinge, l2};
use scalargrad::nn::optim::{Optimizer, Sgd};
use scalargrad::nn::schedule::Schedule;
use scalargrad::nn::{Mlp, Module};
use scalargrad::Value;

use common::plot::{self, Series};
use common::TrainFlags;

const USAGE: &str = "\
Train micrograd's two-moons MLP (2-16-16-1, hinge loss + L2, SGD with a decaying
learning rate) and draw its decision boundary and training curves.

Usage: cargo run --release --example moons [-- OPTIONS]

Options:
  --steps N        training steps [default: 100]
  --lr F           learning rate at step 0; it decays linearly to a tenth [default: 1.0]
  --seed N         seed for the training set (N), the initial weights (N + 1) and the
                   test set (N + 2; none with --data) [default: 1337]
  --hidden LIST    hidden layer sizes, comma-separated [default: 16,16]
  --data FILE      train on a CSV of x0,x1,y rows (y in {0,1} or {-1,1}) instead
  --init FILE      start from these weights: one number per line, in parameters() order
  --out DIR        folder for the pictures [default: target/scalargrad-examples/moons]
  --quiet          print only the summary, not every step
  -h, --help       print this help";

struct Options {
    train: TrainFlags,
    hidden: Vec<usize>,
    data: Option<PathBuf>,
    init: Option<PathBuf>,
    quiet: bool,
}

fn parse_options() -> Result<Options, Box<dyn Error>> {
    let (mut hidden, mut data, mut init, mut quiet) = (vec![16, 16], None, None, false);
    let train = TrainFlags::parse_with(USAGE, 100, 1.0, 1337, |flag, p| {
        match flag {
            "hidden" => hidden = common::parse_list(p, "hidden")?,
            "data" => data = Some(p.value()?.into()),
            "init" => init = Some(p.value()?.into()),
            "quiet" => quiet = true,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if hidden.contains(&0) {
        return Err("--hidden sizes must be positive".into());
    }
    Ok(Options {
        train,
        hidden,
        data,
        init,
        quiet,
    })
}

/// Reads initial weights: one number per line (blank lines and `#` comments skipped).
fn read_weights(path: &PathBuf) -> Result<Vec<f64>, Box<dyn Error>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read --init file {}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| {
            l.trim().parse::<f64>().map_err(|e| {
                format!(
                    "{} line {}: '{}' is not a number: {e}",
                    path.display(),
                    i + 1,
                    l.trim()
                )
                .into()
            })
        })
        .collect()
}

/// Labels as ±1, accepting files labelled 0/1 or −1/+1 (one or the other: a file with
/// both 0 and −1 would put two labels in one class).
fn signed_labels(data: &Dataset) -> Result<Vec<f64>, Box<dyn Error>> {
    let has = |label: f64| data.targets.contains(&label);
    if has(0.0) && has(-1.0) {
        return Err("labels mix 0/1 and -1/1: use one or the other".into());
    }
    data.targets
        .iter()
        .map(|&y| match y {
            0.0 | -1.0 => Ok(-1.0),
            1.0 => Ok(1.0),
            other => Err(format!("labels must be 0/1 or -1/1, found {other}").into()),
        })
        .collect()
}

/// The least training accuracy at which the run counts as separating the classes.
const SEPARATES: f64 = 0.95;

/// The batch loss micrograd's demo minimises: hinge loss plus 1e-4 · Σ p².
fn loss(model: &Mlp, data: &Dataset, labels: &[f64]) -> Value {
    let scores: Vec<Value> = data
        .inputs
        .iter()
        .map(|x| model.forward_data(x).remove(0))
        .collect();
    hinge(&scores, labels) + l2(&model.parameters(), 1e-4)
}

fn train_accuracy(model: &Mlp, data: &Dataset, labels: &[f64]) -> f64 {
    let scores: Vec<f64> = data.inputs.iter().map(|x| model.predict(x)[0]).collect();
    accuracy(&scores, labels)
}

fn main() -> ExitCode {
    common::main(USAGE, moons)
}

fn moons() -> Result<(), Box<dyn Error>> {
    let o = parse_options()?;

    // --- 1. Data and model. --------------------------------------------------------------
    let train = match &o.data {
        Some(path) => Dataset::read_csv(path)?,
        None => data::moons(100, 0.1, &mut StdRng::seed_from_u64(o.train.seed)),
    };
    if train.inputs.iter().any(|x| x.len() != 2) {
        return Err("the data must have two input columns (x0,x1,y)".into());
    }
    let labels = signed_labels(&train)?;
    let mut sizes = o.hidden.clone();
    sizes.push(1);
    let model = Mlp::new(
        2,
        &sizes,
        &mut StdRng::seed_from_u64(o.train.seed.wrapping_add(1)),
    );
    if let Some(path) = &o.init {
        model.set_parameter_values(&read_weights(path)?)?;
    }
    println!(
        "{} points; {model:?} with {} parameters",
        train.len(),
        model.num_parameters()
    );

    // --- 2. Train: forward, loss, backward, SGD step. ------------------------------------
    let schedule = Schedule::LinearDecay {
        lr: o.train.lr,
        steps: o.train.steps,
    };
    let mut sgd = Sgd::new(o.train.lr);
    let params = model.parameters();
    let (mut losses, mut accuracies) = (Vec::new(), Vec::new());
    let start = Instant::now();
    for k in 0..o.train.steps {
        let total = loss(&model, &train, &labels);
        let acc = train_accuracy(&model, &train, &labels);
        model.zero_grad();
        total.backward();
        if let Err(e) = total.check_finite() {
            return Err(format!("training diverged at step {k}: {e}").into());
        }
        sgd.set_lr(schedule.lr_at(k));
        sgd.step(&params);
        if !o.quiet {
            println!(
                "step {k} loss {:.6}, accuracy {:.1}%",
                total.data(),
                acc * 100.0
            );
        }
        losses.push(total.data());
        accuracies.push(acc);
    }
    let elapsed = start.elapsed();

    // --- 3. Results. --------------------------------------------------------------------
    let final_loss = loss(&model, &train, &labels).data();
    let train_acc = train_accuracy(&model, &train, &labels);
    println!("\nfinal loss {final_loss:.6}");
    println!("train accuracy {:.1}%", train_acc * 100.0);
    if o.data.is_none() {
        // Fresh points from the same distribution; a file's data has no such sample.
        let test = data::moons(
            100,
            0.1,
            &mut StdRng::seed_from_u64(o.train.seed.wrapping_add(2)),
        );
        let test_acc = train_accuracy(&model, &test, &test.signed_targets());
        println!("test accuracy {:.1}% (100 fresh points)", test_acc * 100.0);
    }
    println!(
        "trained {} steps in {:.1} ms ({:.2} ms per step)",
        o.train.steps,
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e3 / o.train.steps as f64
    );

    // --- 4. Pictures. -------------------------------------------------------------------
    let dir = common::output_dir("moons", o.train.out)?;
    let classes: Vec<usize> = labels.iter().map(|&y| usize::from(y > 0.0)).collect();
    let boundary = dir.join("decision_boundary.svg");
    plot::decision_regions(
        &boundary,
        "two moons: decision boundary",
        &train.inputs,
        &classes,
        |x, y| usize::from(model.predict(&[x, y])[0] > 0.0),
    )?;
    let curves = dir.join("training.svg");
    let steps = |ys: &[f64]| ys.iter().enumerate().map(|(k, &y)| (k as f64, y)).collect();
    plot::line_chart(
        &curves,
        "two moons: loss and train accuracy",
        "step",
        "loss / accuracy",
        &[
            Series {
                name: "loss".into(),
                points: steps(&losses),
            },
            Series {
                name: "accuracy".into(),
                points: steps(&accuracies),
            },
        ],
        false,
    )?;
    println!("pictures: {} and {}", boundary.display(), curves.display());
    if train_acc < SEPARATES {
        return Err(format!(
            "the network did not separate the training data: train accuracy {:.1}%, \
             below {:.0}%",
            train_acc * 100.0,
            SEPARATES * 100.0
        )
        .into());
    }
    Ok(())
}
