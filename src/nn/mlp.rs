//! `Neuron`, `Layer` and `Mlp`: micrograd's three building blocks.

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;

use rand::Rng;

use super::{Activation, Init, Module, ParameterCountError};
use crate::op::{NeuronParams, Op, SharedInputs};
use crate::value::Value;

/// One neuron: `activation(w·x + b)`.
///
/// Each forward pass makes one fused node for the whole neuron, with a closed-form
/// local derivative, instead of 2n scalar nodes (or a `dot`, a `+` and an activation).
/// The node holds the neuron's parameters and the layer's inputs as shared lists, so
/// making it copies neither. A leaky relu with a negative (or NaN) slope is the
/// exception: its derivative cannot be read back from its output, so that neuron is a
/// `dot`, a `+` and the activation.
///
/// ```
/// use scalargrad::nn::{Activation, Neuron};
/// use scalargrad::Value;
/// let n = Neuron::from_weights(&[2.0, -1.0], 0.5, Activation::Relu);
/// let x = [Value::new(1.0), Value::new(1.0)];
/// let out = n.forward(&x);
/// out.backward();
/// assert_eq!(out.data(), 1.5); // relu(2 − 1 + 0.5)
/// assert_eq!((n.weights()[0].grad(), x[1].grad()), (1.0, -1.0)); // x₀ and w₁
/// assert_eq!(n.to_string(), "ReLUNeuron(2)");
/// ```
#[derive(Clone)]
pub struct Neuron {
    params: Rc<NeuronParams>,
}

impl Neuron {
    /// A neuron with `nin` weights drawn from `init` (for a layer of `fan_out` neurons)
    /// and bias 0.
    pub fn new(
        nin: usize,
        fan_out: usize,
        activation: Activation,
        init: Init,
        rng: &mut impl Rng,
    ) -> Neuron {
        let mut params: Vec<Value> = (0..nin)
            .map(|_| Value::new(init.sample(nin, fan_out, rng)))
            .collect();
        params.push(Value::new(0.0));
        Neuron::from_params(params, activation)
    }

    /// A neuron with the given weights and bias.
    #[must_use]
    pub fn from_weights(weights: &[f64], bias: f64, activation: Activation) -> Neuron {
        let params = weights
            .iter()
            .chain([&bias])
            .map(|&w| Value::new(w))
            .collect();
        Neuron::from_params(params, activation)
    }

    /// A neuron whose parameters are `params`: the weights, then the bias.
    fn from_params(params: Vec<Value>, activation: Activation) -> Neuron {
        Neuron {
            params: Rc::new(NeuronParams {
                all_leaves: params.iter().all(|p| p.node.op.is_leaf()),
                params: params.into_boxed_slice(),
                activation,
                seen: Cell::new(0),
                zero_safe: Cell::new(None),
            }),
        }
    }

    /// `activation(w·x + b)` as a graph.
    ///
    /// # Panics
    ///
    /// If `x` does not have one entry per weight.
    #[must_use]
    pub fn forward(&self, x: &[Value]) -> Value {
        let x = SharedInputs::collect(x.iter().cloned());
        with_data(&x.values, |data| self.forward_with_data(&x, data))
    }

    /// This neuron's node on the input list `x` (which other neurons may share), whose
    /// data has been read into `data`; or, for an activation a node cannot fuse, the
    /// same function from separate nodes.
    fn forward_with_data(&self, x: &Rc<SharedInputs>, data: &[f64]) -> Value {
        if !self.params.fuses() {
            // The same function from separate nodes, whose derivatives need no slope
            // read back from the output.
            self.check_input(data.len());
            let (w, b) = self.params.weights_and_bias();
            return self
                .params
                .activation
                .apply(&(Value::dot(w, &x.values) + b));
        }
        let safe = x.zero_safe && self.params.keeps_zeros();
        Value::from_op(self.predict(data), safe, || {
            Op::Neuron(self.params.clone(), x.clone())
        })
    }

    /// The same function as [`Neuron::forward`] on plain numbers, with no graph; the
    /// result is bit-for-bit the forward pass's.
    ///
    /// # Panics
    ///
    /// If `x` does not have one entry per weight.
    #[must_use]
    pub fn predict(&self, x: &[f64]) -> f64 {
        self.check_input(x.len());
        self.params.value(x)
    }

    /// The weights, in input order.
    #[must_use]
    pub fn weights(&self) -> &[Value] {
        self.params.weights_and_bias().0
    }

    /// The bias.
    #[must_use]
    pub fn bias(&self) -> &Value {
        self.params.weights_and_bias().1
    }

    /// The activation.
    #[must_use]
    pub fn activation(&self) -> Activation {
        self.params.activation
    }

    fn nin(&self) -> usize {
        self.weights().len()
    }

    fn check_input(&self, len: usize) {
        assert_eq!(
            len,
            self.nin(),
            "a neuron with {} inputs was given {len}",
            self.nin()
        );
    }
}

impl Module for Neuron {
    /// The weights, then the bias.
    fn parameters(&self) -> Vec<Value> {
        self.params.params.to_vec()
    }

    /// Without collecting the parameters first: a training loop calls this every step.
    fn zero_grad(&self) {
        self.params.params.iter().for_each(|p| p.set_grad(0.0));
    }
}

impl fmt::Display for Neuron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}Neuron({})", self.activation(), self.nin())
    }
}

impl fmt::Debug for Neuron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A layer of neurons that all see the same inputs.
#[derive(Clone)]
pub struct Layer {
    neurons: Vec<Neuron>,
}

impl Layer {
    /// `nout` neurons of `nin` inputs each.
    pub fn new(
        nin: usize,
        nout: usize,
        activation: Activation,
        init: Init,
        rng: &mut impl Rng,
    ) -> Layer {
        Layer {
            neurons: (0..nout)
                .map(|_| Neuron::new(nin, nout, activation, init, rng))
                .collect(),
        }
    }

    /// A layer made of the given neurons.
    ///
    /// # Panics
    ///
    /// If the neurons differ in input count or activation.
    #[must_use]
    pub fn from_neurons(neurons: Vec<Neuron>) -> Layer {
        if let Some(first) = neurons.first() {
            assert!(
                neurons
                    .iter()
                    .all(|n| n.nin() == first.nin() && n.activation() == first.activation()),
                "the neurons of a layer need the same input count and activation"
            );
        }
        Layer { neurons }
    }

    /// Every neuron's output, as graphs.
    ///
    /// # Panics
    ///
    /// If `x` has the wrong length.
    #[must_use]
    pub fn forward(&self, x: &[Value]) -> Vec<Value> {
        self.check_empty_input(x.len());
        self.forward_shared(&SharedInputs::collect(x.iter().cloned()))
    }

    /// [`Layer::forward`] on an input list shared by all the layer's neurons.
    fn forward_shared(&self, x: &Rc<SharedInputs>) -> Vec<Value> {
        with_data(&x.values, |data| {
            self.neurons
                .iter()
                .map(|n| n.forward_with_data(x, data))
                .collect()
        })
    }

    /// [`Layer::forward_shared`] with the outputs in a list for the next layer to share.
    fn forward_to_shared(&self, x: &Rc<SharedInputs>) -> Rc<SharedInputs> {
        with_data(&x.values, |data| {
            SharedInputs::collect(self.neurons.iter().map(|n| n.forward_with_data(x, data)))
        })
    }

    /// Every neuron's output on plain numbers, with no graph.
    ///
    /// # Panics
    ///
    /// If `x` has the wrong length.
    #[must_use]
    pub fn predict(&self, x: &[f64]) -> Vec<f64> {
        self.check_empty_input(x.len());
        self.neurons.iter().map(|n| n.predict(x)).collect()
    }

    /// A layer's neurons check the input's length; a layer without any checks it here
    /// (it takes none, see [`Layer::nin`]).
    fn check_empty_input(&self, len: usize) {
        assert!(
            !self.neurons.is_empty() || len == 0,
            "a layer without neurons takes no inputs, got {len}"
        );
    }

    /// The neurons.
    #[must_use]
    pub fn neurons(&self) -> &[Neuron] {
        &self.neurons
    }

    /// The number of inputs (0 for a layer without neurons).
    #[must_use]
    pub fn nin(&self) -> usize {
        self.neurons.first().map_or(0, Neuron::nin)
    }

    /// The activation shared by the neurons (`Linear` for an empty layer).
    #[must_use]
    pub fn activation(&self) -> Activation {
        self.neurons
            .first()
            .map_or(Activation::Linear, Neuron::activation)
    }
}

impl Module for Layer {
    /// Neuron by neuron, each neuron's weights then its bias.
    fn parameters(&self) -> Vec<Value> {
        self.neurons.iter().flat_map(Module::parameters).collect()
    }

    fn zero_grad(&self) {
        self.neurons.iter().for_each(Module::zero_grad);
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_list(f, "Layer", &self.neurons)
    }
}

impl fmt::Debug for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A multi-layer perceptron: layers applied one after another.
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// use scalargrad::nn::{Mlp, Module};
///
/// let model = Mlp::new(2, &[16, 16, 1], &mut StdRng::seed_from_u64(1337));
/// assert_eq!(model.num_parameters(), 337);
/// let score = model.forward_data(&[0.5, -1.0]);
/// assert_eq!(score[0].data(), model.predict(&[0.5, -1.0])[0]);
/// ```
#[derive(Clone)]
pub struct Mlp {
    nin: usize,
    layers: Vec<Layer>,
}

impl Mlp {
    /// micrograd's network: `nin` inputs, then one layer per entry of `sizes`, ReLU on
    /// hidden layers, a linear last layer, weights uniform on [−1, 1), biases 0.
    ///
    /// # Panics
    ///
    /// If `nin` is 0, `sizes` is empty or a size is 0.
    pub fn new(nin: usize, sizes: &[usize], rng: &mut impl Rng) -> Mlp {
        Mlp::builder(nin, sizes).build(rng)
    }

    /// A builder to choose activations and initialisation.
    ///
    /// ```
    /// use rand::{rngs::StdRng, SeedableRng};
    /// use scalargrad::nn::{Activation, Init, Mlp};
    ///
    /// let model = Mlp::builder(2, &[4, 1])
    ///     .hidden(Activation::Tanh)
    ///     .output(Activation::Sigmoid)
    ///     .init(Init::XavierUniform)
    ///     .build(&mut StdRng::seed_from_u64(0));
    /// assert_eq!(model.to_string(), "MLP of [Layer of [TanhNeuron(2), TanhNeuron(2), \
    ///     TanhNeuron(2), TanhNeuron(2)], Layer of [SigmoidNeuron(4)]]");
    /// ```
    #[must_use]
    pub fn builder(nin: usize, sizes: &[usize]) -> MlpBuilder {
        MlpBuilder {
            nin,
            sizes: sizes.to_vec(),
            hidden: Activation::Relu,
            output: Activation::Linear,
            per_layer: None,
            init: Init::default(),
        }
    }

    /// An MLP made of the given layers.
    ///
    /// # Panics
    ///
    /// If there are no layers, a layer is empty, the first layer's neurons take no
    /// inputs, or a layer's input count differs from the previous layer's neuron count.
    #[must_use]
    pub fn from_layers(layers: Vec<Layer>) -> Mlp {
        assert!(!layers.is_empty(), "an MLP needs at least one layer");
        let nin = layers[0].nin();
        let mut width = nin;
        for (i, layer) in layers.iter().enumerate() {
            assert!(!layer.neurons.is_empty(), "layer {i} has no neurons");
            assert_eq!(
                layer.nin(),
                width,
                "layer {i} takes {} inputs but the layer before gives {width}",
                layer.nin()
            );
            width = layer.neurons.len();
        }
        // Checked after the loop, which names an empty first layer (`nin` 0 as well).
        assert!(nin > 0, "an MLP needs at least one input");
        Mlp { nin, layers }
    }

    /// The outputs for input `x`, as graphs to call `backward()` on.
    ///
    /// # Panics
    ///
    /// If `x.len()` is not the number of inputs.
    #[must_use]
    pub fn forward(&self, x: &[Value]) -> Vec<Value> {
        self.forward_from(SharedInputs::collect(x.iter().cloned()))
    }

    /// [`Mlp::forward`] from an input list: each layer's outputs become one list
    /// that the next layer's neurons share.
    fn forward_from(&self, x: Rc<SharedInputs>) -> Vec<Value> {
        let (last, hidden) = self.layers.split_last().expect("an MLP has a layer");
        let mut act = x;
        for layer in hidden {
            act = layer.forward_to_shared(&act);
        }
        last.forward_shared(&act)
    }

    /// [`Mlp::forward`] for a plain input: wraps each number in a leaf first.
    ///
    /// # Panics
    ///
    /// If `x.len()` is not the number of inputs.
    #[must_use]
    pub fn forward_data(&self, x: &[f64]) -> Vec<Value> {
        self.forward_from(SharedInputs::collect(x.iter().map(|&v| Value::new(v))))
    }

    /// The outputs for `x` computed on plain numbers with no graph (for evaluation and
    /// plotting): bit-for-bit what [`Mlp::forward`] computes, far faster.
    ///
    /// # Panics
    ///
    /// If `x.len()` is not the number of inputs.
    #[must_use]
    pub fn predict(&self, x: &[f64]) -> Vec<f64> {
        let mut act = self.layers[0].predict(x);
        for layer in &self.layers[1..] {
            act = layer.predict(&act);
        }
        act
    }

    /// A model of the same shape and activations whose parameters are `params`
    /// (shared, not copied), in [`Module::parameters`] order.
    ///
    /// This makes a model a function of its parameters, for tools that supply their
    /// own inputs, such as [`crate::check::gradcheck`]:
    ///
    /// ```
    /// use rand::{rngs::StdRng, SeedableRng};
    /// use scalargrad::check::{gradcheck, Options};
    /// use scalargrad::nn::{Mlp, Module};
    ///
    /// let model = Mlp::new(2, &[3, 1], &mut StdRng::seed_from_u64(0));
    /// let loss = |p: &[scalargrad::Value]| {
    ///     let m = model.with_parameters(p).expect("one value per parameter");
    ///     m.forward_data(&[0.5, -1.0])[0].tanh()
    /// };
    /// assert!(gradcheck(loss, &model.parameter_values(), &Options::default()).is_ok());
    /// ```
    ///
    /// # Errors
    ///
    /// [`ParameterCountError`] if `params` does not have one value per parameter.
    pub fn with_parameters(&self, params: &[Value]) -> Result<Mlp, ParameterCountError> {
        let expected = self.num_parameters();
        if params.len() != expected {
            return Err(ParameterCountError {
                expected,
                got: params.len(),
            });
        }
        let mut next = params.iter().cloned();
        let mut take = |n: usize| -> Vec<Value> { next.by_ref().take(n).collect() };
        let layers = self
            .layers
            .iter()
            .map(|layer| Layer {
                neurons: layer
                    .neurons
                    .iter()
                    .map(|n| Neuron::from_params(take(n.nin() + 1), n.activation()))
                    .collect(),
            })
            .collect();
        Ok(Mlp {
            nin: self.nin,
            layers,
        })
    }

    /// The layers, input side first.
    #[must_use]
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The number of inputs.
    #[must_use]
    pub fn nin(&self) -> usize {
        self.nin
    }

    /// The number of neurons per layer, e.g. `[16, 16, 1]`.
    #[must_use]
    pub fn sizes(&self) -> Vec<usize> {
        self.layers.iter().map(|l| l.neurons.len()).collect()
    }
}

impl Module for Mlp {
    /// micrograd's order: layer by layer, neuron by neuron, each neuron's weights then
    /// its bias.
    fn parameters(&self) -> Vec<Value> {
        self.layers.iter().flat_map(Module::parameters).collect()
    }

    fn zero_grad(&self) {
        self.layers.iter().for_each(Module::zero_grad);
    }
}

impl fmt::Display for Mlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_list(f, "MLP", &self.layers)
    }
}

/// Writes `name of [a, b, …]`, micrograd's way of printing a layer or a model.
fn write_list(f: &mut fmt::Formatter<'_>, name: &str, items: &[impl fmt::Display]) -> fmt::Result {
    write!(f, "{name} of [")?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    f.write_str("]")
}

impl fmt::Debug for Mlp {
    /// A summary: input count, layer sizes and activations.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let layers: Vec<String> = self
            .layers
            .iter()
            .map(|l| format!("{}×{}", l.neurons.len(), l.activation().name()))
            .collect();
        write!(f, "Mlp({} → {})", self.nin, layers.join(" → "))
    }
}

/// Chooses activations and initialisation for an [`Mlp`]; made by [`Mlp::builder`].
#[derive(Clone, Debug)]
pub struct MlpBuilder {
    nin: usize,
    sizes: Vec<usize>,
    hidden: Activation,
    output: Activation,
    per_layer: Option<Vec<Activation>>,
    init: Init,
}

impl MlpBuilder {
    /// The activation of every layer but the last (default ReLU).
    #[must_use]
    pub fn hidden(mut self, activation: Activation) -> MlpBuilder {
        self.hidden = activation;
        self
    }

    /// The activation of the last layer (default linear).
    #[must_use]
    pub fn output(mut self, activation: Activation) -> MlpBuilder {
        self.output = activation;
        self
    }

    /// One activation per layer, overriding [`MlpBuilder::hidden`] and
    /// [`MlpBuilder::output`].
    #[must_use]
    pub fn activations(mut self, activations: &[Activation]) -> MlpBuilder {
        self.per_layer = Some(activations.to_vec());
        self
    }

    /// The weight initialisation (default micrograd's uniform on [−1, 1)).
    #[must_use]
    pub fn init(mut self, init: Init) -> MlpBuilder {
        self.init = init;
        self
    }

    /// Draws the weights, layer by layer and neuron by neuron, in parameter order.
    ///
    /// # Panics
    ///
    /// If `nin` is 0, there are no layers, a size is 0, or the per-layer activations
    /// are not one per layer.
    pub fn build(self, rng: &mut impl Rng) -> Mlp {
        assert!(self.nin > 0, "an MLP needs at least one input");
        assert!(!self.sizes.is_empty(), "an MLP needs at least one layer");
        assert!(
            self.sizes.iter().all(|&s| s > 0),
            "every layer needs at least one neuron, got sizes {:?}",
            self.sizes
        );
        let n = self.sizes.len();
        let activations = self.per_layer.unwrap_or_else(|| {
            (0..n)
                .map(|i| if i + 1 == n { self.output } else { self.hidden })
                .collect()
        });
        assert_eq!(
            activations.len(),
            n,
            "need one activation per layer: {n} layers, {} activations",
            activations.len()
        );
        let mut nin = self.nin;
        let mut layers = Vec::with_capacity(n);
        for (&nout, &activation) in self.sizes.iter().zip(&activations) {
            layers.push(Layer::new(nin, nout, activation, self.init, rng));
            nin = nout;
        }
        Mlp {
            nin: self.nin,
            layers,
        }
    }
}

/// Calls `f` with the data of `values`, read once for all the neurons of a layer
/// rather than once per neuron. Layers up to 32 wide use a buffer on the stack.
fn with_data<R>(values: &[Value], f: impl FnOnce(&[f64]) -> R) -> R {
    const ON_STACK: usize = 32;
    if values.len() <= ON_STACK {
        let mut buffer = [0.0; ON_STACK];
        let data = &mut buffer[..values.len()];
        for (d, v) in data.iter_mut().zip(values) {
            *d = v.data();
        }
        f(data)
    } else {
        f(&values.iter().map(Value::data).collect::<Vec<f64>>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A neuron whose weight was NaN during a forward pass, then made finite again,
    /// makes zero-safe nodes again (so `backward()` can skip through them): its cached
    /// answer from the NaN days is not kept.
    #[test]
    fn a_neuron_repaired_after_a_nan_makes_zero_safe_nodes_again() {
        let neuron = Neuron::from_params(vec![Value::new(1.0), Value::new(0.0)], Activation::Relu);
        let x = [Value::new(2.0)];
        assert!(neuron.forward(&x).is_zero_safe());
        neuron.params.params[0].set_data(f64::NAN);
        // The next `backward()` clears the flags, and the forward pass after it asks
        // the neuron again.
        neuron.forward(&x).backward();
        assert!(!neuron.forward(&x).is_zero_safe());
        neuron.params.params[0].set_data(1.0);
        assert!(neuron.forward(&x).is_zero_safe());
    }
}
