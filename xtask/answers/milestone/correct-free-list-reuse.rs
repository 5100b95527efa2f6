//! expect: done
//! intent: right: mem_chunk and release_chunk: break chunks that can't go back to the OS (not on top of the break) go into a fixed array of free blocks, and mem_chunk hands a free block out again (whole, first fit) before it calls sbrk, taking it off the free list so it is only reused once
//! expect-judge: correct
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

/// How many released break blocks we remember for reuse. If it's full we just leak the block.
const FREE_CAPACITY: usize = 64;

/// A block of break memory that nobody uses any more: (start, len).
#[derive(Clone, Copy)]
struct FreeBlock {
    start: usize,
    len: usize,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    chunks: [None; CAPACITY],
    free: [None; FREE_CAPACITY],
});

/// The registry's contents: `None` is a free slot.
struct Registry {
    chunks: [Option<ChunkInfo>; CAPACITY],
    /// released break memory we still own (below the break) and can give out again
    free: [Option<FreeBlock>; FREE_CAPACITY],
}

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn bad_input() -> io::Error {
    io::ErrorKind::InvalidInput.into()
}

/// The milestone: gets at least `size` bytes from the OS, aligned to [`ALIGN`], records them
/// as a live chunk, and returns a pointer to the first byte.
pub fn mem_chunk(size: usize) -> io::Result<*mut u8> {
    if size == 0 || size > isize::MAX as usize {
        return Err(bad_input());
    }
    // round up to 16 so the next chunk stays aligned
    let Some(len) = size.checked_add(ALIGN - 1).map(|n| n / ALIGN * ALIGN) else {
        return Err(bad_input());
    };
    if len > isize::MAX as usize {
        return Err(bad_input());
    }

    let mut reg = registry();
    let Some(slot) = reg.chunks.iter().position(|c| c.is_none()) else {
        return Err(io::ErrorKind::OutOfMemory.into());
    };

    let info = if size >= MMAP_THRESHOLD {
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        ChunkInfo { start: addr as usize, len, source: Source::Mmap }
    } else if let Some(i) = reg.free.iter().position(|b| matches!(b, Some(b) if b.len >= len)) {
        // reuse a released block: take it off the free list so nobody else gets it
        let block = reg.free[i].take().unwrap();
        // I hand out the whole block (no splitting), so len is the block's len
        ChunkInfo { start: block.start, len: block.len, source: Source::Sbrk }
    } else {
        let brk = unsafe { libc::sbrk(0) };
        if brk as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        let pad = (ALIGN - brk as usize % ALIGN) % ALIGN;
        // one sbrk for padding + chunk, so a failure leaves the break where it was
        let old = unsafe { libc::sbrk((pad + len) as isize) };
        if old as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        ChunkInfo { start: old as usize + pad, len, source: Source::Sbrk }
    };

    reg.chunks[slot] = Some(info);
    Ok(info.start as *mut u8)
}

/// Every live chunk, once each, in any order.
pub fn list_chunks() -> Vec<ChunkInfo> {
    let reg = registry();
    let mut out = Vec::new();
    for c in reg.chunks.iter().flatten() {
        out.push(*c);
    }
    out
}

/// The live chunk that holds `addr` (its first byte, its last, or any between), or `None`.
pub fn find_chunk(addr: usize) -> Option<ChunkInfo> {
    registry()
        .chunks
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
    let start = ptr as usize;
    let mut reg = registry();
    let Some(i) = reg
        .chunks
        .iter()
        .position(|c| matches!(c, Some(c) if c.start == start))
    else {
        return Err(bad_input());
    };
    let chunk = reg.chunks[i].unwrap();

    match chunk.source {
        Source::Mmap => {
            if unsafe { libc::munmap(ptr.cast(), chunk.len) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Source::Sbrk => {
            let top = unsafe { libc::sbrk(0) } as usize;
            if top == chunk.start + chunk.len {
                // last thing below the break: shrink the break
                let r = unsafe { libc::sbrk(-(chunk.len as isize)) };
                if r as isize == -1 {
                    return Err(io::Error::last_os_error());
                }
            } else if let Some(f) = reg.free.iter().position(|b| b.is_none()) {
                // somewhere in the middle: keep it for the next mem_chunk
                reg.free[f] = Some(FreeBlock { start: chunk.start, len: chunk.len });
            }
            // (free list full: the block is leaked, that's allowed)
        }
    }

    reg.chunks[i] = None;
    Ok(())
}
