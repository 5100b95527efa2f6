//! The milestone of Lesson 1: `mem_chunk(size)`, which gets memory from the OS with `sbrk` or
//! `mmap`, returns a pointer to it, and keeps a registry of every chunk.
//!
//! The next lessons build allocators on this layer, calling it from inside
//! `GlobalAlloc::alloc` on any thread, so it:
//! - is thread-safe: all state sits behind one lock, a spin-then-yield lock that never
//!   allocates (`src/lock.rs` says why not `std::sync::Mutex`);
//! - never calls the global allocator: the registry's records live in pages memcore maps for
//!   them, and the first 16 mapped chunks in a small table beside it, inside the lock
//!   (`src/mapped.rs` says why);
//! - finds a chunk by any address inside it in O(log n), and scales to hundreds of thousands of
//!   chunks at about 16 bytes of records each;
//! - never hands out a byte twice, and never takes memory it does not own: if someone else
//!   moves the program break between our calls, we notice and start a new stretch above theirs.
//!
//! # Policy
//! By default glibc's: requests below 128 KiB are carved from the break, which grows in steps
//! of at least 64 KiB ([`BREAK_STEP`]); requests at or above it get a mapping of their own. See
//! [`Policy`] for how to choose another, and [`set_policy`] to change it.
//!
//! Released break memory is kept, merged with free neighbours, and reused by later requests
//! that fit. When it lies at the top of the break, and the break is still where we left it, it
//! goes back to the OS: all of it when no break chunk is live, else what exceeds
//! [`TRIM_THRESHOLD`]. When `sbrk` fails (a limit; musl, where it always fails; valgrind's
//! 8 MiB cap), small requests are mapped instead.
//!
//! [`contract`] checks any `mem_chunk` against what the lesson asks of it: this one, the
//! lesson's short reference answer (`src/parts.rs`) and the learner's own (`learn/parts.rs`).
//!
//! ```
//! let ptr = milestone::mem_chunk(100).unwrap();
//! let chunk = milestone::find_chunk(ptr.as_ptr().wrapping_add(50)).unwrap();
//! assert_eq!(chunk.start(), ptr);
//! assert!(chunk.len() >= 100);
//! milestone::release_chunk(ptr).unwrap();
//! ```

// Unsafe code is allowed only in the modules that need it, each of which says why in a `# Safety`
// section of its docs.
#![deny(unsafe_code)]

use std::ptr::NonNull;

pub mod contract;
mod lock;
mod manager;
mod mapped;
mod policy;
mod stats;

use lock::{SpinGuard, SpinLock};

pub use manager::ChunkManager;
pub use memcore::Errno;
pub use memcore::registry::{Chunk, Source};
pub use policy::{BREAK_STEP, Policy, TRIM_THRESHOLD};
pub use stats::ChunkStats;

/// Why a chunk request or release failed. Each leaves the registry exactly as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// A chunk of 0 bytes was asked for.
    #[error("a chunk of 0 bytes was requested")]
    ZeroSize,
    /// The size cannot be served: rounded up to a page it would overflow, or exceed
    /// `isize::MAX`. Refused before any system call.
    #[error(
        "a chunk of {requested} bytes is too large (at most isize::MAX once rounded to a page)"
    )]
    TooLarge {
        /// The size asked for.
        requested: usize,
    },
    /// The OS refused the memory.
    #[error("the OS refused the memory: {call} failed with {errno}")]
    Os {
        /// The call that failed (`"mmap"`, `"sbrk"`).
        call: &'static str,
        /// Its errno (`ENOMEM`).
        errno: Errno,
    },
    /// The pointer is not the start of a live chunk: unknown, inside a chunk, or released.
    #[error("{addr:#x} is not the start of a live chunk")]
    NotAChunk {
        /// The pointer passed in.
        addr: usize,
    },
}

/// The one registry, behind the one lock.
static CHUNKS: SpinLock<ChunkManager> = SpinLock::new(ChunkManager::new(Policy::glibc()));

#[inline]
fn chunks() -> SpinGuard<'static, ChunkManager> {
    CHUNKS.lock()
}

/// Gets at least `size` writable bytes from the OS, aligned to 16 bytes (page aligned when
/// mapped), and records them as a live chunk.
///
/// # Errors
/// [`ChunkError::ZeroSize`] for 0; [`ChunkError::TooLarge`] when the size cannot be rounded
/// (no system call is made); [`ChunkError::Os`] when the OS refuses (`ENOMEM`).
// Inlined into its caller, always, with the lock's free path and the manager's work: each
// frame that spans the system call returns into a cold return predictor, which cost a B1
// pair about 0.5% (BENCHMARKS.md). A mere hint was ignored where the caller is large.
#[inline(always)]
pub fn mem_chunk(size: usize) -> Result<NonNull<u8>, ChunkError> {
    chunks().chunk(size)
}

/// Gives a chunk back: a mapped chunk is unmapped at once; break memory is kept for reuse and
/// returned to the OS when it reaches the top of the break.
///
/// `ptr` must be a value that [`mem_chunk`] returned and that is still live; anything else is
/// refused without being dereferenced.
///
/// # Errors
/// [`ChunkError::NotAChunk`] for any other pointer; [`ChunkError::Os`] if `munmap` fails.
#[inline(always)] // as `mem_chunk`
pub fn release_chunk(ptr: NonNull<u8>) -> Result<(), ChunkError> {
    chunks().release(ptr)
}

/// The live chunk that holds `addr` (any byte inside it), if any. Never dereferences `addr`.
pub fn find_chunk(addr: *const u8) -> Option<Chunk> {
    chunks().find(addr)
}

/// Calls `f` with every live chunk, in address order, without allocating.
///
/// The lock is held meanwhile, so `f` must not call back into this crate (it would wait for
/// itself forever); collect what you need and act afterwards.
pub fn for_each_chunk(f: impl FnMut(&Chunk)) {
    chunks().for_each(f);
}

/// Counts, bytes and system calls so far.
pub fn chunk_stats() -> ChunkStats {
    chunks().stats()
}

/// Changes the policy for later requests.
pub fn set_policy(policy: Policy) {
    chunks().set_policy(policy);
}

/// The policy in force.
pub fn policy() -> Policy {
    chunks().policy()
}
