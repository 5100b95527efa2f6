//! Counting the global allocator's calls made inside a part. The allocator of the next lessons
//! calls `mem_chunk` from inside its own `alloc`, so `mem_chunk`, `find_chunk` and
//! `release_chunk` must never call the global allocator: a `Vec` that grows, a `Box`, a
//! `String`, or an `io::Error` with a message would call back into the allocator that is
//! asking them for memory.
//!
//! [`CountingAllocator`] is the global allocator of the binaries that run the contract (the
//! milestone's own and the learner's). It passes every call to the system's allocator and,
//! while [`counted`] runs a part, counts the calls. While the allocator built on `mem_chunk`
//! is on ([`on_chunks`](super::on_chunks): in the contract's foundation child, and in
//! `tests/global_allocator.rs`), it serves blocks from that instead.
//!
//! # Safety
//! A block is the system allocator's, or one `on_chunks` carved from a chunk `mem_chunk` gave
//! it alone; each method tells the two apart (`on_chunks::dealloc` says whose a block was) and
//! passes a system block's arguments unchanged to `System`, whose contract is the same as
//! theirs. Counting touches only atomics.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

use super::on_chunks;

/// The global allocator of the contract's binaries: the system's, with calls counted while a
/// part runs.
#[derive(Debug)]
pub struct CountingAllocator;

/// Whether a part is running now: only then are calls counted. (The contract runs its parts on
/// one thread, one at a time.)
static COUNTING: AtomicBool = AtomicBool::new(false);
/// Calls made while counting, since the last [`take`].
static CALLS: AtomicUsize = AtomicUsize::new(0);
/// The argument of the first part call that called the allocator, since the last [`take`]
/// (`usize::MAX`: none did).
static FIRST: AtomicUsize = AtomicUsize::new(usize::MAX);
/// Whether this is the global allocator of the running binary: set by its first call.
static INSTALLED: AtomicBool = AtomicBool::new(false);

impl CountingAllocator {
    fn count(&self) {
        INSTALLED.store(true, Relaxed);
        if COUNTING.load(Relaxed) {
            CALLS.fetch_add(1, Relaxed);
        }
    }
}

// SAFETY: a system block's arguments go unchanged to `System`, which upholds the `GlobalAlloc`
// contract for them; a block on chunks is at least `layout` long and aligned, in a chunk
// nothing else uses, and its chunk goes back only when no block of it is live. Counting
// allocates nothing and cannot fail.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.count();
        if let Some(block) = on_chunks::alloc(layout) {
            return block;
        }
        // SAFETY: the caller's promises for `layout` are System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.count();
        if let Some(block) = on_chunks::alloc(layout) {
            if !block.is_null() {
                // SAFETY: the block is `layout.size()` bytes of a chunk, ours alone; a chunk
                // may hold old bytes (a reused one), so it is zeroed here.
                unsafe { block.write_bytes(0, layout.size()) };
            }
            return block;
        }
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.count();
        if !on_chunks::on() && !on_chunks::owns(ptr) {
            // SAFETY: `ptr` came from System (the blocks on chunks are told apart).
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // A block moves between the two allocators: a new one, the bytes copied, the old freed.
        // SAFETY: the caller promises `new_size`, with `layout`'s alignment, is a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as above.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are live, distinct, and at least this long.
            unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
            // SAFETY: `ptr` is the caller's block of `layout`, no longer used.
            unsafe { self.dealloc(ptr, layout) };
        }
        new
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.count();
        if on_chunks::dealloc(ptr) {
            return;
        }
        // SAFETY: as above: not a block on chunks, so System's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Stops counting when dropped, even when the part panics.
struct Counting;

impl Drop for Counting {
    fn drop(&mut self) {
        COUNTING.store(false, Relaxed);
    }
}

/// Runs a part, `f`, called with `argument`, counting the global allocator's calls it makes.
pub(crate) fn counted<T>(argument: usize, f: impl FnOnce() -> T) -> T {
    let before = CALLS.load(Relaxed);
    COUNTING.store(true, Relaxed);
    let guard = Counting;
    let value = f();
    drop(guard);
    if CALLS.load(Relaxed) > before {
        let _ = FIRST.compare_exchange(usize::MAX, argument, Relaxed, Relaxed);
    }
    value
}

/// The calls counted since the last `take`, and the argument of the first part call that made
/// one; starts counting afresh. `None` if this binary's global allocator is not the counting
/// one, so nothing can be told.
pub(crate) fn take() -> Option<(usize, Option<usize>)> {
    let calls = CALLS.swap(0, Relaxed);
    let first = FIRST.swap(usize::MAX, Relaxed);
    INSTALLED
        .load(Relaxed)
        .then_some((calls, (first != usize::MAX).then_some(first)))
}

/// Runs `f`, counting the global allocator's calls it makes; the count is `None` when this
/// binary's global allocator is not [`CountingAllocator`], so nothing can be told. For a test
/// of code that must never allocate (`tests/no_allocation.rs`): the one counting allocator.
pub fn calls_during<T>(f: impl FnOnce() -> T) -> (T, Option<usize>) {
    let _ = take();
    let value = counted(0, f);
    (value, take().map(|(calls, _)| calls))
}
