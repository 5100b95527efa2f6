//! The one lock around the chunk layer's state: a spin-then-yield policy, on `lock_api`'s
//! mutex.
//!
//! `lock_api` (the mutex type behind `parking_lot` and `spin`) supplies the mutex, its guard
//! and its `Sync`; this file supplies only the raw lock: how to wait. Why this policy, and not
//! `std::sync::Mutex` or `parking_lot`, and what each choice measured, is in BENCHMARKS.md
//! (B7): in short, std's futex mutex collapses under contention here, `parking_lot` allocates
//! its parking table with the global allocator, and a spin with backoff that yields after 200
//! looks measured best. The lock never allocates. It is not fair: a thread that releases and at
//! once asks again usually wins, which is what keeps the caches warm.
//!
//! # Safety
//! `lock_api` needs the raw lock's promise that it excludes: `RawSpinLock` implements its
//! `unsafe` trait, arguing it above the `impl`.

#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};

use lock_api::{GuardSend, RawMutex};

/// Looks at the lock this many times (with the backoff, about 12,800 pauses, a few tenths of a
/// millisecond) before yielding the CPU on each further try. With more threads than cores, a
/// waiter may spin that long behind a preempted holder before it yields.
const SPINS_BEFORE_YIELD: u32 = 200;

/// A value behind a spin-then-yield lock.
pub type SpinLock<T> = lock_api::Mutex<RawSpinLock, T>;
/// Access to the value while the lock is held; the lock is released when it is dropped.
pub type SpinGuard<'a, T> = lock_api::MutexGuard<'a, RawSpinLock, T>;

/// A test-and-test-and-set lock with exponential backoff, yielding after
/// [`SPINS_BEFORE_YIELD`] looks.
#[derive(Debug)]
pub struct RawSpinLock {
    locked: AtomicBool,
}

// SAFETY: `lock` returns only once this thread set `locked` from false to true (acquire), and
// `unlock` sets it back (release), so at most one thread holds the lock at a time and each
// holder sees everything the previous one wrote; the guard may be sent to another thread,
// which may release it, as the lock has no thread-local state.
unsafe impl RawMutex for RawSpinLock {
    const INIT: RawSpinLock = RawSpinLock {
        locked: AtomicBool::new(false),
    };

    type GuardMarker = GuardSend;

    // The free lock is taken inline, with one compare-and-swap; waiting is out of line, so
    // that every caller of the chunk layer does not carry the loop (BENCHMARKS.md, B1).
    #[inline]
    fn lock(&self) {
        if !self.try_lock() {
            self.wait_and_lock();
        }
    }

    #[inline]
    fn try_lock(&self) -> bool {
        self.locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    #[inline]
    unsafe fn unlock(&self) {
        // Release: everything written under the lock is visible to the next holder.
        self.locked.store(false, Ordering::Release);
    }
}

impl RawSpinLock {
    /// Waits until the lock is free and takes it.
    #[cold]
    #[inline(never)]
    fn wait_and_lock(&self) {
        let mut tries = 0u32;
        // Read first, and try the write only when it may succeed, so that waiters share the
        // cache line instead of stealing it from each other.
        while self.locked.load(Ordering::Relaxed) || !self.try_lock() {
            tries = tries.saturating_add(1);
            if tries < SPINS_BEFORE_YIELD {
                // Back off exponentially (up to 64 pauses), so that a waiter does not pull the
                // lock's cache line away from the holder on every pause.
                for _ in 0..1u32 << tries.min(6) {
                    std::hint::spin_loop();
                }
            } else {
                std::thread::yield_now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_serialises_threads() {
        static COUNTER: SpinLock<u64> = SpinLock::new(0);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..50_000 {
                        // A non-atomic read-modify-write: lost updates would show.
                        let mut c = COUNTER.lock();
                        let v = *c;
                        *c = std::hint::black_box(v) + 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*COUNTER.lock(), 200_000);
    }

    #[test]
    fn try_lock_fails_while_held() {
        let lock = SpinLock::new(1);
        let held = lock.lock();
        assert!(lock.try_lock().is_none());
        drop(held);
        assert_eq!(lock.try_lock().map(|g| *g), Some(1));
    }
}
