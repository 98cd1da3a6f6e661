//! Knowing that numbers once seen finite still are, without reading them again.
//!
//! `backward()` skips the chain rule of a neuron whose adjoint or activation slope is
//! 0 (see `NeuronParams::propagate`): every term it would add is then ±0, which leaves
//! every gradient as it was. That holds only if the neuron's weights and inputs are
//! finite, since 0·∞ and 0·NaN are NaN. The forward pass has just multiplied them all,
//! so it records whether they were, in a [`FiniteSince`]: a finite pre-activation
//! means every product in it was finite, and so was every factor.
//!
//! A node's data changes only through `Value::set_data`, which counts the non-finite
//! numbers it writes on this thread. A record is valid while that count is what it
//! was when the record was made, so any NaN or infinity written since, anywhere,
//! sends the neuron back to the full chain rule.

use std::cell::Cell;

thread_local! {
    /// How many times `set_data` has written a NaN or an infinity on this thread, up
    /// to `u32::MAX`, where it stays: from then on no record is valid.
    static NON_FINITE_WRITES: Cell<u32> = const { Cell::new(0) };
}

/// A record that some numbers were all finite when it was made (see the module docs).
#[derive(Clone, Copy)]
pub(crate) struct FiniteSince(u32);

impl FiniteSince {
    /// The count that no valid record has.
    const NEVER: u32 = u32::MAX;

    /// A record that numbers just seen are finite, if `finite`; otherwise one that is
    /// never valid.
    #[inline]
    pub(crate) fn record(finite: bool) -> FiniteSince {
        if finite {
            FiniteSince(NON_FINITE_WRITES.with(Cell::get))
        } else {
            FiniteSince(Self::NEVER)
        }
    }

    /// Whether the numbers are still known to be finite: no NaN or infinity has been
    /// written over any node's data since the record was made.
    #[inline]
    pub(crate) fn holds(self) -> bool {
        self.0 != Self::NEVER && self.0 == NON_FINITE_WRITES.with(Cell::get)
    }
}

/// Counts `data` if it is not finite; `Value::set_data` calls this for every number it
/// writes.
#[inline]
pub(crate) fn note_write(data: f64) {
    if !data.is_finite() {
        NON_FINITE_WRITES.with(|w| w.set(w.get().saturating_add(1)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_holds_until_a_non_finite_number_is_written() {
        let record = FiniteSince::record(true);
        assert!(record.holds());
        note_write(1e300);
        assert!(record.holds(), "a finite write keeps the record");
        note_write(f64::NEG_INFINITY);
        assert!(!record.holds());
        assert!(FiniteSince::record(true).holds(), "a new record is valid");
        assert!(!FiniteSince::record(false).holds());
    }

    #[test]
    fn once_the_count_is_exhausted_no_record_holds() {
        NON_FINITE_WRITES.with(|w| w.set(u32::MAX - 1));
        let record = FiniteSince::record(true);
        assert!(record.holds());
        note_write(f64::NAN);
        assert!(!record.holds());
        note_write(f64::NAN);
        assert!(
            !FiniteSince::record(true).holds(),
            "the count stays at its end"
        );
    }
}
