//! expect: failed in release_chunk: when munmap fails, release_chunk returns the error and keeps the chunk
//! intent: wrong: release_chunk: I call munmap on an mmap chunk and drop it from the registry without looking at what munmap returned (it's our own mapping, I figured it can't fail); everything else checks its system calls
//! expect-judge: wrong: release_chunk ignores munmap's return value, so if munmap fails (returns -1) the chunk is still mapped but is removed from the registry and Ok(()) is returned; it should return io::Error::last_os_error() and leave the chunk listed (a refusal changes nothing)
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
    // 0, too big, or overflowing when rounded -> invalid
    if size == 0 || size > isize::MAX as usize - (ALIGN - 1) {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    let len = (size + ALIGN - 1) & !(ALIGN - 1);

    let mut reg = registry();
    let slot = reg
        .chunks
        .iter()
        .position(|c| c.is_none())
        .ok_or(io::ErrorKind::OutOfMemory)?;

    let start;
    let source;
    if size >= MMAP_THRESHOLD {
        let m = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if m == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        start = m as usize;
        source = Source::Mmap;
    } else {
        let here = unsafe { libc::sbrk(0) } as usize;
        if here == usize::MAX {
            return Err(io::Error::last_os_error());
        }
        let aligned = (here + ALIGN - 1) & !(ALIGN - 1);
        let old = unsafe { libc::sbrk((aligned - here + len) as isize) };
        if old as usize == usize::MAX {
            return Err(io::Error::last_os_error());
        }
        start = old as usize + (aligned - here);
        source = Source::Sbrk;
    }

    reg.chunks[slot] = Some(ChunkInfo { start, len, source });
    Ok(start as *mut u8)
}

/// Every live chunk, once each, in any order.
pub fn list_chunks() -> Vec<ChunkInfo> {
    registry().chunks.iter().flatten().copied().collect()
}

/// The live chunk that holds `addr` (its first byte, its last, or any between), or `None`.
pub fn find_chunk(addr: usize) -> Option<ChunkInfo> {
    registry()
        .chunks
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
        .position(|c| c.map(|c| c.start) == Some(ptr as usize))
    else {
        return Err(io::ErrorKind::InvalidInput.into());
    };
    let c = reg.chunks[i].unwrap();

    match c.source {
        Source::Mmap => {
            // our own mapping, with the length we mapped it with
            unsafe { libc::munmap(c.start as *mut libc::c_void, c.len) };
        }
        Source::Sbrk => {
            let brk = unsafe { libc::sbrk(0) } as usize;
            if brk == c.start + c.len {
                let r = unsafe { libc::sbrk(-(c.len as isize)) };
                if r as usize == usize::MAX {
                    return Err(io::Error::last_os_error());
                }
            }
        }
    }

    reg.chunks[i] = None;
    Ok(())
}
