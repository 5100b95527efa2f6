//! Helpers shared by milestone's test binaries that run without libtest's harness: their tests
//! run one after another on the main thread, in a process of their own, because they move the
//! program break (glibc's `sbrk` must never run on two threads at once) or fork.

#![allow(dead_code)] // each test binary uses a different part

use std::ptr::NonNull;

pub use libtest_mimic::{Arguments, Failed, Trial};

pub type Outcome = Result<(), Failed>;

/// Fails with `what()` unless `condition` holds. Tests assert with `assert!`; this is for the
/// stress test's checker, which must not panic while the workers wait at its barrier.
pub fn ensure(condition: bool, what: impl FnOnce() -> String) -> Outcome {
    if condition {
        Ok(())
    } else {
        Err(what().into())
    }
}

/// Fails unless the program break is back at `start`.
pub fn ensure_break_at(start: usize) -> Outcome {
    let now = memcore::sys::program_break() as usize;
    ensure(now == start, || {
        format!("the break is at {now:#x}, it started at {start:#x}")
    })
}

/// Runs the trials single-threaded on the main thread and exits.
pub fn run(trials: Vec<Trial>) -> ! {
    let mut args = Arguments::from_args();
    args.test_threads = Some(1);
    libtest_mimic::run(&args, trials).exit()
}

/// The tests by name: each function becomes a trial called after it.
#[macro_export]
macro_rules! trials {
    ($($test:ident),* $(,)?) => {
        vec![$(common::Trial::test(stringify!($test), $test)),*]
    };
}

/// The byte at `offset` of the pattern `seed`: different seeds give different patterns.
fn pattern(seed: u64, offset: usize) -> u8 {
    (seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8 ^ (offset as u8).wrapping_mul(31)
}

/// Fills `len` bytes at `ptr` with the pattern `seed`.
pub fn fill(ptr: NonNull<u8>, len: usize, seed: u64) {
    // SAFETY: the tests call this only on memory they own: a live chunk of at least `len` bytes.
    let bytes = unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), len) };
    for (offset, b) in bytes.iter_mut().enumerate() {
        *b = pattern(seed, offset);
    }
}

/// Whether `len` bytes at `ptr` still hold the pattern `seed`.
pub fn holds(ptr: NonNull<u8>, len: usize, seed: u64) -> bool {
    // SAFETY: as in fill.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.as_ptr(), len) };
    bytes
        .iter()
        .enumerate()
        .all(|(offset, &b)| b == pattern(seed, offset))
}

/// A small deterministic generator (xorshift64), so that failures replay.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A size from 1 byte to 1 MiB, log-uniform.
    pub fn size(&mut self) -> usize {
        let base = 1usize << (self.next() % 20);
        base + (self.next() as usize % base)
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.next() as usize % n.max(1)
    }
}

/// Makes glibc's malloc grow its heap once, now, by 16 MiB and keep it, so that the test's own
/// allocations on the main thread do not move the program break while the chunk layer uses it.
/// (The chunk layer copes with that, but then it cannot give all its memory back, which the
/// tests check.)
pub fn settle_glibc_heap() {
    // SAFETY: mallopt only changes malloc's tuning parameters.
    unsafe { libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) };
    // SAFETY: as above.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20) };
    // SAFETY: malloc has no preconditions; the block is freed at once, untouched. (32 MiB is
    // the largest mmap threshold glibc accepts, so 16 MiB comes from the heap.)
    // black_box: the compiler knows malloc and would delete an unused pair.
    let block = std::hint::black_box(unsafe { libc::malloc(16 << 20) });
    // SAFETY: `block` came from malloc above (or is null, which free accepts).
    unsafe { libc::free(block) };
    // SAFETY: as above.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10) };
}
