//! expect: failed in mem_chunk: mem_chunk never called the global allocator
//! expect: failed in release_chunk: release_chunk never called the global allocator
//! intent: wrong: mem_chunk: I used a Mutex<Vec<ChunkInfo>> for the registry because a fixed array of 256 felt arbitrary; push grows it with the global allocator
//! expect-judge: the registry allocates: Vec::push calls the global allocator from inside mem_chunk, which the next lessons' alloc cannot allow (reentrancy); otherwise the behaviour is right
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

/// Requests of this many bytes or more get a mapping of their own.
pub const MMAP_THRESHOLD: usize = 128 * 1024;

/// Every live chunk.
static REGISTRY: Mutex<Registry> = Mutex::new(Registry { chunks: Vec::new() });

/// The registry's contents: `None` is a free slot.
struct Registry {
    chunks: Vec<Option<ChunkInfo>>,
}

/// Locks the registry (a poisoned lock is still good to use).
fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// The milestone: at least `size` bytes, aligned to ALIGN, recorded in the registry.
pub fn mem_chunk(size: usize) -> io::Result<*mut u8> {
    if size == 0 {
        return Err(invalid("size 0"));
    }
    let Some(n) = size.checked_add(ALIGN - 1).map(|v| v & !(ALIGN - 1)) else {
        return Err(invalid("size overflows"));
    };
    if n > isize::MAX as usize {
        return Err(invalid("size too large"));
    }
    let mut reg = registry();
    // no limit any more: the Vec grows as needed
    let slot = reg.chunks.len();
    let info = if size < MMAP_THRESHOLD {
        // SAFETY: sbrk(0) only reads the break.
        let brk = unsafe { libc::sbrk(0) } as usize;
        let pad = brk.wrapping_neg() & (ALIGN - 1);
        // SAFETY: grows the break; the new bytes are ours, and the lock serialises our sbrk calls.
        let old = unsafe { libc::sbrk((pad + n) as isize) };
        if old as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        ChunkInfo { start: old as usize + pad, len: n, source: Source::Sbrk }
    } else {
        // SAFETY: a fresh anonymous mapping overlaps nothing.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                n,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        ChunkInfo { start: p as usize, len: n, source: Source::Mmap }
    };
    debug_assert_eq!(slot, reg.chunks.len());
    reg.chunks.push(Some(info));
    Ok(info.start as *mut u8)
}

/// Every live chunk, once each.
pub fn list_chunks() -> Vec<ChunkInfo> {
    registry().chunks.iter().flatten().copied().collect()
}

/// The live chunk holding `addr`, if any.
pub fn find_chunk(addr: usize) -> Option<ChunkInfo> {
    registry()
        .chunks
        .iter()
        .flatten()
        .find(|c| addr >= c.start && addr - c.start < c.len)
        .copied()
}

/// Gives back the chunk that starts at `ptr`.
pub unsafe fn release_chunk(ptr: *mut u8) -> io::Result<()> {
    let mut reg = registry();
    let Some(i) = reg
        .chunks
        .iter()
        .position(|c| matches!(c, Some(c) if c.start == ptr as usize))
    else {
        return Err(invalid("not the start of a live chunk"));
    };
    let Some(c) = reg.chunks[i] else { unreachable!() };
    match c.source {
        Source::Mmap => {
            // SAFETY: we mapped exactly this range, and the caller no longer uses it.
            if unsafe { libc::munmap(c.start as *mut libc::c_void, c.len) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Source::Sbrk => {
            // SAFETY: sbrk(0) only reads the break.
            let brk = unsafe { libc::sbrk(0) } as usize;
            if brk == c.start + c.len {
                // SAFETY: the chunk is the top of the break and nobody uses it any more.
                if unsafe { libc::sbrk(-(c.len as isize)) } as isize == -1 {
                    return Err(io::Error::last_os_error());
                }
            }
            // otherwise: keep the memory, just forget the chunk
        }
    }
    reg.chunks.remove(i);
    Ok(())
}
