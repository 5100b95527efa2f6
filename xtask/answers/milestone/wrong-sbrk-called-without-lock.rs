//! expect: failed in mem_chunk: chunks taken by many threads at once are each listed once, and none overlaps another
//! judged on one CPU too
//! intent: wrong: mem_chunk: I reserve a slot under the registry lock, then do the sbrk (or mmap) with the lock released, since the kernel does one brk at a time anyway, and fill the slot in afterwards
//! expect-judge: fail: mem_chunk calls sbrk (both the sbrk(0) probe and the sbrk that grows the break) without holding any lock; glibc's sbrk is not thread-safe (it reads and updates its cached break with no lock), so two threads can get the same old break and hand out overlapping chunks, or the padding worked out from a stale break leaves a chunk unaligned or past the break; the slot reservation itself is fine
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
    reserved: [false; CAPACITY],
});

/// The registry's contents: `None` is a free slot.
struct Registry {
    chunks: [Option<ChunkInfo>; CAPACITY],
    /// a slot that a mem_chunk call has claimed but not filled in yet (it is still None,
    /// so it isn't listed, but nobody else may take it)
    reserved: [bool; CAPACITY],
}

/// Locks the registry. A panic while it was held cannot have left it half-changed (every
/// change is one assignment), so a poisoned lock is still good to use.
fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn page_size() -> usize {
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// Gets `len` bytes (already a multiple of ALIGN) from the break, starting on a multiple of
/// ALIGN. sbrk and brk are system calls, the kernel does them one at a time, so this
/// doesn't need our lock.
fn from_break(len: usize) -> io::Result<usize> {
    let brk = unsafe { libc::sbrk(0) };
    if brk as isize == -1 {
        return Err(io::Error::last_os_error());
    }
    // pad up to the next multiple of 16 in case someone left the break unaligned
    let pad = (ALIGN - brk as usize % ALIGN) % ALIGN;
    let old = unsafe { libc::sbrk((pad + len) as libc::intptr_t) };
    if old as isize == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(old as usize + pad)
}

fn from_mmap(len: usize) -> io::Result<usize> {
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
    Ok(p as usize)
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
    let (len, source) = if size < MMAP_THRESHOLD {
        // can't overflow, size is small here
        ((size + ALIGN - 1) & !(ALIGN - 1), Source::Sbrk)
    } else {
        let page = page_size();
        match size.checked_add(page - 1) {
            Some(n) => (n & !(page - 1), Source::Mmap),
            None => return Err(io::ErrorKind::InvalidInput.into()),
        }
    };

    // claim a slot while locked, so nobody else can take it and a full registry is refused
    // before any system call
    let slot = {
        let mut reg = registry();
        let found = (0..CAPACITY).find(|&i| reg.chunks[i].is_none() && !reg.reserved[i]);
        match found {
            Some(i) => {
                reg.reserved[i] = true;
                i
            }
            None => return Err(io::ErrorKind::OutOfMemory.into()),
        }
    };

    // the system call itself, without holding the lock
    let got = if matches!(source, Source::Sbrk) {
        from_break(len)
    } else {
        from_mmap(len)
    };

    let mut reg = registry();
    reg.reserved[slot] = false;
    let start = got?; // on an error the slot is just given back
    reg.chunks[slot] = Some(ChunkInfo { start, len, source });
    Ok(start as *mut u8)
}

/// Every live chunk, once each, in any order.
pub fn list_chunks() -> Vec<ChunkInfo> {
    let chunks = registry().chunks;
    chunks.iter().flatten().copied().collect()
}

/// The live chunk that holds `addr` (its first byte, its last, or any between), or `None`.
/// It never reads the memory at `addr`.
pub fn find_chunk(addr: usize) -> Option<ChunkInfo> {
    registry()
        .chunks
        .iter()
        .flatten()
        .find(|c| c.start <= addr && addr < c.start + c.len)
        .copied()
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
    let Some(i) = (0..CAPACITY).find(|&i| matches!(reg.chunks[i], Some(c) if c.start == addr))
    else {
        return Err(io::ErrorKind::InvalidInput.into());
    };
    let c = reg.chunks[i].unwrap();
    if matches!(c.source, Source::Mmap) {
        if unsafe { libc::munmap(c.start as *mut libc::c_void, c.len) } == -1 {
            return Err(io::Error::last_os_error());
        }
    } else {
        // give it back only if it is still the last thing on the break
        let brk = unsafe { libc::sbrk(0) } as usize;
        if brk == c.start + c.len {
            unsafe { libc::sbrk(-(c.len as libc::intptr_t)) };
        }
    }
    reg.chunks[i] = None;
    Ok(())
}
