//! # scalargrad
//!
//! A scalar reverse-mode automatic-differentiation engine in the spirit of
//! [micrograd](https://github.com/karpathy/micrograd): every operation on a [`Value`]
//! records a node, and [`Value::backward`] walks the graph from an output back to its
//! inputs, applying the chain rule once per node.
//!
//! It is built to learn, test and experiment with backpropagation:
//!
//! - **Exact and checked.** Every op's derivative is tested against finite differences;
//!   [`check::gradcheck`] does the same for your own functions.
//! - **PyTorch semantics.** Gradients accumulate over `backward()` calls (k calls add
//!   the one-call gradient k times, bit for bit, on every node), derivative
//!   conventions at kinks (`relu'(0) = 0`, ties in `max` split 0.5/0.5) match PyTorch,
//!   and NaN propagates.
//! - **Stack-safe.** Traversal and drop are iterative: a chain of millions of nodes
//!   neither overflows on `backward()` nor when it is freed.
//! - **Higher-order derivatives.** [`grad`] builds a gradient into the graph, so it can
//!   be differentiated again: Hessians, Hessian-vector products, Newton's method.
//! - **Stored like a tape.** A node is 48 bytes including its reference count, kept in
//!   per-thread blocks in creation order, so `backward()` sweeps memory in order with
//!   no ordering pass; [`Value::sum`], [`Value::dot`] and [`logsumexp`] are one node
//!   each.
//!
//! ## Example
//!
//! micrograd's own sanity-check expression, with its published results:
//!
//! ```
//! use scalargrad::Value;
//!
//! let a = Value::new(-4.0);
//! let b = Value::new(2.0);
//! let mut c = &a + &b;
//! let mut d = &a * &b + b.powi(3);
//! c += &c + 1.0;
//! c += 1.0 + &c + (-&a);
//! d += &d * 2.0 + (&b + &a).relu();
//! d += 3.0 * &d + (&b - &a).relu();
//! let e = &c - &d;
//! let f = e.powi(2);
//! let mut g = &f / 2.0;
//! g += 10.0 / &f;
//! g.backward();
//!
//! assert!((g.data() - 24.7041).abs() < 1e-4); // the forward pass
//! assert!((a.grad() - 138.8338).abs() < 1e-4); // dg/da
//! assert!((b.grad() - 645.5773).abs() < 1e-4); // dg/db
//! ```
//!
//! ## Modules
//!
//! - [`Value`] and its methods: arithmetic operators, elementwise functions
//!   (`exp`, `tanh`, `relu`, …), fused reductions, [`Value::custom`] ops,
//!   [`Value::backward`], [`Value::zero_grad`], [`Value::check_finite`] and
//!   [`Value::to_dot`].
//! - [`grad`] and [`try_grad`]: gradients as `Value`s, which can be differentiated
//!   again for second and higher derivatives; [`hessian`] and [`hvp`] on top.
//! - [`check`]: gradient checking by finite differences, of first derivatives
//!   ([`check::gradcheck`]) and of second ones ([`check::gradgradcheck`]).
//! - [`nn`]: neurons, layers and MLPs, losses, optimizers, schedules, initialisers and
//!   saving/loading models.
//! - [`data`]: seeded toy data sets (moons, circles, XOR, spirals, sine).
//!
//! ## Non-finite numbers
//!
//! Arithmetic never panics. Each op follows IEEE semantics (`ln(−1)` is NaN, `ln 0` is
//! `−inf`, `sqrt'(0)` is `+inf`), and [`Value::check_finite`] finds the first node where
//! a NaN or an infinity appeared.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod anomaly;
// The one module with `unsafe` code: node storage (see its safety notes).
#[allow(unsafe_code)]
mod arena;
mod arith;
mod backward;
pub mod check;
pub mod data;
mod dot;
mod higher;
mod math;
pub mod nn;
mod op;
mod reduce;
mod sparse;
mod value;

pub use anomaly::NonFiniteError;
pub use higher::{grad, hessian, hvp, try_grad, try_hessian, try_hvp, GradError};
pub use reduce::{log_softmax, logsumexp, softmax};
pub use value::Value;

/// The README's examples, compiled and run as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
