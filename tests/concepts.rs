//! The concept examples' claims, pinned: each test runs the same experiment code as its
//! example (`examples/common/<concept>.rs`), on the example's default seed, and asserts
//! what the example says. The bounds come from the mathematics in each comment, not
//! from a previous run's output.

#[path = "../examples/common/chain_rule.rs"]
mod chain_rule;
#[path = "../examples/common/init.rs"]
mod init;
#[path = "../examples/common/learning_rate.rs"]
mod learning_rate;
#[path = "../examples/common/loss.rs"]
mod loss;
#[path = "../examples/common/neuron.rs"]
mod neuron;

use scalargrad::nn::Init;

// --- 1. The neuron ----------------------------------------------------------------------

#[test]
fn one_neuron_learns_and_and_or() {
    for gate in [neuron::AND, neuron::OR] {
        let (_, run) = neuron::train_neuron(&gate, neuron::SEED);
        assert_eq!(run.final_accuracy(), 1.0, "{}", gate.name);
        assert!(
            run.losses[neuron::STEPS - 1] < run.losses[0],
            "{}",
            gate.name
        );
    }
}

/// XOR's 1s, (0,1) and (1,0), have the midpoint (½,½), which is also the midpoint of its
/// 0s, (0,0) and (1,1). A half-plane is convex: if it holds both 1s it holds (½,½), and
/// then at least one of the 0s. So no line gets all four rows right; one that gets
/// three exists (x1 + x2 > ½ errs only on (1,1)).
#[test]
fn one_neuron_cannot_learn_xor_but_a_2_4_1_mlp_can() {
    let (_, run) = neuron::train_neuron(&neuron::XOR, neuron::SEED);
    assert!(
        run.best_accuracy() <= 0.75,
        "a neuron got {} of XOR right",
        run.best_accuracy()
    );
    assert_eq!(neuron::best_line_accuracy(&neuron::XOR), 0.75);
    assert_eq!(neuron::best_line_accuracy(&neuron::AND), 1.0);
    assert_eq!(neuron::best_line_accuracy(&neuron::OR), 1.0);

    let (_, run) = neuron::train_mlp(&neuron::XOR, neuron::SEED);
    assert_eq!(run.final_accuracy(), 1.0);
    for (out, target) in run.outputs.iter().zip(neuron::XOR.targets) {
        assert!(
            (out - target).abs() < 0.5,
            "output {out} for target {target}"
        );
    }
}

// --- 2. The learning rate ---------------------------------------------------------------

#[test]
fn learning_rates_crawl_converge_or_diverge() {
    use learning_rate::Regime;
    let task = learning_rate::Task::new(learning_rate::SEED);
    let outcomes =
        learning_rate::sweep(&task, &learning_rate::LEARNING_RATES, learning_rate::STEPS);
    let regimes: Vec<Regime> = outcomes
        .iter()
        .map(learning_rate::Outcome::regime)
        .collect();

    // Too small: never reached the target, never blew up, still going down at the end.
    let slow = &outcomes[0];
    assert_eq!(regimes[0], Regime::Crawls, "lr {}", slow.lr);
    assert!(slow.still_falling(10));
    assert_eq!(slow.losses.len(), learning_rate::STEPS + 1);
    // Too large: stopped as diverged.
    assert_eq!(regimes[regimes.len() - 1], Regime::Diverges);
    // In between: some rate reaches the target, and the best one is strictly inside.
    let best = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| o.regime() == Regime::Converges)
        .min_by_key(|(_, o)| o.steps_to_target)
        .map(|(i, _)| i)
        .expect("some learning rate converges");
    assert!(
        0 < best && best < outcomes.len() - 1,
        "best at index {best}"
    );
    assert!(outcomes[best].final_loss() <= task.target());
    // The regimes come in order: crawl below, diverge above, never mixed up.
    let rank = |r: &Regime| match r {
        Regime::Crawls => 0,
        Regime::Converges => 1,
        Regime::Rises => 2,
        Regime::Diverges => 3,
    };
    assert!(
        regimes.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])),
        "{regimes:?}"
    );
    // Every loss that was kept is a number.
    assert!(outcomes
        .iter()
        .flat_map(|o| &o.losses)
        .all(|l| l.is_finite()));
}

/// A step of 1e300 sends the weights to infinity and the loss to inf or NaN on the next
/// forward pass: it must be caught and reported, not panic or be plotted.
#[test]
fn an_absurd_learning_rate_is_reported_as_diverged() {
    let task = learning_rate::Task::new(learning_rate::SEED);
    let outcome = learning_rate::train(&task, 1e300, 5);
    let (step, why) = outcome.diverged.as_ref().expect("diverged");
    assert_eq!(*step, 1, "{why}");
    assert_eq!(outcome.losses.len(), 1);
    assert!(outcome.losses[0].is_finite());
}

// --- 3. Initialisation ------------------------------------------------------------------

/// Neurons that start equal see the same inputs, get the same gradient and take the same
/// step, in the same floating-point operations: they stay equal to the last bit.
#[test]
fn a_constant_init_keeps_every_neuron_of_a_layer_identical() {
    let constant = init::symmetry_run(Init::Constant(init::CONSTANT), init::SEED);
    assert_eq!(constant.spread, vec![0.0, 0.0]);
    assert!(constant.moved > 0.1, "training moved the weights");
    assert!(constant.loss.1 < constant.loss.0);

    let random = init::symmetry_run(Init::XavierUniform, init::SEED);
    assert!(
        random.spread.iter().all(|&d| d > 0.0),
        "{:?}",
        random.spread
    );
}

/// Backward through a layer multiplies the gradient by about σ·√n times the
/// activation's slope (n = 24 inputs per neuron):
/// - ReLU, σ = 0.01: 0.01·√24·√½ ≈ 0.035 per layer, 0.035⁸ ≈ 2e-12 over the 8 steps from
///   layer 9 back to layer 1 — asserted as < 1e-6;
/// - tanh, σ = 0.01: tanh is the identity near 0, 0.01·√24 ≈ 0.049, 0.049⁸ ≈ 3e-11;
/// - ReLU, σ = 1: √12 ≈ 3.5 per layer, 3.5⁸ ≈ 2e4 — asserted as > 1e3;
/// - tanh, σ = 1: pre-activations of spread ≈ √24·rms(h) ≳ 2.5, so a large share of
///   units sit where |tanh| > 0.99 — asserted as over a quarter;
/// - Xavier (tanh) and He (ReLU) make the factor ≈ 1: within 10× across the layers.
#[test]
fn init_scale_makes_gradients_vanish_explode_or_stay_steady() {
    let p: Vec<init::Profile> = init::SETTINGS
        .iter()
        .map(|s| init::profile(s, init::SEED))
        .collect();
    let last = |v: &[f64]| v[v.len() - 1];
    assert!(
        p[0].first_to_last() < 1e-6,
        "tanh, tiny: {:?}",
        p[0].grad_norms
    );
    assert!(
        p[3].first_to_last() < 1e-6,
        "ReLU, tiny: {:?}",
        p[3].grad_norms
    );
    assert!(
        p[4].first_to_last() > 1e3,
        "ReLU, large: {:?}",
        p[4].grad_norms
    );
    assert!(
        last(&p[1].saturated) > 0.25,
        "tanh, large: {:?}",
        p[1].saturated
    );
    assert!(
        last(&p[2].saturated) < 0.05,
        "tanh, Xavier: {:?}",
        p[2].saturated
    );
    assert!(p[2].spread() < 10.0, "tanh, Xavier: {:?}", p[2].grad_norms);
    assert!(p[5].spread() < 10.0, "ReLU, He: {:?}", p[5].grad_norms);
    assert_eq!(p[0].grad_norms.len(), init::HIDDEN_LAYERS);
}

// --- 4. The loss ------------------------------------------------------------------------

#[test]
fn mse_and_cross_entropy_both_fall_on_the_same_task() {
    for l in loss::Loss::BOTH {
        let run = loss::train(l, loss::SEED, loss::EPOCHS);
        let (first, last) = (run.losses[0], run.losses[loss::EPOCHS]);
        assert!(last < first / 2.0, "{}: {first} → {last}", l.name());
        assert!(
            run.accuracies[loss::EPOCHS] > run.accuracies[0],
            "{}",
            l.name()
        );
    }
}

/// Target 1, logit −6, p = σ(−6): MSE's gradient is 2(p − 1)·p(1 − p), cross-entropy's
/// p − 1, a ratio of 1/(2p(1 − p)) ≈ 203.
#[test]
fn cross_entropy_pushes_harder_on_a_confidently_wrong_prediction() {
    let z = -6.0f64;
    let p = 1.0 / (1.0 + 6.0f64.exp());
    let mse = loss::Loss::Mse.gradient(z, 1.0);
    let ce = loss::Loss::CrossEntropy.gradient(z, 1.0);
    assert!(
        (mse - 2.0 * (p - 1.0) * p * (1.0 - p)).abs() < 1e-12,
        "{mse}"
    );
    assert!((ce - (p - 1.0)).abs() < 1e-12, "{ce}");
    assert!(ce.abs() > 100.0 * mse.abs());

    // Steps of z −= ∂loss/∂z from −6 until z > 0. Cross-entropy adds 1 − p ∈ (½, 1) per
    // step while z < 0: 6 to 12 steps. MSE adds 2(1 − p)²p ≤ 8/27 (its largest value, at
    // p = 1/3): more than 6/(8/27) ≈ 20 steps.
    let ce_steps = loss::steps_to_fix(loss::Loss::CrossEntropy, z, 1.0, 10_000).unwrap();
    let mse_steps = loss::steps_to_fix(loss::Loss::Mse, z, 1.0, 10_000).unwrap();
    assert!((6..=12).contains(&ce_steps), "{ce_steps}");
    assert!(mse_steps > 20, "{mse_steps}");
}

// --- 5. The chain rule ------------------------------------------------------------------

/// With b = 6 + ln(1 + √2), n = 2·(−3) + 0·1 + b = ln(1 + √2), so out = tanh(n) = 1/√2
/// and d(out)/d(n) = 1 − ½ = ½: d(out)/d(w1) = x1·½ = 1, d(out)/d(w2) = x2·½ = 0,
/// d(out)/d(b) = ½.
#[test]
fn the_chain_rule_by_hand_matches_backward_and_finite_differences() {
    assert!((chain_rule::INPUTS[4] - (6.0 + (1.0 + 2f64.sqrt()).ln())).abs() < 1e-14);
    let worked = chain_rule::work(&chain_rule::INPUTS);
    assert!((worked.out.data() - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-12);
    let expected = [("w1", 1.0), ("w2", 0.0), ("b", 0.5)];
    assert_eq!(worked.rows.len(), expected.len());
    for (row, (name, derivative)) in worked.rows.iter().zip(expected) {
        assert_eq!(row.name, name);
        assert!((row.dout_dn - 0.5).abs() < 1e-12);
        assert!((row.product - derivative).abs() < 1e-12, "{row:?}");
        assert!((row.backward - row.product).abs() < 1e-12, "{row:?}");
        assert!(
            (row.finite_difference - row.backward).abs() < 1e-6,
            "{row:?}"
        );
    }
    let dot = worked.out.to_dot();
    assert!(dot.contains("out = tanh(n)") && dot.contains("w1"), "{dot}");
}
