//! The concept examples' claims, pinned: each test runs the same experiment code as its
//! example (`examples/common/<concept>.rs`), on the example's default seed, and asserts
//! what the example says. The bounds come from the mathematics in each comment, not
//! from a previous run's output.

#[path = "../examples/common/neuron.rs"]
mod neuron;

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
