//! Your parts of the milestone, mem_chunk (milestone). Replace each `todo!()` below, in order, with
//! your code, then run `cargo xtask learn`: the lesson's own program runs your parts and checks
//! what they did.
//!
//! Each part's doc comment says what it must do. `cargo xtask hint milestone` gives a hint for the
//! next one. `cargo xtask learn --reset milestone` brings this file back as it was (keeping a copy
//! of yours). When the exercise is done, compare with the reference, `milestone/src/parts.rs`, from
//! which `cargo xtask templates` wrote this file.

// Until every part is written, their arguments, and the names they will use, are unused:
// this keeps the compiler quiet meanwhile. Delete it when you are done.
#![allow(unused_variables, unused_imports, dead_code)]

use std::io;
use std::sync::Mutex;

use milestone::Source;
use milestone::contract::{ALIGN, ChunkInfo, Parts};

// What this file uses from the lesson, a line each:
// - `ChunkInfo { start: usize, len: usize, source: Source }`: one live chunk, as you record it;
// - `Source::Sbrk` or `Source::Mmap`: where a chunk's memory came from;
// - `ALIGN: usize`: 16, the alignment every chunk must have;
// - `Parts`: the struct below, through which the lesson calls your parts.

// What your parts call, a line each: the C library through the `libc` crate (a dependency
// already; write `libc::` and nothing to import). Each call into C is `unsafe`.
// - `libc::sbrk(increment: libc::intptr_t) -> *mut libc::c_void`: `intptr_t` is `isize`;
//   moves the break and returns where it was; `(void *) -1`, `usize::MAX as *mut c_void`, on
//   failure, with `errno` set. `libc::sbrk(0)` only tells where the break is;
// - `libc::mmap(addr: *mut c_void, len: usize, prot: c_int, flags: c_int, fd: c_int,
//   offset: off_t) -> *mut c_void`: as in exercise 3, with `std::ptr::null_mut()`,
//   `libc::PROT_READ | libc::PROT_WRITE`, `libc::MAP_PRIVATE | libc::MAP_ANONYMOUS`, -1, 0;
// - `libc::MAP_FAILED: *mut c_void`: what mmap returns on failure (not null);
// - `libc::munmap(addr: *mut c_void, len: usize) -> c_int`: 0, or -1 with `errno` set;
// - `std::io::Error::last_os_error() -> io::Error`: `errno` as an error, and it allocates
//   nothing; so does `io::Error::from(io::ErrorKind::InvalidInput)`, or `.into()`;
// - `std::sync::Mutex`: the registry's lock; `lock()` returns a guard that unlocks when dropped.

/// The parts, in the lesson's order, for the contract.
pub const PARTS: Parts = Parts {
    mmap_threshold: MMAP_THRESHOLD,
    mem_chunk,
    list_chunks,
    find_chunk,
    release_chunk,
};

/// Requests of this many bytes or more get a mapping of their own; smaller ones come from the
/// program break. 128 KiB is glibc's default (`M_MMAP_THRESHOLD`, man 3 mallopt).
pub const MMAP_THRESHOLD: usize = 128 * 1024;

/// How many live chunks the registry can hold.
const CAPACITY: usize = 256;

/// Every live chunk, in a fixed array.
///
/// Why fixed, and not a `Vec`: the allocator of the next lessons calls `mem_chunk` from its own
/// `alloc`, and a `Vec` that grows calls the global allocator, which would call `alloc` again
/// from inside itself. A fixed array never allocates. `Mutex::new` is `const` and its lock
/// allocates nothing either, so the registry can be a `static`, safe to use from any thread.
///
/// The lock also serialises our `sbrk` calls, which glibc does not make thread-safe. It cannot
/// stop glibc's own malloc from calling `sbrk` on another thread at the same time.
static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    chunks: [None; CAPACITY],
});

/// The registry's contents: `None` is a free slot.
struct Registry {
    chunks: [Option<ChunkInfo>; CAPACITY],
}

/// Locks the registry. A panic while it was held cannot have left it half-changed (every
/// change is one assignment), so a poisoned lock is still good to use.
fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The milestone: gets at least `size` bytes from the OS, aligned to [`ALIGN`], records them
/// as a live chunk, and returns a pointer to the first byte.
///
/// It never calls the global allocator, and neither do `find_chunk` and `release_chunk`: the
/// allocator of the next lessons calls them from inside its own `alloc`. So no `Vec`, `Box`,
/// `String` or `io::Error` with a message here; make errors from an `io::ErrorKind` alone.
///
/// - Below [`MMAP_THRESHOLD`], from the program break: `sbrk(n)` returns the old break, the
///   start of `n` new bytes. Round `n` up to a multiple of [`ALIGN`] so that the chunk after
///   this one is aligned too (and align the break first if someone left it unaligned).
/// - At or above it, from `mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
///   -1, 0)`: page aligned.
///
/// Refuse a `size` of 0, and one that overflows when rounded up or exceeds `isize::MAX`, with
/// `io::ErrorKind::InvalidInput`, and a full registry with `io::ErrorKind::OutOfMemory`, before
/// any system call. A refused system call gives `io::Error::last_os_error()`. A refusal
/// changes nothing.
///
/// See `man 2 sbrk` and `man 2 mmap`.
pub fn mem_chunk(size: usize) -> io::Result<*mut u8> {
    todo!()
}

/// Every live chunk, once each, in any order.
pub fn list_chunks() -> Vec<ChunkInfo> {
    todo!()
}

/// The live chunk that holds `addr` (its first byte, its last, or any between), or `None`.
/// It never reads the memory at `addr`.
pub fn find_chunk(addr: usize) -> Option<ChunkInfo> {
    todo!()
}

/// The last part, optional: gives back the chunk that starts at `ptr`. An mmap chunk is
/// unmapped with `munmap`, its whole length. Break memory can go back only from the top of the
/// break (`sbrk` with a negative size), and only while the break is still at the chunk's end;
/// otherwise keep it, no longer listed. Keeping it even on top, for reuse, is your choice too:
/// the lesson asks only that the break never moves up, and never goes below memory that is not
/// the chunk's.
///
/// Refuse any other pointer (the middle of a chunk, a released one, one that was never a
/// chunk) with `io::ErrorKind::InvalidInput`, without reading it, and change nothing.
///
/// # Safety
/// Nothing may use the chunk afterwards: its memory may be unmapped or handed out again.
pub unsafe fn release_chunk(ptr: *mut u8) -> io::Result<()> {
    todo!()
}
