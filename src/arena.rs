//! Where nodes live: per-thread chunks of slots, filled in creation order, and the
//! reference-counted handle ([`NodeRef`]) that a [`Value`](crate::Value) wraps.
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
//! The cost of that choice: memory comes back a chunk at a time. A node that outlives
//! the other nodes of its chunk keeps the chunk's memory (about 28 KiB) in use until it
//! goes too.
//!
//! # Safety
//!
//! This module is the crate's only `unsafe` code. The invariants it keeps:
//!
//! - A slot's `strong` count is the number of live [`NodeRef`]s to it. Its node is
//!   initialised exactly while the count is positive, and is moved out (and the slot
//!   given up) when the count reaches 0.
//! - A chunk's `live` count is the number of its slots that are either handed out and
//!   not yet freed, or not handed out yet while the chunk is its thread's current chunk.
//!   The chunk is recycled or deallocated when it reaches 0, and never touched again.
//! - Handles are `!Send` (they hold a raw pointer), so a chunk is only ever used from
//!   the thread that allocated it.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::mem::{offset_of, MaybeUninit};
use std::ops::ControlFlow;
use std::ops::Deref;
use std::ptr::{self, NonNull};

use crate::value::{forget_label, Node};

/// Slots per chunk: 512 slots of 56 bytes, 28 KiB.
const SLOTS: usize = 512;

/// Spare chunks kept per thread for reuse (8 MiB); further freed chunks go back to
/// the system allocator.
const MAX_SPARE: usize = (8 << 20) / std::mem::size_of::<Chunk>();

/// A node and its reference count.
#[repr(C)]
struct Slot {
    node: Node,
    /// Live handles to this node.
    strong: Cell<u32>,
    /// The slot's position in its chunk, to find the chunk from the slot.
    index: u32,
}

/// A binary-op node takes 56 bytes, its reference count included.
const _: () = assert!(std::mem::size_of::<Slot>() <= 56);

/// A block of slots, allocated and recycled as a unit.
#[repr(C)]
struct Chunk {
    /// See the module's safety notes.
    live: Cell<usize>,
    /// When the chunk was started, counted in chunks per thread: every node in a chunk
    /// with a larger `seq` was created after every node in this one.
    seq: Cell<u64>,
    /// The last backward pass that needs to look into this chunk (see [`sweep`]).
    pass: Cell<u64>,
    slots: [MaybeUninit<Slot>; SLOTS],
}

/// A counted handle to one node: the crate's own `Rc<Node>`, with the node in a chunk.
pub(crate) struct NodeRef {
    slot: NonNull<Slot>,
}

impl NodeRef {
    /// Places `node` in the next slot of this thread's current chunk.
    #[inline]
    pub(crate) fn new(node: Node) -> NodeRef {
        let slot = ARENA
            .try_with(Arena::next_slot)
            // While the thread exits, the arena may be gone: a chunk of its own then.
            .unwrap_or_else(|_| {
                let chunk = new_chunk();
                // SAFETY: a fresh chunk; only its first slot will count as live. It is
                // not registered with any arena, so `sweep` never looks into it.
                unsafe { init_chunk(chunk, 1, 0) };
                (slot_at(chunk, 0), 0)
            });
        let (slot, index) = slot;
        // SAFETY: `slot` is a slot of a live chunk that nothing else uses.
        unsafe {
            slot.as_ptr().write(Slot {
                node,
                strong: Cell::new(1),
                index,
            });
        }
        NodeRef { slot }
    }

    fn slot(&self) -> &Slot {
        // SAFETY: a handle keeps its slot's count positive, so the slot is initialised.
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
    fn into_raw(self) -> NonNull<Slot> {
        let slot = self.slot;
        std::mem::forget(self);
        slot
    }
}

impl NodeRef {
    /// Where the node comes in its thread's creation order: a node with a smaller rank
    /// was created earlier. Meaningful for nodes that [`holds`] is true of.
    pub(crate) fn creation_rank(&self) -> (u64, u32) {
        // SAFETY: a live handle's slot is handed out and its chunk live.
        unsafe {
            let seq = (*chunk_of(self.slot).as_ptr()).seq.get();
            (seq, (*self.slot.as_ptr()).index)
        }
    }

    /// Records that backward pass `pass` has reached this node, so that [`sweep`]
    /// looks into its chunk.
    #[inline]
    pub(crate) fn flag_chunk(&self, pass: u64) {
        // SAFETY: a live handle's slot is handed out and its chunk live.
        unsafe { (*chunk_of(self.slot).as_ptr()).pass.set(pass) };
    }
}

/// Whether this thread's arena holds the node, as it does every node except those
/// created while the thread exits.
pub(crate) fn holds(node: &NodeRef) -> bool {
    // SAFETY: `node` is live, so its chunk is.
    let chunk = unsafe { chunk_of(node.slot) };
    // SAFETY: as above.
    let seq = unsafe { (*chunk.as_ptr()).seq.get() };
    ARENA
        .try_with(|arena| arena.holds(chunk, seq))
        .unwrap_or(false)
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
/// can be freed, so the chunk of a reached node stays live while it is visited, and the
/// next older chunk is looked up afresh each time.
pub(crate) fn sweep(root: &NodeRef, pass: u64, mut visit: impl FnMut(&Node) -> ControlFlow<()>) {
    assert!(holds(root), "sweep: the node is not in this thread's arena");
    // SAFETY: `root` is live, so its chunk is.
    let mut chunk = unsafe { chunk_of(root.slot) };
    // SAFETY: as above.
    let mut seq = unsafe { (*chunk.as_ptr()).seq.get() };
    root.flag_chunk(pass);
    // SAFETY: `root` is live.
    let mut top = unsafe { (*root.slot.as_ptr()).index as usize };
    loop {
        // SAFETY: `chunk` is in the arena's map, so it is live; `visit` frees nothing.
        if unsafe { (*chunk.as_ptr()).pass.get() } == pass {
            for index in (0..=top).rev() {
                let slot = slot_at(chunk, index);
                // SAFETY: every slot up to `top` was handed out: `top` is the root's
                // slot in its chunk, and older chunks are full. A freed slot keeps a
                // count of 0, and a slot with a positive count holds a live node.
                let node = unsafe {
                    let slot = slot.as_ptr();
                    if (*slot).strong.get() == 0 {
                        continue;
                    }
                    &(*slot).node
                };
                if visit(node).is_break() {
                    return;
                }
            }
        }
        match ARENA.try_with(|arena| arena.chunk_before(seq)) {
            Ok(Some((older_seq, older))) => {
                (seq, chunk, top) = (older_seq, older, SLOTS - 1);
            }
            _ => return,
        }
    }
}

impl Deref for NodeRef {
    type Target = Node;

    #[inline]
    fn deref(&self) -> &Node {
        &self.slot().node
    }
}

impl Clone for NodeRef {
    #[inline]
    fn clone(&self) -> NodeRef {
        let strong = &self.slot().strong;
        // Four billion handles to one node would need 32 GiB of handles alone; stop
        // rather than wrap, as `Rc` does.
        let count = strong
            .get()
            .checked_add(1)
            .unwrap_or_else(|| std::process::abort());
        strong.set(count);
        NodeRef { slot: self.slot }
    }
}

impl Drop for NodeRef {
    #[inline]
    fn drop(&mut self) {
        let strong = &self.slot().strong;
        let count = strong.get() - 1;
        strong.set(count);
        if count == 0 {
            // SAFETY: that was the last handle.
            unsafe { free_graph(self.slot) };
        }
    }
}

/// Frees the node in `first` (whose count has reached 0) and every node that only it
/// kept alive, without recursion: operands whose count reaches 0 wait on a heap stack,
/// except the one freed next, which is carried over directly.
///
/// # Safety
///
/// `first`'s count must be 0, and its node still in place.
#[cold]
unsafe fn free_graph(first: NonNull<Slot>) {
    let mut pending: Vec<NonNull<Slot>> = Vec::new();
    let mut next = Some(first);
    while let Some(slot) = next.take().or_else(|| pending.pop()) {
        // SAFETY: the count is 0, so nothing else refers to the node. Its op is moved
        // out once, and the slot given up right after; the rest is plain data.
        let op = unsafe {
            let node = &raw const (*slot.as_ptr()).node;
            if (*node).mark.is_labelled() {
                forget_label(slot.as_ptr() as usize);
            }
            ptr::read(&raw const (*node).op)
        };
        op.release_operands(|operand| {
            let operand = operand.node.into_raw();
            // SAFETY: `operand` was a live handle, so its slot is initialised.
            let strong = unsafe { &(*operand.as_ptr()).strong };
            let count = strong.get() - 1;
            strong.set(count);
            if count == 0 {
                // Last in, first out: of the operands freed here, the last is freed
                // next and the others wait. Had the first gone on instead, a chain's
                // constants would wait until the whole chain was freed.
                if let Some(earlier) = next.replace(operand) {
                    pending.push(earlier);
                }
            }
        });
        // SAFETY: the node has been moved out, and nothing refers to the slot.
        unsafe { free_slot(slot) };
    }
}

/// Gives up a slot whose node has been moved out, and its chunk with it if that was
/// the chunk's last live slot.
///
/// # Safety
///
/// `slot` must be a handed-out slot whose node is gone.
unsafe fn free_slot(slot: NonNull<Slot>) {
    // SAFETY: the slot was handed out, and the chunk is live while any of its slots is.
    unsafe { release_slots(chunk_of(slot), 1) };
}

/// The chunk that `slot` belongs to.
///
/// # Safety
///
/// `slot` must be a handed-out slot of a live chunk (its node may be gone).
unsafe fn chunk_of(slot: NonNull<Slot>) -> NonNull<Chunk> {
    // SAFETY: `index` is plain data that stays valid after the node is moved out, and
    // the slot lies `index` slots into its chunk's array, in the same allocation.
    unsafe {
        let index = (*slot.as_ptr()).index as usize;
        slot.cast::<u8>()
            .sub(offset_of!(Chunk, slots) + index * std::mem::size_of::<Slot>())
            .cast::<Chunk>()
    }
}

/// Sets a chunk's header: `live` slots counted as live, started as chunk `seq`.
///
/// # Safety
///
/// `chunk` must be an allocated chunk with no live slots.
unsafe fn init_chunk(chunk: NonNull<Chunk>, live: usize, seq: u64) {
    // SAFETY: the header fields are plain data; writing them initialises them.
    unsafe {
        let chunk = chunk.as_ptr();
        (&raw mut (*chunk).live).write(Cell::new(live));
        (&raw mut (*chunk).seq).write(Cell::new(seq));
        (&raw mut (*chunk).pass).write(Cell::new(0));
    }
}

/// Takes `count` from `chunk`'s live count, and recycles the chunk if that leaves 0.
///
/// # Safety
///
/// `chunk` must be live with at least `count` live slots.
unsafe fn release_slots(chunk: NonNull<Chunk>, count: usize) {
    // SAFETY: the chunk is live (see above).
    let (live, seq) = unsafe { (&(*chunk.as_ptr()).live, (*chunk.as_ptr()).seq.get()) };
    let left = live.get() - count;
    live.set(left);
    if left == 0 {
        let kept = ARENA
            .try_with(|arena| arena.retire(chunk, seq))
            .unwrap_or(false);
        if !kept {
            // SAFETY: no slot of the chunk is live, and the arena does not hold it.
            unsafe { dealloc(chunk.as_ptr().cast(), Layout::new::<Chunk>()) };
        }
    }
}

/// A fresh chunk from the system allocator, with its slots uninitialised.
fn new_chunk() -> NonNull<Chunk> {
    let layout = Layout::new::<Chunk>();
    // SAFETY: the layout has a non-zero size.
    let raw = unsafe { alloc(layout) };
    NonNull::new(raw.cast::<Chunk>()).unwrap_or_else(|| handle_alloc_error(layout))
}

/// A pointer to slot `index` of `chunk`, with the chunk's provenance.
fn slot_at(chunk: NonNull<Chunk>, index: usize) -> NonNull<Slot> {
    debug_assert!(index < SLOTS);
    // SAFETY: in bounds of the chunk's slot array.
    unsafe { NonNull::new_unchecked((&raw mut (*chunk.as_ptr()).slots).cast::<Slot>().add(index)) }
}

/// One thread's chunks: the one being filled, every chunk with live nodes in creation
/// order, and spares for reuse.
struct Arena {
    /// The chunk being filled, or null before the first node and after a chunk fills.
    current: Cell<*mut Chunk>,
    /// Slots of `current` handed out so far.
    used: Cell<usize>,
    /// The `seq` of the next chunk to start.
    next_seq: Cell<u64>,
    /// Every chunk with live slots (the current one included), by `seq`.
    chunks: RefCell<BTreeMap<u64, NonNull<Chunk>>>,
    /// Empty chunks, most recently freed last.
    spare: RefCell<Vec<NonNull<Chunk>>>,
}

thread_local! {
    static ARENA: Arena = const {
        Arena {
            current: Cell::new(ptr::null_mut()),
            used: Cell::new(0),
            next_seq: Cell::new(1),
            chunks: RefCell::new(BTreeMap::new()),
            spare: RefCell::new(Vec::new()),
        }
    };
}

impl Arena {
    /// The next free slot, and its index in its chunk.
    #[inline]
    fn next_slot(&self) -> (NonNull<Slot>, u32) {
        let chunk = match NonNull::new(self.current.get()) {
            Some(chunk) => chunk,
            None => self.start_chunk(),
        };
        let index = self.used.get();
        self.used.set(index + 1);
        if index + 1 == SLOTS {
            // Full: from now on the chunk lives as long as its nodes do.
            self.current.set(ptr::null_mut());
        }
        (slot_at(chunk, index), index as u32)
    }

    /// Makes a spare (or new) chunk the current one. All its slots count as live
    /// until handed out and freed.
    #[cold]
    fn start_chunk(&self) -> NonNull<Chunk> {
        let spare = self.spare.try_borrow_mut().ok().and_then(|mut s| s.pop());
        let chunk = spare.unwrap_or_else(new_chunk);
        let seq = self.next_seq.get();
        self.next_seq.set(seq + 1);
        // SAFETY: the chunk is empty and owned by this arena.
        unsafe { init_chunk(chunk, SLOTS, seq) };
        // Nodes are only created outside of `sweep` and of freeing, the two places that
        // borrow the map, so it is free here.
        self.chunks.borrow_mut().insert(seq, chunk);
        self.current.set(chunk.as_ptr());
        self.used.set(0);
        chunk
    }

    /// Forgets a chunk whose last slot was freed, and keeps it for reuse if there is
    /// room. Returns whether it was kept.
    fn retire(&self, chunk: NonNull<Chunk>, seq: u64) -> bool {
        // Freeing never happens during a sweep (no user code runs there), so the map
        // is free here; `sweep` relies on every chunk in it being live.
        let removed = self.chunks.borrow_mut().remove(&seq);
        debug_assert_eq!(removed, Some(chunk));
        match self.spare.try_borrow_mut() {
            Ok(mut spare) if spare.len() < MAX_SPARE => {
                spare.push(chunk);
                true
            }
            _ => false,
        }
    }

    /// The newest live chunk started before chunk `seq`.
    fn chunk_before(&self, seq: u64) -> Option<(u64, NonNull<Chunk>)> {
        let chunks = self.chunks.borrow();
        chunks.range(..seq).next_back().map(|(&s, &c)| (s, c))
    }

    /// Whether `chunk` is one of this arena's live chunks.
    fn holds(&self, chunk: NonNull<Chunk>, seq: u64) -> bool {
        self.chunks.borrow().get(&seq) == Some(&chunk)
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        for chunk in self.spare.get_mut().drain(..) {
            // SAFETY: spare chunks have no live slots.
            unsafe { dealloc(chunk.as_ptr().cast(), Layout::new::<Chunk>()) };
        }
        if let Some(chunk) = NonNull::new(self.current.get()) {
            self.current.set(ptr::null_mut());
            // The slots never handed out no longer count; nodes still alive keep the
            // chunk until they go.
            // SAFETY: the current chunk is live, counting every unused slot.
            unsafe { release_slots(chunk, SLOTS - self.used.get()) };
        }
    }
}
