//! Graphviz DOT export of a graph, with every node's label, data and gradient.

use std::fmt::Write;

use crate::backward::IndexedOrder;
use crate::value::Value;

impl Value {
    /// The graph behind `self` in Graphviz DOT: a record per node showing its label,
    /// data and gradient, and for each computed node a small op node feeding it, as in
    /// micrograd's drawings. Render it with `dot -Tsvg graph.dot -o graph.svg`.
    ///
    /// The walk is iterative, so any graph can be exported, but the output grows with
    /// the graph (about 200 bytes per node): it is meant for graphs small enough to look
    /// at.
    ///
    /// ```
    /// use scalargrad::Value;
    /// let a = Value::new(2.0).with_label("a");
    /// let b = (&a * 3.0).with_label("b");
    /// let dot = b.to_dot();
    /// assert!(dot.starts_with("digraph"));
    /// assert!(dot.contains("a | data 2.0000"));
    /// assert!(dot.contains("label=\"*\""));
    /// ```
    #[must_use]
    pub fn to_dot(&self) -> String {
        // Nodes are named by their position in creation order (a topological order),
        // so the same program always gives the same text.
        let order = IndexedOrder::new(self);
        let mut out = String::from("digraph scalargrad {\n  rankdir=LR;\n");
        for (k, v) in order.nodes.iter().enumerate() {
            let label = v.label().unwrap_or_default();
            let label = label.replace(['{', '}', '|', '<', '>', '"', '\\'], "_");
            let _ = writeln!(
                out,
                "  n{k} [shape=record, label=\"{{ {label} | data {:.4} | grad {:.4} }}\"];",
                v.data(),
                v.grad()
            );
            let op = v.op_name();
            if !op.is_empty() {
                // A quoted DOT string ends at an unescaped `"`, and `\` starts an escape.
                let op = op.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = writeln!(out, "  n{k}_op [label=\"{op}\"];");
                let _ = writeln!(out, "  n{k}_op -> n{k};");
                for operand in order.operands_of(k) {
                    let _ = writeln!(out, "  n{operand} -> n{k}_op;");
                }
            }
        }
        out.push_str("}\n");
        out
    }
}
