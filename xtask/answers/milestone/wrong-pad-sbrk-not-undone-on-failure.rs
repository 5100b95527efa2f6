//! expect: failed in mem_chunk: when sbrk or mmap fails, mem_chunk returns an error, and nothing changes
//! intent: wrong: mem_chunk: when the break is not on a multiple of 16 I first move it up with its own sbrk(pad), then call sbrk(len) for the chunk itself
//! expect-judge: fail: if sbrk(pad) succeeds and sbrk(len) is then refused, mem_chunk returns the error but leaves the break moved up by the padding, so a refusal changes something (the break) after all; the padding should be asked in the same sbrk as the chunk, or given back with sbrk(-pad) on failure; a test only sees it when the break was unaligned at the moment the OS refuses
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
    if size == 0 || size > isize::MAX as usize {
        return Err(io::ErrorKind::InvalidInput.into());
    }

    let mut reg = registry();
    let slot = match reg.chunks.iter().position(|c| c.is_none()) {
        Some(i) => i,
        None => return Err(io::ErrorKind::OutOfMemory.into()),
    };

    if size < MMAP_THRESHOLD {
        // round up to a multiple of 16 so the chunk after this one starts aligned
        let len = size.next_multiple_of(ALIGN);

        // line the break up on 16 first if somebody left it crooked
        let cur = unsafe { libc::sbrk(0) } as usize;
        if cur == usize::MAX {
            return Err(io::Error::last_os_error());
        }
        let off = cur % ALIGN;
        if off != 0 {
            let r = unsafe { libc::sbrk((ALIGN - off) as libc::intptr_t) };
            if r as isize == -1 {
                return Err(io::Error::last_os_error());
            }
        }

        // now the break is aligned and the chunk starts right at it
        let start = unsafe { libc::sbrk(len as libc::intptr_t) };
        if start as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        reg.chunks[slot] = Some(ChunkInfo {
            start: start as usize,
            len,
            source: Source::Sbrk,
        });
        Ok(start as *mut u8)
    } else {
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        // size <= isize::MAX so this can't overflow
        let len = size.next_multiple_of(page);
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
        reg.chunks[slot] = Some(ChunkInfo {
            start: p as usize,
            len,
            source: Source::Mmap,
        });
        Ok(p as *mut u8)
    }
}

/// Every live chunk, once each, in any order.
pub fn list_chunks() -> Vec<ChunkInfo> {
    let snapshot = registry().chunks;
    snapshot.into_iter().flatten().collect()
}

/// The live chunk that holds `addr` (its first byte, its last, or any between), or `None`.
/// It never reads the memory at `addr`.
pub fn find_chunk(addr: usize) -> Option<ChunkInfo> {
    let reg = registry();
    reg.chunks
        .iter()
        .flatten()
        .copied()
        .find(|c| (c.start..c.start + c.len).contains(&addr))
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
    let mut reg = registry();
    let idx = reg
        .chunks
        .iter()
        .position(|c| matches!(c, Some(c) if c.start == ptr as usize));
    let Some(idx) = idx else {
        return Err(io::ErrorKind::InvalidInput.into());
    };
    let c = reg.chunks[idx].unwrap();

    match c.source {
        Source::Mmap => {
            if unsafe { libc::munmap(c.start as *mut libc::c_void, c.len) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        _ => {
            // break memory only goes back if it's right at the top
            let top = unsafe { libc::sbrk(0) } as usize;
            if top == c.start + c.len {
                unsafe { libc::sbrk(-(c.len as libc::intptr_t)) };
            }
        }
    }
    reg.chunks[idx] = None;
    Ok(())
}
