//! [`Value`]: a handle to one node of the computation graph, and where nodes come
//! from and go to.
//!
//! A node takes 48 bytes, its reference count included, and lives in a per-thread
//! chunk next to the nodes created just before and after it; `arena.rs` explains why,
//! and how a node is freed (without recursion) when its last handle goes.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use crate::arena::NodeRef;
use crate::op::{CustomFn, Op};
use crate::sparse;

/// A scalar in a computation graph: its value, its gradient, and how it was made.
///
/// `Value` is a cheap reference-counted handle: `clone()` shares the node and never copies the
/// graph. Every arithmetic operation on values creates a new node that remembers its
/// operands, so that [`Value::backward`] can apply the chain rule from an output back to
/// its inputs.
///
/// `Value` implements neither `PartialEq` nor `PartialOrd`: for a graph handle, "the same
/// node" and "the same number" are both plausible meanings. Compare `a.data()` for the
/// number, or use [`Value::ptr_eq`] for identity.
///
/// `Value` is not `Send`: the graph is reference-counted without atomics, which keeps
/// every operation cheap. To move a model across threads or into a file, copy its
/// parameters out as plain `f64`s.
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<scalargrad::Value>();
/// ```
///
/// # Examples
///
/// ```
/// use scalargrad::Value;
///
/// let x = Value::new(3.0).with_label("x");
/// let y = &x * &x + 2.0 * &x; // y = x² + 2x
/// y.backward();
/// assert_eq!(y.data(), 15.0);
/// assert_eq!(x.grad(), 8.0); // dy/dx = 2x + 2
/// println!("{x}"); // Value(data=3.0000, grad=8.0000)
/// ```
#[derive(Clone)]
pub struct Value {
    pub(crate) node: NodeRef,
}

/// One node of the graph: 48 bytes, its reference count included, so that graphs
/// stay compact.
///
/// `Cell`, not `RefCell`: the mutable parts are plain numbers that are only ever copied
/// in and out, so there is nothing to borrow-check and no flag on the hot path.
///
/// The field order is fixed (`repr(C)`, the order the compiler chose anyway) so that
/// `data` and `grad`, and `mark` and `handles`, lie side by side: a new node writes
/// each pair with one store (see `arena::write_node`).
#[repr(C)]
pub(crate) struct Node {
    pub(crate) op: Op,
    pub(crate) data: Cell<f64>,
    /// The accumulated gradient between passes; during a backward pass it holds that
    /// pass's adjoint (see `backward.rs`).
    pub(crate) grad: Cell<f64>,
    /// Traversal stamp, label flag and zero-safe flag, packed so the node stays small
    /// (see [`Mark`]).
    pub(crate) mark: Mark,
    /// How many handles point to the node; kept by `arena.rs`.
    pub(crate) handles: Cell<u32>,
}

const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<Node>() == 48);
    assert!(offset_of!(Node, grad) == offset_of!(Node, data) + 8);
    assert!(offset_of!(Node, handles) == offset_of!(Node, mark) + 4);
    assert!(offset_of!(Node, mark) % 8 == 0);
    assert!(std::mem::align_of::<Node>() >= std::mem::align_of::<u64>());
};

impl Node {
    /// Whether the node, if zero-safe, passes only ±0 back to its operands in the
    /// current backward pass (see `sparse.rs`): its adjoint is 0, or it is a neuron
    /// whose slope is 0 and its adjoint finite.
    #[inline]
    pub(crate) fn passes_only_zeros(&self) -> bool {
        let g = self.grad.get();
        g == 0.0 || self.op.is_neuron_with_slope_0(self.data.get(), g)
    }
}

/// Where a node stands in the current traversal, whether it has a label, and whether it
/// is zero-safe (see `sparse.rs`), packed in 32 bits: the low 29 bits of the pass that
/// last reached it, whether that pass is done with it (bit 2), the zero-safe flag
/// (bit 1) and the label flag (bit 0).
///
/// A stamp rather than a visited set: marking and testing a node is one load and one
/// store, with no hashing, and nothing needs resetting between passes. Stamps come from
/// a per-thread pass counter, which is enough because a graph never leaves its thread.
/// Keeping only the low bits of a pass is safe because every stamp on the thread is
/// reset when the counter enters a new block of 2²⁹ passes (see [`reserve_passes`]).
pub(crate) struct Mark(Cell<u32>);

/// Passes whose stamps share their low bits: a block of this many.
const EPOCH: u64 = 1 << 29;

/// The part of pass `pass` that a node's [`Mark`] keeps.
pub(crate) fn stamp_of(pass: u64) -> u32 {
    (pass % EPOCH) as u32
}

/// A node's standing in one traversal (see [`Mark`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Visit {
    /// Not reached yet.
    New,
    /// Reached; its operands are being explored.
    Open,
    /// Finished with: emitted, in a depth-first search; reached, in `backward()`,
    /// which needs no `Open` state.
    Done,
}

impl Mark {
    const LABELLED: u32 = 1;
    const ZERO_SAFE: u32 = 2;
    const DONE: u32 = 4;
    /// Where the stamp starts.
    const SHIFT: u32 = 3;
    /// The flags that traversals leave as they are.
    const FLAGS: u32 = Self::LABELLED | Self::ZERO_SAFE;

    fn new(zero_safe: bool) -> Mark {
        Mark(Cell::new(if zero_safe { Self::ZERO_SAFE } else { 0 }))
    }

    /// The node's standing in the pass whose stamp (see [`stamp_of`]) is `stamp`.
    #[inline]
    pub(crate) fn state(&self, stamp: u32) -> Visit {
        let m = self.0.get();
        if m >> Self::SHIFT != stamp {
            Visit::New
        } else if m & Self::DONE == 0 {
            Visit::Open
        } else {
            Visit::Done
        }
    }

    /// Records that the pass whose stamp is `stamp` has reached the node (`Open`) or
    /// finished it (`Done`).
    #[inline]
    pub(crate) fn set(&self, stamp: u32, state: Visit) {
        let done = if state == Visit::Done { Self::DONE } else { 0 };
        self.0
            .set((stamp << Self::SHIFT) | done | (self.0.get() & Self::FLAGS));
    }

    /// The stamp of the last traversal that visited the node (see [`stamp_of`]).
    pub(crate) fn stamp(&self) -> u32 {
        self.0.get() >> Self::SHIFT
    }

    /// Overwrites the stamp with pass `pass`'s, keeping the flags. Used to number the
    /// nodes of one traversal with passes reserved by [`reserve_passes`].
    pub(crate) fn set_stamp(&self, pass: u64) {
        self.0
            .set((stamp_of(pass) << Self::SHIFT) | (self.0.get() & Self::FLAGS));
    }

    /// Forgets every traversal (see [`reserve_passes`]).
    pub(crate) fn reset(&self) {
        self.0.set(self.0.get() & Self::FLAGS);
    }

    /// The mark as it is stored.
    #[inline]
    pub(crate) fn bits(&self) -> u32 {
        self.0.get()
    }

    /// Whether the node is zero-safe (see `sparse.rs`).
    #[inline]
    pub(crate) fn is_zero_safe(&self) -> bool {
        self.0.get() & Self::ZERO_SAFE != 0
    }

    /// Sets or clears the zero-safe flag (see `sparse.rs`).
    pub(crate) fn set_zero_safe(&self, zero_safe: bool) {
        let flag = if zero_safe { Self::ZERO_SAFE } else { 0 };
        self.0.set((self.0.get() & !Self::ZERO_SAFE) | flag);
    }

    pub(crate) fn is_labelled(&self) -> bool {
        self.0.get() & Self::LABELLED != 0
    }

    fn set_labelled(&self) {
        self.0.set(self.0.get() | Self::LABELLED);
    }
}

thread_local! {
    /// The last pass handed out on this thread (see [`Mark`]).
    static PASS: Cell<u64> = const { Cell::new(0) };

    /// Whether a custom op's derivative is running inside `backward()` on this thread
    /// (see [`DerivativeGuard`]).
    static IN_DERIVATIVE: Cell<bool> = const { Cell::new(false) };

    /// Labels, keyed by node address. Labels are for people reading graphs, and most
    /// nodes have none, so they live here instead of making every node larger.
    static LABELS: RefCell<HashMap<usize, Box<str>>> = RefCell::new(HashMap::new());
}

const TRAVERSAL_IN_DERIVATIVE: &str = "a custom op's derivative traversed a graph \
    (backward, grad, zero_grad, nodes, to_dot, check_finite, …) while backward() was \
    running: a traversal inside the pass would overwrite the pass's marks, and its \
    gradients would come out wrong";

/// Marks the thread, while it lives, as running a custom op's derivative inside
/// `backward()`: user code in the middle of a pass. Any traversal started then panics
/// (see [`reserve_passes`]) rather than overwrite the pass's marks, which would leave
/// nodes unvisited and their gradients silently wrong.
///
/// Set around the user's call only, not around the whole pass, so that the sweep
/// carries no destructor. A guard in `backward()` itself measured W1's scalar step 10%
/// slower in the bench example, in builds whose freeing loop was not placed alike,
/// which alone moved W1 by 8–10% in step 13's measurements (see BENCHMARKS.md).
pub(crate) struct DerivativeGuard(());

impl DerivativeGuard {
    pub(crate) fn begin() -> DerivativeGuard {
        // While the thread exits the flag may be gone; the pass is refused nothing then.
        let _ = IN_DERIVATIVE.try_with(|s| s.set(true));
        DerivativeGuard(())
    }
}

impl Drop for DerivativeGuard {
    fn drop(&mut self) {
        // Also on a panic out of the derivative, so that later passes are not refused.
        let _ = IN_DERIVATIVE.try_with(|s| s.set(false));
    }
}

/// A fresh pass for one traversal.
pub(crate) fn next_pass() -> u64 {
    reserve_passes(1)
}

/// Reserves `count` consecutive passes and returns the first. No later traversal on
/// this thread uses any of them, so a node stamped with `first + k` can be told apart
/// from every other pass, and `k` read back from it.
///
/// The passes lie within one block of [`EPOCH`] passes, and none has the stamp 0 (a
/// new node's). Entering a new block resets every stamp of the thread's nodes, so
/// that a stamp left from the block before cannot pass for one of the new block's.
pub(crate) fn reserve_passes(count: usize) -> u64 {
    assert!(
        !IN_DERIVATIVE.try_with(Cell::get).unwrap_or(false),
        "{TRAVERSAL_IN_DERIVATIVE}"
    );
    let count = count.max(1) as u64;
    assert!(
        count < EPOCH - 1,
        "a traversal of 2^29 - 1 nodes or more is not supported"
    );
    PASS.with(|p| {
        let last = p.get();
        let mut first = last + 1;
        if first % EPOCH + count > EPOCH {
            first = (first / EPOCH + 1) * EPOCH;
        }
        if first % EPOCH == 0 {
            first += 1;
        }
        if first / EPOCH != last / EPOCH {
            // Nodes created while the thread exits are not in the arena; they would
            // need 2²⁹ traversals during the exit for their stamps to matter.
            crate::arena::for_each_live_node(|node| node.mark.reset());
        }
        p.set(first + count - 1);
        first
    })
}

impl Value {
    /// A new leaf (input, parameter or constant) holding `data`, with gradient 0.
    ///
    /// ```
    /// let w = scalargrad::Value::new(-0.5);
    /// assert_eq!((w.data(), w.grad()), (-0.5, 0.0));
    /// ```
    #[must_use]
    #[inline]
    pub fn new(data: f64) -> Value {
        Value::from_op(data, true, || Op::Leaf)
    }

    /// A new node with data `data`, placed in this thread's current chunk (see
    /// `arena.rs`), whose op `make_op` builds. `operands_zero_safe` says whether the op
    /// keeps zeros zero and its operands are zero-safe; the node is zero-safe if, in
    /// addition, its data is finite (see `sparse.rs`).
    ///
    /// The op is built once the slot is found, so that it is written straight into the
    /// slot: an op built first is staged on the stack in pieces and copied in wider
    /// loads, which the processor cannot forward from the narrower stores and waits
    /// for (W1's scalar step went from 0.87 to 0.69 ms when this changed).
    #[inline]
    pub(crate) fn from_op(
        data: f64,
        operands_zero_safe: bool,
        make_op: impl FnOnce() -> Op,
    ) -> Value {
        Value::from_parts(move || (data, operands_zero_safe, make_op()))
    }

    /// [`Value::from_op`] with the data and the operands' zero-safety worked out by
    /// `make` as well, once the slot is found. Whatever is computed before then must be
    /// kept through the call that starts a new chunk, which the processor's registers
    /// for numbers do not survive, so the compiler keeps it on the stack, at every node.
    #[inline(always)]
    pub(crate) fn from_parts(make: impl FnOnce() -> (f64, bool, Op)) -> Value {
        Value {
            node: NodeRef::new(|| {
                let (data, operands_zero_safe, op) = make();
                Node {
                    data: Cell::new(data),
                    grad: Cell::new(0.0),
                    op,
                    mark: Mark::new(operands_zero_safe & data.is_finite()),
                    handles: Cell::new(1),
                }
            }),
        }
    }

    /// The value computed in the forward pass (or set on a leaf).
    #[must_use]
    #[inline]
    pub fn data(&self) -> f64 {
        self.node.data.get()
    }

    /// The gradient accumulated by [`Value::backward`] calls since the last
    /// [`Value::zero_grad`]: d(output)/d(self), summed over every call.
    #[must_use]
    #[inline]
    pub fn grad(&self) -> f64 {
        self.node.grad.get()
    }

    /// Replaces the data of this node, as an optimizer does with a parameter.
    ///
    /// Results already computed from this node keep their old data: build the graph
    /// again (call the model again) to see the new value flow through.
    ///
    /// Writing a NaN, an infinity or a number beyond ±2¹⁰²² into a leaf, or any number
    /// into a computed node, costs the next [`Value::backward`] on this thread one
    /// visit to every live node, to keep its skipping of zeros exact (see the README,
    /// "How it works").
    ///
    /// ```
    /// let w = scalargrad::Value::new(1.0);
    /// w.set_data(w.data() - 0.1);
    /// assert_eq!(w.data(), 0.9);
    /// ```
    pub fn set_data(&self, data: f64) {
        let leaf = self.node.op.is_leaf();
        sparse::note_write(leaf, data);
        if leaf {
            // A leaf is zero-safe exactly when its data is finite (see `sparse.rs`).
            let safe = data.is_finite();
            if safe && !self.node.mark.is_zero_safe() {
                sparse::note_repair();
            }
            self.node.mark.set_zero_safe(safe);
        }
        self.node.data.set(data);
    }

    /// Replaces the accumulated gradient of this node only. To reset a whole graph, use
    /// [`Value::zero_grad`].
    ///
    /// A negative zero is stored as `0.0`. Gradients are sums that start at `0.0`,
    /// which never make a negative zero, and keeping it that way lets `backward()`
    /// skip terms that are ±0 without changing any gradient's bits.
    ///
    /// ```
    /// let w = scalargrad::Value::new(1.0);
    /// w.set_grad(-0.0);
    /// assert!(w.grad().is_sign_positive());
    /// ```
    #[inline]
    pub fn set_grad(&self, grad: f64) {
        // −0 + 0 = +0; every other number is unchanged.
        self.node.grad.set(grad + 0.0);
    }

    /// Whether the node is zero-safe (see `sparse.rs`).
    #[inline]
    pub(crate) fn is_zero_safe(&self) -> bool {
        self.node.mark.is_zero_safe()
    }

    pub(crate) fn add_grad(&self, g: f64) {
        self.node.grad.set(self.node.grad.get() + g);
    }

    /// Gives this node a name, shown by `Debug`, [`Value::to_dot`] and
    /// [`Value::check_finite`]. Returns the same node, so it chains.
    ///
    /// Labels are kept per thread. While the thread exits, once its labels are gone
    /// (in thread-local destructors that run after them), a node cannot be given one
    /// and [`Value::label`] gives `None`.
    ///
    /// ```
    /// let w1 = scalargrad::Value::new(0.3).with_label("w1");
    /// assert_eq!(w1.label().as_deref(), Some("w1"));
    /// ```
    #[must_use]
    pub fn with_label(self, label: impl Into<String>) -> Value {
        let label: Box<str> = label.into().into_boxed_str();
        if LABELS
            .try_with(|l| l.borrow_mut().insert(self.address(), label))
            .is_ok()
        {
            self.node.mark.set_labelled();
        }
        self
    }

    /// The node's label, if one was set with [`Value::with_label`].
    #[must_use]
    pub fn label(&self) -> Option<String> {
        if !self.node.mark.is_labelled() {
            return None;
        }
        LABELS
            .try_with(|l| l.borrow().get(&self.address()).map(|s| s.to_string()))
            .ok()
            .flatten()
    }

    /// A short name of the operation that made this node (`"+"`, `"tanh"`, `"^2"`,
    /// …), or `""` for a leaf.
    ///
    /// ```
    /// use scalargrad::Value;
    /// assert_eq!((Value::new(1.0) * 2.0).op_name(), "*");
    /// assert_eq!(Value::new(1.0).op_name(), "");
    /// ```
    #[must_use]
    pub fn op_name(&self) -> String {
        self.node.op.name()
    }

    /// The operands this node was computed from, in order (empty for a leaf).
    ///
    /// ```
    /// use scalargrad::Value;
    /// let (a, b) = (Value::new(2.0), Value::new(3.0));
    /// let c = &a * &b;
    /// assert!(c.operands()[0].ptr_eq(&a) && c.operands()[1].ptr_eq(&b));
    /// ```
    #[must_use]
    pub fn operands(&self) -> Vec<Value> {
        self.node.op.operands().cloned().collect()
    }

    /// Whether two handles point to the same node (identity, not equal data).
    ///
    /// ```
    /// use scalargrad::Value;
    /// let a = Value::new(1.0);
    /// assert!(a.ptr_eq(&a.clone()));
    /// assert!(!a.ptr_eq(&Value::new(1.0)));
    /// ```
    #[must_use]
    pub fn ptr_eq(&self, other: &Value) -> bool {
        self.node.ptr_eq(&other.node)
    }

    /// Applies a user-defined function `f` whose derivative is `df`, as one node.
    ///
    /// Both are plain functions of the operand's value, so any activation can be tried
    /// out, including one with a wrong derivative (which [`crate::check::gradcheck`]
    /// will catch). `name` is what printing and DOT output show.
    ///
    /// The op has a first derivative only: [`crate::grad`] can build its gradient, but
    /// not differentiate that gradient again. To allow that, give the higher derivatives
    /// with [`Value::custom_with_derivatives`].
    ///
    /// ```
    /// use scalargrad::Value;
    /// // x³ as one node, with the derivative stated by hand:
    /// let x = Value::new(2.0);
    /// let y = x.custom("cube", |x| x * x * x, |x| 3.0 * x * x);
    /// y.backward();
    /// assert_eq!((y.data(), x.grad()), (8.0, 12.0));
    /// ```
    #[must_use = "method returns a new Value and does not modify the original"]
    pub fn custom(&self, name: &str, f: fn(f64) -> f64, df: fn(f64) -> f64) -> Value {
        self.custom_with_derivatives(name, f, &[df])
    }

    /// Applies a user-defined function `f` with its derivatives `[f', f'', f''', …]`,
    /// as one node: `backward()` uses `f'`, and each further derivative lets
    /// [`crate::grad`] go one order deeper.
    ///
    /// The gradient of this node built by [`crate::grad`] is itself a custom node (shown
    /// as `name'`, then `name''`, …) whose data is `f'(x)` and whose derivative is `f''`.
    /// Asking for a derivative beyond the list is an error of [`crate::try_grad`]
    /// ([`crate::GradError::MissingDerivative`], naming the op and the order), and
    /// `backward()` through such a node gives NaN. With an empty list the op has no
    /// derivative at all.
    ///
    /// The derivatives run in the middle of `backward()`. They may compute with values
    /// of their own, but must not traverse a graph: no `backward()`, [`crate::grad`],
    /// `zero_grad()`, `nodes()`, `to_dot()` or `check_finite()`. A traversal inside
    /// the pass would overwrite the pass's marks, and its gradients would come out
    /// wrong, so `backward()` panics instead.
    ///
    /// ```
    /// use scalargrad::{grad, try_grad, GradError, Value};
    ///
    /// let x = Value::new(2.0);
    /// let y = x.custom_with_derivatives("cube", |x| x.powi(3), &[|x| 3.0 * x * x, |x| 6.0 * x]);
    /// let dy = grad(&y, &[x.clone()]).remove(0); // 3x² = 12
    /// let d2y = grad(&dy, &[x.clone()]).remove(0); // 6x = 12
    /// assert_eq!((dy.data(), d2y.data()), (12.0, 12.0));
    /// assert_eq!(dy.op_name(), "cube'");
    ///
    /// // The third derivative was not given:
    /// let err = try_grad(&d2y, &[x]).unwrap_err();
    /// assert_eq!(err, GradError::MissingDerivative { op: "cube".into(), order: 3 });
    /// ```
    #[must_use = "method returns a new Value and does not modify the original"]
    pub fn custom_with_derivatives(
        &self,
        name: &str,
        f: fn(f64) -> f64,
        derivatives: &[fn(f64) -> f64],
    ) -> Value {
        let custom = CustomFn::new(name, derivatives);
        // A user's derivative may be infinite at a finite point: never zero-safe.
        Value::from_op(f(self.data()), false, || {
            Op::Custom(Rc::new(custom), self.clone())
        })
    }

    fn address(&self) -> usize {
        self.node.address()
    }
}

impl From<f64> for Value {
    fn from(data: f64) -> Value {
        Value::new(data)
    }
}

impl fmt::Display for Value {
    /// Prints like micrograd: `Value(data=2.0000, grad=0.0000)`; a precision given in
    /// the format string replaces the default of 4 digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = f.precision().unwrap_or(4);
        write!(
            f,
            "Value(data={:.p$}, grad={:.p$})",
            self.data(),
            self.grad()
        )
    }
}

impl fmt::Debug for Value {
    /// Summarises this one node (never the graph behind it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Value");
        s.field("data", &self.data()).field("grad", &self.grad());
        let op = self.op_name();
        if !op.is_empty() {
            s.field("op", &op);
        }
        if let Some(label) = self.label() {
            s.field("label", &label);
        }
        s.finish()
    }
}

/// Forgets the label of the node that lived at `address`, when it is freed.
pub(crate) fn forget_label(address: usize) {
    // The labels table may already be gone when a thread exits.
    let _ = LABELS.try_with(|l| l.borrow_mut().remove(&address));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stamps keep only the low 29 bits of a pass. After 2²⁹ passes the low bits come
    /// round again, and a stamp left from the first block must not pass for one of the
    /// second: here `y` and `a` carry pass 1's stamp, which is also pass 2²⁹ + 1's.
    #[test]
    fn stamps_from_an_earlier_block_of_passes_do_not_count() {
        std::thread::spawn(|| {
            let a = Value::new(3.0);
            let y = &a * &a;
            y.backward();
            assert_eq!(a.grad(), 6.0);
            PASS.with(|p| p.set(EPOCH - 1));
            y.backward();
            assert_eq!(a.grad(), 12.0);
            // Passes reserved across the boundary (the gradient graph numbers its
            // nodes with them) start in the new block too.
            PASS.with(|p| p.set(2 * EPOCH - 2));
            let dy = crate::grad(&y, std::slice::from_ref(&a)).remove(0);
            assert_eq!(dy.data(), 6.0);
            assert_eq!(y.nodes().len(), 2);
        })
        .join()
        .expect("no panic");
    }
}
