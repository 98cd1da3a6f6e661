//! The learning rate: how far each step of gradient descent moves along `−∇loss`.
//!
//! The same 1-16-1 tanh network, from the same initial weights, fits the same noisy sine
//! with plain SGD at learning rates from 0.001 to 10. Prints a table of final loss and
//! steps to reach the target (a tenth of the targets' variance), and the verdict for
//! each rate: too small crawls, too large diverges (stopped and reported, never a
//! panic), and a range in between converges. Checks those three regimes and draws the
//! loss curves (log scale).
//!
//! Run: `cargo run --release --example learning_rate` (`-- --help` for options).

#[path = "common/mod.rs"]
mod common;
#[path = "common/learning_rate.rs"]
mod experiment;

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

use scalargrad::nn::Module;

use common::plot::{LineChart, Series};
use experiment::{Outcome, Regime, Task};

const USAGE: &str = "\
Train the same network on the same data at a sweep of learning rates; show that too
small crawls, too large diverges and a range in between converges; draw the curves.

Usage: cargo run --release --example learning_rate [-- OPTIONS]

Options:
  --lrs LIST   learning rates, comma-separated [default: 0.001,0.003,0.01,0.03,0.1,0.3,1,3,10]
  --steps N    SGD steps per rate; a few dozen may be too few for any rate to reach
               the target [default: 300]
  --seed N     seed for the data (N) and the initial weights (N + 1) [default: 2]
  --out DIR    folder for learning_rate.svg [default: target/scalargrad-examples/learning_rate]
  -h, --help   print this help";

fn main() -> ExitCode {
    common::main(USAGE, learning_rate)
}

fn learning_rate() -> Result<(), Box<dyn Error>> {
    let mut lrs = experiment::LEARNING_RATES.to_vec();
    let mut steps = experiment::STEPS;
    let mut seed = experiment::SEED;
    let mut out: Option<PathBuf> = None;
    common::parse_flags(USAGE, |flag, args| {
        match flag {
            "lrs" => lrs = common::parse_list(args, "lrs")?,
            "steps" => steps = common::parse_value(args, "steps")?,
            "seed" => seed = common::parse_value(args, "seed")?,
            "out" => out = Some(args.value()?.into()),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    common::at_least_one_step(steps)?;
    if lrs.iter().any(|&lr: &f64| !(lr > 0.0 && lr.is_finite())) {
        return Err("--lrs must be positive, finite numbers".into());
    }
    lrs.sort_by(f64::total_cmp);

    // --- 1. The task: one network, one data set, one starting point. ---------------------
    let task = Task::new(seed);
    let model = task.model();
    let start = task.loss(&model).data();
    println!(
        "1. Fit a noisy sine ({} points) with {model:?} ({} parameters), mean squared error,\n   \
         plain SGD for {steps} steps from the same initial weights; starting loss {start:.4}.\n   \
         Target: a loss of {:.4} ({}× the variance of the targets, i.e. R² ≥ {}).\n   \
         Diverged: loss above {}× the start, or NaN/inf anywhere in the graph.\n",
        task.data.len(),
        model.num_parameters(),
        task.target(),
        experiment::TARGET_FRACTION,
        1.0 - experiment::TARGET_FRACTION,
        experiment::BLOW_UP,
    );

    // --- 2. One run per learning rate. --------------------------------------------------
    let outcomes = experiment::sweep(&task, &lrs, steps);
    println!(
        "2. {:>8}  {:>12}  {:>15}  verdict",
        "lr", "final loss", "steps to target"
    );
    for o in &outcomes {
        let final_loss = match &o.diverged {
            Some(_) => "diverged".to_owned(),
            None => format!("{:.5}", o.final_loss()),
        };
        let to_target = o
            .steps_to_target
            .map_or_else(|| "never".to_owned(), |k| k.to_string());
        println!(
            "   {:>8}  {final_loss:>12}  {to_target:>15}  {}",
            o.lr,
            verdict(o)
        );
    }

    // --- 3. The three regimes, checked on these numbers. --------------------------------
    let best = check_regimes(&outcomes)?;
    let converging: Vec<f64> = outcomes
        .iter()
        .filter(|o| o.regime() == Regime::Converges)
        .map(|o| o.lr)
        .collect();
    let slow = &outcomes[0];
    println!(
        "\n3. Too small crawls: at lr {} the loss is still falling after {steps} steps, but is \
         {:.4}, {:.1}× the fastest run's.\n   Too large diverges: lr {} and up. In between, lr {} … {} \
         reach the target; lr {} fastest ({} steps).",
        slow.lr,
        slow.final_loss(),
        slow.final_loss() / best.final_loss(),
        first_diverging(&outcomes),
        converging[0],
        converging[converging.len() - 1],
        best.lr,
        best.steps_to_target.unwrap_or(0),
    );

    // --- 4. Picture. --------------------------------------------------------------------
    let dir = common::output_dir("learning_rate", out)?;
    let path = dir.join("learning_rate.svg");
    // Both axes are logarithmic: the diverging runs blow up within the first few steps,
    // which a linear step axis would squeeze into a vertical line. Step k is drawn at
    // k + 1 (the loss before any step sits at 1).
    let series: Vec<Series> = outcomes
        .iter()
        .map(|o| Series {
            name: format!(
                "lr {}{}",
                o.lr,
                if o.diverged.is_some() {
                    " (diverged)"
                } else {
                    ""
                }
            ),
            points: o
                .losses
                .iter()
                .enumerate()
                .map(|(k, &l)| (k as f64 + 1.0, l))
                .collect(),
        })
        .collect();
    let title = format!("the same network at {} learning rates", outcomes.len());
    let chart = LineChart {
        log_x: true,
        log_y: true,
        guides: vec![("target".to_owned(), task.target())],
        ..LineChart::new(&title, "step (log scale)", "loss (MSE, log scale)")
    };
    chart.draw(&path, &series)?;
    println!("\npicture: {}", path.display());
    Ok(())
}

fn verdict(o: &Outcome) -> String {
    match (o.regime(), &o.diverged) {
        (Regime::Diverges, Some((_, why))) => format!("diverges: {why}"),
        (Regime::Converges, _) => "converges".to_owned(),
        (Regime::Rises, _) => "rises (not yet diverged)".to_owned(),
        _ => "crawls".to_owned(),
    }
}

/// The smallest rate from which every larger one diverged.
fn first_diverging(outcomes: &[Outcome]) -> f64 {
    let stable = outcomes
        .iter()
        .rposition(|o| o.regime() != Regime::Diverges)
        .map_or(0, |i| i + 1);
    outcomes.get(stable).map_or(f64::NAN, |o| o.lr)
}

/// The smallest rate must crawl (and still be going down over the last ten steps, or
/// all of them in a shorter run), the largest diverge, and some rate between them
/// converge; returns the rate that reached the target in the fewest steps.
fn check_regimes(outcomes: &[Outcome]) -> Result<&Outcome, Box<dyn Error>> {
    let (first, last) = match outcomes {
        [first, .., last] => (first, last),
        _ => return Err("the sweep needs at least two learning rates".into()),
    };
    if first.regime() != Regime::Crawls || !first.still_falling(10) {
        return Err(format!("the smallest rate, {}, did not crawl", first.lr).into());
    }
    if last.regime() != Regime::Diverges {
        return Err(format!("the largest rate, {}, did not diverge", last.lr).into());
    }
    outcomes
        .iter()
        .filter(|o| o.regime() == Regime::Converges)
        .min_by_key(|o| o.steps_to_target)
        .ok_or_else(|| "no learning rate reached the target".into())
}
