//! Reverse-mode differentiation: topological order, `backward()` and `zero_grad()`.
//!
//! Nothing here recurses: the graph is walked with an explicit stack, so a chain of
//! millions of nodes needs no more call stack than a chain of three.

use crate::value::{next_pass, reserve_passes, Value};

/// Every node reachable from `root`, operands before the nodes made from them
/// (`root` comes last).
///
/// An iterative depth-first search: each stack entry is a node and the index of the
/// next operand to look at; a node is emitted once all its operands have been. The
/// order depends only on the graph's shape, so repeated passes are bitwise identical.
pub(crate) fn topological_order(root: &Value) -> Vec<&Value> {
    let pass = next_pass();
    let mut order = Vec::new();
    let mut stack: Vec<(&Value, usize)> = Vec::new();
    root.node.mark.visit(pass);
    stack.push((root, 0));
    while let Some((value, next)) = stack.last_mut() {
        if let Some(operand) = value.node.op.operands().get(*next) {
            *next += 1;
            if operand.node.mark.visit(pass) {
                stack.push((operand, 0));
            }
        } else {
            order.push(*value);
            stack.pop();
        }
    }
    order
}

/// A topological order with every node numbered by its position, so that a pass over
/// it can keep per-node scratch in plain vectors instead of a map keyed by node.
///
/// After the walk, each node is stamped with `first + position` (stamps reserved for
/// this purpose, see [`reserve_passes`]); the operands' positions are read back from
/// those stamps once, here, into `operand_positions`. [`IndexedOrder::position`] reads a
/// stamp too, and so is only meaningful until the next traversal on this thread.
pub(crate) struct IndexedOrder<'a> {
    /// The nodes, operands before results, the root last.
    pub(crate) nodes: Vec<&'a Value>,
    first: u64,
    /// `operand_positions[starts[k]..starts[k + 1]]` are the positions of the operands
    /// of `nodes[k]`, in operand order.
    starts: Vec<usize>,
    operand_positions: Vec<usize>,
}

impl<'a> IndexedOrder<'a> {
    pub(crate) fn new(root: &'a Value) -> IndexedOrder<'a> {
        let nodes = topological_order(root);
        let first = reserve_passes(nodes.len());
        for (k, value) in nodes.iter().enumerate() {
            value.node.mark.set_stamp(first + k as u64);
        }
        let mut starts = Vec::with_capacity(nodes.len() + 1);
        let mut operand_positions = Vec::with_capacity(nodes.len());
        starts.push(0);
        for value in &nodes {
            // Every operand was visited before its result, so it carries a stamp of
            // this pass.
            operand_positions.extend(
                value
                    .operands()
                    .iter()
                    .map(|x| (x.node.mark.stamp() - first) as usize),
            );
            starts.push(operand_positions.len());
        }
        IndexedOrder {
            nodes,
            first,
            starts,
            operand_positions,
        }
    }

    /// The positions of the operands of the node at position `k`.
    pub(crate) fn operands_of(&self, k: usize) -> &[usize] {
        &self.operand_positions[self.starts[k]..self.starts[k + 1]]
    }

    /// The position of `value`, or `None` if it is not reachable from the root.
    pub(crate) fn position(&self, value: &Value) -> Option<usize> {
        let k = usize::try_from(value.node.mark.stamp().checked_sub(self.first)?).ok()?;
        self.nodes.get(k).filter(|v| v.ptr_eq(value)).map(|_| k)
    }
}

impl Value {
    /// Computes d(self)/d(node) for every node reachable from `self`, and adds it to
    /// that node's gradient.
    ///
    /// Like PyTorch, gradients accumulate: calling `backward()` k times gives k times
    /// the gradient on every node, and [`Value::zero_grad`] resets them. Each pass
    /// builds its adjoints from zero, so nothing one pass computes for an intermediate
    /// node leaks into the next.
    ///
    /// ```
    /// use scalargrad::Value;
    ///
    /// let a = Value::new(2.0);
    /// let b = &a * &a; // b = a², db/da = 2a = 4
    /// b.backward();
    /// assert_eq!(a.grad(), 4.0);
    /// b.backward(); // accumulates
    /// assert_eq!(a.grad(), 8.0);
    /// ```
    pub fn backward(&self) {
        let order = topological_order(self);
        // Park each node's accumulated gradient, so its `grad` cell can hold this
        // pass's adjoint starting from 0.
        let saved: Vec<f64> = order.iter().map(|v| v.node.grad.replace(0.0)).collect();
        self.node.grad.set(1.0);
        // The chain rule, outputs first: when a node is reached, every node that uses
        // it has already added its share to the node's adjoint.
        for value in order.iter().rev() {
            let node = &value.node;
            node.op.propagate(node.data.get(), node.grad.get());
        }
        for (value, before) in order.iter().zip(saved) {
            value.node.grad.set(before + value.node.grad.get());
        }
    }

    /// Sets the gradient of every node reachable from `self` (itself included) to 0.
    ///
    /// ```
    /// use scalargrad::Value;
    /// let x = Value::new(3.0);
    /// let y = x.exp();
    /// y.backward();
    /// y.zero_grad();
    /// assert_eq!((x.grad(), y.grad()), (0.0, 0.0));
    /// ```
    pub fn zero_grad(&self) {
        for value in topological_order(self) {
            value.node.grad.set(0.0);
        }
    }

    /// Every node reachable from `self`, operands before results, `self` last.
    ///
    /// Useful for walking a graph, for instance to print each node after
    /// [`Value::backward`].
    ///
    /// ```
    /// use scalargrad::Value;
    /// let x = Value::new(1.0);
    /// let y = &x + &x;
    /// let nodes = y.nodes();
    /// assert_eq!(nodes.len(), 2); // x once, although it is used twice
    /// assert!(nodes[0].ptr_eq(&x) && nodes[1].ptr_eq(&y));
    /// ```
    #[must_use]
    pub fn nodes(&self) -> Vec<Value> {
        topological_order(self).into_iter().cloned().collect()
    }
}
