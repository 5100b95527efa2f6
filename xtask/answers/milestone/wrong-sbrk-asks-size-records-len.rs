//! expect: failed in mem_chunk: the break and /proc/self/maps agree: sbrk chunks lie below the break, mmap chunks in anonymous mappings, each whole
//! intent: wrong: mem_chunk (sbrk branch): I compute `len` (size rounded up to 16) and record it in the registry, but I pass `size` to sbrk (padding + size), since that's what the caller asked for; the next chunk realigns the break anyway
//! expect-judge: wrong: len and size are mixed up: sbrk only moves the break by pad + size, but the chunk is recorded with the rounded len, so a break chunk whose size is not a multiple of 16 is listed as extending up to 15 bytes past the break (memory it never got; list_chunks/find_chunk claim it), and release_chunk's "break == start + len" test can never match such a chunk; sbrk must be asked for the rounded len
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
    let len = match size.checked_add(ALIGN - 1) {
        Some(n) if (n & !(ALIGN - 1)) <= isize::MAX as usize => n & !(ALIGN - 1),
        _ => return Err(io::ErrorKind::InvalidInput.into()),
    };

    let mut reg = registry();
    let Some(slot) = reg.chunks.iter().position(|c| c.is_none()) else {
        return Err(io::ErrorKind::OutOfMemory.into());
    };

    let info = if size < MMAP_THRESHOLD {
        let brk = unsafe { libc::sbrk(0) };
        if brk as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        // align the break to 16 first
        let pad = match brk as usize % ALIGN {
            0 => 0,
            r => ALIGN - r,
        };
        let old = unsafe { libc::sbrk((pad + size) as isize) };
        if old as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        ChunkInfo { start: old as usize + pad, len, source: Source::Sbrk }
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
        ChunkInfo { start: p as usize, len, source: Source::Mmap }
    };

    reg.chunks[slot] = Some(info);
    Ok(info.start as *mut u8)
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
        .find(|c| addr >= c.start && addr < c.start + c.len)
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
            // only give it back if it's the last thing before the break
            let brk = unsafe { libc::sbrk(0) } as usize;
            if brk == c.start + c.len {
                if unsafe { libc::sbrk(-(c.len as isize)) } as isize == -1 {
                    return Err(io::Error::last_os_error());
                }
            }
        }
    }
    reg.chunks[i] = None;
    Ok(())
}
