//! The benchmark workloads, defined once and shared by every contender, and the two
//! baselines the engine is measured against.
//!
//! A module of the criterion bench (`benches/engine.rs`), and included with `#[path]` by
//! the table printer (`examples/bench.rs`) and the agreement test (`tests/baselines.rs`),
//! so all three run exactly the same code.
//!
//! - **W1 moons-step**: one training step of micrograd's demo: 100 two-moons points,
//!   an MLP 2-16-16-1 (ReLU hidden, linear output, 337 parameters), loss
//!   `mean(relu(1 − y·score)) + 1e-4·Σp²`, backward, SGD update (at a constant
//!   rate, see [`LEARNING_RATE`]). Variant "scalar" is the graph micrograd builds (one
//!   node per scalar `+`/`*`); variant "nn" is the crate's own [`Mlp`] with its fused
//!   neuron nodes (one per neuron) and loss nodes, on the same data and the same
//!   initial parameters.
//! - **W2 deep chain**: `x = relu(x·0.999999 + 1e-6)` repeated N times (and the same with
//!   `tanh`), backward, drop.
//! - **W3 wide sum**: `a₀·b₀ + a₁·b₁ + …` by repeated `+` over N terms (and with
//!   `Value::dot`), backward, drop.
//!
//! The scalar graphs are written once, generic over [`Builder`]: the engine builds them
//! as `Value`s, the [`Tape`] as flat records. Both therefore record exactly the same
//! graph, node for node, constants included (an `f64` operand is a constant leaf, as in
//! micrograd).
#![allow(dead_code)] // each includer uses its own subset

use std::cell::RefCell;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use scalargrad::nn::loss::{hinge, l2};
use scalargrad::nn::{Mlp, Module};
use scalargrad::Value;

/// The seed of the moons data.
pub const DATA_SEED: u64 = 1337;
/// The seed of the MLP's initial parameters.
pub const PARAM_SEED: u64 = 42;
/// Points in the W1 data set.
pub const MOONS_POINTS: usize = 100;
/// Standard deviation of the noise added to the moons.
pub const MOONS_NOISE: f64 = 0.1;
/// Layer sizes of the W1 MLP after its 2 inputs.
pub const LAYERS: [usize; 3] = [16, 16, 1];
/// Weight of the L2 penalty in the W1 loss.
pub const ALPHA: f64 = 1e-4;
/// SGD learning rate of the W1 step: constant, and the last rate of micrograd's demo,
/// which decays it from 1.0 to 0.1 over its 100 steps. So the timed runs fit the data
/// more slowly than the demo does (77 of the 100 hinge terms met at step 100, where
/// the demo meets all of them from about step 45), and keep more of the graph passing
/// gradients back.
pub const LEARNING_RATE: f64 = 0.1;
/// Steps in one W1 training run, as in micrograd's demo. The timed W1 contenders start
/// again from the initial parameters after this many (see [`DemoRun`]).
pub const DEMO_STEPS: usize = 100;
/// Steps in the W2 chain.
pub const CHAIN_STEPS: usize = 1_000_000;
/// Terms in the W3 sum.
pub const SUM_TERMS: usize = 200_000;

// ---------------------------------------------------------------------------------------
// Data and parameters.
// ---------------------------------------------------------------------------------------

/// Two interleaving half circles with labels ±1, as scikit-learn's `make_moons`.
pub struct Moons {
    /// The points.
    pub x: Vec<[f64; 2]>,
    /// Their labels, −1 (upper moon) or +1 (lower moon).
    pub y: Vec<f64>,
}

/// `n` two-moons points with Gaussian noise of standard deviation `noise`, seeded.
pub fn moons(n: usize, noise: f64, seed: u64) -> Moons {
    let mut rng = StdRng::seed_from_u64(seed);
    let outer = n / 2;
    let inner = n - outer;
    let mut x = Vec::with_capacity(n);
    let mut y = Vec::with_capacity(n);
    let angle = |i: usize, count: usize| std::f64::consts::PI * i as f64 / (count - 1) as f64;
    for i in 0..outer {
        let t = angle(i, outer);
        x.push([t.cos(), t.sin()]);
        y.push(-1.0);
    }
    for i in 0..inner {
        let t = angle(i, inner);
        x.push([1.0 - t.cos(), 0.5 - t.sin()]);
        y.push(1.0);
    }
    for p in &mut x {
        p[0] += noise * normal(&mut rng);
        p[1] += noise * normal(&mut rng);
    }
    Moons { x, y }
}

/// A standard normal sample (Box–Muller).
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // in (0, 1]
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The W1 data set.
pub fn w1_data() -> Moons {
    moons(MOONS_POINTS, MOONS_NOISE, DATA_SEED)
}

/// Initial MLP parameters in micrograd's order (layer by layer, neuron by neuron, each
/// neuron's weights then its bias): weights uniform in [−1, 1), biases 0.
pub fn init_params(seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut params = Vec::new();
    let mut nin = 2;
    for &nout in &LAYERS {
        for _ in 0..nout {
            params.extend((0..nin).map(|_| rng.random_range(-1.0..1.0)));
            params.push(0.0);
        }
        nin = nout;
    }
    params
}

// ---------------------------------------------------------------------------------------
// The scalar graphs, written once.
// ---------------------------------------------------------------------------------------

/// What a scalar graph is built from: leaves and the four ops the workloads use.
///
/// Every contender's ops are inlined into the graph builders ([`mlp_loss`],
/// [`deep_chain`], [`wide_sum`]): the engine's operators are `#[inline]` in the library,
/// and the tape's are marked so too. Left to the compiler, the tape's stayed calls in
/// some programs and not others, and the tape took 12% longer to record W3 where they
/// did. The builders themselves are never inlined, so that each program compiles them
/// the same way: inlined into their callers, they took different shapes in the bench
/// example and in criterion's bench, and W1's ratio differed by 14–20% between the
/// two.
pub trait Builder {
    /// A handle to one node.
    type Var: Clone;
    /// A new leaf (input, parameter or constant).
    fn leaf(&mut self, x: f64) -> Self::Var;
    /// `a + b`. Operands are taken by value, as idiomatic code passes temporaries;
    /// a handle that is used again is cloned by the caller.
    fn add(&mut self, a: Self::Var, b: Self::Var) -> Self::Var;
    /// `a · b`, operands by value as for `add`.
    fn mul(&mut self, a: Self::Var, b: Self::Var) -> Self::Var;
    /// `max(a, 0)`.
    fn relu(&mut self, a: &Self::Var) -> Self::Var;
    /// `tanh a`.
    fn tanh(&mut self, a: &Self::Var) -> Self::Var;
}

/// The engine: every node is a `Value`. An `f64` operand becomes a constant leaf,
/// exactly as `&Value ⊕ f64` does.
pub struct Engine;

impl Builder for Engine {
    type Var = Value;
    fn leaf(&mut self, x: f64) -> Value {
        Value::new(x)
    }
    fn add(&mut self, a: Value, b: Value) -> Value {
        a + b
    }
    fn mul(&mut self, a: Value, b: Value) -> Value {
        a * b
    }
    fn relu(&mut self, a: &Value) -> Value {
        a.relu()
    }
    fn tanh(&mut self, a: &Value) -> Value {
        a.tanh()
    }
}

/// The W1 loss micrograd builds, one node per scalar `+`/`*`:
///
/// - neuron: `b + w₀·x₀ + w₁·x₁ + …`, left to right, then ReLU except in the last layer;
/// - per point: `relu(score · (−y) + 1)` (both `f64`s are constant leaves);
/// - data loss: the per-point losses added left to right, times the constant `1/n`;
/// - penalty: `p·p` per parameter added left to right, times the constant `α`;
/// - loss = data loss + penalty.
///
/// Never inlined (see [`Builder`]).
#[inline(never)]
pub fn mlp_loss<B: Builder>(g: &mut B, params: &[B::Var], data: &Moons) -> B::Var {
    let mut losses = Vec::with_capacity(data.x.len());
    let mut layer_in = Vec::new();
    let mut layer_out = Vec::new();
    for (point, &label) in data.x.iter().zip(&data.y) {
        layer_in.clear();
        layer_in.extend(point.iter().map(|&x| g.leaf(x)));
        let mut p = 0;
        for (layer, &nout) in LAYERS.iter().enumerate() {
            let hidden = layer + 1 < LAYERS.len();
            let nin = layer_in.len();
            layer_out.clear();
            for _ in 0..nout {
                let (w, b) = (&params[p..p + nin], &params[p + nin]);
                let mut act = b.clone();
                for (wi, xi) in w.iter().zip(&layer_in) {
                    let term = g.mul(wi.clone(), xi.clone());
                    act = g.add(act, term);
                }
                layer_out.push(if hidden { g.relu(&act) } else { act });
                p += nin + 1;
            }
            std::mem::swap(&mut layer_in, &mut layer_out);
        }
        let minus_y = g.leaf(-label);
        let margin = g.mul(layer_in[0].clone(), minus_y);
        let one = g.leaf(1.0);
        let hinge = g.add(margin, one);
        losses.push(g.relu(&hinge));
    }
    let data_loss = sum_left_to_right(g, &losses);
    let inv_n = g.leaf(1.0 / losses.len() as f64);
    let data_loss = g.mul(data_loss, inv_n);
    let squares: Vec<B::Var> = params.iter().map(|p| g.mul(p.clone(), p.clone())).collect();
    let penalty = sum_left_to_right(g, &squares);
    let alpha = g.leaf(ALPHA);
    let penalty = g.mul(penalty, alpha);
    g.add(data_loss, penalty)
}

fn sum_left_to_right<B: Builder>(g: &mut B, terms: &[B::Var]) -> B::Var {
    let mut total = terms[0].clone();
    for t in &terms[1..] {
        total = g.add(total, t.clone());
    }
    total
}

/// W2: `x = act(x·0.999999 + 1e-6)` repeated `steps` times from `x₀ = 0.5`; returns
/// (x₀, x). Five nodes per step: two constants, `*`, `+` and the activation. Never
/// inlined (see [`Builder`]).
#[inline(never)]
pub fn deep_chain<B: Builder>(g: &mut B, steps: usize, tanh: bool) -> (B::Var, B::Var) {
    let x0 = g.leaf(0.5);
    let mut x = x0.clone();
    for _ in 0..steps {
        let c = g.leaf(0.999_999);
        let scaled = g.mul(x, c);
        let d = g.leaf(1e-6);
        let shifted = g.add(scaled, d);
        x = if tanh {
            g.tanh(&shifted)
        } else {
            g.relu(&shifted)
        };
    }
    (x0, x)
}

/// The i-th pair of W3 factors.
pub fn w3_factors(i: usize) -> (f64, f64) {
    (i as f64 * 1e-3, 1.0 - i as f64 * 1e-6)
}

/// W3: `a₀·b₀ + a₁·b₁ + …` by repeated `+` over `terms` fresh leaf pairs; returns the
/// first factor `a₀` and the sum. Four nodes per term (two leaves, `*`, `+`). Never
/// inlined (see [`Builder`]).
#[inline(never)]
pub fn wide_sum<B: Builder>(g: &mut B, terms: usize) -> (B::Var, B::Var) {
    let (a0, b0) = w3_factors(0);
    let (a0, b0) = (g.leaf(a0), g.leaf(b0));
    let mut s = g.mul(a0.clone(), b0);
    for i in 1..terms {
        let (a, b) = w3_factors(i);
        let (a, b) = (g.leaf(a), g.leaf(b));
        let p = g.mul(a, b);
        s = g.add(s, p);
    }
    (a0, s)
}

// ---------------------------------------------------------------------------------------
// The engine's side of each workload.
// ---------------------------------------------------------------------------------------

/// The W1 MLP as the crate's [`Mlp`], with parameters `init` (micrograd's order).
pub fn nn_model(init: &[f64]) -> Mlp {
    let shape = Mlp::new(2, &LAYERS, &mut StdRng::seed_from_u64(0));
    shape
        .with_parameters(&engine_params(init))
        .expect("337 parameters")
}

/// W1 "nn": the same step with the crate's [`Mlp`] and losses (`hinge` + `l2`), whose
/// neurons are one fused node each and whose penalty is one `Value::dot`. Returns the loss.
pub fn nn_step(model: &Mlp, params: &[Value], data: &Moons, lr: f64) -> f64 {
    model.zero_grad();
    let scores: Vec<Value> = data
        .x
        .iter()
        .map(|x| model.forward_data(x)[0].clone())
        .collect();
    let loss = hinge(&scores, &data.y) + l2(params, ALPHA);
    loss.backward();
    for p in params {
        p.set_data(p.data() - lr * p.grad());
    }
    loss.data()
}

/// One nn step from `init`.
pub fn nn_result(init: &[f64], data: &Moons) -> StepResult {
    let model = nn_model(init);
    let params = model.parameters();
    let loss = nn_step(&model, &params, data, LEARNING_RATE);
    StepResult {
        loss,
        grads: params.iter().map(Value::grad).collect(),
        params: params.iter().map(Value::data).collect(),
    }
}

/// W1 with the engine: zero the gradients, build the loss, backward, SGD update, drop
/// the graph. Returns the loss.
pub fn engine_step(params: &[Value], data: &Moons, lr: f64) -> f64 {
    for p in params {
        p.set_grad(0.0);
    }
    let loss = mlp_loss(&mut Engine, params, data);
    loss.backward();
    for p in params {
        p.set_data(p.data() - lr * p.grad());
    }
    loss.data()
}

/// A W1 contender's training run, started again from the initial parameters every
/// [`DEMO_STEPS`] steps, so that every timed step is one of a run as long as the demo's.
///
/// Trained on for thousands of steps, the model fits every point: each hinge term is
/// then 0 and passes nothing back. Contenders whose work depends on which gradients
/// are zero would be timed on that state alone.
pub struct DemoRun {
    step: Box<DemoStep>,
    init: Vec<f64>,
    done: usize,
}

/// One step of a contender, given the initial parameters when it must start again
/// (`None` otherwise); returns the loss.
type DemoStep = dyn FnMut(Option<&[f64]>) -> f64;

impl DemoRun {
    /// A run of `step`, which is given the initial parameters when it must start
    /// again (and `None` otherwise) and returns the loss.
    fn new(step: impl FnMut(Option<&[f64]>) -> f64 + 'static) -> DemoRun {
        DemoRun {
            step: Box::new(step),
            init: init_params(PARAM_SEED),
            done: 0,
        }
    }

    /// One training step; every [`DEMO_STEPS`] steps the parameters go back to their
    /// initial values first. Returns the loss.
    pub fn step(&mut self) -> f64 {
        let restart = self.done == DEMO_STEPS;
        if restart {
            self.done = 0;
        }
        self.done += 1;
        (self.step)(restart.then_some(self.init.as_slice()))
    }

    /// A run whose parameters are engine leaves, trained by `step`.
    fn on_values(params: Vec<Value>, mut step: impl FnMut(&[Value]) -> f64 + 'static) -> DemoRun {
        DemoRun::new(move |restart| {
            if let Some(init) = restart {
                params.iter().zip(init).for_each(|(p, &v)| p.set_data(v));
            }
            step(&params)
        })
    }

    /// A run whose parameters are plain numbers, trained by `step`.
    fn on_numbers(mut step: impl FnMut(&mut [f64]) -> f64 + 'static) -> DemoRun {
        let mut params = init_params(PARAM_SEED);
        DemoRun::new(move |restart| {
            if let Some(init) = restart {
                params.copy_from_slice(init);
            }
            step(&mut params)
        })
    }

    /// W1 "scalar" with the engine.
    pub fn engine() -> DemoRun {
        let data = w1_data();
        DemoRun::on_values(engine_params(&init_params(PARAM_SEED)), move |params| {
            engine_step(params, &data, LEARNING_RATE)
        })
    }

    /// W1 "nn" with the crate's `Mlp`.
    pub fn nn() -> DemoRun {
        let data = w1_data();
        let model = nn_model(&init_params(PARAM_SEED));
        let params = model.parameters();
        DemoRun::on_values(params, move |params| {
            nn_step(&model, params, &data, LEARNING_RATE)
        })
    }

    /// W1 on the tape.
    pub fn tape() -> DemoRun {
        let data = w1_data();
        let mut tape = Tape::new();
        DemoRun::on_numbers(move |params| tape_step(&mut tape, params, &data, LEARNING_RATE))
    }

    /// W1 derived by hand.
    pub fn analytic() -> DemoRun {
        let data = w1_data();
        let mut scratch = Analytic::default();
        DemoRun::on_numbers(move |params| analytic_step(&mut scratch, params, &data, LEARNING_RATE))
    }
}

/// The W1 parameters as engine leaves.
pub fn engine_params(init: &[f64]) -> Vec<Value> {
    init.iter().map(|&p| Value::new(p)).collect()
}

/// W2 with the engine: build, backward, drop. Returns dx/dx₀.
pub fn engine_chain(steps: usize, tanh: bool) -> f64 {
    let (x0, x) = deep_chain(&mut Engine, steps, tanh);
    x.backward();
    drop(x);
    x0.grad()
}

/// W3 with the engine, by repeated `+`: build, backward, drop. Returns ds/da₀.
pub fn engine_sum(terms: usize) -> f64 {
    let (a0, s) = wide_sum(&mut Engine, terms);
    s.backward();
    drop(s);
    a0.grad()
}

thread_local! {
    /// The two lists of factors W3's `Value::dot` run makes its leaves into. As the tape
    /// keeps its buffers, they keep their capacity from one run to the next (emptied,
    /// which frees the leaves). Allocated afresh and dropped at every run, the two
    /// 1.6 MB lists went back to the system each time and were paged in again: that
    /// took the run from about 5 to 8–11 ms when it ran on its own, as under
    /// criterion.
    static DOT_FACTORS: RefCell<(Vec<Value>, Vec<Value>)> = const {
        RefCell::new((Vec::new(), Vec::new()))
    };
}

/// W3 with the engine, as one `Value::dot` node over fresh leaves: build, backward,
/// drop (the node, then the leaves). Returns ds/da₀.
pub fn engine_dot(terms: usize) -> f64 {
    DOT_FACTORS.with_borrow_mut(|(a, b)| {
        a.reserve_exact(terms);
        b.reserve_exact(terms);
        for i in 0..terms {
            let (x, y) = w3_factors(i);
            a.push(Value::new(x));
            b.push(Value::new(y));
        }
        let s = Value::dot(a, b);
        s.backward();
        drop(s);
        let grad = a[0].grad();
        a.clear();
        b.clear();
        grad
    })
}

// ---------------------------------------------------------------------------------------
// Baseline 1: a minimal hand-written flat tape.
// ---------------------------------------------------------------------------------------

/// What a tape record does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An input or constant.
    Leaf,
    /// `a + b`.
    Add,
    /// `a · b`.
    Mul,
    /// `max(a, 0)`.
    Relu,
    /// `tanh a`.
    Tanh,
}

/// One tape record: the op and the indices of its operands.
#[derive(Clone, Copy, Debug)]
pub struct Rec {
    /// The op.
    pub kind: Kind,
    /// First operand (unused by a leaf).
    pub a: u32,
    /// Second operand (unused by a leaf or a unary op).
    pub b: u32,
}

/// A minimal flat tape: values, gradients and op records in `Vec`s, operands as
/// indices, and one reverse loop for the chain rule. Records are appended in creation
/// order, which is already a topological order.
#[derive(Default)]
pub struct Tape {
    /// Node values, by index.
    pub values: Vec<f64>,
    /// Node gradients, by index (filled by [`Tape::backward`]).
    pub grads: Vec<f64>,
    /// Node records, by index.
    pub recs: Vec<Rec>,
}

impl Tape {
    /// An empty tape.
    pub fn new() -> Tape {
        Tape::default()
    }

    /// Forgets every node but keeps the buffers.
    pub fn clear(&mut self) {
        self.values.clear();
        self.grads.clear();
        self.recs.clear();
    }

    #[inline]
    fn push(&mut self, value: f64, kind: Kind, a: u32, b: u32) -> u32 {
        let i = self.values.len() as u32;
        self.values.push(value);
        self.recs.push(Rec { kind, a, b });
        i
    }

    /// d(root)/d(node) into `grads` for every node up to `root`.
    pub fn backward(&mut self, root: u32) {
        let n = root as usize + 1;
        self.grads.clear();
        self.grads.resize(n, 0.0);
        self.grads[root as usize] = 1.0;
        let (values, grads) = (&self.values, &mut self.grads);
        for (i, rec) in self.recs[..n].iter().enumerate().rev() {
            let g = grads[i];
            let (a, b) = (rec.a as usize, rec.b as usize);
            match rec.kind {
                Kind::Leaf => {}
                Kind::Add => {
                    grads[a] += g;
                    grads[b] += g;
                }
                Kind::Mul => {
                    grads[a] += g * values[b];
                    grads[b] += g * values[a];
                }
                Kind::Relu => grads[a] += g * if values[a] > 0.0 { 1.0 } else { 0.0 },
                Kind::Tanh => grads[a] += g * (1.0 - values[i] * values[i]),
            }
        }
    }
}

impl Builder for Tape {
    type Var = u32;
    #[inline]
    fn leaf(&mut self, x: f64) -> u32 {
        self.push(x, Kind::Leaf, 0, 0)
    }
    #[inline]
    fn add(&mut self, a: u32, b: u32) -> u32 {
        let v = self.values[a as usize] + self.values[b as usize];
        self.push(v, Kind::Add, a, b)
    }
    #[inline]
    fn mul(&mut self, a: u32, b: u32) -> u32 {
        let v = self.values[a as usize] * self.values[b as usize];
        self.push(v, Kind::Mul, a, b)
    }
    #[inline]
    fn relu(&mut self, &a: &u32) -> u32 {
        let x = self.values[a as usize];
        self.push(if x > 0.0 { x } else { 0.0 }, Kind::Relu, a, 0)
    }
    #[inline]
    fn tanh(&mut self, &a: &u32) -> u32 {
        let v = self.values[a as usize].tanh();
        self.push(v, Kind::Tanh, a, 0)
    }
}

/// W1 on the tape: the parameters are its first leaves; record the loss, backward,
/// SGD update. The tape is cleared and reused from step to step. Returns the loss.
pub fn tape_step(tape: &mut Tape, params: &mut [f64], data: &Moons, lr: f64) -> f64 {
    tape.clear();
    let vars: Vec<u32> = params.iter().map(|&p| tape.leaf(p)).collect();
    let loss = mlp_loss(tape, &vars, data);
    tape.backward(loss);
    for (p, &v) in params.iter_mut().zip(&vars) {
        *p -= lr * tape.grads[v as usize];
    }
    tape.values[loss as usize]
}

thread_local! {
    /// The tape W2 and W3 record on. Like the engine, which keeps its node storage for
    /// the next graph, it keeps its buffers from one run to the next (cleared), so that
    /// neither contender pays the system for fresh pages at every run.
    static TAPE: RefCell<Tape> = RefCell::new(Tape::new());
}

/// W2 on the tape: record, backward, clear. Returns dx/dx₀.
pub fn tape_chain(steps: usize, tanh: bool) -> f64 {
    TAPE.with_borrow_mut(|tape| {
        tape.clear();
        let (x0, x) = deep_chain(tape, steps, tanh);
        tape.backward(x);
        tape.grads[x0 as usize]
    })
}

/// W3 on the tape: record, backward, clear. Returns ds/da₀.
pub fn tape_sum(terms: usize) -> f64 {
    TAPE.with_borrow_mut(|tape| {
        tape.clear();
        let (a0, s) = wide_sum(tape, terms);
        tape.backward(s);
        tape.grads[a0 as usize]
    })
}

// ---------------------------------------------------------------------------------------
// Baseline 2: the same MLP step derived by hand over plain `Vec<f64>`.
// ---------------------------------------------------------------------------------------

/// Scratch space for [`analytic_step`], kept between steps.
#[derive(Default)]
pub struct Analytic {
    /// d(loss)/d(parameter), in parameter order.
    pub grads: Vec<f64>,
    acts: Vec<Vec<f64>>,
    deltas: Vec<Vec<f64>>,
}

/// W1 derived by hand: forward each point through the layers, backpropagate the hinge
/// by hand (`relu'(0) = 0`), add the penalty's `2αp`, SGD update. Returns the loss.
pub fn analytic_step(s: &mut Analytic, params: &mut [f64], data: &Moons, lr: f64) -> f64 {
    let n = data.x.len() as f64;
    s.grads.clear();
    s.grads.resize(params.len(), 0.0);
    if s.acts.is_empty() {
        s.acts = std::iter::once(2)
            .chain(LAYERS)
            .map(|k| vec![0.0; k])
            .collect();
        s.deltas = s.acts.clone();
    }
    let mut data_loss = 0.0;
    for (point, &label) in data.x.iter().zip(&data.y) {
        // Forward, keeping every layer's output (after ReLU on hidden layers).
        s.acts[0].copy_from_slice(point);
        let mut p = 0;
        for (layer, &nout) in LAYERS.iter().enumerate() {
            let hidden = layer + 1 < LAYERS.len();
            let (before, after) = s.acts.split_at_mut(layer + 1);
            let (input, output) = (&before[layer], &mut after[0]);
            let nin = input.len();
            for out in output.iter_mut().take(nout) {
                let w = &params[p..p + nin];
                let mut act = params[p + nin];
                for (wi, xi) in w.iter().zip(input) {
                    act += wi * xi;
                }
                *out = if hidden && act <= 0.0 { 0.0 } else { act };
                p += nin + 1;
            }
        }
        let score = s.acts[LAYERS.len()][0];
        let hinge = score * -label + 1.0;
        if hinge <= 0.0 {
            continue; // relu'(0) = 0: no loss, no gradient
        }
        data_loss += hinge;
        // Backward: d(loss)/d(score) = −y/n, then layer by layer, last first.
        let last = LAYERS.len();
        s.deltas[last][0] = -label / n;
        let mut p_end = params.len();
        for layer in (0..LAYERS.len()).rev() {
            let nin = s.acts[layer].len();
            let nout = LAYERS[layer];
            let p_start = p_end - nout * (nin + 1);
            let (dbefore, dafter) = s.deltas.split_at_mut(layer + 1);
            let (din, dout) = (&mut dbefore[layer], &dafter[0]);
            din.iter_mut().for_each(|d| *d = 0.0);
            for (j, &dj) in dout.iter().enumerate() {
                let q = p_start + j * (nin + 1);
                for i in 0..nin {
                    s.grads[q + i] += dj * s.acts[layer][i];
                    din[i] += dj * params[q + i];
                }
                s.grads[q + nin] += dj;
            }
            // Through the ReLU of the previous hidden layer: zero where it was off.
            if layer > 0 {
                for (d, &a) in din.iter_mut().zip(&s.acts[layer]) {
                    if a <= 0.0 {
                        *d = 0.0;
                    }
                }
            }
            p_end = p_start;
        }
    }
    let penalty: f64 = params.iter().map(|p| p * p).sum();
    for (g, p) in s.grads.iter_mut().zip(params.iter()) {
        *g += 2.0 * ALPHA * p;
    }
    let loss = data_loss / n + ALPHA * penalty;
    for (p, g) in params.iter_mut().zip(&s.grads) {
        *p -= lr * g;
    }
    loss
}

// ---------------------------------------------------------------------------------------
// Agreement between the contenders.
// ---------------------------------------------------------------------------------------

/// Loss and gradients of one W1 step from initial parameters `init`, per contender.
pub struct StepResult {
    /// The loss before the update.
    pub loss: f64,
    /// d(loss)/d(parameter), in parameter order.
    pub grads: Vec<f64>,
    /// The parameters after the update.
    pub params: Vec<f64>,
}

/// One engine step from `init`.
pub fn engine_result(init: &[f64], data: &Moons) -> StepResult {
    let params = engine_params(init);
    let loss = engine_step(&params, data, LEARNING_RATE);
    StepResult {
        loss,
        grads: params.iter().map(Value::grad).collect(),
        params: params.iter().map(Value::data).collect(),
    }
}

/// One tape step from `init`.
pub fn tape_result(init: &[f64], data: &Moons) -> StepResult {
    let mut tape = Tape::new();
    let mut params = init.to_vec();
    let loss = tape_step(&mut tape, &mut params, data, LEARNING_RATE);
    StepResult {
        loss,
        grads: tape.grads[..init.len()].to_vec(),
        params,
    }
}

/// One analytic step from `init`.
pub fn analytic_result(init: &[f64], data: &Moons) -> StepResult {
    let mut scratch = Analytic::default();
    let mut params = init.to_vec();
    let loss = analytic_step(&mut scratch, &mut params, data, LEARNING_RATE);
    StepResult {
        loss,
        grads: scratch.grads,
        params,
    }
}

/// Whether `a` and `b` agree to relative `tol`: `|a − b| ≤ tol·max(|a|, |b|, scale)`,
/// where `scale` is the size of the quantity's vector (so that an entry that cancels to
/// nearly 0 is judged against its neighbours, not against itself).
pub fn close(a: f64, b: f64, scale: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()).max(scale)
}

/// Checks that `got` agrees with `want` to relative `tol` in loss, every gradient and
/// every updated parameter; the error names the first disagreement.
pub fn agree(name: &str, got: &StepResult, want: &StepResult, tol: f64) -> Result<(), String> {
    if !close(got.loss, want.loss, 0.0, tol) {
        return Err(format!("{name}: loss {} vs {}", got.loss, want.loss));
    }
    agree_all(name, "gradient", &got.grads, &want.grads, tol)?;
    agree_all(name, "parameter", &got.params, &want.params, tol)
}

/// Checks that `got` has as many entries as `want` and agrees with it entry by entry
/// to relative `tol` (see [`close`], with `want`'s largest entry as the scale); the
/// error names the first disagreement.
fn agree_all(name: &str, what: &str, got: &[f64], want: &[f64], tol: f64) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("{name}: {} {what}s vs {}", got.len(), want.len()));
    }
    let scale = want.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        if !close(*a, *b, scale, tol) {
            return Err(format!("{name}: {what} {i} is {a}, expected {b}"));
        }
    }
    Ok(())
}

/// Checks that the tape, the analytic step and the nn model agree with the engine on W1 (loss,
/// gradients, updated parameters) to relative 1e-9, and that the W2 and W3 baselines
/// agree with the engine on a shorter run of each: in what the timed runs return, and
/// in every leaf's gradient.
pub fn check_baselines() -> Result<(), String> {
    let data = w1_data();
    let init = init_params(PARAM_SEED);
    let engine = engine_result(&init, &data);
    agree("tape", &tape_result(&init, &data), &engine, 1e-9)?;
    agree("analytic", &analytic_result(&init, &data), &engine, 1e-9)?;
    agree("nn", &nn_result(&init, &data), &engine, 1e-9)?;
    // The timed runs, which return one gradient each.
    for (name, e, t) in [
        (
            "W2 relu",
            engine_chain(10_000, false),
            tape_chain(10_000, false),
        ),
        (
            "W2 tanh",
            engine_chain(10_000, true),
            tape_chain(10_000, true),
        ),
        ("W3 +", engine_sum(10_000), tape_sum(10_000)),
        ("W3 dot", engine_dot(10_000), tape_sum(10_000)),
    ] {
        if !close(e, t, 0.0, 1e-9) {
            return Err(format!("{name}: engine {e} vs tape {t}"));
        }
    }
    // The same graphs again, with every leaf's gradient compared.
    let sum = leaf_grads(Graph::Sum, 10_000);
    for (name, (e, t)) in [
        ("W2 relu", leaf_grads(Graph::Chain { tanh: false }, 10_000)),
        ("W2 tanh", leaf_grads(Graph::Chain { tanh: true }, 10_000)),
        ("W3 dot", (dot_leaf_grads(10_000), sum.1.clone())),
        ("W3 +", sum),
    ] {
        agree_all(name, "leaf gradient", &e, &t, 1e-9)?;
    }
    Ok(())
}

/// A builder that keeps every leaf another one makes, so that a check can read all
/// their gradients (the timed runs return one).
struct KeepLeaves<'a, B: Builder> {
    inner: &'a mut B,
    leaves: Vec<B::Var>,
}

impl<B: Builder> Builder for KeepLeaves<'_, B> {
    type Var = B::Var;
    fn leaf(&mut self, x: f64) -> B::Var {
        let v = self.inner.leaf(x);
        self.leaves.push(v.clone());
        v
    }
    fn add(&mut self, a: B::Var, b: B::Var) -> B::Var {
        self.inner.add(a, b)
    }
    fn mul(&mut self, a: B::Var, b: B::Var) -> B::Var {
        self.inner.mul(a, b)
    }
    fn relu(&mut self, a: &B::Var) -> B::Var {
        self.inner.relu(a)
    }
    fn tanh(&mut self, a: &B::Var) -> B::Var {
        self.inner.tanh(a)
    }
}

/// The graphs whose every gradient [`check_baselines`] compares.
#[derive(Clone, Copy)]
enum Graph {
    Chain { tanh: bool },
    Sum,
}

impl Graph {
    /// Builds the graph over `n` steps or terms and returns its root.
    fn build<B: Builder>(self, g: &mut B, n: usize) -> B::Var {
        match self {
            Graph::Chain { tanh } => deep_chain(g, n, tanh).1,
            Graph::Sum => wide_sum(g, n).1,
        }
    }
}

/// Builds `graph` with the engine and on a fresh tape, differentiates both, and gives
/// every leaf's gradient in creation order: the engine's, then the tape's.
fn leaf_grads(graph: Graph, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut engine = Engine;
    let mut keep = KeepLeaves {
        inner: &mut engine,
        leaves: Vec::new(),
    };
    graph.build(&mut keep, n).backward();
    let from_engine = keep.leaves.iter().map(Value::grad).collect();
    let mut tape = Tape::new();
    let mut keep = KeepLeaves {
        inner: &mut tape,
        leaves: Vec::new(),
    };
    let root = graph.build(&mut keep, n);
    let leaves = keep.leaves;
    tape.backward(root);
    let from_tape = leaves.iter().map(|&i| tape.grads[i as usize]).collect();
    (from_engine, from_tape)
}

/// Every factor's gradient of W3 as one `Value::dot` over `terms` pairs, in the order
/// [`wide_sum`] makes them (a₀, b₀, a₁, b₁, …).
fn dot_leaf_grads(terms: usize) -> Vec<f64> {
    let (a, b): (Vec<Value>, Vec<Value>) = (0..terms)
        .map(|i| {
            let (x, y) = w3_factors(i);
            (Value::new(x), Value::new(y))
        })
        .unzip();
    Value::dot(&a, &b).backward();
    a.iter()
        .zip(&b)
        .flat_map(|(x, y)| [x.grad(), y.grad()])
        .collect()
}

/// Nodes each workload records: the engine and the tape record the same graphs, except
/// `Value::dot`'s, which only the engine has.
pub struct NodeCounts {
    /// W1 "scalar", the parameters included.
    pub w1: usize,
    /// W2, relu or tanh: the input, then five nodes per step.
    pub w2: usize,
    /// W3 by repeated `+`: three nodes for the first term, four for each other.
    pub w3_sum: usize,
    /// W3 as `Value::dot`: two leaves per term and the one fused node.
    pub w3_dot: usize,
}

/// A [`Builder`] that records nothing and counts the nodes it is asked for.
struct Counter(usize);

impl Builder for Counter {
    type Var = ();
    fn leaf(&mut self, _: f64) {
        self.0 += 1;
    }
    fn add(&mut self, (): (), (): ()) {
        self.0 += 1;
    }
    fn mul(&mut self, (): (), (): ()) {
        self.0 += 1;
    }
    fn relu(&mut self, (): &()) {
        self.0 += 1;
    }
    fn tanh(&mut self, (): &()) {
        self.0 += 1;
    }
}

/// The nodes `build` asks a [`Counter`] for.
fn count(build: impl FnOnce(&mut Counter)) -> usize {
    let mut counter = Counter(0);
    build(&mut counter);
    counter.0
}

/// The nodes [`wide_sum`] records over `terms` terms, counted by running it on a
/// [`Counter`].
pub fn wide_sum_nodes(terms: usize) -> usize {
    count(|c| {
        wide_sum(c, terms);
    })
}

/// See [`NodeCounts`]: the workloads' own code, run on a [`Counter`]; `Value::dot`,
/// which no [`Builder`] has, counted as it is made (two leaves per term and the node).
pub fn node_counts() -> NodeCounts {
    NodeCounts {
        w1: count(|c| {
            let params: Vec<()> = init_params(PARAM_SEED).iter().map(|&p| c.leaf(p)).collect();
            mlp_loss(c, &params, &w1_data());
        }),
        w2: count(|c| {
            deep_chain(c, CHAIN_STEPS, false);
        }),
        w3_sum: wide_sum_nodes(SUM_TERMS),
        w3_dot: 2 * SUM_TERMS + 1,
    }
}
