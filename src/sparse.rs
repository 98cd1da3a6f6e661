//! Skipping the parts of a graph that only zeros flow back into.
//!
//! In a ReLU network much of a backward pass multiplies by zero: a relu that is off
//! passes 0 back to its weighted sum, a hinge term that is met passes 0 back to its
//! score, and everything that feeds only such nodes ends with an adjoint of exactly 0.
//! A hand-written backward pass skips that work; so does `backward()`, without
//! changing a single bit of any gradient.
//!
//! A node with adjoint 0 (or a neuron whose activation slope is 0, with a finite
//! adjoint) adds ±0 to each operand's adjoint, as long as its local derivatives are
//! finite (0·∞ is NaN). Adding ±0 changes nothing, since no gradient ever holds −0 (see
//! `Value::set_grad`). If the same is true of every node below it, nothing that only it
//! reaches ever gets anything but ±0 either, so the sweep need not reach its operands at
//! all.
//!
//! Whether that is true is settled when a node is made, from its operands alone. A node
//! is **zero-safe** when
//! - its data is finite,
//! - its op's local derivatives are finite wherever its operands' data and its own are:
//!   true of `+`, `−`, `·`, relu, tanh, exp, sums, dot products and neurons with a
//!   slope of at most 1; not of √x, ln x, 1/x, `÷`, most powers or a user's function,
//!   whose derivatives can be infinite or overflow at finite points,
//! - and every operand is zero-safe (a leaf is when its data is finite).
//!
//! [`Mark`](crate::value::Mark) keeps the flag. Data changes afterwards only through
//! `Value::set_data`: a finite number keeps every flag true (the rule does not depend
//! on which finite value), and a leaf's own flag simply follows its data. A NaN or an
//! infinity written into a node makes the flags of the nodes built on it wrong, so
//! `set_data` notes it, and the next `backward()` first takes the flag from every
//! computed node on the thread: one walk over the node storage, however many such
//! writes came before it.

use std::cell::Cell;

use crate::arena;

thread_local! {
    /// Whether `set_data` has written a NaN or an infinity since the flags were last
    /// cleared.
    static STALE: Cell<bool> = const { Cell::new(false) };

    /// How many times the flags have been cleared on this thread.
    static CLEARED: Cell<u64> = const { Cell::new(0) };
}

/// Notes that `data` is being written over a node's data (by `Value::set_data`).
#[inline]
pub(crate) fn note_write(data: f64) {
    if !data.is_finite() {
        STALE.set(true);
    }
}

/// Takes the zero-safe flag from every computed node on this thread if a NaN or an
/// infinity has been written since the last time. `backward()` calls this first.
#[inline]
pub(crate) fn forget_if_stale() {
    if STALE.get() {
        arena::for_each_live_node(|node| {
            if !node.op.is_leaf() {
                node.mark.set_zero_safe(false);
            }
        });
        STALE.set(false);
        CLEARED.set(CLEARED.get() + 1);
    }
}

/// How many times the flags have been cleared on this thread: a value computed from
/// flags is good while this stays the same.
pub(crate) fn generation() -> u64 {
    CLEARED.get()
}
