//! Reverse-mode differentiation: topological order, `backward()` and `zero_grad()`.
//!
//! `backward()` needs no ordering pass: nodes are stored in creation order (see
//! `arena.rs`), and an operand is always created before the nodes made from it, so
//! sweeping the storage from the output towards older nodes meets every node after all
//! of its users, as a tape does. The other passes (`zero_grad`, `nodes`, the
//! higher-order and DOT passes) order the graph with a depth-first search instead.
//!
//! Nothing here recurses: the sweep is a loop, and the search keeps an explicit stack,
//! so a chain of millions of nodes needs no more call stack than a chain of three.

use std::ops::ControlFlow;

use crate::arena;
use crate::op::{Binary, Op};
use crate::sparse;
use crate::value::{next_pass, reserve_passes, stamp_of, Node, Value, Visit};

/// Marks `value` as reached by backward pass `pass` (whose stamp is `stamp`), if it was
/// not already. A gradient it holds from earlier passes is parked, so that its `grad`
/// cell can hold this pass's adjoint starting from 0. Returns whether it is newly
/// reached and computed (not a leaf), so that the sweep must wait for it.
#[inline]
fn reach(value: &Value, pass: u64, stamp: u32, parked: &mut Vec<(Value, f64)>) -> bool {
    let node = &value.node;
    if node.mark.state(stamp) != Visit::New {
        return false;
    }
    node.mark.set(stamp, Visit::Done);
    let grad = node.grad.get();
    if grad != 0.0 {
        parked.push((value.clone(), grad));
        node.grad.set(0.0);
    }
    if node.op.is_leaf() {
        return false;
    }
    node.flag_chunk(pass);
    true
}

/// [`reach`]es every operand in `lists`, and returns how many of them are newly reached
/// computed nodes.
///
/// Kept out of the sweep's closure, where this loop called `reach` through a reference
/// for every operand (a fused node may have millions) and made the closure larger for
/// every node: the common shapes, which never come here, ran about 8% more
/// instructions per node in the sweep (see BENCHMARKS.md, step 12).
#[inline(never)]
fn reach_all(lists: [&[Value]; 2], pass: u64, stamp: u32, parked: &mut Vec<(Value, f64)>) -> usize {
    lists
        .iter()
        .flat_map(|list| list.iter())
        .map(|x| usize::from(reach(x, pass, stamp, parked)))
        .sum()
}

/// Whether `x`, an operand that the node being propagated holds directly (not through
/// an operand list that other nodes share), is a leaf that no other handle points to.
///
/// Such a leaf has no user but that node, which holds it once (a node using it twice
/// holds two handles), so it gets exactly one share in the pass. Added straight to its
/// gradient, that share gives `before + share`. Reaching it gives the same number: a
/// `before` of ±0 is not parked, and any other is added back to `0 + share`, which
/// differs from `share` only when that is −0, and `before + 0 = before − 0` then. (When
/// `before` and the share are both NaN, either path may keep either NaN, whose sign Rust
/// leaves unspecified.) So it is not reached: no mark, no parking. Every constant that
/// an `f64` operand makes is such a leaf, as is every factor of W3's sum.
#[inline]
fn sole_leaf(x: &Value) -> bool {
    x.node.op.is_leaf() && x.node.handles.get() == 1
}

/// Calls `emit` on every node reachable from `root`, operands before the nodes made
/// from them (`root` comes last).
///
/// An iterative depth-first search over a stack of plain node references, with each
/// node's standing kept in its [`Mark`](crate::value::Mark): a node popped as `New` is
/// opened (pushed back, with its unvisited operands above it); popped again as `Open`,
/// everything above it is finished, so it is emitted and marked `Done`; a stale
/// duplicate popped as `Done` is skipped. A leaf operand has nothing to wait for, so it
/// is emitted at once instead of pushed. The operands are pushed first to last, so the
/// last is explored first: in the usual accumulator chain (`s = s + t`,
/// `x = f(x) · c`) the short operand is finished at once and the stack holds about one
/// entry per level of the long one.
///
/// The order depends only on the graph's shape, so repeated passes are bitwise
/// identical. The stack's memory is reused from one traversal to the next (see
/// [`scratch`]).
pub(crate) fn visit_postorder<'a>(root: &'a Value, mut emit: impl FnMut(&'a Value)) {
    let pass = next_pass();
    let stamp = stamp_of(pass);
    let mut stack: Vec<&'a Value> = scratch::take();
    stack.push(root);
    while let Some(value) = stack.pop() {
        let mark = &value.node.mark;
        match mark.state(stamp) {
            Visit::Done => {}
            Visit::Open => {
                mark.set(stamp, Visit::Done);
                emit(value);
            }
            Visit::New => {
                stack.push(value);
                let waiting = stack.len();
                let mut explore = |operand: &'a Value| {
                    let mark = &operand.node.mark;
                    // An operand cannot be `Open`: that would make a cycle.
                    if mark.state(stamp) != Visit::New {
                        return;
                    }
                    if operand.node.op.is_leaf() {
                        mark.set(stamp, Visit::Done);
                        emit(operand);
                    } else {
                        stack.push(operand);
                    }
                };
                // The common shapes first, without going through operand lists.
                match &value.node.op {
                    Op::Leaf => {}
                    Op::Unary(_, x) | Op::Param(_, x, _) | Op::Custom(_, x) => explore(x),
                    Op::Binary(_, [a, b]) => {
                        explore(a);
                        explore(b);
                    }
                    op => {
                        for list in op.lists_to_visit(pass) {
                            list.iter().for_each(&mut explore);
                        }
                    }
                }
                if stack.len() == waiting {
                    // Every operand is finished already: so is the node (this is what
                    // popping it again right away would do).
                    stack.pop();
                    mark.set(stamp, Visit::Done);
                    emit(value);
                } else {
                    mark.set(stamp, Visit::Open);
                }
            }
        }
    }
    scratch::give_back(stack);
}

/// Buffers kept from one pass to the next, per thread: the depth-first search's
/// stack, and the list of nodes waiting to be freed (see `arena.rs`).
///
/// A program that orders graphs of the same size again and again (calling
/// `Value::zero_grad` or `grad` at every step, say), or frees a graph of the same
/// width at every step, would otherwise pay, every time, for the allocation, the page
/// faults of fresh memory, and the copying of a growing vector. A buffer holds
/// references into one particular graph, so what is kept between passes is only its
/// allocation: an empty `Vec` of a placeholder type with the same size and alignment,
/// converted to and from the buffer's type by an in-place `collect` (which reuses the
/// allocation when the layouts match).
pub(crate) mod scratch {
    use std::cell::RefCell;

    /// The placeholder element: 8 bytes, aligned to 8, like `&T`.
    type Slot = u64;

    /// Buffers larger than this many elements (4 MiB) are freed rather than kept.
    const MAX_KEPT: usize = 1 << 19;

    thread_local! {
        static SPARE: RefCell<Vec<Vec<Slot>>> = const { RefCell::new(Vec::new()) };
    }

    /// An empty buffer, with the capacity of one kept earlier if there is one.
    pub(crate) fn take<T>() -> Vec<T> {
        let spare = SPARE
            .try_with(|s| s.borrow_mut().pop())
            .ok()
            .flatten()
            .unwrap_or_default();
        // `spare` is empty: the closure never runs; the allocation carries over.
        spare.into_iter().map(|_| unreachable!()).collect()
    }

    /// Keeps the allocation of `buffer` (emptied) for a later [`take`].
    pub(crate) fn give_back<T>(mut buffer: Vec<T>) {
        buffer.clear();
        if buffer.capacity() > MAX_KEPT {
            return;
        }
        let spare: Vec<Slot> = buffer.into_iter().map(|_| unreachable!()).collect();
        if spare.capacity() > 0 {
            let _ = SPARE.try_with(|s| s.borrow_mut().push(spare));
        }
    }
}

/// Every node reachable from `root`, operands before the nodes made from them
/// (`root` comes last); see [`visit_postorder`].
pub(crate) fn topological_order(root: &Value) -> Vec<&Value> {
    let mut order = Vec::new();
    visit_postorder(root, |v| order.push(v));
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
    /// The nodes, operands before results, the root last: in creation order (the
    /// order `backward()` works in, so that both add the same terms in the same order),
    /// or, while the thread exits, in depth-first order.
    pub(crate) nodes: Vec<&'a Value>,
    /// The stamp of the first reserved pass: node `k` carries `first + k`.
    first: u32,
    /// `operand_positions[starts[k]..starts[k + 1]]` are the positions of the operands
    /// of `nodes[k]`, in operand order.
    starts: Vec<usize>,
    operand_positions: Vec<usize>,
}

impl<'a> IndexedOrder<'a> {
    pub(crate) fn new(root: &'a Value) -> IndexedOrder<'a> {
        let mut nodes = topological_order(root);
        if arena::holds(&root.node) {
            // Creation order, which is the order `backward()` sweeps in, so that a pass
            // over this order adds the same terms in the same order as `backward()`.
            nodes.sort_unstable_by_key(|v| v.node.creation_rank());
        }
        let first_pass = reserve_passes(nodes.len());
        for (k, value) in nodes.iter().enumerate() {
            value.node.mark.set_stamp(first_pass + k as u64);
        }
        // The reserved passes lie in one block, so their stamps are consecutive too.
        let first = stamp_of(first_pass);
        let mut starts = Vec::with_capacity(nodes.len() + 1);
        let mut operand_positions = Vec::with_capacity(nodes.len());
        starts.push(0);
        for value in &nodes {
            // Every operand was visited before its result, so it carries a stamp of
            // this pass.
            operand_positions.extend(
                value
                    .node
                    .op
                    .operands()
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
        let k = value.node.mark.stamp().checked_sub(self.first)? as usize;
        self.nodes.get(k).filter(|v| v.ptr_eq(value)).map(|_| k)
    }
}

impl Value {
    /// Computes d(self)/d(node) for every node reachable from `self`, and adds it to
    /// that node's gradient.
    ///
    /// Like PyTorch, gradients accumulate: calling `backward()` k times adds the
    /// one-call gradient k times on every node (`g + g + …`, bit for bit), and
    /// [`Value::zero_grad`] resets them. Each pass
    /// builds its adjoints from zero, so nothing one pass computes for an intermediate
    /// node leaks into the next.
    ///
    /// The cost is linear in the nodes reachable from `self`, plus the nodes of other
    /// live graphs that share a block of storage with them (up to 681 per block), plus
    /// one step for each block in use that was created in between, which is skipped
    /// whole.
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
        if !arena::holds(&self.node) {
            // Only while the thread exits: see `backward_in_dfs_order`.
            self.backward_in_dfs_order();
            return;
        }
        // Nodes are swept newest first, which puts every node before its operands: when
        // a node is reached, every node that uses it has added its share, so its
        // adjoint is complete. Each node the sweep must see is reached (and its chunk
        // flagged) by a node it meets earlier; `waiting` counts the computed ones not
        // yet met, and the sweep stops when none is left. Leaves have nothing to pass
        // on, so they are reached but never waited for, and a leaf that only its one
        // user holds is not even reached (see `sole_leaf`). A zero-safe node that would
        // pass back only ±0 reaches nothing (see `sparse.rs`).
        sparse::forget_if_stale();
        let pass = next_pass();
        let stamp = stamp_of(pass);
        let mut parked = Vec::new();
        let mut waiting = usize::from(reach(self, pass, stamp, &mut parked));
        self.node.grad.set(1.0);
        if waiting > 0 {
            arena::sweep(&self.node, pass, |node| {
                if node.mark.state(stamp) == Visit::New || node.op.is_leaf() {
                    return ControlFlow::Continue(());
                }
                // Counted here and added to `waiting` once: the closure reaches
                // `waiting` through memory, and each update would wait for the last.
                let mut newly = 0;
                if !(node.mark.is_zero_safe() && node.passes_only_zeros()) {
                    let mut reach =
                        |x: &Value| newly += usize::from(reach(x, pass, stamp, &mut parked));
                    // An operand held directly (not through a list that other nodes
                    // share) may be a leaf that needs no reaching (see `sole_leaf`).
                    let mut reach_held = |x: &Value| {
                        if !sole_leaf(x) {
                            reach(x);
                        }
                    };
                    // The common shapes first, each reached and propagated in one arm:
                    // without going through operand lists, and matching on the op
                    // once rather than again in `Op::propagate`.
                    match &node.op {
                        // Sums and products, by far the commonest nodes, have arms of
                        // their own (∂(a+b) = (1, 1), ∂(a·b) = (b, a), g·1 = g): told
                        // apart by two tests rather than a jump through a table. As
                        // anywhere in Rust, which of two NaNs a sum keeps is unspecified.
                        Op::Binary(Binary::Add, [a, b]) => {
                            reach_held(a);
                            reach_held(b);
                            let g = node.grad.get();
                            a.add_grad(g);
                            b.add_grad(g);
                        }
                        Op::Binary(Binary::Mul, [a, b]) => {
                            reach_held(a);
                            reach_held(b);
                            let (g, ad, bd) = (node.grad.get(), a.data(), b.data());
                            a.add_grad(g * bd);
                            b.add_grad(g * ad);
                        }
                        Op::Binary(f, xs) => {
                            reach_held(&xs[0]);
                            reach_held(&xs[1]);
                            f.propagate(xs, node.data.get(), node.grad.get());
                        }
                        Op::Unary(f, x) => {
                            reach_held(x);
                            f.propagate(x, node.data.get(), node.grad.get());
                        }
                        Op::Param(f, x, c) => {
                            reach_held(x);
                            f.propagate(x, *c, node.grad.get());
                        }
                        op => {
                            newly += reach_all(op.lists_to_visit(pass), pass, stamp, &mut parked);
                            op.propagate(node.data.get(), node.grad.get());
                        }
                    }
                }
                waiting = waiting + newly - 1;
                if waiting == 0 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
        }
        // Each adjoint is the node's gradient from this pass: add back what was parked,
        // so that k passes add the gradient k times.
        for (value, before) in parked {
            value.node.grad.set(before + value.node.grad.get());
        }
    }

    /// [`Value::backward`] over an explicit topological order. Used only when the
    /// thread's node storage is gone (while the thread exits), so the sweep cannot run.
    #[cold]
    fn backward_in_dfs_order(&self) {
        let mut order: Vec<&Node> = Vec::new();
        let mut parked: Vec<(&Node, f64)> = Vec::new();
        visit_postorder(self, |v| {
            let grad = v.node.grad.get();
            if grad != 0.0 {
                parked.push((&v.node, grad));
                v.node.grad.set(0.0);
            }
            order.push(&v.node);
        });
        self.node.grad.set(1.0);
        for node in order.iter().rev() {
            node.op.propagate(node.data.get(), node.grad.get());
        }
        for (node, before) in parked {
            node.grad.set(before + node.grad.get());
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
        visit_postorder(self, |v| v.node.grad.set(0.0));
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
