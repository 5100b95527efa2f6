//! The one allocator built on `mem_chunk`, as the next lessons will build theirs: blocks carved
//! from chunks an implementation hands out (a [`Parts`]), a large block in a chunk of its own,
//! and, when asked, each chunk given back with `release_chunk` once its last block is freed.
//!
//! It is not a global allocator of its own: [`CountingAllocator`](super::CountingAllocator)
//! routes to it while it is on ([`start`]), and to the system's allocator otherwise, and tells
//! the two kinds of block apart by the chunks recorded here ([`dealloc`] says whose a block
//! was). The contract's foundation step runs it in a child on the implementation's parts,
//! without releasing (`foundation`); `tests/global_allocator.rs` runs a whole test binary's
//! threads on this crate's library, releasing.
//!
//! Every call holds one lock (a spin lock: a `Mutex` could allocate), and nothing here
//! allocates. A call of the implementation's that asks the global allocator for memory, from
//! inside this one, is served by the system instead and noted ([`Seen::reentered`]).
//!
//! # Safety
//! The one unsafe call is `release_chunk`, made only for a chunk this allocator took and none
//! of whose blocks is live.

use std::alloc::Layout;
use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{
    AtomicBool, AtomicUsize, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};

use super::Parts;

/// How the allocator uses its chunks.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How much it asks `mem_chunk` for at a time, to carve small blocks from. A block of more
    /// than a quarter of it gets a chunk of its own.
    pub chunk: usize,
    /// Whether a chunk goes back with `release_chunk` once its last block is freed.
    pub release: bool,
}

/// How many chunks it can hold at once.
pub const MOST: usize = 1024;

/// Whether it serves blocks now.
static ON: AtomicBool = AtomicBool::new(false);
/// The implementation and the settings, from the first [`start`].
static PARTS: OnceLock<(Parts, Settings)> = OnceLock::new();
/// The lock every call holds.
static LOCKED: AtomicBool = AtomicBool::new(false);
/// The slot of the chunk small blocks are carved from (`MOST`: none), its next free byte and
/// its end.
static CURRENT: AtomicUsize = AtomicUsize::new(MOST);
static NEXT: AtomicUsize = AtomicUsize::new(0);
static END: AtomicUsize = AtomicUsize::new(0);
/// Each chunk held: its start (0: a free slot), the size asked, and its live blocks.
static STARTS: [AtomicUsize; MOST] = [const { AtomicUsize::new(0) }; MOST];
static SIZES: [AtomicUsize; MOST] = [const { AtomicUsize::new(0) }; MOST];
static LIVE: [AtomicUsize; MOST] = [const { AtomicUsize::new(0) }; MOST];
/// How many slots were ever used: the scans stop there.
static USED: AtomicUsize = AtomicUsize::new(0);
/// How many chunks were taken, and given back, in all.
static TAKEN: AtomicUsize = AtomicUsize::new(0);
static RELEASED: AtomicUsize = AtomicUsize::new(0);
/// Whether more than [`MOST`] chunks were needed at once.
static FULL: AtomicBool = AtomicBool::new(false);
/// Whether the implementation called the global allocator from inside this one's call.
static REENTERED: AtomicBool = AtomicBool::new(false);
/// How many chunks `release_chunk` refused.
static REFUSED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Whether this thread is inside the implementation, called by the allocator.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// Holds the lock.
struct Locked;

impl Locked {
    fn take() -> Locked {
        let mut spins = 0u32;
        while LOCKED
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            spins += 1;
            if spins.is_multiple_of(64) {
                // The holder may be waiting for a CPU: give it one.
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        Locked
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        LOCKED.store(false, Release);
    }
}

/// Turns the allocator on, on `parts` with `settings` (those of the first call stay).
pub fn start(parts: Parts, settings: Settings) {
    let _ = PARTS.set((parts, settings));
    ON.store(true, Relaxed);
}

/// Turns it off: new blocks come from the system again; its own are still freed here.
pub fn stop() {
    ON.store(false, Relaxed);
}

/// Whether it serves blocks now.
pub fn on() -> bool {
    ON.load(Relaxed)
}

/// Runs `f`, a call of the implementation's, marked as made from inside the allocator.
fn inside<T>(f: impl FnOnce() -> T) -> T {
    INSIDE.with(|inside| inside.set(true));
    let value = f();
    INSIDE.with(|inside| inside.set(false));
    value
}

/// Asks `mem_chunk` for `size` bytes and records the chunk; its slot, or `None` when refused
/// or when no slot is free.
fn new_chunk(parts: &Parts, size: usize) -> Option<usize> {
    let used = USED.load(Relaxed);
    let slot = (0..used)
        .find(|&i| STARTS[i].load(Relaxed) == 0)
        .or((used < MOST).then_some(used));
    let Some(slot) = slot else {
        FULL.store(true, Relaxed);
        return None;
    };
    let start = inside(|| (parts.mem_chunk)(size)).ok()? as usize;
    STARTS[slot].store(start, Relaxed);
    SIZES[slot].store(size, Relaxed);
    LIVE[slot].store(0, Relaxed);
    USED.store(used.max(slot + 1), Relaxed);
    TAKEN.fetch_add(1, Relaxed);
    Some(slot)
}

/// A block for `layout`, if the allocator is on: `Some(null)` when `mem_chunk` refused. `None`
/// when it is off, or when the implementation itself is asking from inside it (the caller
/// then uses the system's allocator).
pub fn alloc(layout: Layout) -> Option<*mut u8> {
    let (parts, settings) = PARTS.get().filter(|_| ON.load(Relaxed))?;
    if from_inside() {
        return None;
    }
    let _locked = Locked::take();
    let (size, align) = (layout.size().max(1), layout.align());
    let Some(padded) = size.checked_add(align) else {
        return Some(std::ptr::null_mut());
    };
    if padded > settings.chunk / 4 {
        let Some(slot) = new_chunk(parts, padded) else {
            return Some(std::ptr::null_mut());
        };
        LIVE[slot].store(1, Relaxed);
        return Some(STARTS[slot].load(Relaxed).next_multiple_of(align) as *mut u8);
    }
    let mut at = NEXT.load(Relaxed).next_multiple_of(align);
    if CURRENT.load(Relaxed) == MOST || at + size > END.load(Relaxed) {
        let Some(slot) = new_chunk(parts, settings.chunk) else {
            return Some(std::ptr::null_mut());
        };
        let old = CURRENT.swap(slot, Relaxed);
        if old != MOST && LIVE[old].load(Relaxed) == 0 {
            give_back(parts, settings, old);
        }
        let start = STARTS[slot].load(Relaxed);
        END.store(start + settings.chunk, Relaxed);
        at = start.next_multiple_of(align);
    }
    NEXT.store(at + size, Relaxed);
    LIVE[CURRENT.load(Relaxed)].fetch_add(1, Relaxed);
    Some(at as *mut u8)
}

/// Gives the chunk in `slot`, which holds no live block, back, when the settings say so.
fn give_back(parts: &Parts, settings: &Settings, slot: usize) {
    if !settings.release {
        return;
    }
    let start = STARTS[slot].load(Relaxed);
    // SAFETY: the chunk is this allocator's, and no block of it is live: nothing uses it.
    let released = inside(|| unsafe { (parts.release_chunk)(start as *mut u8) });
    if released.is_err() {
        REFUSED.fetch_add(1, Relaxed);
        return;
    }
    STARTS[slot].store(0, Relaxed);
    RELEASED.fetch_add(1, Relaxed);
}

/// Frees `ptr` if it is a block of this allocator's, and says whether it was; a block of the
/// system's is the caller's to free.
pub fn dealloc(ptr: *mut u8) -> bool {
    if USED.load(Relaxed) == 0 || from_inside() {
        return false;
    }
    let _locked = Locked::take();
    let Some(slot) = slot_of(ptr as usize) else {
        return false;
    };
    let live = LIVE[slot].load(Relaxed);
    // 0 only when an implementation handed out overlapping chunks: the workload shows that.
    LIVE[slot].store(live.saturating_sub(1), Relaxed);
    if live == 1
        && let Some((parts, settings)) = PARTS.get()
    {
        if slot == CURRENT.load(Relaxed) {
            // Empty again: carve it from its start.
            NEXT.store(STARTS[slot].load(Relaxed), Relaxed);
        } else {
            give_back(parts, settings, slot);
        }
    }
    true
}

/// Whether `ptr` is a block of this allocator's.
pub fn owns(ptr: *mut u8) -> bool {
    if USED.load(Relaxed) == 0 || from_inside() {
        return false;
    }
    let _locked = Locked::take();
    slot_of(ptr as usize).is_some()
}

/// The slot of the chunk holding `addr`, if one does.
fn slot_of(addr: usize) -> Option<usize> {
    (0..USED.load(Relaxed)).find(|&i| {
        let start = STARTS[i].load(Relaxed);
        start != 0 && (start..start + SIZES[i].load(Relaxed)).contains(&addr)
    })
}

/// Whether the implementation is calling from inside the allocator (noted as reentered): the
/// lock is held, and every block it frees or grows there is the system's, since all it got
/// from inside came from the system.
fn from_inside() -> bool {
    let inside = INSIDE.with(Cell::get);
    if inside {
        REENTERED.store(true, Relaxed);
    }
    inside
}

/// Calls `f` with the start and the size asked of each chunk the allocator holds. The lock is
/// not held while `f` runs, so `f` may allocate.
pub fn for_each_chunk(mut f: impl FnMut(usize, usize)) {
    for i in 0..USED.load(Relaxed) {
        let (start, size) = {
            let _locked = Locked::take();
            (STARTS[i].load(Relaxed), SIZES[i].load(Relaxed))
        };
        if start != 0 {
            f(start, size);
        }
    }
}

/// What the allocator saw, in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// Chunks taken from `mem_chunk`.
    pub taken: usize,
    /// Chunks given back with `release_chunk`.
    pub released: usize,
    /// Chunks `release_chunk` refused.
    pub refused: usize,
    /// Whether more than [`MOST`] chunks were needed at once.
    pub full: bool,
    /// Whether the implementation called the global allocator from inside this one.
    pub reentered: bool,
}

/// What the allocator saw so far.
pub fn seen() -> Seen {
    Seen {
        taken: TAKEN.load(Relaxed),
        released: RELEASED.load(Relaxed),
        refused: REFUSED.load(Relaxed),
        full: FULL.load(Relaxed),
        reentered: REENTERED.load(Relaxed),
    }
}
