//! `backward()` semantics: accumulation, shared nodes, zero_grad, unusual graphs,
//! determinism, linear cost and stack safety.

mod common;

use common::{expr, on_small_stack};
use proptest::prelude::*;
use scalargrad::Value;

/// b = a + a, c = b + b: dc/da = 4 (two paths of weight 2).
#[test]
fn shared_node_receives_every_path() {
    let a = Value::new(3.0);
    let b = &a + &a;
    let c = &b + &b;
    c.backward();
    assert_eq!(a.grad(), 4.0);
    assert_eq!(b.grad(), 2.0);
}

/// a = 2, b = 3, c = a + b = 5, d = a·b = 6, y = (c + d) + c·d.
/// dy/dc = 1 + d = 7, dy/dd = 1 + c = 6;
/// dy/da = 7·1 + 6·b = 25, dy/db = 7·1 + 6·a = 19.
#[test]
fn diamond_graph() {
    let a = Value::new(2.0);
    let b = Value::new(3.0);
    let c = &a + &b;
    let d = &a * &b;
    let y = (&c + &d) + &c * &d;
    y.backward();
    assert_eq!((a.grad(), b.grad()), (25.0, 19.0));
    assert_eq!((c.grad(), d.grad()), (7.0, 6.0));
}

/// a·a: the same operand in both slots gets both contributions, 2a.
#[test]
fn square_by_self_multiplication() {
    let a = Value::new(-1.5);
    let y = &a * &a;
    y.backward();
    assert_eq!(a.grad(), -3.0);
}

proptest! {
    /// k calls add the one-call gradient k times (`g + g + …`, bit for bit) on every
    /// node, intermediate ones included (no adjoint leaks from one pass into the next).
    #[test]
    fn backward_k_times_gives_k_times_the_gradient(e in expr(30), k in 2..5u32) {
        let (_, out) = e.build();
        let nodes = out.nodes();
        out.backward();
        let once: Vec<f64> = nodes.iter().map(Value::grad).collect();
        for _ in 1..k {
            out.backward();
        }
        for (node, g) in nodes.iter().zip(&once) {
            let expected = (1..k).fold(*g, |acc, _| acc + g);
            prop_assert_eq!(node.grad().to_bits(), expected.to_bits(), "node {:?}", node);
        }
    }

    /// The same with nothing but the graph holding the leaves, read only after the
    /// passes: a leaf that one node alone holds gets a single share per pass, which
    /// `backward()` adds without reaching the leaf; a leaf that two nodes hold, or one
    /// node twice, must still be reached, so that k passes add k whole sums.
    #[test]
    fn backward_k_times_with_only_the_graph_holding_its_leaves(e in expr(30), k in 2..5u32) {
        let build = || {
            let (leaves, out) = e.build();
            drop(leaves);
            out
        };
        let (once, repeated) = (build(), build());
        once.backward();
        for _ in 0..k {
            repeated.backward();
        }
        for (a, b) in once.nodes().iter().zip(&repeated.nodes()) {
            let expected = (1..k).fold(a.grad(), |acc, _| acc + a.grad());
            prop_assert_eq!(b.grad().to_bits(), expected.to_bits(), "node {:?}", b);
        }
    }

    /// Two independent builds and passes give bitwise-identical gradients.
    #[test]
    fn backward_is_deterministic(e in expr(40)) {
        let (leaves1, out1) = e.build();
        let (leaves2, out2) = e.build();
        out1.backward();
        out2.backward();
        for (a, b) in leaves1.iter().zip(&leaves2) {
            prop_assert_eq!(a.grad().to_bits(), b.grad().to_bits());
        }
    }

    /// zero_grad resets every node; a following pass equals a first pass.
    #[test]
    fn zero_grad_resets_the_whole_graph(e in expr(30)) {
        let (_, out) = e.build();
        let nodes = out.nodes();
        out.backward();
        let first: Vec<u64> = nodes.iter().map(|n| n.grad().to_bits()).collect();
        out.backward();
        out.zero_grad();
        prop_assert!(nodes.iter().all(|n| n.grad() == 0.0));
        out.backward();
        let again: Vec<u64> = nodes.iter().map(|n| n.grad().to_bits()).collect();
        prop_assert_eq!(first, again);
    }
}

#[test]
fn backward_on_a_leaf_seeds_it_with_one() {
    let x = Value::new(7.0);
    x.backward();
    x.backward();
    assert_eq!(x.grad(), 2.0);
}

#[test]
fn an_input_the_output_does_not_use_keeps_gradient_zero() {
    let used = Value::new(1.0);
    let unused = Value::new(2.0);
    let _other = &unused * 3.0; // a graph of its own
    let y = used.exp();
    y.backward();
    assert_eq!(unused.grad(), 0.0);
    assert_eq!(used.grad(), 1f64.exp());
}

#[test]
fn backward_from_an_intermediate_node_leaves_later_nodes_alone() {
    let x = Value::new(2.0);
    let mid = &x * 3.0;
    let out = mid.tanh();
    mid.backward();
    assert_eq!(x.grad(), 3.0);
    assert_eq!(out.grad(), 0.0);
}

/// 60 rounds of x = x·1 + x: 2⁶⁰ paths from the output to the input, but only 180
/// nodes. A walk that followed paths would never finish; a topological walk is instant.
#[test]
fn exponentially_many_paths_cost_linear_time() {
    let x0 = Value::new(1.0);
    let mut x = x0.clone();
    for _ in 0..60 {
        x = &x * 1.0 + &x;
    }
    x.backward();
    assert_eq!(x.data(), 2f64.powi(60));
    assert_eq!(x0.grad(), 2f64.powi(60));
    assert_eq!(x.nodes().len(), 1 + 60 * 3);
}

#[test]
fn a_hundred_thousand_term_sum() {
    let terms: Vec<Value> = (0..100_000).map(|i| Value::new(f64::from(i))).collect();
    let fused = Value::sum(&terms);
    let chained = terms.iter().fold(Value::new(0.0), |acc, t| acc + t);
    fused.backward();
    chained.backward();
    assert_eq!(fused.data(), 4_999_950_000.0);
    assert_eq!(chained.data(), 4_999_950_000.0);
    assert!(terms.iter().all(|t| t.grad() == 2.0));
    assert_eq!(fused.nodes().len(), 100_001);
}

/// A chain of a million nodes: backward, zero_grad, check_finite, nodes() and drop,
/// all on a 256 KiB stack. Any recursion per node would overflow it.
#[test]
fn a_million_node_chain_on_a_small_stack() {
    on_small_stack(256 * 1024, || {
        let x0 = Value::new(0.5);
        let mut x = x0.clone();
        for _ in 0..1_000_000 {
            x = (&x * 0.999_999 + 1e-6).relu();
        }
        x.backward();
        assert!(x0.grad() > 0.0);
        assert!(x.check_finite().is_ok());
        x.zero_grad();
        assert_eq!(x0.grad(), 0.0);
        drop(x); // iterative drop of ~3 million nodes
        assert_eq!(x0.data(), 0.5);
    });
}

/// Dropping a long chain whose nodes are shared at intervals needs no deep recursion,
/// and stops at each shared node, which keeps its own part of the chain intact.
#[test]
fn dropping_a_chain_with_shared_nodes_on_a_small_stack() {
    on_small_stack(256 * 1024, || {
        let mut kept = Vec::new();
        let mut x = Value::new(1.0);
        for i in 0..300_000 {
            x = x.sin() + 1.0;
            if i % 1000 == 0 {
                kept.push((x.clone(), x.data()));
            }
        }
        drop(x);
        for (k, (node, data)) in kept.iter().enumerate() {
            assert_eq!(node.data(), *data, "kept node {k}");
            // Its operands, `sin(x)` and the constant 1, are still there.
            let operands = node.operands();
            assert_eq!(operands.len(), 2, "kept node {k}");
            assert_eq!(operands[1].data(), 1.0, "kept node {k}");
        }
        drop(kept);
    });
}

#[test]
fn fused_nodes_in_a_deep_chain_on_a_small_stack() {
    on_small_stack(256 * 1024, || {
        let w = Value::new(0.5);
        let mut x = Value::new(1.0);
        for _ in 0..200_000 {
            x = Value::dot(&[x.clone(), w.clone()], &[w.clone(), Value::new(0.0)]);
            x = Value::sum(&[x, Value::new(0.5)]);
        }
        x.backward();
        assert!(w.grad().is_finite());
    });
}

/// Freed nodes' memory is reused for new ones: a new node never inherits the data,
/// gradient, label or operands of the node whose memory it takes. Memory is reused a
/// chunk of a few hundred nodes at a time, so each round frees many thousands.
#[test]
fn recycled_nodes_start_clean() {
    const N: usize = 5_000;
    for _ in 0..3 {
        let a = Value::new(2.0).with_label("a");
        let ys: Vec<Value> = (0..N)
            .map(|i| (&a * 3.0).with_label(format!("y{i}")))
            .collect();
        for y in &ys {
            y.backward();
        }
        drop(ys);
        drop(a);
        let fresh: Vec<Value> = (0..2 * N).map(|i| Value::new(i as f64)).collect();
        for (i, v) in fresh.iter().enumerate() {
            assert_eq!((v.data(), v.grad()), (i as f64, 0.0));
            assert_eq!(v.label(), None);
            assert!(v.operands().is_empty());
        }
    }
}

/// Nodes that outlive their neighbours are never overwritten, however many nodes are
/// created and freed around them: kept nodes of chains (which hold the chain before
/// them), and lone leaves whose whole block of storage but them is freed.
#[test]
fn surviving_nodes_keep_their_contents() {
    let mut kept = Vec::new();
    let mut lone = Vec::new();
    for round in 0..20 {
        let x = Value::new(f64::from(round));
        let mut s = x.clone();
        for i in 0..3_000 {
            s = &s + 1.0;
            if i % 997 == 0 {
                kept.push((round, i, x.clone(), s.clone()));
            }
        }
        // `s` and all but the kept nodes of its chain are freed here.
        drop(s);
        // One leaf in 700 outlives the others: about one per block, whose other slots
        // are freed and would be handed out again by the next round if the block were
        // taken for spare.
        let leaves: Vec<Value> = (0..3_000)
            .map(|i| Value::new(f64::from(round * 10_000 + i)))
            .collect();
        lone.extend(
            leaves
                .into_iter()
                .enumerate()
                .filter(|(i, _)| i % 700 == 0)
                .map(|(i, leaf)| (f64::from(round * 10_000) + i as f64, leaf)),
        );
    }
    for (data, leaf) in &lone {
        assert_eq!((leaf.data(), leaf.grad()), (*data, 0.0));
        assert!(leaf.operands().is_empty());
    }
    for (round, i, x, s) in &kept {
        // s = x + (i + 1), through a chain of i + 1 additions back to x = round.
        assert_eq!(s.data(), f64::from(*round) + f64::from(*i + 1));
        assert_eq!(s.nodes().len(), 2 * (*i as usize + 1) + 1);
        s.backward();
        assert_eq!((x.data(), x.grad()), (f64::from(*round), 1.0));
        x.set_grad(0.0);
    }
}

thread_local! {
    /// Set up before the thread's first node, so it is torn down after the engine's
    /// own per-thread state (destructors run in reverse order of first use).
    static LATE: std::cell::RefCell<Option<ExitWork>> = const { std::cell::RefCell::new(None) };
}

/// Holds a labelled graph built while the thread ran, and on drop (as the thread
/// exits, usually after the thread's labels are gone) prints and frees it, builds a new
/// labelled graph and differentiates it, recording what `backward()` gave and the
/// new node's label.
struct ExitWork {
    graph: Option<Value>,
    result: std::sync::mpsc::Sender<(f64, Option<String>)>,
}

impl Drop for ExitWork {
    fn drop(&mut self) {
        let _ = format!("{:?}", self.graph);
        drop(self.graph.take());
        let x = Value::new(3.0).with_label("x");
        let y = &x * &x + x.sin();
        y.backward();
        let _ = self.result.send((x.grad(), x.label()));
    }
}

/// Nodes can still be freed, created, labelled, printed and differentiated while a
/// thread exits, after the engine's per-thread storage (and, usually, the labels) are
/// gone.
#[test]
fn graphs_work_while_a_thread_exits() {
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        LATE.with(|late| {
            late.borrow_mut().replace(ExitWork {
                graph: None,
                result: send,
            })
        });
        let x = Value::new(1.0);
        let graph = (0..10_000)
            .fold(x, |s, i| s * 1.0001 + f64::from(i))
            .with_label("graph");
        LATE.with(|late| late.borrow_mut().as_mut().map(|w| w.graph = Some(graph)));
    })
    .join()
    .expect("the thread exits cleanly");
    let (grad, label) = receive.recv().expect("the exit work ran");
    assert_eq!(grad, 6.0 + 3.0f64.cos());
    // The thread's labels are made after `LATE`, and so go first on the platforms
    // this runs on (the order is not promised): the label given is not kept. Where
    // they outlived `LATE`, it would be.
    assert!(matches!(label.as_deref(), None | Some("x")), "{label:?}");
}

/// A custom op's derivative may itself build (and drop) nodes while `backward()` runs:
/// thousands of them here, enough to fill fresh blocks of storage mid-pass.
#[test]
fn a_derivative_that_builds_nodes_of_its_own() {
    fn double(x: f64) -> f64 {
        2.0 * x
    }
    fn slope_from_a_graph(x: f64) -> f64 {
        let v = Value::new(x);
        let twice = &v * 2.0 - &v + &v; // 2x, through three nodes
        twice.data() / x
    }
    let x = Value::new(1.5);
    let mut y = x.clone();
    for _ in 0..3_000 {
        y = y.custom("double", double, slope_from_a_graph) * 0.5;
    }
    y.backward();
    assert_eq!(y.data(), 1.5);
    assert_eq!(x.grad(), 1.0);
}

/// A derivative that traverses a graph (here an unrelated one) during `backward()`.
fn traversing_derivative(_: f64) -> f64 {
    Value::new(1.0).zero_grad();
    1.0
}

/// A traversal inside a derivative would overwrite the pass's marks (and, when it
/// starts a new block of passes, reset them all): `backward()` refuses it loudly
/// rather than give wrong gradients.
#[test]
#[should_panic(expected = "traversed a graph")]
fn a_traversal_inside_a_derivative_is_refused() {
    let x = Value::new(0.5);
    let y = x.custom("id", |x| x, traversing_derivative) * 2.0;
    y.backward();
}

/// A derivative that panics does not leave the thread refusing later passes.
#[test]
fn backward_works_again_after_a_derivative_panicked() {
    let x = Value::new(0.5);
    let bad = x.custom("id", |x| x, traversing_derivative) * 2.0;
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| bad.backward()));
    assert!(refused.is_err());
    x.set_grad(0.0);
    let y = &x * &x;
    y.backward();
    assert_eq!(x.grad(), 1.0);
}
