//! Finding where a NaN or an infinity entered a graph (PyTorch calls this anomaly
//! detection).

use std::error::Error;
use std::fmt;

use crate::backward::topological_order;
use crate::value::Value;

/// The node of a graph where a NaN or an infinity first appeared: the first node, in
/// topological order, whose data is non-finite, or, when every node's data is finite,
/// the non-finite gradient nearest the output (see [`Value::check_finite`]).
///
/// Returned by [`Value::check_finite`].
#[derive(Clone, Debug, PartialEq)]
pub struct NonFiniteError {
    /// Position of the node in topological order (operands before results, from 0).
    pub position: usize,
    /// The operation that made the node (`""` for a leaf).
    pub op: String,
    /// The node's label, if it has one.
    pub label: Option<String>,
    /// The node's data.
    pub data: f64,
    /// The node's gradient.
    pub grad: f64,
    /// The data of the node's operands, in order.
    pub operands: Vec<f64>,
}

impl fmt::Display for NonFiniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.data.is_finite() {
            "gradient"
        } else {
            "data"
        };
        let name = match (&self.label, self.op.as_str()) {
            (Some(label), "") => format!("leaf '{label}'"),
            (Some(label), op) => format!("node '{label}' (op {op})"),
            (None, "") => "an unlabelled leaf".to_owned(),
            (None, op) => format!("an unlabelled node (op {op})"),
        };
        write!(
            f,
            "non-finite {what} at {name}, position {} in topological order: \
             data={}, grad={}, operands={:?}; check this op's domain (e.g. ln of a \
             non-positive number) or lower the learning rate",
            self.position, self.data, self.grad, self.operands
        )
    }
}

impl Error for NonFiniteError {}

impl Value {
    /// Checks every node reachable from `self` for NaN or infinite data or gradient, and
    /// names the node where the trouble started, not the many it spread to.
    ///
    /// Data flows from operands to results, so a non-finite value starts at the first
    /// node with non-finite data in topological order (operands before results).
    /// Gradients flow the other way, so when every value is finite, a non-finite
    /// gradient starts at the one nearest `self`: the last in that order, whose users
    /// all passed back finite gradients. Data is looked at first because a NaN value
    /// makes NaN gradients of its operands, which come before it in the order.
    ///
    /// # Errors
    ///
    /// [`NonFiniteError`] with the node's position, op, label, data, gradient and
    /// operand data.
    ///
    /// ```
    /// use scalargrad::Value;
    /// let x = Value::new(-1.0).with_label("x");
    /// let y = (x.ln() * 2.0).with_label("y"); // ln(−1) is NaN
    /// let err = y.check_finite().unwrap_err();
    /// assert_eq!(err.op, "ln");
    /// assert_eq!(err.operands, vec![-1.0]);
    /// assert!(Value::new(1.0).exp().check_finite().is_ok());
    /// ```
    pub fn check_finite(&self) -> Result<(), NonFiniteError> {
        let order = topological_order(self);
        let first_bad_data = order.iter().position(|v| !v.data().is_finite());
        match first_bad_data.or_else(|| order.iter().rposition(|v| !v.grad().is_finite())) {
            None => Ok(()),
            Some(position) => {
                let v = order[position];
                Err(NonFiniteError {
                    position,
                    op: v.op_name(),
                    label: v.label(),
                    data: v.data(),
                    grad: v.grad(),
                    operands: v.operands().iter().map(Value::data).collect(),
                })
            }
        }
    }
}
