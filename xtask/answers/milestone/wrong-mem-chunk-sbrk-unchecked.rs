//! expect: failed in mem_chunk: when sbrk or mmap fails, mem_chunk returns an error, and nothing changes
//! intent: wrong: mem_chunk: I forgot sbrk returns (void*)-1 on failure, so when the break can't grow I record and return 0xffff...ffff (+pad) as a chunk
//! expect-judge: sbrk's failure value is not checked: under a data limit (ulimit -d, valgrind) mem_chunk returns an invalid pointer as Ok and registers a bogus chunk
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
    let _ = msg; io::Error::from(io::ErrorKind::InvalidInput)
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
    let Some(slot) = reg.chunks.iter().position(|c| c.is_none()) else {
        return Err(io::Error::from(io::ErrorKind::OutOfMemory));
    };
    let info = if size < MMAP_THRESHOLD {
        // SAFETY: sbrk(0) only reads the break.
        let brk = unsafe { libc::sbrk(0) } as usize;
        let pad = brk.wrapping_neg() & (ALIGN - 1);
        // SAFETY: grows the break; the new bytes are ours, and the lock serialises our sbrk calls.
        let old = unsafe { libc::sbrk((pad + n) as isize) };
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
