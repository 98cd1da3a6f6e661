//! Where nodes live: per-thread chunks of slots, filled in creation order, and the
//! reference-counted handle ([`NodeRef`]) that a [`Value`] wraps.
//!
//! # Why not `Rc<Node>`
//!
//! With one heap allocation per node, a graph ends up scattered over the heap, and every
//! pass over it (ordering, the chain rule, freeing) is a walk of cache misses. A
//! training loop makes it worse: the nodes one step frees come back to the next step
//! in whatever order they were freed. A flat tape is fast mostly because it walks
//! memory in order.
//!
//! So nodes are placed like a tape: each thread fills a chunk of [`SLOTS`] slots one
//! after the other, and a graph built in one go sits in creation order in a few
//! contiguous chunks. Handles still count references exactly as an `Rc` does, so a node
//! lives exactly as long as something uses it and the `Value` API is unchanged. What
//! is reused is whole chunks: a chunk goes back to its thread's spare list when its last
//! node is freed, and new nodes are written into it in order again.
//!
//! A slot is just the 48-byte [`Node`], its count included. Chunks are 32 KiB and
//! aligned to their size, so a node finds its chunk by rounding its address down; they
//! are allocated 64 at a time (2 MiB): asked for one 32 KiB-aligned chunk at a time, a
//! general-purpose allocator may have to skip up to 32 KiB to reach each alignment. A
//! group is aligned to its size and, on Linux, backed by huge pages where the system
//! allows (see [`ask_for_huge_pages`]). A group goes back to the system when all its
//! chunks are spare and recent use has not needed that many spare chunks (see
//! `Arena::review_spare`).
//!
//! Creation order is also what `backward()` relies on: an operand is always older than
//! the nodes made from it, so [`sweep`] visits a graph newest first with no ordering
//! pass (see `backward.rs`).
//!
//! The cost of that choice: memory comes back a chunk at a time. A node that outlives
//! the other nodes of its chunk keeps the chunk's memory (32 KiB) in use until it goes
//! too, and its group's (2 MiB) from going back to the system: the group's other
//! chunks stay spare, for the thread's new nodes.
//!
//! # Safety
//!
//! This module is the crate's only `unsafe` code. The invariants it keeps:
//!
//! - A node's `handles` count is the number of live [`NodeRef`]s to it. A slot holds
//!   an initialised node exactly while the count is positive, and every other slot has
//!   a count of 0: a group's memory is zeroed when it is allocated, a node is written
//!   whole (its count of 1 with it) once its op is built, and when the count reaches 0
//!   the node's op (or, for the common shapes, its operands) is moved out and the slot
//!   given up, its count left at 0. That is how [`sweep`] and [`for_each_live_node`]
//!   tell a slot without a node from a live one, including a slot handed out for a
//!   node still being built, or whose builder panicked.
//! - A chunk's `live` count is the number of its slots that are either handed out and
//!   not yet freed, or not handed out yet while the chunk is its thread's current chunk.
//!   At 0 the chunk is spare: it goes back to its thread's spare list, or, once the
//!   thread is gone, only counts towards freeing its group.
//! - While a thread's arena lives, the chunks in use (started and not yet spare) are
//!   exactly those in its list, linked through their headers in the order they were
//!   started (see `Arena::newest`); [`FILL`] points into the one being filled, if any.
//! - A group's `spare` count is the number of its chunks that are spare. The group is
//!   deallocated when it reaches the group's size, after its chunks have left the spare
//!   list, and never touched again.
//! - Handles are `!Send` (they hold a raw pointer), so a chunk is only ever used from
//!   the thread that allocated it.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::mem::{offset_of, size_of, MaybeUninit};
use std::ops::{ControlFlow, Deref};
use std::ptr::{self, NonNull};

use crate::backward::scratch;
use crate::op::Op;
use crate::value::{forget_label, Node, Value};

/// Bytes per chunk, which is also the chunk's alignment.
const CHUNK_BYTES: usize = 1 << 15;

/// Nodes per chunk: as many 48-byte slots as fit after the header (681).
const SLOTS: usize = (CHUNK_BYTES - size_of::<Header>()) / size_of::<Node>();

/// Chunks allocated together (2 MiB, a huge page on x86-64 and on most 64-bit Arm
/// systems).
const GROUP: usize = 64;

/// The alignment of a group of [`GROUP`] chunks: on Linux its size, which a huge page
/// needs (see [`ask_for_huge_pages`]); elsewhere a chunk's, as an allocator may set
/// aside as much again as it is asked to align to.
const GROUP_ALIGN: usize = if cfg!(target_os = "linux") {
    GROUP * CHUNK_BYTES
} else {
    CHUNK_BYTES
};

/// How far below the node it is freeing [`free_graph`] asks for memory, in slots
/// (see [`prefetch`]): 12 KiB. The best of the distances measured (16 to 1,024 slots)
/// on W2's and W3's graphs. Into the second-level cache, not the first, which is small
/// enough to crowd.
///
/// A graph built in one go lies in creation order, and [`free_graph`] frees it newest
/// first, so the nodes it frees next lie just below the one it is at. Once a graph
/// outgrows the last-level cache, each of those is a wait for memory, and freeing
/// cannot overlap the waits: it finds the next node through the one it is freeing.
/// Asked for early, W3's drop went from 6.4–7.6 to 4.8–5.4 ns per term at 200,000
/// terms, and W2 took 2–10% less time, depending on the harness. A graph that fits in
/// the caches gains nothing and pays an instruction per freed node: W1's scalar step
/// moved within the noise in the bench example and took up to 5% longer under
/// criterion (see BENCHMARKS.md, step 11). The same hint in [`sweep`] gained less
/// than it cost graphs in the caches: `backward()` walks the slots in address order,
/// which the processor follows on its own.
const FREE_AHEAD: isize = 256;

/// How far past the slot it hands out [`next_slot`] asks for memory, in slots (see
/// [`prefetch`]), into the first-level cache: 12 KiB. 64 and 128 slots did not help
/// W3's build at 200,000 terms; 256 and 512 did, alike.
///
/// Nodes are written one after the other, so the slot handed out next lies just after
/// this one, in memory a large graph's last pass (its drop, say) left long ago. Written
/// to without asking, each new cache line was a wait for memory: W3's build at 200,000
/// terms took 5.5–6.1 ns per term, against 3.8 while the graph fits in the caches.
/// Asked for 12 KiB ahead, it took 4.5–4.7, with `backward()` and the drop unchanged,
/// and graphs in the caches built as fast as before. W1's scalar step, whose graph
/// fits in the caches, pays the instruction: up to 4% longer in the profiling program,
/// and more in the bench example (see BENCHMARKS.md, step 15). Steps 11 and 13 asked
/// for memory here while building still spilled the caller's numbers at every node
/// (ended in step 14): the build gained, but W1 lost, or `backward()` and the drop
/// lost as much.
const BUILD_AHEAD: isize = 256;

/// Spare chunks a review never gives back (4 MiB): the least a running thread keeps
/// for reuse, once it has used that many.
const KEEP_SPARE: usize = 128;

/// The window (in chunks started, 64 MiB of nodes) over which a thread notes the most
/// chunks it had in use at once. Spare chunks beyond what the last [`WINDOWS`] windows
/// needed go back to the system.
const REVIEW_EVERY: usize = 2048;

/// How many windows of use a thread remembers (the current one included): 512 MiB of
/// new nodes. With half that, a 230 MiB graph rebuilt after a few smaller workloads
/// found its memory given back, and paid 45,000 page faults (twice its time).
const WINDOWS: usize = 8;

/// What a chunk knows about itself.
#[repr(C)]
struct Header {
    /// See the module's safety notes.
    live: Cell<usize>,
    /// When the chunk was started, counted in chunks per thread: every node in a chunk
    /// with a larger `seq` was created after every node in this one.
    seq: Cell<u64>,
    /// The last backward pass that needs to look into this chunk (see [`sweep`]).
    pass: Cell<u64>,
    /// While the chunk is in use in its thread's arena: the chunks in use started just
    /// before and just after it (null at either end). See [`Arena::newest`].
    older: Cell<*mut Chunk>,
    newer: Cell<*mut Chunk>,
    /// The first chunk of this chunk's group, whose header keeps the group's counts.
    group: Cell<*mut Chunk>,
    /// In a group's first chunk: how many of the group's chunks are spare.
    spare: Cell<u32>,
    /// In a group's first chunk: how many chunks the group has.
    group_len: Cell<u32>,
}

/// A block of slots, recycled as a unit, aligned to its size.
#[repr(C, align(32768))]
struct Chunk {
    header: Header,
    slots: [MaybeUninit<Node>; SLOTS],
}

const _: () = assert!(size_of::<Chunk>() == CHUNK_BYTES);
const _: () = assert!(std::mem::align_of::<Chunk>() == CHUNK_BYTES);

/// A counted handle to one node: the crate's own `Rc<Node>`, with the node in a chunk.
pub(crate) struct NodeRef {
    slot: NonNull<Node>,
}

impl NodeRef {
    /// Places the node that `make` builds (with a count of 1) in the next slot of this
    /// thread's current chunk. Taking a builder rather than a node lets the node be
    /// written straight into its slot instead of being staged on the stack first.
    ///
    /// `make` runs once the slot is handed out (it builds the op, which may clone
    /// operands). Until the node is written, the slot keeps the count of 0 that every
    /// slot without a node has, so a pass over the chunk meanwhile skips it; should
    /// `make` panic, it stays that way, and the chunk is never reused.
    #[inline(always)]
    pub(crate) fn new(make: impl FnOnce() -> Node) -> NodeRef {
        let slot = next_slot();
        // SAFETY: `slot` is a slot of a live chunk that nothing else uses.
        let node = unsafe {
            write_node(slot, make());
            slot.as_ref()
        };
        debug_assert_eq!(node.handles.get(), 1);
        NodeRef { slot }
    }

    fn node(&self) -> &Node {
        // SAFETY: a handle keeps its node's count positive, so the slot is initialised.
        unsafe { self.slot.as_ref() }
    }

    /// Whether two handles point to the same node.
    pub(crate) fn ptr_eq(&self, other: &NodeRef) -> bool {
        self.slot == other.slot
    }

    /// The node's address: an identity that lasts while the node does.
    pub(crate) fn address(&self) -> usize {
        self.slot.as_ptr() as usize
    }

    /// Gives up this handle without touching the count: the caller now owes the
    /// decrement (see [`free_graph`]).
    fn into_raw(self) -> NonNull<Node> {
        let slot = self.slot;
        std::mem::forget(self);
        slot
    }

    /// Where the node comes in its thread's creation order: a node with a smaller rank
    /// was created earlier. Meaningful for nodes that [`holds`] is true of.
    pub(crate) fn creation_rank(&self) -> (u64, usize) {
        let chunk = chunk_of(self.slot);
        // SAFETY: a live handle's chunk is live.
        let seq = unsafe { (*chunk.as_ptr()).header.seq.get() };
        (seq, index_of(self.slot))
    }

    /// Records that backward pass `pass` has reached this node, so that [`sweep`]
    /// looks into its chunk.
    #[inline]
    pub(crate) fn flag_chunk(&self, pass: u64) {
        // SAFETY: a live handle's chunk is live.
        unsafe { (*chunk_of(self.slot).as_ptr()).header.pass.set(pass) };
    }
}

/// Writes `node` into the slot at `slot`, whose previous contents (if any) are not
/// dropped.
///
/// Written as a whole, a node took a store per field, eight for a binary node with
/// the slot's hand-out, and building a graph is bound by its stores. So `data` and
/// `grad`, which lie side by side, are written with one 16-byte store, and `mark` and
/// `handles` with one 8-byte store: six stores for a binary node, four for a leaf.
/// W3's sum went from 4.6–4.8 to 4.1 ns per term to build at 50,000 terms, and W1's
/// scalar step took 5–8% less time (see BENCHMARKS.md, step 14).
///
/// # Safety
///
/// `slot` must be valid for writing a node.
#[inline(always)]
unsafe fn write_node(slot: NonNull<Node>, node: Node) {
    let Node {
        op,
        data,
        grad,
        mark,
        handles,
    } = node;
    let node = slot.as_ptr();
    // The two halves of the 8-byte word that `mark` starts (see `Node`'s layout).
    let (low, high) = if cfg!(target_endian = "little") {
        (mark.bits(), handles.get())
    } else {
        (handles.get(), mark.bits())
    };
    // SAFETY: the caller's guarantee; `Node`'s layout puts `grad` right after `data`,
    // and `handles` right after `mark`, at an offset that is a multiple of 8 in a node
    // aligned to 8.
    unsafe {
        (&raw mut (*node).op).write(op);
        write_pair((&raw mut (*node).data).cast(), data.get(), grad.get());
        (&raw mut (*node).mark)
            .cast::<u64>()
            .write(u64::from(low) | (u64::from(high) << 32));
    }
}

/// Writes `[first, second]` at `to` with one store where the processor has one for
/// 16 bytes that the compiler would otherwise split.
///
/// # Safety
///
/// `to` must be valid for writing 16 bytes, aligned to 8.
#[inline(always)]
unsafe fn write_pair(to: *mut f64, first: f64, second: f64) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE2 is in every x86-64 target's baseline; the store is unaligned, and
    // `to` valid for 16 bytes (the caller's guarantee).
    unsafe {
        use std::arch::x86_64::{_mm_set_pd, _mm_storeu_pd};
        _mm_storeu_pd(to, _mm_set_pd(second, first));
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: the caller's guarantee.
    unsafe {
        to.cast::<[f64; 2]>().write([first, second]);
    }
}

impl Deref for NodeRef {
    type Target = Node;

    #[inline]
    fn deref(&self) -> &Node {
        self.node()
    }
}

impl Clone for NodeRef {
    #[inline]
    fn clone(&self) -> NodeRef {
        let handles = &self.node().handles;
        // Four billion handles to one node would need 32 GiB of handles alone; stop
        // rather than wrap, as `Rc` does.
        let count = handles
            .get()
            .checked_add(1)
            .unwrap_or_else(|| std::process::abort());
        handles.set(count);
        NodeRef { slot: self.slot }
    }
}

impl Drop for NodeRef {
    #[inline]
    fn drop(&mut self) {
        let handles = &self.node().handles;
        let count = handles.get() - 1;
        handles.set(count);
        if count == 0 {
            // SAFETY: that was the last handle.
            unsafe { free_graph(self.slot) };
        }
    }
}

/// The chunk that the slot at `slot` belongs to: its address rounded down to the
/// chunk size, with the same provenance (the chunk's allocation).
#[inline]
fn chunk_of(slot: NonNull<Node>) -> NonNull<Chunk> {
    slot.map_addr(|a| {
        // A slot never lies at the very start of its chunk (the header does), so the
        // rounded address is not 0.
        std::num::NonZeroUsize::new(a.get() & !(CHUNK_BYTES - 1)).unwrap_or(a)
    })
    .cast()
}

/// The slot's position in its chunk.
fn index_of(slot: NonNull<Node>) -> usize {
    let offset = slot.as_ptr() as usize % CHUNK_BYTES;
    (offset - offset_of!(Chunk, slots)) / size_of::<Node>()
}

/// A pointer to slot `index` of `chunk`, with the chunk's provenance.
fn slot_at(chunk: NonNull<Chunk>, index: usize) -> NonNull<Node> {
    debug_assert!(index < SLOTS);
    // SAFETY: in bounds of the chunk's slot array.
    unsafe { NonNull::new_unchecked((&raw mut (*chunk.as_ptr()).slots).cast::<Node>().add(index)) }
}

/// Whether this thread's arena holds the node: every node of the thread, until its
/// arena is gone while the thread exits. From then on none is held, neither those made
/// before nor those made after (which lie outside the arena).
pub(crate) fn holds(node: &NodeRef) -> bool {
    // SAFETY: `node` is live, so its chunk is.
    let seq = unsafe { (*chunk_of(node.slot).as_ptr()).header.seq.get() };
    // A live node's chunk is in use; chunks made once the arena is gone have `seq` 0.
    seq != 0 && ARENA.try_with(|_| ()).is_ok()
}

/// Calls `visit` on the live nodes created no later than `root`, newest first (so
/// every node comes before its operands, which are older), until it breaks.
///
/// Only chunks flagged for `pass` (with [`NodeRef::flag_chunk`]) are looked into;
/// `visit` flags the chunk of every node it still needs to see before it returns.
///
/// `root` must be held by this thread's arena (see [`holds`]). `visit` may run user
/// code (a custom op's derivative), which may create or free nodes: new nodes go to
/// slots newer than any this sweep visits, and only nodes that `root` does not reach
/// can be freed, so the chunk of a reached node stays in use while it is visited, and
/// the next older chunk is read from its links only once its visit is over.
pub(crate) fn sweep(root: &NodeRef, pass: u64, mut visit: impl FnMut(&Node) -> ControlFlow<()>) {
    debug_assert!(holds(root), "sweep: the node is not in this thread's arena");
    let mut chunk = chunk_of(root.slot);
    root.flag_chunk(pass);
    let mut top = index_of(root.slot);
    loop {
        // SAFETY: `chunk` is in the arena's list, so it is live.
        if unsafe { (*chunk.as_ptr()).header.pass.get() } == pass {
            for index in (0..=top).rev() {
                let slot = slot_at(chunk, index);
                // SAFETY: every slot up to `top` was handed out: `top` is the root's
                // slot in its chunk, and older chunks are full. A slot without a node
                // (freed, or its node not yet built) has a count of 0, and a slot with
                // a positive count holds a live node.
                let node = unsafe {
                    if (*slot.as_ptr()).handles.get() == 0 {
                        continue;
                    }
                    slot.as_ref()
                };
                if visit(node).is_break() {
                    return;
                }
            }
        }
        // SAFETY: as above; the chunks in use are listed in the order they started.
        match NonNull::new(unsafe { (*chunk.as_ptr()).header.older.get() }) {
            Some(older) => (chunk, top) = (older, SLOTS - 1),
            None => return,
        }
    }
}

/// Which cache [`prefetch`] fills.
#[derive(Clone, Copy)]
enum Cache {
    First,
    Second,
}

/// Asks the processor to bring the memory `slots` slots after `slot` (before it, if
/// negative) into `cache`. Does nothing on processors other than x86-64. See
/// [`FREE_AHEAD`] and [`BUILD_AHEAD`] for where and why.
///
/// The address may lie outside the chunk, or outside any allocation: a prefetch reads
/// nothing that the program sees, and never faults.
#[inline(always)]
fn prefetch(slot: *const Node, slots: isize, cache: Cache) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` needs SSE, which every x86-64 target has in its baseline;
    // the instruction is a hint, which neither reads memory that the program sees nor
    // faults, whatever the address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0, _MM_HINT_T1};
        let at = slot
            .cast::<i8>()
            .wrapping_offset(slots * size_of::<Node>() as isize);
        match cache {
            Cache::First => _mm_prefetch::<_MM_HINT_T0>(at),
            Cache::Second => _mm_prefetch::<_MM_HINT_T1>(at),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (slot, slots, cache);
}

/// Calls `f` on every live node in this thread's arena. Used by the rare passes that
/// must touch every node: resetting traversal stamps (see `value::reserve_passes`) and
/// clearing zero-safe flags (see `sparse.rs`). Nodes created while the thread exits are
/// not in the arena, and neither pass needs them: their stamps would matter only after
/// 2²⁹ traversals during the exit, and `backward()` there takes a path that reads no
/// zero-safe flag (`backward_in_dfs_order`).
pub(crate) fn for_each_live_node(mut f: impl FnMut(&Node)) {
    let _ = ARENA.try_with(|arena| {
        let current = current_chunk();
        let mut next = arena.newest.get();
        while let Some(chunk) = NonNull::new(next) {
            // SAFETY: a chunk in the list is in use; `f` neither creates nor frees nodes
            // (see the callers), so the list stays as it is.
            next = unsafe { (*chunk.as_ptr()).header.older.get() };
            let handed_out = match current {
                Some((filling, used)) if filling == chunk => used,
                _ => SLOTS,
            };
            for index in 0..handed_out {
                let slot = slot_at(chunk, index);
                // SAFETY: the chunk is live and the slot handed out; a slot with a
                // positive count holds a node (see `sweep`).
                unsafe {
                    if (*slot.as_ptr()).handles.get() > 0 {
                        f(slot.as_ref());
                    }
                }
            }
        }
    });
}

/// Frees the node at `first` (whose count has reached 0) and every node that only it
/// kept alive, without recursion: operands whose count reaches 0 wait on a heap stack,
/// except the one freed next, which is carried over directly.
///
/// # Safety
///
/// `first`'s count must be 0, and its node still in place.
#[cold]
unsafe fn free_graph(first: NonNull<Node>) {
    let mut given_up = GivenUp::default();
    // SAFETY: the count is 0, so nothing else refers to the node.
    if unsafe { first.as_ref() }.op.is_leaf() {
        // A leaf owns nothing (dropping a vector of inputs frees many in a row).
        // SAFETY: as above; the slot is given up once.
        unsafe {
            given_up.add(first);
            given_up.release();
        }
        return;
    }
    // A training loop frees a graph of the same width every step: the list's memory
    // is kept from one call to the next (a nested call gets a list of its own).
    let mut pending: Vec<NonNull<Node>> = scratch::take();
    let mut next = Some(first);
    while let Some(slot) = next.take().or_else(|| pending.pop()) {
        prefetch(slot.as_ptr(), -FREE_AHEAD, Cache::Second);
        // SAFETY: the count is 0, so nothing else refers to the node. Its op (or, for
        // the common shapes, its operands) is moved out once, and the slot given up
        // right after; the rest is plain data.
        unsafe {
            // The common shapes are read in place: moving the whole op out first
            // copies it through the stack, and dispatching on its kind costs an
            // indirect jump (W1's scalar step went from 0.55 to 0.48 ms).
            match &(*slot.as_ptr()).op {
                Op::Binary(_, [a, b]) => {
                    let (a, b) = (ptr::read(a), ptr::read(b));
                    release(a, &mut next, &mut pending, &mut given_up);
                    release(b, &mut next, &mut pending, &mut given_up);
                }
                Op::Unary(_, x) | Op::Param(_, x, _) => {
                    release(ptr::read(x), &mut next, &mut pending, &mut given_up);
                }
                _ => {
                    // The other shapes hand their operands to a closure that
                    // `release_operands` does not inline. Had it captured `next` and
                    // `given_up`, they would live in memory for the whole loop, and
                    // each freed node would wait for their last store to be read back
                    // (W1's scalar step took 3% longer); it gets copies of its own.
                    let mut its_next = None;
                    let mut its_given_up = GivenUp::default();
                    ptr::read(&raw const (*slot.as_ptr()).op).release_operands(|operand| {
                        release(operand, &mut its_next, &mut pending, &mut its_given_up);
                    });
                    its_given_up.release();
                    // `next` was taken at the top of the loop and nothing in this arm
                    // sets it.
                    debug_assert!(next.is_none());
                    next = its_next;
                }
            }
            // SAFETY: the op has been moved out and its operands released.
            given_up.add(slot);
        }
    }
    // SAFETY: every slot counted has been given up.
    unsafe { given_up.release() };
    scratch::give_back(pending);
}

/// Lets go of one operand handle of a node being freed (see [`free_graph`]). An operand
/// whose count reaches 0 is freed on the spot if it is a leaf, and otherwise becomes
/// `next`, the node freed next (last in, first out); the one that was to go next waits
/// in `pending`.
///
/// Always inlined, with its state passed by reference: inlined, the references are to
/// the caller's locals, which can then stay in registers.
///
/// # Safety
///
/// `operand` must be a handle taken out of a node being freed, and `given_up`'s slots
/// must be released (with [`GivenUp::release`]) once the caller is done.
#[inline(always)]
unsafe fn release(
    operand: Value,
    next: &mut Option<NonNull<Node>>,
    pending: &mut Vec<NonNull<Node>>,
    given_up: &mut GivenUp,
) {
    let operand = operand.node.into_raw();
    // SAFETY: `operand` was a live handle, so its node is initialised.
    let handles = unsafe { &(*operand.as_ptr()).handles };
    let count = handles.get() - 1;
    handles.set(count);
    if count == 0 {
        // SAFETY: the count is 0, so nothing else refers to the node.
        if unsafe { operand.as_ref() }.op.is_leaf() {
            // A leaf owns nothing: freed on the spot, without waiting.
            // SAFETY: as above; its op owns nothing, so nothing is lost by leaving it
            // in place, and the slot is given up once.
            unsafe { given_up.add(operand) };
        } else if let Some(earlier) = next.replace(operand) {
            pending.push(earlier);
        }
    }
}

/// Slots given up one after another in one chunk, taken from the chunk's live count
/// together. Counting them in a register spares each freed node a read and a write of
/// the chunk's header, each waiting for the one before. Taking them a little later
/// only delays the chunk's reuse.
#[derive(Default)]
struct GivenUp {
    chunk: Option<NonNull<Chunk>>,
    count: usize,
}

impl GivenUp {
    /// Gives up the slot of a node whose count has reached 0 and whose op owns nothing
    /// any more (moved out, or a leaf's): forgets its label, and counts the slot for
    /// its chunk.
    ///
    /// # Safety
    ///
    /// `slot` must be a handed-out slot whose count is 0, given up only once.
    #[inline]
    unsafe fn add(&mut self, slot: NonNull<Node>) {
        // SAFETY: the caller's guarantees; the chunk is live until its slots are
        // released.
        if unsafe { slot.as_ref() }.mark.is_labelled() {
            forget_label(slot.as_ptr() as usize);
        }
        let chunk = chunk_of(slot);
        if self.chunk != Some(chunk) {
            // SAFETY: the slots counted so far have been given up.
            unsafe { self.release() };
            self.chunk = Some(chunk);
        }
        self.count += 1;
    }

    /// Takes the slots counted so far from their chunk's live count.
    ///
    /// # Safety
    ///
    /// Every slot counted must have been given up.
    unsafe fn release(&mut self) {
        if let Some(chunk) = self.chunk.take() {
            // SAFETY: the chunk counts each of these slots as live.
            unsafe { release_slots(chunk, std::mem::take(&mut self.count)) };
        }
    }
}

/// Sets a chunk's header for use: `live` slots counted as live, started as chunk
/// `seq`. The group fields are left as they are.
///
/// # Safety
///
/// `chunk` must be a chunk with no live slots, taken out of its group's spare count.
unsafe fn init_chunk(chunk: NonNull<Chunk>, live: usize, seq: u64) {
    // SAFETY: the header's fields are initialised (see `new_group`) plain data.
    unsafe {
        let header = &(*chunk.as_ptr()).header;
        header.live.set(live);
        header.seq.set(seq);
        header.pass.set(0);
    }
}

/// Takes `count` from `chunk`'s live count; at 0 the chunk is spare.
///
/// # Safety
///
/// `chunk` must be live with at least `count` live slots.
#[inline]
unsafe fn release_slots(chunk: NonNull<Chunk>, count: usize) {
    // SAFETY: the chunk is live (see above).
    let live = unsafe { &(*chunk.as_ptr()).header.live };
    let left = live.get() - count;
    live.set(left);
    if left == 0 {
        // SAFETY: the chunk has just become spare.
        unsafe { chunk_emptied(chunk) };
    }
}

/// Hands a chunk that has just become spare to its thread's arena, or, once the
/// thread's arena is gone, to its group's count.
///
/// # Safety
///
/// `chunk`'s last live slot must have just been released.
#[cold]
unsafe fn chunk_emptied(chunk: NonNull<Chunk>) {
    if ARENA.try_with(|arena| arena.retire(chunk)).is_err() {
        // The thread's arena is gone (the thread is exiting).
        // SAFETY: no slot of the chunk is live, and no arena lists it.
        unsafe { count_spare(chunk) };
    }
}

/// Counts a spare chunk that no arena lists towards its group, and deallocates the
/// group if that was its last chunk in use.
///
/// # Safety
///
/// `chunk` must have just become spare, and not be in any spare list.
unsafe fn count_spare(chunk: NonNull<Chunk>) {
    // SAFETY: a chunk's group lives while any of its chunks is in use, as this one was;
    // it is deallocated once, when its last chunk becomes spare.
    unsafe {
        let group = group_of(chunk);
        let spare = group.spare.get() + 1;
        group.spare.set(spare);
        if spare == group.group_len.get() {
            let first = (*chunk.as_ptr()).header.group.get();
            dealloc(first.cast(), group_layout(spare as usize));
        }
    }
}

/// The header that keeps the counts of `chunk`'s group (its group's first chunk's).
///
/// # Safety
///
/// `chunk`'s group must be allocated: true while any of its chunks is in use or
/// counted as spare.
unsafe fn group_of<'a>(chunk: NonNull<Chunk>) -> &'a Header {
    // SAFETY: the caller's guarantee; every chunk's `group` points to its group's first
    // chunk, whose header is initialised by `new_group`.
    unsafe { &(*(*chunk.as_ptr()).header.group.get()).header }
}

/// The layout of a group of `len` chunks: a full group is aligned to its size, others
/// (a chunk for a thread that is exiting) to a chunk's.
fn group_layout(len: usize) -> Layout {
    let align = if len == GROUP {
        GROUP_ALIGN
    } else {
        CHUNK_BYTES
    };
    Layout::from_size_align(len * CHUNK_BYTES, align).expect("a valid group layout")
}

/// Allocates a group of `len` chunks, all spare, and returns its first chunk (the
/// others follow it in memory).
fn new_group(len: usize) -> NonNull<Chunk> {
    let layout = group_layout(len);
    // SAFETY: the layout has a non-zero size.
    let raw = NonNull::new(unsafe { alloc(layout) }).unwrap_or_else(|| handle_alloc_error(layout));
    if len == GROUP {
        // Before this code writes it: memory fresh from the system is then backed by
        // huge pages as it is first written (memory the allocator reuses may already
        // be backed by small ones).
        ask_for_huge_pages(raw.as_ptr(), layout.size());
    }
    // Zeroed, so that every slot starts with a count of 0 (see the module's safety
    // notes) and a node need not have its count cleared before it is built: the
    // compiler kept that store beside the node's own, as the operands it reads in
    // between might lie in the same memory, and W3's sum took 6.8–7.7 ns per term to
    // build at 50,000 terms instead of 6.1–6.3 (see BENCHMARKS.md, step 13). Zeroing
    // costs one pass over the group's 2 MiB when it is allocated (the system
    // allocator cannot hand out memory this aligned already zeroed); a group is
    // reused for many graphs.
    // SAFETY: `raw` is valid for writes of the layout's size.
    unsafe { ptr::write_bytes(raw.as_ptr(), 0, layout.size()) };
    let first = raw.cast::<Chunk>();
    for k in 0..len {
        // SAFETY: chunk `k` lies within the allocation; writing the header initialises
        // it.
        unsafe {
            let chunk = first.as_ptr().add(k);
            (&raw mut (*chunk).header).write(Header {
                live: Cell::new(0),
                seq: Cell::new(0),
                pass: Cell::new(0),
                older: Cell::new(ptr::null_mut()),
                newer: Cell::new(ptr::null_mut()),
                group: Cell::new(first.as_ptr()),
                spare: Cell::new(len as u32),
                group_len: Cell::new(len as u32),
            });
        }
    }
    first
}

/// Asks the system to back the `len` bytes at `start` (a group, aligned to 2 MiB) with
/// huge pages, which it does for memory not yet written where it allows them at all
/// (on Linux: unless transparent huge pages are set to `never`).
///
/// With 4 KiB pages, a graph larger than what the processor's table of recent
/// translations covers (a few MiB to tens of MiB) pays a walk of the page tables every
/// few dozen nodes, in every pass over it. At W3's 200,000 terms (37 MiB) the engine
/// took 6–8% less time with huge pages (building 6%, `backward()` 4%, freeing 10–14%,
/// with the freeing loop placed alike), and W2's chain of a million steps (230 MiB)
/// 4–6% less in pairs of runs (30.5–32.3 → 29.4–31.0 ms). Graphs that fit in the
/// caches run as before (see BENCHMARKS.md, step 14).
///
/// A hint: if it fails, nothing changes but the speed.
#[cfg(target_os = "linux")]
fn ask_for_huge_pages(start: *mut u8, len: usize) {
    // SAFETY: the advice changes only how the system backs this allocation's pages, not
    // their contents or whether they are mapped.
    unsafe { libc::madvise(start.cast(), len, libc::MADV_HUGEPAGE) };
}

/// See the Linux version; other systems either back large allocations with huge pages
/// on their own or offer them only to privileged programs.
#[cfg(not(target_os = "linux"))]
fn ask_for_huge_pages(_start: *mut u8, _len: usize) {}

/// Deallocates groups whose chunks are all spare, taking their chunks out of `spare`,
/// while more than `keep` spare chunks would be left.
fn give_back_groups(spare: &mut SpareChunks, keep: usize) {
    // A group is chosen when its first spare chunk is met; marking its spare count
    // with `u32::MAX` lets the rest of its chunks be recognised and dropped.
    let mut left = spare.len();
    let mut chosen = Vec::new();
    spare.retain(|spare| {
        let chunk = spare.chunk.0;
        // SAFETY: a spare chunk's group lives until it is deallocated below.
        let (first, group) = unsafe { ((*chunk.as_ptr()).header.group.get(), group_of(chunk)) };
        if group.spare.get() == u32::MAX {
            return false;
        }
        let len = group.group_len.get() as usize;
        if group.spare.get() as usize == len && left - len >= keep {
            left -= len;
            group.spare.set(u32::MAX);
            chosen.push((first, len));
            return false;
        }
        true
    });
    for (first, len) in chosen {
        // SAFETY: every chunk of the group was spare and has left the list.
        unsafe { dealloc(first.cast(), group_layout(len)) };
    }
}

/// A chunk for nodes created after this thread's arena is gone, filled like any other
/// (see [`FILL`]): a group of its own that no arena knows of, its `seq` 0. Its slots
/// are released as its nodes go; the unused slots of the last one never are, so that
/// chunk (32 KiB) stays allocated.
#[cold]
fn late_chunk() -> NonNull<Chunk> {
    let chunk = new_group(1);
    // SAFETY: a fresh one-chunk group: its chunk is taken out of the spare count, and
    // all its slots count as live until handed out and freed.
    unsafe {
        (*chunk.as_ptr()).header.spare.set(0);
        init_chunk(chunk, SLOTS, 0);
    }
    chunk
}

/// A thread's spare chunks, the next to reuse on top.
type SpareChunks = BinaryHeap<Spare>;

/// A spare chunk, ordered for reuse: those freed since the last chunk was started
/// come first (they are the likeliest to be in the caches), and among chunks freed
/// between the same two starts, the lowest address first. So a graph freed and
/// rebuilt is rebuilt in address order, whatever order its chunks were freed in.
/// Reusing the last freed first instead handed the bench's 200,000-term sum its
/// chunks in reverse address order every other round, after a dot product that frees
/// its inputs oldest first, and the sum then took 35% longer.
///
/// The derived order compares the fields in turn: `freed`, then the address reversed.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Spare {
    /// The `next_seq` of the arena when the chunk became spare.
    freed: u64,
    chunk: Reverse<NonNull<Chunk>>,
}

impl Spare {
    fn new(chunk: NonNull<Chunk>, freed: u64) -> Spare {
        Spare {
            freed,
            chunk: Reverse(chunk),
        }
    }
}

/// Where the next node goes: the next slot of the chunk being filled, and the end of
/// that chunk's slots. Both are null before the first node and again when the thread's
/// arena goes, after which the chunks filled lie outside it (see [`late_chunk`]);
/// `next == end` also when the chunk is full.
///
/// Kept apart from [`Arena`] because handing out a slot is the hottest path of all:
/// this has no destructor, so reading it needs no check that the thread is still
/// alive, and the bump of one pointer replaces a count and an address computation.
/// With the chunk and a count kept in the arena, building W1's scalar graph took 53
/// instructions per node (callgrind); with this, 43, and W3's sum runs about 9% faster.
#[derive(Clone, Copy)]
struct Fill {
    next: *mut Node,
    end: *mut Node,
}

impl Fill {
    const EMPTY: Fill = Fill {
        next: ptr::null_mut(),
        end: ptr::null_mut(),
    };
}

thread_local! {
    static FILL: Cell<Fill> = const { Cell::new(Fill::EMPTY) };
}

/// The next free slot.
#[inline]
fn next_slot() -> NonNull<Node> {
    let Fill { next, end } = FILL.get();
    if next == end {
        return slot_in_new_chunk();
    }
    prefetch(next, BUILD_AHEAD, Cache::First);
    // SAFETY: `next` lies before `end`, so it is a slot of the chunk being filled that
    // has not been handed out; the one after it is at most `end`.
    unsafe {
        FILL.set(Fill {
            next: next.add(1),
            end,
        });
        NonNull::new_unchecked(next)
    }
}

/// The first slot of a chunk started for it, once the current one is full (or before
/// the thread's first node): a chunk outside the arena once the thread's arena is gone.
///
/// On x86-64 this is called with the Windows convention, on every system: the call
/// sits inside every operator, once per 681 nodes, and under the usual Unix convention
/// a call may overwrite every register that holds a number. The caller's numbers that
/// must outlive it (the operands' data, the user's own variables) were then kept on the
/// stack, stored and read back at every node. Under the Windows convention the callee
/// keeps ten of those registers intact, saving them itself when it does run. W3's sum
/// went from 5.8 to 4.6–4.8 ns per term to build at 50,000 terms, and W1's scalar step
/// took 4–7% less time (see BENCHMARKS.md, step 14). Rust's own convention for rarely
/// called functions (`rust-cold`) is not stable, and on x86-64 it keeps the integer
/// registers only.
///
/// Not `win64-unwind`: the unwinder on Unix systems does not restore those ten
/// registers, so a caller that caught a panic from here would find its numbers
/// overwritten. A panic here (only a broken invariant could cause one) aborts instead.
#[cfg(target_arch = "x86_64")]
#[cold]
extern "win64" fn slot_in_new_chunk() -> NonNull<Node> {
    start_filling()
}

/// See the x86-64 version. Elsewhere the usual convention stays: on 64-bit Arm, for
/// one, it already keeps eight of the registers for numbers intact across a call.
#[cfg(not(target_arch = "x86_64"))]
#[cold]
fn slot_in_new_chunk() -> NonNull<Node> {
    start_filling()
}

/// [`slot_in_new_chunk`]'s work: starts a chunk and hands out its first slot.
fn start_filling() -> NonNull<Node> {
    let chunk = ARENA
        .try_with(Arena::start_chunk)
        .unwrap_or_else(|_| late_chunk());
    let first = slot_at(chunk, 0);
    // SAFETY: slot 1 and the end of the slots lie within the chunk.
    FILL.set(unsafe {
        Fill {
            next: first.as_ptr().add(1),
            end: first.as_ptr().add(SLOTS),
        }
    });
    first
}

/// The chunk being filled and how many of its slots are handed out, unless it is full
/// (from then on a chunk lives as long as its nodes do) or there is none.
fn current_chunk() -> Option<(NonNull<Chunk>, usize)> {
    let Fill { next, end } = FILL.get();
    let next = NonNull::new(next).filter(|_| next != end)?;
    Some((chunk_of(next), index_of(next)))
}

/// One thread's chunks: every chunk with live nodes in creation order, and spares for
/// reuse. The chunk being filled is in [`FILL`].
struct Arena {
    /// The `seq` of the next chunk to start.
    next_seq: Cell<u64>,
    /// The newest chunk in use (started and not yet spare, the one being filled
    /// included), or null: one end of a list of every chunk in use, in the order they
    /// were started, linked through their headers. A list rather than a map keyed by
    /// `seq`: a sweep steps to the next older chunk, and a chunk joins and leaves, in
    /// constant time. With a `BTreeMap`, W1, W2 and W3 each took 3–5% longer.
    newest: Cell<*mut Chunk>,
    /// How many chunks the list holds.
    in_use: Cell<usize>,
    /// Spare chunks, to be reused in the order of [`Spare`].
    spare: RefCell<SpareChunks>,
    /// The most chunks in use at once in the current window (see [`REVIEW_EVERY`]).
    peak: Cell<usize>,
    /// The same for the windows before, most recent first.
    earlier_peaks: Cell<[usize; WINDOWS - 1]>,
    /// How many spare chunks may pile up before the next review.
    spare_limit: Cell<usize>,
}

thread_local! {
    static ARENA: Arena = const {
        Arena {
            next_seq: Cell::new(1),
            newest: Cell::new(ptr::null_mut()),
            in_use: Cell::new(0),
            spare: RefCell::new(BinaryHeap::new()),
            peak: Cell::new(0),
            earlier_peaks: Cell::new([0; WINDOWS - 1]),
            spare_limit: Cell::new(2 * KEEP_SPARE),
        }
    };
}

impl Arena {
    /// Starts a spare (or new) chunk, for the caller to fill (see [`FILL`]). All its
    /// slots count as live until handed out and freed.
    #[cold]
    fn start_chunk(&self) -> NonNull<Chunk> {
        let chunk = {
            let mut spare = self.spare.borrow_mut();
            if spare.is_empty() {
                let first = new_group(GROUP);
                let freed = self.next_seq.get();
                // SAFETY: the group's chunks follow its first in memory.
                spare.extend((0..GROUP).map(|k| Spare::new(unsafe { first.add(k) }, freed)));
            }
            spare.pop().expect("a spare chunk").chunk.0
        };
        // SAFETY: a spare chunk of this arena; its group lives while it is counted as
        // spare.
        let group = unsafe { group_of(chunk) };
        group.spare.set(group.spare.get() - 1);
        let seq = self.next_seq.get();
        self.next_seq.set(seq + 1);
        // SAFETY: the chunk is spare, now taken out of its group's spare count.
        unsafe { init_chunk(chunk, SLOTS, seq) };
        // The newest chunk in use joins the list at its newer end.
        let newest = self.newest.get();
        // SAFETY: `chunk` was just initialised; `newest`, if any, is in use.
        unsafe {
            let header = &(*chunk.as_ptr()).header;
            header.older.set(newest);
            header.newer.set(ptr::null_mut());
            if let Some(newest) = NonNull::new(newest) {
                (*newest.as_ptr()).header.newer.set(chunk.as_ptr());
            }
        }
        self.newest.set(chunk.as_ptr());
        let in_use = self.in_use.get() + 1;
        self.in_use.set(in_use);
        self.peak.set(self.peak.get().max(in_use));
        // Chunks are numbered from 1, so every `REVIEW_EVERY`-th start ends a window.
        if seq % REVIEW_EVERY as u64 == 0 {
            // The window ends: remember its peak, and start the next one.
            let mut peaks = self.earlier_peaks.get();
            peaks.rotate_right(1);
            peaks[0] = self.peak.get();
            self.earlier_peaks.set(peaks);
            self.peak.set(in_use);
            self.review_spare(&mut self.spare.borrow_mut());
        }
        chunk
    }

    /// Forgets a chunk whose last slot was freed and keeps it as a spare.
    fn retire(&self, chunk: NonNull<Chunk>) {
        // `sweep` relies on every chunk in the list being in use: the chunk leaves it,
        // its neighbours (in use) linked to each other.
        // SAFETY: the chunk was in use until now, and so are its neighbours.
        unsafe {
            let header = &(*chunk.as_ptr()).header;
            let (older, newer) = (header.older.get(), header.newer.get());
            if let Some(older) = NonNull::new(older) {
                (*older.as_ptr()).header.newer.set(newer);
            }
            match NonNull::new(newer) {
                Some(newer) => (*newer.as_ptr()).header.older.set(older),
                None => self.newest.set(older),
            }
        }
        self.in_use.set(self.in_use.get() - 1);
        // The spare list is never borrowed while nodes are freed (its borrows are short
        // and free nothing), so it is free here. Group counts rely on every spare chunk
        // being listed.
        let mut spare = self.spare.borrow_mut();
        spare.push(Spare::new(chunk, self.next_seq.get()));
        // SAFETY: the chunk's group lives while any of its chunks is not spare, as
        // this one was.
        let group = unsafe { group_of(chunk) };
        group.spare.set(group.spare.get() + 1);
        if spare.len() > self.spare_limit.get() {
            self.review_spare(&mut spare);
        }
    }

    /// Gives back to the system the spare memory that recent use does not need: whole
    /// groups of spare chunks, beyond the most chunks in use at once in the last
    /// [`WINDOWS`] windows (and at least [`KEEP_SPARE`]).
    ///
    /// So a program that builds and drops a large graph again and again keeps the
    /// memory for it, and does not have the system hand out (and zero) fresh pages at
    /// every step, while a program whose graphs shrink gets the rest back within
    /// `WINDOWS` × [`REVIEW_EVERY`] chunks of new nodes. Reviews happen at the end of
    /// each window, or when the spare chunks outgrow twice the larger of what the last
    /// review kept and what it allowed, so each costs O(1) per chunk.
    #[cold]
    fn review_spare(&self, spare: &mut SpareChunks) {
        let recent = self.earlier_peaks.get().into_iter().max().unwrap_or(0);
        let keep = self.peak.get().max(recent).max(KEEP_SPARE);
        if spare.len() > keep {
            give_back_groups(spare, keep);
        }
        self.spare_limit.set(2 * keep.max(spare.len()));
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // Spare chunks first: each counts as spare in its group already, and a group
        // whose chunks are all spare goes now. The others go when their last chunk in
        // use becomes spare (see `count_spare`); their spare chunks need no list.
        give_back_groups(self.spare.get_mut(), 0);
        let current = current_chunk();
        // Nodes made from now on go outside the arena (see `late_chunk`).
        FILL.set(Fill::EMPTY);
        if let Some((chunk, used)) = current {
            // The slots never handed out no longer count; nodes still alive keep the
            // chunk until they go.
            // SAFETY: the current chunk is live, counting every unused slot.
            unsafe { release_slots(chunk, SLOTS - used) };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::panic;
    use std::ptr;

    use super::{for_each_live_node, NodeRef, FILL, SLOTS};
    use crate::value::Node;
    use crate::Value;

    /// A slot handed out for a node whose builder panics has a count of 0, as every
    /// slot without a node has: passes over its chunk skip it, `backward()` sweeps past
    /// it, and the chunk goes on handing out slots.
    #[test]
    #[cfg(panic = "unwind")]
    fn a_slot_whose_builder_panics_reads_as_freed() {
        let mut kept = vec![Value::new(3.0)];
        while FILL.get().next == FILL.get().end {
            kept.push(Value::new(3.0));
        }
        let slot = FILL.get().next;
        // SAFETY: a slot of the chunk being filled, not yet handed out; its count is
        // initialised (see the module's safety notes).
        let count = || unsafe { (*slot).handles.get() };
        assert_eq!(count(), 0, "a slot without a node has a nonzero count");
        let built = panic::catch_unwind(|| NodeRef::new(|| -> Node { panic!("no node") }));
        assert!(built.is_err());
        assert_eq!(count(), 0, "a panicking builder left a count in its slot");
        let mut visited = false;
        for_each_live_node(|node| visited |= ptr::eq(node, slot));
        assert!(!visited, "a pass visited the slot of a node never built");
        // A graph on both sides of the slot: the sweep goes past it.
        let x = kept.last().expect("one value at least");
        let y = x * 2.0;
        y.backward();
        assert_eq!(x.grad(), 2.0);
    }

    /// Inputs dropped from a vector free their chunks oldest first. The next graph
    /// still gets those chunks lowest address first, so that it lies in memory in the
    /// order it is built (reusing the last freed first would hand them back in reverse).
    #[test]
    fn chunks_freed_together_come_back_in_address_order() {
        let build = || -> Vec<Value> { (0..5 * SLOTS).map(|i| Value::new(i as f64)).collect() };
        let first = build();
        drop(first);
        let again = build();
        let addresses: Vec<usize> = again.iter().map(|v| v.node.address()).collect();
        assert!(
            addresses.windows(2).all(|w| w[0] < w[1]),
            "nodes built in order do not lie in address order"
        );
    }
}
