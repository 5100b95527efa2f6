//! expect: failed in mem_chunk: when sbrk or mmap fails, mem_chunk returns an error, and nothing changes
//! intent: wrong: mem_chunk (sbrk branch): I check what sbrk gave back with `is_null()`, the way I would check malloc, and return last_os_error() in that case; the mmap side compares with MAP_FAILED
//! expect-judge: wrong: when sbrk fails it returns (void *) -1, not NULL; the is_null() check never fires, so mem_chunk returns Ok with a bogus pointer near usize::MAX and records a chunk there (or, with padding, overflows `old + pad`, a panic in a debug build) instead of returning io::Error::last_os_error() and changing nothing (step 5 fails)
//!
//! Your parts of the milestone, mem_chunk (milestone). Replace each `todo!()` below, in order, with
//! your code, then run `cargo xtask learn`: the lesson's own program runs your parts and checks
//! what they did.

use std::io;
use std::sync::Mutex;

use milestone::Source;
use milestone::contract::{ALIGN, ChunkInfo, Parts};

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

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    chunks: [None; CAPACITY],
});

/// The registry's contents: `None` is a free slot.
struct Registry {
    chunks: [Option<ChunkInfo>; CAPACITY],
}

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The milestone: gets at least `size` bytes from the OS, aligned to [`ALIGN`], records them
/// as a live chunk, and returns a pointer to the first byte.
pub fn mem_chunk(size: usize) -> io::Result<*mut u8> {
    if size == 0 || size > isize::MAX as usize {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    // round up to a multiple of 16
    let len = match size.checked_add(ALIGN - 1) {
        Some(n) => n & !(ALIGN - 1),
        None => return Err(io::ErrorKind::InvalidInput.into()),
    };
    if len > isize::MAX as usize {
        return Err(io::ErrorKind::InvalidInput.into());
    }

    let mut reg = registry();
    let slot = match reg.chunks.iter().position(|c| c.is_none()) {
        Some(i) => i,
        None => return Err(io::ErrorKind::OutOfMemory.into()),
    };

    let (start, source) = if size < MMAP_THRESHOLD {
        // where's the break? fix it up to 16 if someone left it crooked
        let cur = unsafe { libc::sbrk(0) } as usize;
        let pad = (ALIGN - cur % ALIGN) % ALIGN;
        let old = unsafe { libc::sbrk((pad + len) as isize) };
        if old.is_null() {
            // no memory
            return Err(io::Error::last_os_error());
        }
        (old as usize + pad, Source::Sbrk)
    } else {
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
        (p as usize, Source::Mmap)
    };

    reg.chunks[slot] = Some(ChunkInfo { start, len, source });
    Ok(start as *mut u8)
}

/// Every live chunk, once each, in any order.
pub fn list_chunks() -> Vec<ChunkInfo> {
    registry().chunks.iter().flatten().copied().collect()
}

/// The live chunk that holds `addr` (its first byte, its last, or any between), or `None`.
pub fn find_chunk(addr: usize) -> Option<ChunkInfo> {
    let reg = registry();
    reg.chunks
        .iter()
        .flatten()
        .find(|c| c.start <= addr && addr < c.start + c.len)
        .copied()
}

/// Gives back the chunk that starts at `ptr`.
///
/// # Safety
/// Nothing may use the chunk afterwards: its memory may be unmapped or handed out again.
pub unsafe fn release_chunk(ptr: *mut u8) -> io::Result<()> {
    let mut reg = registry();
    let Some(i) = reg
        .chunks
        .iter()
        .position(|c| matches!(c, Some(c) if c.start == ptr as usize))
    else {
        return Err(io::ErrorKind::InvalidInput.into());
    };
    let c = reg.chunks[i].unwrap();
    match c.source {
        Source::Mmap => {
            if unsafe { libc::munmap(ptr.cast(), c.len) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Source::Sbrk => {
            // can only shrink the break if we're the top chunk
            let brk = unsafe { libc::sbrk(0) } as usize;
            if brk == c.start + c.len {
                let r = unsafe { libc::sbrk(-(c.len as isize)) };
                if r as isize == -1 {
                    return Err(io::Error::last_os_error());
                }
            }
        }
    }
    reg.chunks[i] = None;
    Ok(())
}
