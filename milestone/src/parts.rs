//! The lesson's reference answer to the milestone: a short `mem_chunk` that does what the lesson
//! asks, checked by the contract (`src/contract/mod.rs`) with
//! `cargo run -p milestone -- contract`. The `milestone` library is the production version
//! the next lessons build on (reuse, trimming, O(log n) lookups, many threads).

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
    // ANCHOR: mem_chunk
    // IDEA: Two sources, one registry. Small: `libc::sbrk(n)` hands out the n bytes above the old
    // IDEA: break, and fails with (void *) -1; the break is wherever its last caller left it, maybe
    // IDEA: not a multiple of 16, so pad it up first. Large: `libc::mmap`, page aligned, fails with
    // IDEA: MAP_FAILED. Every refusal comes before the first system call, and nothing allocates.
    // IDEA: See man 2 sbrk and man 2 mmap.
    // SHAPE: 1. size 0: InvalidInput. 2. len = size rounded up to ALIGN; overflow or above
    // SHAPE: isize::MAX: InvalidInput. 3. Lock the registry and find a free slot; none:
    // SHAPE: OutOfMemory. Nothing so far calls the OS. 4. If size (the size asked, not len) is
    // SHAPE: below the threshold: now = sbrk(0); padding = the bytes from now to the next multiple
    // SHAPE: of ALIGN (0 if aligned); old = sbrk(padding + len); -1 is failure; the chunk starts at
    // SHAPE: old + padding. A misaligned chunk comes from leaving out that padding: the break is
    // SHAPE: wherever the last sbrk, yours or anyone's, left it. 5. Otherwise mmap len bytes;
    // SHAPE: MAP_FAILED is failure. 6. Store the chunk in the slot, last; return its start.
    // WHEN: past a multiple of
    // CAUSE: A chunk from the break starts where the break was, and the break is wherever its last
    // CAUSE: mover left it: glibc's malloc, another library, or your own sbrk of a size not rounded
    // CAUSE: up. Rounding your sizes up is not enough once someone else has moved it. Ask sbrk(0)
    // CAUSE: first, grow the break by the padding up to the next multiple of ALIGN and the rounded
    // CAUSE: length together, and start the chunk after the padding.
    // HINT: In order: refuse 0; round up with `size.checked_next_multiple_of(ALIGN)` and refuse
    // HINT: `None` or anything above `isize::MAX`; lock the registry and find a free slot (no
    // HINT: slot: refuse before calling the OS). Then below the threshold, `libc::sbrk(0)` tells
    // HINT: how far the break is from a multiple of ALIGN: `libc::sbrk` that much padding, then
    // HINT: `libc::sbrk(len)`; `(void *) -1` is failure. At or above it, `libc::mmap` as in
    // HINT: exercise 3. Last, store `Some(ChunkInfo { start, len, source })` in the slot.
    if size == 0 {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    let len = size
        .checked_next_multiple_of(ALIGN)
        .filter(|&len| len <= isize::MAX as usize)
        .ok_or(io::ErrorKind::InvalidInput)?;
    let mut registry = registry();
    let slot = registry
        .chunks
        .iter()
        .position(Option::is_none)
        .ok_or(io::ErrorKind::OutOfMemory)?;
    let (start, source) = if size < MMAP_THRESHOLD {
        // SAFETY: sbrk(0) moves nothing.
        let now = unsafe { libc::sbrk(0) } as usize;
        let padding = now.next_multiple_of(ALIGN) - now;
        // SAFETY: growing the break hands out new memory past it and touches none anyone holds;
        // `padding` and `len` are below ALIGN and isize::MAX.
        let old = unsafe { libc::sbrk((padding + len) as isize) };
        if old as usize == usize::MAX {
            return Err(io::Error::last_os_error());
        }
        (old as usize + padding, Source::Sbrk)
    } else {
        // SAFETY: with a null hint and without MAP_FIXED the kernel picks addresses no mapping
        // uses, so the call cannot disturb memory anyone holds; no file is involved.
        let memory = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if memory == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        (memory as usize, Source::Mmap)
    };
    registry.chunks[slot] = Some(ChunkInfo { start, len, source });
    Ok(start as *mut u8)
    // ANCHOR_END: mem_chunk
}

/// Every live chunk, once each, in any order.
pub fn list_chunks() -> Vec<ChunkInfo> {
    // ANCHOR: list_chunks
    // IDEA: Lock the registry and copy out every slot that holds a chunk.
    // SHAPE: Lock; walk the slots; keep those that hold a chunk; copy each out; collect them.
    // HINT: Lock the registry; `iter().flatten()` skips the free slots; `copied().collect()`.
    registry().chunks.iter().flatten().copied().collect()
    // ANCHOR_END: list_chunks
}

/// The live chunk that holds `addr` (its first byte, its last, or any between), or `None`.
/// It never reads the memory at `addr`.
pub fn find_chunk(addr: usize) -> Option<ChunkInfo> {
    // ANCHOR: find_chunk
    // IDEA: A chunk holds an address from its start up to, but not including, its start plus its
    // IDEA: length. Never read the address.
    // SHAPE: Lock; for each live chunk, test `start <= addr && addr - start < len` (subtracting, so
    // SHAPE: that `start + len` cannot overflow); return a copy of the first that holds it, or
    // SHAPE: None. Never dereference `addr`.
    // HINT: A chunk holds `addr` when `start <= addr && addr < start + len`; `find` the first
    // HINT: such chunk among the live ones.
    registry()
        .chunks
        .iter()
        .flatten()
        .find(|c| c.start <= addr && addr - c.start < c.len)
        .copied()
    // ANCHOR_END: find_chunk
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
    // ANCHOR: release_chunk
    // IDEA: Only a pointer that starts a live chunk may be released. An mmap chunk is unmapped;
    // IDEA: break memory goes back only from the top of the break. Free the slot last.
    // SHAPE: 1. Lock; find the slot whose chunk starts exactly at `ptr`; none: InvalidInput. 2. An
    // SHAPE: mmap chunk: munmap its whole length; not 0: `last_os_error()`, and the slot stays. 3.
    // SHAPE: A break chunk: only if sbrk(0) is its end, sbrk(-len) (-1: the error); otherwise keep
    // SHAPE: its memory. 4. Only then free the slot.
    // HINT: Find the slot whose chunk starts exactly at `ptr` (none: refuse). For an mmap
    // HINT: chunk, `libc::munmap(start as *mut c_void, len)`; for an sbrk chunk, shrink the
    // HINT: break with `libc::sbrk(-(len as isize))` only if `libc::sbrk(0)` is the chunk's end.
    // HINT: Free the slot (`= None`) last, once the OS has agreed.
    let mut registry = registry();
    let slot = registry
        .chunks
        .iter()
        .position(|c| c.is_some_and(|c| c.start == ptr as usize))
        .ok_or(io::ErrorKind::InvalidInput)?;
    let Some(chunk) = registry.chunks[slot] else {
        return Err(io::ErrorKind::InvalidInput.into());
    };
    match chunk.source {
        Source::Mmap => {
            // SAFETY: the chunk is a mapping of its own that mem_chunk made, and the caller
            // promises nothing uses it any more.
            if unsafe { libc::munmap(ptr.cast(), chunk.len) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Source::Sbrk => {
            // SAFETY: sbrk(0) moves nothing.
            let top = unsafe { libc::sbrk(0) } as usize == chunk.start + chunk.len;
            // SAFETY: the chunk ends at the break, so shrinking takes only its bytes, which the
            // caller promises nothing uses; len is at most isize::MAX.
            if top && unsafe { libc::sbrk(-(chunk.len as isize)) } as usize == usize::MAX {
                return Err(io::Error::last_os_error());
            }
        }
    }
    registry.chunks[slot] = None;
    Ok(())
    // ANCHOR_END: release_chunk
}
