//! The one lock around the chunk layer's state.
//!
//! Why not `std::sync::Mutex`: measured with two threads both calling `mem_chunk` and
//! `release_chunk` (benchmark B7), it collapsed to 0.28 of one thread's throughput. Its
//! critical sections here are short (tens of nanoseconds), but once the futex mutex sees
//! contention, waiters sleep in the kernel and every unlock pays a `futex` wake system call.
//! Why not `parking_lot`: its parking table is allocated with the global allocator on first
//! contention, and this lock is taken from inside a global allocator's `alloc`.
//!
//! So: a test-and-test-and-set spin lock. A waiter backs off exponentially between looks at
//! the lock (up to 64 pauses), so that it does not pull the lock's cache line, and with it the
//! registry's, away from the holder on every pause: with a fixed one-pause spin, two threads
//! got 0.63 to 0.89 of one thread's throughput, varying run to run; with the backoff, 1.16 to
//! 1.24. After 200 looks it yields the CPU, so that a waiter does not burn the time slice of a
//! holder that was preempted. It never allocates. It is not fair: a thread that releases and
//! at once asks again usually wins, which is what keeps the caches warm.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

/// Looks at the lock this many times (with the backoff, about 12,800 pauses, a few tenths of a
/// millisecond) before yielding the CPU on each further try. Measured on B7: 32 looks gave
/// 0.88 to 1.0 of one thread's throughput, 200 gave 1.16 to 1.24. With more threads than
/// cores, a waiter may spin that long behind a preempted holder before it yields.
const SPINS_BEFORE_YIELD: u32 = 200;

/// A value behind a spin-then-yield lock.
pub struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to the value to one thread at a time (acquire on lock,
// release on unlock), so sharing the lock between threads shares `T` only as a `Mutex` would,
// which needs `T: Send`.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// A new, unlocked lock around `value`.
    pub const fn new(value: T) -> SpinLock<T> {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Waits for the lock and returns a guard that releases it when dropped.
    pub fn lock(&self) -> SpinGuard<'_, T> {
        let mut tries = 0u32;
        loop {
            // Read first, and try the write only when it may succeed, so that waiters share
            // the cache line instead of stealing it from each other.
            if !self.locked.load(Ordering::Relaxed)
                && self
                    .locked
                    .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return SpinGuard { lock: self };
            }
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

/// Access to the value while the lock is held.
pub struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the lock, so no other thread
        // has access to the value.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in deref; `&mut self` makes this the guard's only borrow.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        // Release: everything written under the lock is visible to the next holder.
        self.lock.locked.store(false, Ordering::Release);
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
}
