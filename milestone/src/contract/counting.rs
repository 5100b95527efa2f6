//! Counting the global allocator's calls made inside a part. The allocator of the next lessons
//! calls `mem_chunk` from inside its own `alloc`, so `mem_chunk`, `find_chunk` and
//! `release_chunk` must never call the global allocator: a `Vec` that grows, a `Box`, a
//! `String`, or an `io::Error` with a message would call back into the allocator that is
//! asking them for memory.
//!
//! [`CountingAllocator`] is the global allocator of the binaries that run the contract (the
//! milestone's own and the learner's). It passes every call to the system's allocator and,
//! while [`counted`] runs a part, counts the calls.
//!
//! # Safety
//! The allocator's methods pass their arguments unchanged to `System`'s, whose contract is the
//! same as theirs; counting touches only atomics.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

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

// SAFETY: every method hands its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract for them; counting allocates nothing and cannot fail.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.count();
        // SAFETY: the caller's promises for `layout` are System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.count();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.count();
        // SAFETY: as above: `ptr` came from this allocator, that is from System.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.count();
        // SAFETY: as above.
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
