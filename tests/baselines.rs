//! The benchmark baselines compute what the engine computes: the hand-written tape and
//! the hand-derived MLP step agree with `backward()` on the W1 loss, gradients and
//! updated parameters to relative 1e-9, and the tape agrees on every leaf gradient of
//! W2 and W3.

#[path = "../benches/workloads/mod.rs"]
mod workloads;

use scalargrad::Value;
use workloads::*;

#[test]
fn baselines_agree_with_the_engine() {
    check_baselines().unwrap();
}

#[test]
fn the_w1_model_has_micrograd_shape() {
    assert_eq!(init_params(PARAM_SEED).len(), 337);
    let data = w1_data();
    assert_eq!(data.x.len(), 100);
    assert_eq!(data.y.iter().filter(|&&y| y > 0.0).count(), 50);
}

/// The node counts the bench divides memory by are the nodes the tape records (the
/// engine's, for `Value::dot`, which the tape lacks), and the counts the workloads'
/// docs give (65,814 for W1, as BENCHMARKS.md says).
#[test]
fn node_counts_are_what_the_tape_records() {
    let counts = node_counts();
    let mut tape = Tape::new();
    let params: Vec<u32> = init_params(PARAM_SEED)
        .iter()
        .map(|&p| tape.leaf(p))
        .collect();
    mlp_loss(&mut tape, &params, &w1_data());
    assert_eq!((counts.w1, tape.values.len()), (65_814, 65_814));
    tape.clear();
    deep_chain(&mut tape, CHAIN_STEPS, false);
    assert_eq!(counts.w2, tape.values.len());
    assert_eq!(counts.w2, 1 + 5 * CHAIN_STEPS);
    tape.clear();
    wide_sum(&mut tape, SUM_TERMS);
    assert_eq!(counts.w3_sum, tape.values.len());
    assert_eq!(counts.w3_sum, 4 * SUM_TERMS - 1);
    let (a, b): (Vec<Value>, Vec<Value>) = (0..SUM_TERMS)
        .map(|i| {
            let (x, y) = w3_factors(i);
            (Value::new(x), Value::new(y))
        })
        .unzip();
    assert_eq!(counts.w3_dot, Value::dot(&a, &b).nodes().len());
}

/// The agreement check can fail: a gradient off by one part in 10⁸ is caught.
#[test]
fn a_perturbed_gradient_is_caught() {
    let data = w1_data();
    let init = init_params(PARAM_SEED);
    let engine = engine_result(&init, &data);
    let mut wrong = tape_result(&init, &data);
    let i = wrong
        .grads
        .iter()
        .position(|g| *g != 0.0)
        .expect("a nonzero gradient");
    wrong.grads[i] *= 1.0 + 1e-8;
    let err = agree("tape", &wrong, &engine, 1e-9).unwrap_err();
    assert!(err.contains(&format!("gradient {i}")), "{err}");
}

/// Training on the tape and with the engine for a few steps stays in step.
#[test]
fn ten_steps_stay_in_agreement() {
    let data = w1_data();
    let init = init_params(PARAM_SEED);
    let params = engine_params(&init);
    let mut tape = Tape::new();
    let mut tape_params = init.clone();
    let mut analytic = Analytic::default();
    let mut analytic_params = init;
    let mut first = None;
    let mut last = 0.0;
    for _ in 0..10 {
        let e = engine_step(&params, &data, LEARNING_RATE);
        let t = tape_step(&mut tape, &mut tape_params, &data, LEARNING_RATE);
        let a = analytic_step(&mut analytic, &mut analytic_params, &data, LEARNING_RATE);
        assert!(
            close(e, t, 0.0, 1e-9) && close(e, a, 0.0, 1e-9),
            "{e} {t} {a}"
        );
        first.get_or_insert(e);
        last = e;
    }
    assert!(
        last < first.unwrap(),
        "the loss goes down: {first:?} → {last}"
    );
}

/// The crate's `Mlp` trains in step with the tape, which skips nothing, through a whole
/// timed run, where relus that are off and hinge terms that are met give `backward()`
/// zeros to skip: a term it skipped wrongly anywhere in the run would show.
#[test]
fn the_nn_model_follows_the_tape_through_a_whole_run() {
    let data = w1_data();
    let init = init_params(PARAM_SEED);
    let mut tape = Tape::new();
    let mut numbers = init.clone();
    let model = nn_model(&init);
    let nn_params = scalargrad::nn::Module::parameters(&model);
    for step in 0..DEMO_STEPS {
        let t = tape_step(&mut tape, &mut numbers, &data, LEARNING_RATE);
        let n = nn_step(&model, &nn_params, &data, LEARNING_RATE);
        assert!(close(t, n, 0.0, 1e-9), "step {step}: loss {t} vs {n}");
    }
    let scale = init.iter().fold(0.0f64, |m, p| m.max(p.abs()));
    for (i, (&t, n)) in numbers.iter().zip(&nn_params).enumerate() {
        assert!(
            close(t, n.data(), scale, 1e-9),
            "parameter {i}: {t} vs {}",
            n.data()
        );
    }
}

/// A timed run starts again from the initial parameters after each run of
/// `DEMO_STEPS` steps, so that every timed step is one of a run as long as the demo's.
#[test]
fn a_demo_run_starts_again_after_its_last_step() {
    for mut run in [
        DemoRun::engine(),
        DemoRun::nn(),
        DemoRun::tape(),
        DemoRun::analytic(),
    ] {
        let losses: Vec<f64> = (0..DEMO_STEPS + 2).map(|_| run.step()).collect();
        assert_ne!(
            losses[1], losses[0],
            "the parameters change from step to step"
        );
        assert_eq!(losses[DEMO_STEPS], losses[0], "the first step again");
        assert_eq!(losses[DEMO_STEPS + 1], losses[1]);
    }
}
