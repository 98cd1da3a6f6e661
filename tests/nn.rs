//! Neural networks: shapes and parameter order, determinism, gradients of a whole
//! model, training that converges, optimizer steps against textbook formulas.

mod common;

use common::assert_close;
use rand::{rngs::StdRng, SeedableRng};
use scalargrad::check::{gradcheck, Options};
use scalargrad::data::{self, Dataset};
use scalargrad::nn::loss::{
    accuracy, binary_cross_entropy_with_logits, class_accuracy, hinge, l2, mse,
    softmax_cross_entropy,
};
use scalargrad::nn::optim::{Adam, Optimizer, Sgd};
use scalargrad::nn::schedule::Schedule;
use scalargrad::nn::{Activation, Init, Layer, Mlp, Module, Neuron};
use scalargrad::Value;

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

#[test]
fn micrograd_moons_network_has_337_parameters() {
    let model = Mlp::new(2, &[16, 16, 1], &mut rng(0));
    // (2 + 1)·16 + (16 + 1)·16 + (16 + 1)·1
    assert_eq!(model.num_parameters(), 337);
    assert_eq!(model.sizes(), vec![16, 16, 1]);
    assert_eq!(model.layers()[0].activation(), Activation::Relu);
    assert_eq!(model.layers()[2].activation(), Activation::Linear);
}

/// micrograd's order: layer by layer, neuron by neuron, weights then bias.
#[test]
fn parameters_come_in_micrograd_order() {
    let layer0 = Layer::from_neurons(vec![
        Neuron::from_weights(&[1.0, 2.0], 3.0, Activation::Relu),
        Neuron::from_weights(&[4.0, 5.0], 6.0, Activation::Relu),
    ]);
    let layer1 = Layer::from_neurons(vec![Neuron::from_weights(
        &[7.0, 8.0],
        9.0,
        Activation::Linear,
    )]);
    let model = Mlp::from_layers(vec![layer0, layer1]);
    let expected: Vec<f64> = (1..=9).map(f64::from).collect();
    assert_eq!(model.parameter_values(), expected);
    assert_eq!(
        model.to_string(),
        "MLP of [Layer of [ReLUNeuron(2), ReLUNeuron(2)], Layer of [LinearNeuron(2)]]"
    );
}

#[test]
fn the_same_seed_gives_the_same_network_and_data() {
    let a = Mlp::new(2, &[16, 16, 1], &mut rng(7));
    let b = Mlp::new(2, &[16, 16, 1], &mut rng(7));
    let c = Mlp::new(2, &[16, 16, 1], &mut rng(8));
    let bits = |m: &Mlp| {
        m.parameter_values()
            .iter()
            .map(|p| p.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(&a), bits(&b));
    assert_ne!(bits(&a), bits(&c));
    assert_eq!(
        data::spirals(20, 3, 0.2, &mut rng(1)),
        data::spirals(20, 3, 0.2, &mut rng(1))
    );
    assert_ne!(
        data::moons(20, 0.1, &mut rng(1)),
        data::moons(20, 0.1, &mut rng(2))
    );
}

#[test]
fn predict_is_bit_for_bit_the_forward_pass() {
    for activation in [
        Activation::Relu,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::LeakyRelu(0.1),
    ] {
        let model = Mlp::builder(3, &[5, 4, 2])
            .hidden(activation)
            .build(&mut rng(3));
        for x in [[0.1, -0.7, 2.0], [-3.0, 0.0, 0.5]] {
            let forward: Vec<f64> = model.forward_data(&x).iter().map(Value::data).collect();
            assert_eq!(forward, model.predict(&x), "{activation:?} at {x:?}");
        }
    }
    // Layers wider than 32 read their inputs into a heap buffer rather than a stack one.
    let wide = Mlp::new(40, &[50, 1], &mut rng(4));
    let x: Vec<f64> = (0..40).map(|i| (f64::from(i) * 0.37).sin()).collect();
    let forward: Vec<f64> = wide.forward_data(&x).iter().map(Value::data).collect();
    assert_eq!(forward, wide.predict(&x));
}

/// A leaky relu with a negative slope makes a positive output from either sign of
/// `w·x + b`, so its derivative cannot be read from the output. On both sides of 0,
/// and at 0 (where the slope is the one below, as `Value::leaky_relu` and PyTorch
/// have it), the neuron's output and gradients (by `backward()` and by `grad`) are the
/// ones worked out by hand.
#[test]
fn a_negative_leaky_slope_differentiates_on_both_sides_of_zero() {
    let slope = -0.5;
    // z = 1.5·x0 − 0.25·0.4 + 0.1 = 1.5·x0 (0.25·0.4 and 0.1 are the same double).
    // At or below 0, y = s·z, ∂y/∂w = s·x, ∂y/∂b = s and ∂y/∂x = s·w; above 0, y = z
    // and the slope is 1. Each product is exact.
    let cases = [
        (-2.0, 1.5, [1.0, -0.2, -0.5, -0.75, 0.125]),
        (0.0, 0.0, [0.0, -0.2, -0.5, -0.75, 0.125]),
        (3.0, 4.5, [3.0, 0.4, 1.0, 1.5, -0.25]),
    ];
    for (x0, y_expected, expected) in cases {
        let neuron = Neuron::from_weights(&[1.5, -0.25], 0.1, Activation::LeakyRelu(slope));
        let x = [Value::new(x0), Value::new(0.4)];
        let y = neuron.forward(&x);
        let mut wrt: Vec<Value> = neuron.parameters();
        wrt.extend(x.iter().cloned());
        let by_grad: Vec<f64> = scalargrad::grad(&y, &wrt).iter().map(Value::data).collect();
        y.backward();
        let by_backward: Vec<f64> = wrt.iter().map(Value::grad).collect();

        assert!(
            (y.data() - y_expected).abs() < 1e-12,
            "x0 = {x0}: y = {}",
            y.data()
        );
        assert_eq!(by_backward, expected, "backward() at x0 = {x0}");
        assert_eq!(by_grad, expected, "grad at x0 = {x0}");
    }
}

/// `forward_data` makes input leaves that only the first layer's shared list holds,
/// yet every neuron of the layer passes each of them a share. So they must be reached,
/// and their gradients parked, like any other node's: k passes give k whole sums, bit
/// for bit, on every node.
#[test]
fn inputs_that_only_a_shared_list_holds_accumulate_exactly() {
    // tanh, so that no neuron is off and every input gets four shares.
    let model = Mlp::builder(3, &[4, 1])
        .hidden(Activation::Tanh)
        .build(&mut rng(3));
    let build = || model.forward_data(&[0.3, -1.7, 0.9]).remove(0);
    let (once, repeated) = (build(), build());
    once.backward();
    let once: Vec<f64> = once.nodes().iter().map(Value::grad).collect();
    // The parameters are in both graphs: their gradients start again from 0.
    model.zero_grad();
    let k = 3;
    for _ in 0..k {
        repeated.backward();
    }
    let nodes = repeated.nodes();
    assert_eq!(nodes.len(), once.len());
    for (node, g) in nodes.iter().zip(&once) {
        let expected = (1..k).fold(*g, |acc, _| acc + g);
        assert_eq!(node.grad().to_bits(), expected.to_bits(), "node {node:?}");
    }
}

/// Asserts that each parameter's gradient (from a `backward()` already run) matches a
/// central difference of `loss_value`, a graph-free evaluation of the same loss, to
/// `atol + rtol·|numeric|`. Leaves the parameters as they were.
#[track_caller]
fn assert_parameter_gradients(model: &Mlp, loss_value: impl Fn(&Mlp) -> f64, atol: f64, rtol: f64) {
    let params = model.parameter_values();
    let eps = 1e-6;
    for (i, p) in model.parameters().iter().enumerate() {
        let mut shifted = params.clone();
        shifted[i] = params[i] + eps;
        model.set_parameter_values(&shifted).unwrap();
        let plus = loss_value(model);
        shifted[i] = params[i] - eps;
        model.set_parameter_values(&shifted).unwrap();
        let minus = loss_value(model);
        let numeric = (plus - minus) / (2.0 * eps);
        assert!(
            (p.grad() - numeric).abs() <= atol + rtol * numeric.abs(),
            "parameter {i}: backward {} vs finite difference {numeric}",
            p.grad()
        );
    }
    model.set_parameter_values(&params).unwrap();
}

/// The gradient of a full loss with respect to every parameter, against central
/// differences of the same loss evaluated with `predict` (no graph).
#[test]
fn model_loss_gradient_matches_finite_differences() {
    let model = Mlp::builder(2, &[6, 5, 1])
        .hidden(Activation::Tanh)
        .build(&mut rng(11));
    let train = data::moons(12, 0.1, &mut rng(12));
    let labels = train.signed_targets();
    let loss_value = |m: &Mlp| {
        let scores: Vec<Value> = train
            .inputs
            .iter()
            .map(|x| Value::new(m.predict(x)[0]))
            .collect();
        let penalty: f64 = m.parameter_values().iter().map(|p| p * p).sum::<f64>() * 1e-3;
        mse(&scores, &labels).data() + penalty
    };
    let scores: Vec<Value> = train
        .inputs
        .iter()
        .map(|x| model.forward_data(x).remove(0))
        .collect();
    let loss = mse(&scores, &labels) + l2(&model.parameters(), 1e-3);
    assert_close(loss.data(), loss_value(&model), 1e-12);
    loss.backward();

    assert_parameter_gradients(&model, loss_value, 1e-5, 1e-3);
}

/// A model applied to its own output, several times over, and to several points: the
/// same parameter lists and the same layers appear at many depths of one graph. The
/// gradient with respect to every parameter still matches central differences.
#[test]
fn a_model_applied_to_its_own_output_has_the_right_gradient() {
    let model = Mlp::builder(2, &[3, 2])
        .hidden(Activation::Tanh)
        .output(Activation::Tanh)
        .build(&mut rng(15));
    let points = [[0.3, -0.8], [-1.1, 0.4]];
    let loss_value = |m: &Mlp| {
        points
            .iter()
            .map(|x| {
                let y = m.predict(&m.predict(&m.predict(x)));
                y[0] * y[0] + y[1]
            })
            .sum::<f64>()
    };
    let terms: Vec<Value> = points
        .iter()
        .map(|x| {
            let y = model.forward(&model.forward(&model.forward_data(x)));
            &y[0] * &y[0] + &y[1]
        })
        .collect();
    let loss = Value::sum(&terms);
    assert_close(loss.data(), loss_value(&model), 1e-12);
    loss.backward();
    assert_parameter_gradients(&model, loss_value, 1e-7, 1e-5);
}

/// The same loss through `gradcheck`, with the model as a function of its parameters.
#[test]
fn model_loss_passes_gradcheck() {
    let model = Mlp::builder(2, &[5, 4, 1])
        .hidden(Activation::Tanh)
        .build(&mut rng(13));
    let train = data::moons(8, 0.1, &mut rng(14));
    let labels = train.signed_targets();
    let loss = |p: &[Value]| {
        let m = model.with_parameters(p).expect("one value per parameter");
        let scores: Vec<Value> = train
            .inputs
            .iter()
            .map(|x| m.forward_data(x).remove(0))
            .collect();
        binary_cross_entropy_with_logits(&scores, &train.targets)
            + l2(p, 1e-3)
            + mse(&scores, &labels)
    };
    let report =
        gradcheck(loss, &model.parameter_values(), &Options::default()).expect("gradients agree");
    assert_eq!(report.inputs.len(), model.num_parameters());
    let err = model.with_parameters(&[Value::new(0.0)]).unwrap_err();
    assert_eq!((err.expected, err.got), (model.num_parameters(), 1));
}

/// The moons demo with its documented seed: 100% train accuracy within 100 steps.
#[test]
fn moons_reaches_full_train_accuracy_within_100_steps() {
    let seed = 1337; // the example's default: data from 1337, weights from 1338
    let train = data::moons(100, 0.1, &mut rng(seed));
    let labels = train.signed_targets();
    let model = Mlp::new(2, &[16, 16, 1], &mut rng(seed + 1));
    let params = model.parameters();
    let schedule = Schedule::LinearDecay {
        lr: 1.0,
        steps: 100,
    };
    let mut sgd = Sgd::new(1.0);
    let mut best = 0.0f64;
    for k in 0..100 {
        let scores: Vec<Value> = train
            .inputs
            .iter()
            .map(|x| model.forward_data(x).remove(0))
            .collect();
        let loss = hinge(&scores, &labels) + l2(&params, 1e-4);
        model.zero_grad();
        loss.backward();
        sgd.set_lr(schedule.lr_at(k));
        sgd.step(&params);
        let predictions: Vec<f64> = train.inputs.iter().map(|x| model.predict(x)[0]).collect();
        best = best.max(accuracy(&predictions, &labels));
    }
    assert_eq!(best, 1.0);
    let predictions: Vec<f64> = train.inputs.iter().map(|x| model.predict(x)[0]).collect();
    assert_eq!(
        accuracy(&predictions, &labels),
        1.0,
        "accuracy after the last step"
    );
}

#[test]
fn a_tanh_mlp_learns_xor() {
    let train = data::xor(40, 0.1, &mut rng(5));
    let model = Mlp::builder(2, &[4, 1])
        .hidden(Activation::Tanh)
        .build(&mut rng(6));
    let mut adam = Adam::new(0.05);
    let first = xor_loss(&model, &train).data();
    for _ in 0..200 {
        let loss = xor_loss(&model, &train);
        model.zero_grad();
        loss.backward();
        adam.step(&model.parameters());
    }
    let logits: Vec<f64> = train.inputs.iter().map(|x| model.predict(x)[0]).collect();
    assert_eq!(accuracy(&logits, &train.signed_targets()), 1.0);
    assert!(xor_loss(&model, &train).data() < first / 4.0);
}

fn xor_loss(model: &Mlp, train: &Dataset) -> Value {
    let logits: Vec<Value> = train
        .inputs
        .iter()
        .map(|x| model.forward_data(x).remove(0))
        .collect();
    binary_cross_entropy_with_logits(&logits, &train.targets)
}

#[test]
fn a_softmax_mlp_learns_three_spirals() {
    let train = data::spirals(40, 3, 0.2, &mut rng(9));
    let classes: Vec<usize> = train.targets.iter().map(|&t| t as usize).collect();
    let model = Mlp::builder(2, &[24, 24, 3])
        .init(Init::HeNormal)
        .build(&mut rng(10));
    let mut adam = Adam::new(0.02);
    for _ in 0..300 {
        let terms: Vec<Value> = train
            .inputs
            .iter()
            .zip(&classes)
            .map(|(x, &c)| softmax_cross_entropy(&model.forward_data(x), c))
            .collect();
        let loss = Value::sum(&terms) / terms.len() as f64;
        model.zero_grad();
        loss.backward();
        adam.step(&model.parameters());
    }
    let outputs: Vec<Vec<f64>> = train.inputs.iter().map(|x| model.predict(x)).collect();
    let acc = class_accuracy(&outputs, &classes);
    assert!(acc >= 0.9, "train accuracy {acc}");
}

/// Momentum SGD by hand, for p = 1, weight decay 0.1, momentum 0.9, lr 0.5:
/// step 1: g = 0.2 + 0.1·1 = 0.3, v = 0.3, p = 1 − 0.15 = 0.85;
/// step 2 (grad 0.2 again): g = 0.2 + 0.085 = 0.285, v = 0.9·0.3 + 0.285 = 0.555,
/// p = 0.85 − 0.2775 = 0.5725.
#[test]
fn sgd_with_momentum_and_weight_decay_matches_the_formula() {
    let p = Value::new(1.0);
    let mut sgd = Sgd::new(0.5).momentum(0.9).weight_decay(0.1);
    p.set_grad(0.2);
    sgd.step(std::slice::from_ref(&p));
    assert_close(p.data(), 0.85, 1e-15);
    sgd.step(std::slice::from_ref(&p));
    assert_close(p.data(), 0.5725, 1e-15);
}

/// Adam by hand, for p = 1, g = 2 then g = −1, lr 0.1, β₁ 0.9, β₂ 0.999, ε 1e−8:
/// t=1: m = 0.2, v = 0.004, m̂ = 2, v̂ = 4, p = 1 − 0.1·2/(2 + 1e−8);
/// t=2: m = 0.18 − 0.1 = 0.08, v = 0.003996 + 0.001 = 0.004996,
/// m̂ = 0.08/0.19, v̂ = 0.004996/0.001999, p −= 0.1·m̂/(√v̂ + 1e−8).
#[test]
fn adam_matches_the_formula() {
    let p = Value::new(1.0);
    let mut adam = Adam::new(0.1);
    p.set_grad(2.0);
    adam.step(std::slice::from_ref(&p));
    let after1 = 1.0 - 0.1 * 2.0 / (2.0 + 1e-8);
    assert_close(p.data(), after1, 1e-15);
    p.set_grad(-1.0);
    adam.step(std::slice::from_ref(&p));
    let (m_hat, v_hat): (f64, f64) = (0.08 / 0.19, 0.004_996 / 0.001_999);
    assert_close(
        p.data(),
        after1 - 0.1 * m_hat / (v_hat.sqrt() + 1e-8),
        1e-12,
    );
}

#[test]
#[should_panic(expected = "stepped with 2 parameters before, and now with 1")]
fn an_optimizer_refuses_a_different_parameter_count() {
    let mut sgd = Sgd::new(0.1);
    sgd.step(&[Value::new(1.0), Value::new(2.0)]);
    sgd.step(&[Value::new(1.0)]);
}

#[test]
#[should_panic(expected = "an MLP needs at least one input")]
fn an_mlp_whose_neurons_take_no_inputs_is_refused() {
    let neuron = Neuron::from_weights(&[], 0.5, Activation::Linear);
    let _ = Mlp::from_layers(vec![Layer::from_neurons(vec![neuron])]);
}

#[test]
#[should_panic(expected = "a layer without neurons takes no inputs, got 2")]
fn a_layer_without_neurons_refuses_inputs() {
    let _ = Layer::from_neurons(Vec::new()).predict(&[1.0, 2.0]);
}

#[test]
#[should_panic(expected = "XavierUniform needs fan_in + fan_out > 0")]
fn xavier_refuses_a_layer_without_fans() {
    let _ = Init::XavierUniform.sample(0, 0, &mut StdRng::seed_from_u64(0));
}

#[test]
#[should_panic(expected = "HeNormal needs fan_in > 0")]
fn he_refuses_a_layer_without_inputs() {
    let _ = Init::HeNormal.sample(0, 4, &mut StdRng::seed_from_u64(0));
}

/// A first step with no parameters fixes the count at 0 like any other.
#[test]
#[should_panic(expected = "stepped with 0 parameters before, and now with 1")]
fn an_optimizer_first_stepped_with_nothing_refuses_parameters_after() {
    let mut adam = Adam::new(0.1);
    adam.step(&[]);
    adam.step(&[Value::new(1.0)]);
}

#[test]
fn schedules_at_known_steps() {
    let linear = Schedule::LinearDecay {
        lr: 1.0,
        steps: 100,
    };
    assert_close(linear.lr_at(99), 1.0 - 0.9 * 0.99, 1e-15);
    // It ends at a tenth and stays there: past `steps` the formula would go negative.
    for k in [100, 150, 1_000] {
        assert_close(linear.lr_at(k), 0.1, 1e-15);
    }
    let step = Schedule::StepDecay {
        lr: 0.1,
        every: 10,
        gamma: 0.5,
    };
    assert_eq!(
        (step.lr_at(9), step.lr_at(10), step.lr_at(25)),
        (0.1, 0.05, 0.025)
    );
    let cosine = Schedule::Cosine {
        lr: 1.0,
        min_lr: 0.0,
        steps: 100,
    };
    assert_close(cosine.lr_at(50), 0.5, 1e-15);
    assert_eq!(
        (cosine.lr_at(0), cosine.lr_at(100), cosine.lr_at(500)),
        (1.0, 0.0, 0.0)
    );
    assert_eq!(Schedule::Constant(0.3).lr_at(1_000), 0.3);
}

/// Draws many weights and compares their spread with each scheme's formula.
#[test]
fn initialisers_have_their_documented_spread() {
    let std_of = |init: Init, fan_in, fan_out| {
        let mut r = rng(21);
        let xs: Vec<f64> = (0..20_000)
            .map(|_| init.sample(fan_in, fan_out, &mut r))
            .collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64).sqrt()
    };
    // Uniform(−1, 1) has std 1/√3; Xavier uniform on (6, 2): a = √(6/8), std a/√3.
    assert_close(std_of(Init::default(), 4, 4), 1.0 / 3f64.sqrt(), 0.01);
    assert_close(
        std_of(Init::XavierUniform, 6, 2),
        (6.0f64 / 8.0).sqrt() / 3f64.sqrt(),
        0.01,
    );
    assert_close(
        std_of(Init::XavierNormal, 6, 2),
        (2.0f64 / 8.0).sqrt(),
        0.01,
    );
    assert_close(std_of(Init::HeNormal, 8, 3), 0.5, 0.01);
    assert_close(std_of(Init::Normal { std: 0.1 }, 1, 1), 0.1, 0.002);
    let mut r = rng(0);
    assert!((0..100).all(|_| Init::Constant(0.7).sample(3, 3, &mut r) == 0.7));
}

#[test]
fn losses_at_known_points() {
    // mse([2, 0], [1, 1]) = (1 + 1)/2 = 1
    assert_eq!(
        mse(&[Value::new(2.0), Value::new(0.0)], &[1.0, 1.0]).data(),
        1.0
    );
    // hinge: relu(1 − 1·0.5) = 0.5, relu(1 + 1·(−3)) = 0 → mean 0.25
    assert_eq!(
        hinge(&[Value::new(0.5), Value::new(-3.0)], &[1.0, -1.0]).data(),
        0.25
    );
    // BCE on a confident wrong logit −30 for target 1 is about 30, and finite at −1e4
    let bce = binary_cross_entropy_with_logits(&[Value::new(-30.0)], &[1.0]).data();
    assert_close(bce, 30.0, 1e-12);
    assert!(
        binary_cross_entropy_with_logits(&[Value::new(-1e4)], &[1.0])
            .data()
            .is_finite()
    );
    // cross-entropy of class 0 under logits [ln 3, 0]: −ln(3/4)
    let ce = softmax_cross_entropy(&[Value::new(3f64.ln()), Value::new(0.0)], 0).data();
    assert_close(ce, -(0.75f64.ln()), 1e-15);
}

/// A diverged model's NaN scores are wrong answers for either metric, not negatives.
#[test]
fn nan_scores_are_never_counted_right() {
    assert_eq!(accuracy(&[f64::NAN, f64::NAN], &[-1.0, 1.0]), 0.0);
    assert_eq!(accuracy(&[f64::NAN, -2.0], &[-1.0, -1.0]), 0.5);
    assert_eq!(class_accuracy(&[vec![f64::NAN, 0.0]], &[1]), 0.0);
}

#[test]
#[should_panic(expected = "3 predictions but 2 targets")]
fn a_loss_refuses_mismatched_lengths() {
    let _ = mse(
        &[Value::new(1.0), Value::new(2.0), Value::new(3.0)],
        &[1.0, 2.0],
    );
}

#[test]
fn parameter_values_must_have_the_right_length() {
    let model = Mlp::new(2, &[3, 1], &mut rng(0));
    let before = model.parameter_values();
    let err = model.set_parameter_values(&[1.0; 5]).unwrap_err();
    assert_eq!((err.expected, err.got), (13, 5));
    assert_eq!(model.parameter_values(), before, "nothing changed");
}

#[test]
fn datasets_have_their_shapes_and_labels() {
    let moons = data::moons(101, 0.0, &mut rng(0));
    assert_eq!(moons.len(), 101);
    // Without noise every point lies on its unit half circle.
    for (p, &t) in moons.inputs.iter().zip(&moons.targets) {
        let (cx, cy) = if t == 0.0 { (0.0, 0.0) } else { (1.0, 0.5) };
        assert_close(
            ((p[0] - cx).powi(2) + (p[1] - cy).powi(2)).sqrt(),
            1.0,
            1e-12,
        );
    }
    let sine = data::sine(30, 0.0, &mut rng(0));
    assert!(sine
        .inputs
        .iter()
        .all(|x| x[0].abs() <= std::f64::consts::PI));
    let batch = moons.sample_batch(10, &mut rng(1));
    let mut unique = batch.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 10, "a batch has no repeats");
    assert_eq!(moons.sample_batch(500, &mut rng(1)).len(), 101);
}

#[test]
fn csv_errors_name_the_line() {
    let err = Dataset::parse_csv("x0,x1,y\n1,2,0\n1,oops,1\n").unwrap_err();
    assert!(err.to_string().contains("line 3"), "{err}");
    let err = Dataset::parse_csv("1,2,0\n1,2\n").unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    assert!(Dataset::parse_csv("x,y\n").is_err());
    assert!(Dataset::read_csv("no/such/file.csv").is_err());
}

/// The header is the first line with anything on it; only that line may be one.
#[test]
fn csv_header_may_follow_blank_lines() {
    let d = Dataset::parse_csv("\n  \nx,y\n1,2\n\n3,4\n").unwrap();
    assert_eq!(d.inputs, vec![vec![1.0], vec![3.0]]);
    assert_eq!(d.targets, vec![2.0, 4.0]);
    let err = Dataset::parse_csv("\nx,y\nx,y\n1,2\n").unwrap_err();
    assert!(err.to_string().contains("line 3"), "{err}");
}
