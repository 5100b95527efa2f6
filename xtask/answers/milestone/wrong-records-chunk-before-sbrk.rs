//! expect: failed in mem_chunk: when sbrk or mmap fails, mem_chunk returns an error, and nothing changes
//! intent: wrong: mem_chunk (sbrk branch): I know where a break chunk will start before calling sbrk (the aligned current break), so I write it into the registry slot first and then call sbrk; when sbrk fails I return the error but forget to take the entry back out
//! expect-judge: wrong: the chunk is recorded before sbrk succeeds, and on sbrk failure the error is returned with the entry still in the registry, so a refused sbrk leaves a phantom chunk listed (and findable) over memory that was never obtained; a refusal must change nothing (step 5)
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

fn is_err(p: *mut libc::c_void) -> bool {
    p as isize == -1
}

/// The milestone: gets at least `size` bytes from the OS, aligned to [`ALIGN`], records them
/// as a live chunk, and returns a pointer to the first byte.
pub fn mem_chunk(size: usize) -> io::Result<*mut u8> {
    if size == 0 || size > isize::MAX as usize {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    let Some(len) = size.checked_add(ALIGN - 1).map(|x| x & !(ALIGN - 1)) else {
        return Err(io::ErrorKind::InvalidInput.into());
    };
    if len > isize::MAX as usize {
        return Err(io::ErrorKind::InvalidInput.into());
    }

    let mut reg = registry();
    let Some(slot) = reg.chunks.iter().position(|c| c.is_none()) else {
        return Err(io::ErrorKind::OutOfMemory.into());
    };

    if size >= MMAP_THRESHOLD {
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
        reg.chunks[slot] = Some(ChunkInfo { start: p as usize, len, source: Source::Mmap });
        return Ok(p as *mut u8);
    }

    // break chunk: we already know where it's going to be
    let cur = unsafe { libc::sbrk(0) };
    if is_err(cur) {
        return Err(io::Error::last_os_error());
    }
    let cur = cur as usize;
    let start = (cur + ALIGN - 1) & !(ALIGN - 1);
    // claim the slot right away
    reg.chunks[slot] = Some(ChunkInfo { start, len, source: Source::Sbrk });

    let old = unsafe { libc::sbrk((start - cur + len) as isize) };
    if is_err(old) {
        return Err(io::Error::last_os_error());
    }
    Ok(start as *mut u8)
}

/// Every live chunk, once each, in any order.
pub fn list_chunks() -> Vec<ChunkInfo> {
    let reg = registry();
    reg.chunks.iter().flatten().copied().collect()
}

/// The live chunk that holds `addr` (its first byte, its last, or any between), or `None`.
pub fn find_chunk(addr: usize) -> Option<ChunkInfo> {
    let reg = registry();
    reg.chunks
        .iter()
        .flatten()
        .find(|c| addr >= c.start && addr - c.start < c.len)
        .copied()
}

/// Gives back the chunk that starts at `ptr`.
///
/// # Safety
/// Nothing may use the chunk afterwards: its memory may be unmapped or handed out again.
pub unsafe fn release_chunk(ptr: *mut u8) -> io::Result<()> {
    let want = ptr as usize;
    let mut reg = registry();
    let pos = reg
        .chunks
        .iter()
        .position(|c| matches!(c, Some(c) if c.start == want));
    let Some(i) = pos else {
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
            if unsafe { libc::sbrk(0) } as usize == c.start + c.len {
                if is_err(unsafe { libc::sbrk(-(c.len as isize)) }) {
                    return Err(io::Error::last_os_error());
                }
            }
        }
    }
    reg.chunks[i] = None;
    Ok(())
}
