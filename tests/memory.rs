//! Memory: a node costs what the docs say, memory kept for reuse stays bounded and goes
//! back when graphs shrink, freeing a chain needs no growing buffer, and an MLP step
//! reuses the input lists of the step before.
//!
//! A counting global allocator keeps, per thread, the bytes currently allocated, so
//! tests running side by side do not see each other's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use rand::{rngs::StdRng, SeedableRng};
use scalargrad::nn::{Mlp, Module};
use scalargrad::Value;

struct Counting;

thread_local! {
    static IN_USE: Cell<isize> = const { Cell::new(0) };
    /// The most `IN_USE` has been since the last [`reset_peak`].
    static PEAK: Cell<isize> = const { Cell::new(0) };
    /// Allocations of 1 MiB or more: node storage comes in groups of 2 MiB.
    static LARGE: Cell<usize> = const { Cell::new(0) };
    /// Allocations of any size.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count(bytes: isize) {
    // `try_with`: the allocator also runs while the thread's locals are torn down.
    let _ = IN_USE.try_with(|n| {
        n.set(n.get() + bytes);
        let _ = PEAK.try_with(|p| p.set(p.get().max(n.get())));
    });
}

fn reset_peak() {
    PEAK.with(|p| p.set(in_use()));
}

fn peak() -> isize {
    PEAK.with(Cell::get)
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counting
// touches only a `const`-initialised thread-local, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        if layout.size() >= 1 << 20 {
            let _ = LARGE.try_with(|n| n.set(n.get() + 1));
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn in_use() -> isize {
    IN_USE.with(Cell::get)
}

const MIB: isize = 1 << 20;

/// `x = relu(x·0.999 + 0.001)` `steps` times: five nodes per step.
fn chain(x0: &Value, steps: usize) -> Value {
    let mut x = x0.clone();
    for _ in 0..steps {
        x = (&x * 0.999 + 0.001).relu();
    }
    x
}

/// Builds and drops small graphs until the thread has started more than 8 × 2048
/// chunks of storage, by which point it has reviewed the memory it keeps for reuse
/// with only small graphs in view.
fn churn_small_graphs() {
    let x0 = Value::new(0.5);
    for _ in 0..800 {
        chain(&x0, 4_000).backward(); // 20,000 nodes
    }
}

/// Building, differentiating and dropping a 1,000,000-node graph again and again:
/// the graph takes about 48 MB while it lives. After a drop the thread keeps that
/// memory for the next graph (so the system need not hand out fresh pages at every
/// step), but never more: what it keeps does not grow from round to round.
#[test]
fn memory_kept_for_reuse_does_not_grow() {
    let x0 = Value::new(0.5);
    let before = in_use();
    let mut after_drop = Vec::new();
    for _ in 0..5 {
        let x = chain(&x0, 200_000);
        let graph = in_use() - before;
        assert!(
            graph > 40 * MIB,
            "the graph should take ~48 MB, measured {graph} bytes"
        );
        x.backward();
        drop(x);
        after_drop.push(in_use() - before);
        assert!(
            in_use() - before <= graph + MIB,
            "kept {after_drop:?} bytes after drops of a {graph}-byte graph"
        );
    }
    assert!(
        after_drop[4] <= after_drop[1],
        "memory kept grows from round to round: {after_drop:?}"
    );
}

/// Once graphs get small, the memory kept for a large one goes back to the system
/// (all but 4 MiB, give or take a partly used group).
#[test]
fn memory_kept_for_a_large_graph_goes_back_when_graphs_shrink() {
    let x0 = Value::new(0.5);
    let before = in_use();
    chain(&x0, 200_000).backward();
    assert!(in_use() - before > 40 * MIB);
    churn_small_graphs();
    let kept = in_use() - before;
    assert!(kept <= 8 * MIB, "{kept} bytes kept");
}

/// A binary node costs 48 bytes (its reference count included): a graph of a million
/// `+` nodes over one leaf takes 48 MB. Storage comes in 2 MiB groups of 681-node
/// chunks (48.1 bytes per node), and the rest of the leaf's group (up to 63 chunks,
/// about 43,000 nodes) was allocated before the measure starts, so it may read up to
/// about two bytes per node low.
#[test]
fn a_binary_node_takes_48_bytes() {
    let x = Value::new(1.0);
    let before = in_use();
    let mut s = x.clone();
    for _ in 0..1_000_000 {
        s = &s + &x;
    }
    let per_node = (in_use() - before) as f64 / 1e6;
    assert!(
        (45.5..49.5).contains(&per_node),
        "{per_node} bytes per node"
    );
    drop(s);
}

/// A node that outlives its graph keeps its own chunk of storage, not the graph: the
/// graph's other chunks are freed, and given back once graphs are small, but for the
/// rest of each survivor's group (2 MiB), which cannot go back to the system while the
/// survivor lives. Five survivors of five 48 MB graphs keep at most five groups, give
/// or take a partly used one.
#[test]
fn a_surviving_node_does_not_keep_its_graph() {
    let x0 = Value::new(0.5);
    let before = in_use();
    let survivors: Vec<Value> = (0..5)
        .map(|_| {
            let x = chain(&x0, 200_000);
            Value::new(x.data())
        })
        .collect();
    churn_small_graphs();
    let kept = in_use() - before;
    assert!(
        kept <= 12 * MIB,
        "{kept} bytes kept for {} leaves",
        survivors.len()
    );
}

/// Freeing a long chain with constants at every step (what `x * c + d` builds) needs
/// almost no memory beyond the graph itself: the constants are freed as the chain
/// is, not kept waiting until its end (which took 6 MB for this chain).
///
/// What it may take is the list of spare blocks, 16 bytes for each of the 1,469
/// blocks it frees, less what the map of blocks in use gives back.
#[test]
fn dropping_a_chain_needs_no_growing_buffer() {
    let x0 = Value::new(0.5);
    let x = chain(&x0, 200_000);
    reset_peak();
    let before = in_use();
    drop(x);
    let extra = peak() - before;
    assert!(
        extra <= 48 * 1024,
        "dropping the chain took {extra} extra bytes"
    );
}

thread_local! {
    /// Set up before the thread's first node, so that it is torn down after the
    /// engine's per-thread storage (destructors run in reverse order of first use).
    static AT_EXIT: std::cell::RefCell<Option<BuildAtExit>> =
        const { std::cell::RefCell::new(None) };
}

/// On drop (as its thread exits) builds a 20,000-node chain and reports the bytes it
/// took.
struct BuildAtExit(std::sync::mpsc::Sender<isize>);

impl Drop for BuildAtExit {
    fn drop(&mut self) {
        let before = in_use();
        let x0 = Value::new(1.0);
        let x = (0..20_000).fold(x0.clone(), |x, _| &x + &x0);
        let _ = self.0.send(in_use() - before);
        drop(x);
    }
}

/// Nodes built while a thread exits, after its storage is gone, still take about 48
/// bytes each, not a block of storage each.
#[test]
fn nodes_built_while_a_thread_exits_stay_small() {
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        AT_EXIT.with(|slot| slot.borrow_mut().replace(BuildAtExit(send)));
        drop(Value::new(0.0)); // sets up the engine's storage, after `AT_EXIT`
    })
    .join()
    .expect("the thread exits cleanly");
    let bytes = receive.recv().expect("the exit work ran");
    assert!(bytes < 2 * MIB, "20,000 nodes took {bytes} bytes");
}

/// A training loop that builds the same graph at every step takes node storage from
/// the system at the first step only: later steps reuse it.
#[test]
fn a_rebuilt_graph_needs_no_new_node_storage() {
    let x0 = Value::new(0.5);
    let mut large = Vec::new();
    for _ in 0..5 {
        let x = chain(&x0, 20_000); // 100,000 nodes, several groups of storage
        x.backward();
        drop(x);
        large.push(LARGE.with(Cell::get));
    }
    assert!(large[0] > 0, "the first step should allocate storage");
    assert!(
        large.iter().all(|&n| n == large[0]),
        "groups of storage allocated by the end of each step: {large:?}"
    );
}

/// An MLP's forward pass makes one input list per layer for the layer's neurons to
/// share; a training step takes them from those the step before freed, so that after
/// the first step a forward pass allocates only the vector of outputs it returns.
#[test]
fn an_mlp_step_reuses_the_input_lists_of_the_step_before() {
    let model = Mlp::new(2, &[16, 16, 1], &mut StdRng::seed_from_u64(3));
    let samples: Vec<[f64; 2]> = (0..50)
        .map(|i| [f64::from(i) / 50.0, 1.0 - f64::from(i) / 25.0])
        .collect();
    let step = || {
        model.zero_grad();
        let scores: Vec<Value> = samples
            .iter()
            .map(|x| model.forward_data(x).swap_remove(0))
            .collect();
        Value::sum(&scores).backward();
    };
    step();
    let before = ALLOCATIONS.with(Cell::get);
    step();
    let made = ALLOCATIONS.with(Cell::get) - before;
    // One output vector per sample, and a few for the vector of scores and the sum;
    // allocating the lists afresh takes six more per sample (two per layer).
    assert!(
        made <= samples.len() + 20,
        "{made} allocations for a step over {} samples",
        samples.len()
    );
}
