//! expect: failed in release_chunk: the chunk of ~N bytes (~N) above the threshold was unmapped whole
//! intent: wrong: release_chunk: mem_chunk maps exactly the size asked (the kernel rounds a mapping up to whole pages by itself) and records that size; release_chunk unmaps the recorded length rounded down to whole pages, because I read that munmap works on whole pages
//! expect-judge: fail: release_chunk unmaps `len / page * page`, so for an mmap chunk whose size is not a multiple of the page size the last, partial page stays mapped after the chunk is released (leaked, and no longer in the registry); munmap takes any length and unmaps every page the range touches, so it should get the recorded length (or the length rounded up, as mmap rounded it); sizes that are whole pages, like 128 KiB, 192 KiB and 1 MiB, hide it
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
    // 0 is no chunk, and nothing above isize::MAX can ever be allocated
    if size == 0 || size > isize::MAX as usize {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    let mut reg = registry();
    let Some(slot) = reg.chunks.iter().position(Option::is_none) else {
        return Err(io::ErrorKind::OutOfMemory.into());
    };

    let chunk = if size < MMAP_THRESHOLD {
        // round up to 16 so the next chunk is aligned too (size is small, no overflow)
        let len = (size + ALIGN - 1) / ALIGN * ALIGN;
        let cur = unsafe { libc::sbrk(0) };
        if cur as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        let misalign = cur as usize % ALIGN;
        let pad = if misalign == 0 { 0 } else { ALIGN - misalign };
        let old = unsafe { libc::sbrk((pad + len) as isize) };
        if old as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        ChunkInfo { start: old as usize + pad, len, source: Source::Sbrk }
    } else {
        // mmap hands back whole pages anyway, so I just ask for `size`:
        // the start is page aligned and the kernel rounds the length up for me.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        ChunkInfo { start: p as usize, len: size, source: Source::Mmap }
    };
    reg.chunks[slot] = Some(chunk);
    Ok(chunk.start as *mut u8)
}

/// Every live chunk, once each, in any order.
pub fn list_chunks() -> Vec<ChunkInfo> {
    // take a copy first, then build the Vec with the lock released
    let copy = registry().chunks;
    let mut out = Vec::new();
    for c in copy.iter().flatten() {
        out.push(*c);
    }
    out
}

/// The live chunk that holds `addr` (its first byte, its last, or any between), or `None`.
/// It never reads the memory at `addr`.
pub fn find_chunk(addr: usize) -> Option<ChunkInfo> {
    let reg = registry();
    reg.chunks
        .iter()
        .flatten()
        .find(|c| addr >= c.start && addr <= c.start + (c.len - 1))
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
    let mut reg = registry();
    let Some(i) = reg
        .chunks
        .iter()
        .position(|c| c.is_some_and(|c| c.start == ptr as usize))
    else {
        return Err(io::ErrorKind::InvalidInput.into());
    };
    let c = reg.chunks[i].unwrap();

    if matches!(c.source, Source::Mmap) {
        // munmap works on whole pages
        let page = page_size();
        let len = c.len / page * page;
        if unsafe { libc::munmap(c.start as *mut libc::c_void, len) } != 0 {
            return Err(io::Error::last_os_error());
        }
    } else {
        // break memory: only from the top
        let brk = unsafe { libc::sbrk(0) } as usize;
        if brk == c.start + c.len {
            unsafe { libc::sbrk(-(c.len as isize)) };
        }
    }
    reg.chunks[i] = None;
    Ok(())
}
