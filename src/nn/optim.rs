//! Optimizers: plain and momentum SGD, and Adam, with PyTorch's update rules.
//!
//! Each keeps its state per parameter, by position in the slice given to `step`, so
//! pass the same parameters in the same order every time (`model.parameters()` does).

use crate::value::Value;

/// An update rule for parameters whose gradients `backward()` has filled in.
pub trait Optimizer {
    /// Updates each parameter's data from its gradient (the gradients are left as they
    /// are; reset them with `zero_grad` before the next `backward()`).
    ///
    /// # Panics
    ///
    /// If called with a different number of parameters than the first time.
    fn step(&mut self, params: &[Value]);

    /// The current learning rate.
    fn lr(&self) -> f64;

    /// Changes the learning rate (what a schedule does between steps).
    fn set_lr(&mut self, lr: f64);
}

/// Makes per-parameter state (zeros) on the first step, and insists on the same
/// number of parameters after, even if the first step had none.
#[track_caller]
fn state_for<T: Clone + Default>(state: &mut Option<Vec<T>>, n: usize) -> &mut Vec<T> {
    let state = state.get_or_insert_with(|| vec![T::default(); n]);
    assert_eq!(
        state.len(),
        n,
        "this optimizer was stepped with {} parameters before, and now with {n}",
        state.len()
    );
    state
}

/// Stochastic gradient descent with optional momentum and weight decay:
/// `g = ∇ + λ·p; v = μ·v + g; p −= lr·v` (with `v = g` on the first step, as PyTorch).
///
/// ```
/// use scalargrad::nn::optim::{Optimizer, Sgd};
/// use scalargrad::Value;
/// let p = Value::new(1.0);
/// p.set_grad(0.5);
/// Sgd::new(0.1).step(&[p.clone()]);
/// assert_eq!(p.data(), 0.95);
/// ```
#[derive(Clone, Debug)]
pub struct Sgd {
    lr: f64,
    momentum: f64,
    weight_decay: f64,
    /// `None` until the first step.
    velocity: Option<Vec<f64>>,
}

impl Sgd {
    /// Plain SGD: `p −= lr·∇`.
    #[must_use]
    pub fn new(lr: f64) -> Sgd {
        Sgd {
            lr,
            momentum: 0.0,
            weight_decay: 0.0,
            velocity: None,
        }
    }

    /// With momentum `μ` (0.9 is common).
    #[must_use]
    pub fn momentum(mut self, momentum: f64) -> Sgd {
        self.momentum = momentum;
        self
    }

    /// With weight decay `λ`, added to each gradient as `λ·p`.
    #[must_use]
    pub fn weight_decay(mut self, weight_decay: f64) -> Sgd {
        self.weight_decay = weight_decay;
        self
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, params: &[Value]) {
        // No velocity yet means this is the first step, where PyTorch takes v = g.
        let first = self.velocity.is_none();
        let velocity = state_for(&mut self.velocity, params.len());
        for (p, v) in params.iter().zip(velocity) {
            let g = p.grad() + self.weight_decay * p.data();
            *v = if first { g } else { self.momentum * *v + g };
            p.set_data(p.data() - self.lr * *v);
        }
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
}

/// Adam: running means of the gradient and its square, bias-corrected:
/// `m = β₁m + (1−β₁)g; v = β₂v + (1−β₂)g²; p −= lr·m̂ / (√v̂ + ε)` with
/// `m̂ = m/(1−β₁ᵗ)`, `v̂ = v/(1−β₂ᵗ)`.
///
/// ```
/// use scalargrad::nn::optim::{Adam, Optimizer};
/// use scalargrad::Value;
/// let p = Value::new(1.0);
/// p.set_grad(3.0);
/// Adam::new(0.1).step(&[p.clone()]);
/// assert!((p.data() - 0.9).abs() < 1e-7); // the first step moves by about lr
/// ```
#[derive(Clone, Debug)]
pub struct Adam {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    /// The running means of each parameter's gradient and its square, `(m, v)`;
    /// `None` until the first step.
    moments: Option<Vec<(f64, f64)>>,
    t: i32,
}

impl Adam {
    /// Adam with PyTorch's defaults `β₁ = 0.9`, `β₂ = 0.999`, `ε = 1e−8`.
    #[must_use]
    pub fn new(lr: f64) -> Adam {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            moments: None,
            t: 0,
        }
    }

    /// With decay rates `β₁` and `β₂` for the two running means.
    #[must_use]
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Adam {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// With `ε`, the term that keeps the denominator away from 0.
    #[must_use]
    pub fn eps(mut self, eps: f64) -> Adam {
        self.eps = eps;
        self
    }
}

impl Optimizer for Adam {
    fn step(&mut self, params: &[Value]) {
        let moments = state_for(&mut self.moments, params.len());
        self.t = self.t.saturating_add(1);
        let correction1 = 1.0 - self.beta1.powi(self.t);
        let correction2 = 1.0 - self.beta2.powi(self.t);
        for (p, (m, v)) in params.iter().zip(moments) {
            let g = p.grad();
            *m = self.beta1 * *m + (1.0 - self.beta1) * g;
            *v = self.beta2 * *v + (1.0 - self.beta2) * g * g;
            let m_hat = *m / correction1;
            let v_hat = *v / correction2;
            p.set_data(p.data() - self.lr * m_hat / (v_hat.sqrt() + self.eps));
        }
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
}
