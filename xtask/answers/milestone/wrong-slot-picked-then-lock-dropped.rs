//! expect: failed in mem_chunk: chunks taken by many threads at once are each listed once, and none overlaps another
//! judged on one CPU too
//! intent: wrong: mem_chunk: I pick the free slot while holding the registry lock, then let go of it for the sbrk/mmap (sbrk has its own little lock) so other threads don't wait on a system call, and lock again to store the chunk in the slot I picked
//! expect-judge: fail: mem_chunk drops the registry lock between choosing a free slot and filling it, so two threads can choose the same slot; the second store overwrites the first and that chunk is no longer listed or found (and with one slot left, two calls both succeed where one should have been refused with OutOfMemory); the slot search and the store must happen under one lock held across the system call
//! Your parts of the milestone, mem_chunk (milestone). Replace each `todo!()` below, in order, with
//! your code, then run `cargo xtask learn`: the lesson's own program runs your parts and checks
//! what they did.
//!
//! Each part's doc comment says what it must do. `cargo xtask hint milestone` gives a hint for the
//! next one. `cargo xtask learn --reset milestone` brings this file back as it was (keeping a copy
//! of yours). When the exercise is done, compare with the reference, `milestone/src/parts.rs`, from
//! which `cargo xtask templates` wrote this file.

use std::io;
use std::sync::Mutex;

use milestone::Source;
use milestone::contract::{ALIGN, ChunkInfo, Parts};

// What this file uses from the lesson, a line each:
// - `ChunkInfo { start: usize, len: usize, source: Source }`: one live chunk, as you record it;
// - `Source::Sbrk` or `Source::Mmap`: where a chunk's memory came from;
// - `ALIGN: usize`: 16, the alignment every chunk must have;
// - `Parts`: the struct below, through which the lesson calls your parts.

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

/// My own lock just for sbrk, since glibc's sbrk isn't thread-safe. mmap is thread-safe so
/// the big chunks don't need to wait on this one.
static SBRK_LOCK: Mutex<()> = Mutex::new(());

fn sbrk_lock() -> std::sync::MutexGuard<'static, ()> {
    SBRK_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Rounds `n` up to a multiple of `to` (a power of two). None if it overflows.
fn round_up(n: usize, to: usize) -> Option<usize> {
    Some(n.checked_add(to - 1)? & !(to - 1))
}

fn page_size() -> usize {
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
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
    // bad sizes first, before touching anything
    if size == 0 || size > isize::MAX as usize {
        return Err(io::ErrorKind::InvalidInput.into());
    }

    // Find a free slot first so that a full registry is refused before any system call.
    // I only hold the registry lock for the search: mmap of a big chunk can take a while and
    // find_chunk / list_chunks from other threads shouldn't have to wait for it.
    let slot = {
        let reg = registry();
        match reg.chunks.iter().position(|c| c.is_none()) {
            Some(i) => i,
            None => return Err(io::ErrorKind::OutOfMemory.into()),
        }
    };

    let info = if size < MMAP_THRESHOLD {
        // small: from the program break
        let len = match round_up(size, ALIGN) {
            Some(n) => n,
            None => return Err(io::ErrorKind::InvalidInput.into()),
        };
        let _guard = sbrk_lock();
        let brk = unsafe { libc::sbrk(0) };
        if brk as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        // someone may have left the break unaligned, so skip up to the next multiple of 16
        let pad = (ALIGN - (brk as usize) % ALIGN) % ALIGN;
        let old = unsafe { libc::sbrk((pad + len) as libc::intptr_t) };
        if old as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        ChunkInfo {
            start: old as usize + pad,
            len,
            source: Source::Sbrk,
        }
    } else {
        // big: a mapping of its own, whole pages
        let len = match round_up(size, page_size()) {
            Some(n) if n <= isize::MAX as usize => n,
            _ => return Err(io::ErrorKind::InvalidInput.into()),
        };
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        ChunkInfo {
            start: p as usize,
            len,
            source: Source::Mmap,
        }
    };

    // now record it in the slot we found above
    registry().chunks[slot] = Some(info);
    Ok(info.start as *mut u8)
}

/// Every live chunk, once each, in any order.
pub fn list_chunks() -> Vec<ChunkInfo> {
    // copy the array out (it's Copy) so the Vec isn't built while we hold the lock
    let chunks = registry().chunks;
    chunks.iter().flatten().copied().collect()
}

/// The live chunk that holds `addr` (its first byte, its last, or any between), or `None`.
/// It never reads the memory at `addr`.
pub fn find_chunk(addr: usize) -> Option<ChunkInfo> {
    let reg = registry();
    for c in reg.chunks.iter().flatten() {
        if addr >= c.start && addr - c.start < c.len {
            return Some(*c);
        }
    }
    None
}

/// The last part, optional: gives back the chunk that starts at `ptr`. An mmap chunk is
/// unmapped with `munmap`. Break memory can go back only from the top of the break (`sbrk`
/// with a negative size), and only while the break is still at the chunk's end; otherwise keep
/// it, no longer listed.
///
/// Refuse any other pointer (the middle of a chunk, a released one, one that was never a
/// chunk) with `io::ErrorKind::InvalidInput`, without reading it, and change nothing.
///
/// # Safety
/// Nothing may use the chunk afterwards: its memory may be unmapped or handed out again.
pub unsafe fn release_chunk(ptr: *mut u8) -> io::Result<()> {
    let addr = ptr as usize;
    let mut reg = registry();
    // only the exact start of a live chunk is accepted
    let Some(i) = reg
        .chunks
        .iter()
        .position(|c| matches!(c, Some(c) if c.start == addr))
    else {
        return Err(io::ErrorKind::InvalidInput.into());
    };
    let info = reg.chunks[i].unwrap();

    if matches!(info.source, Source::Mmap) {
        let rc = unsafe { libc::munmap(info.start as *mut libc::c_void, info.len) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    } else {
        let _guard = sbrk_lock();
        let brk = unsafe { libc::sbrk(0) } as usize;
        // only give it back if nothing was put on top of it since
        if brk == info.start + info.len {
            unsafe { libc::sbrk(-(info.len as libc::intptr_t)) };
        }
        // otherwise just forget about it, it stays part of the break
    }
    reg.chunks[i] = None;
    Ok(())
}
