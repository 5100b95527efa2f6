//! expect: failed in mem_chunk: each was refused, and the registry and the break are as they were
//! intent: wrong: mem_chunk: I round the size up to 16 before checking it, with a plain +, so usize::MAX overflows (panic in debug, 0 in release) before my check runs
//! expect-judge: size checks in the wrong order: `size + ALIGN - 1` overflows for usize::MAX; overflow checks are on in the dev profile, so mem_chunk panics instead of refusing with InvalidInput
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

/// How many live chunks the registry can hold.
const CAPACITY: usize = 256;

/// Every live chunk, in a fixed array.
static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    chunks: [None; CAPACITY],
});

/// The registry's contents: `None` is a free slot.
struct Registry {
    chunks: [Option<ChunkInfo>; CAPACITY],
}

/// Locks the registry (a poisoned lock is still good to use).
fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::from(io::ErrorKind::InvalidInput)
}

/// The milestone: at least `size` bytes, aligned to ALIGN, recorded in the registry.
pub fn mem_chunk(size: usize) -> io::Result<*mut u8> {
    let n = (size + ALIGN - 1) & !(ALIGN - 1);
    if n == 0 {
        return Err(invalid("size 0"));
    }
    if n > isize::MAX as usize {
        return Err(invalid("size too large"));
    }
    let mut reg = registry();
    let Some(slot) = reg.chunks.iter().position(|c| c.is_none()) else {
        return Err(io::Error::from(io::ErrorKind::OutOfMemory));
    };
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
    reg.chunks[slot] = Some(info);
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
    reg.chunks[i] = None;
    Ok(())
}
