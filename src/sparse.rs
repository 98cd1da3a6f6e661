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
//! `Value::set_data`, and a leaf's own flag simply follows its data. A finite number of
//! magnitude at most [`LARGEST_QUIET_LEAF`] written into a leaf keeps every flag right:
//! a leaf's data reaches a local derivative only as an operand, as the other factor of
//! a product, an input or weight of a neuron (times a slope of at most 1), or in the
//! `2x` of `x²`, all finite for such an `x`. Anything else can make the flags of the
//! nodes built on it wrong: a NaN or an infinity, a larger leaf (`2x` overflows past
//! 2¹⁰²³), and any number written into a computed node, whose own data its derivative
//! may square (`1 − y²` for tanh) and a neuron then multiply by an input. `set_data`
//! notes such a write, and the next `backward()` first takes the flag from every
//! computed node on the thread: one walk over the node storage, however many such
//! writes came before it.

use std::cell::Cell;

use crate::arena;

thread_local! {
    /// Whether `set_data` has made a write that can leave flags wrong (see the module
    /// docs) since the flags were last cleared.
    static STALE: Cell<bool> = const { Cell::new(false) };

    /// How many times the flags have been cleared, or a leaf's made true again, on this
    /// thread (see [`generation`]).
    static CLEARED: Cell<u64> = const { Cell::new(0) };
}

/// The largest magnitude a leaf's data can be given with every flag left as it is:
/// 2¹⁰²², written by its bits (exponent 1022 over the bias of 1023, no fraction).
const LARGEST_QUIET_LEAF: f64 = f64::from_bits((1023 + 1022) << 52);

/// Notes that `data` is being written over the data of a node, a leaf or not (by
/// `Value::set_data`).
#[inline]
pub(crate) fn note_write(leaf: bool, data: f64) {
    // Also true for a NaN, which compares false.
    if !(leaf && data.abs() <= LARGEST_QUIET_LEAF) {
        STALE.set(true);
    }
}

/// Takes the zero-safe flag from every computed node on this thread if a write that
/// can leave flags wrong came since the last time. `backward()` calls this first.
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

/// Notes that a leaf's flag has become true again: an answer computed from flags while
/// it was false (a neuron's, see `NeuronParams::keeps_zeros`) is then no longer the
/// best one, and is worked out again at its next use.
pub(crate) fn note_repair() {
    CLEARED.set(CLEARED.get() + 1);
}

/// How many times the flags have been cleared (or a leaf's made true again) on this
/// thread: a value computed from flags is good while this stays the same.
pub(crate) fn generation() -> u64 {
    CLEARED.get()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_largest_quiet_leaf_is_two_to_the_1022() {
        assert_eq!(super::LARGEST_QUIET_LEAF, 2f64.powi(1022));
        assert!((2.0 * super::LARGEST_QUIET_LEAF).is_finite());
    }
}
