//! expect: failed in mem_chunk: memory given back is handed out again at most once: none of these overlaps another, and each is listed once
//! intent: wrong: mem_chunk: when I reuse a kept block I read it out of the free list with a copy instead of take(), so an exactly-fitting block stays free and is handed out again
//! expect-judge: reuse bug: a block that fits exactly is never removed from the free list, so two later requests get the same memory (overlapping chunks); the contract now takes the small sizes again after releasing, and sees the overlap

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

/// glibc's default.
pub const MMAP_THRESHOLD: usize = 128 * 1024;

/// How many live chunks the registry can hold (and how many free blocks it keeps).
const CAPACITY: usize = 256;

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    chunks: [None; CAPACITY],
    free: [None; CAPACITY],
});

/// Live chunks, and break memory given back but kept for later (start, len).
struct Registry {
    chunks: [Option<ChunkInfo>; CAPACITY],
    free: [Option<(usize, usize)>; CAPACITY],
}

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Registry {
    /// Takes `n` bytes out of the first kept block big enough, if any.
    fn reuse(&mut self, n: usize) -> Option<usize> {
        let slot = self.free.iter_mut().find(|b| matches!(b, Some((_, len)) if *len >= n))?;
        let (start, len) = (*slot)?;
        if len > n {
            // keep the rest (n and len are both multiples of ALIGN, so the rest is aligned)
            *slot = Some((start + n, len - n));
        }
        Some(start)
    }

    /// Keeps a released break block for later. If there is no room, it is simply lost.
    fn keep(&mut self, start: usize, len: usize) {
        if let Some(slot) = self.free.iter_mut().find(|b| b.is_none()) {
            *slot = Some((start, len));
        }
    }
}

fn round16(size: usize) -> Option<usize> {
    size.checked_add(ALIGN - 1).map(|s| s / ALIGN * ALIGN)
}

pub fn mem_chunk(size: usize) -> io::Result<*mut u8> {
    if size == 0 {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    let n = round16(size)
        .filter(|&n| n <= isize::MAX as usize)
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;

    let mut reg = registry();
    let slot = reg
        .chunks
        .iter()
        .position(|c| c.is_none())
        .ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;

    let info = if size >= MMAP_THRESHOLD {
        // SAFETY: fresh private anonymous mapping
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
    } else if let Some(start) = reg.reuse(n) {
        ChunkInfo { start, len: n, source: Source::Sbrk }
    } else {
        // SAFETY: reads the break
        let cur = unsafe { libc::sbrk(0) } as usize;
        let pad = (ALIGN - cur % ALIGN) % ALIGN;
        // SAFETY: grows the break; serialised by the registry lock
        let old = unsafe { libc::sbrk((pad + n) as isize) };
        if old as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        ChunkInfo { start: old as usize + pad, len: n, source: Source::Sbrk }
    };
    reg.chunks[slot] = Some(info);
    Ok(info.start as *mut u8)
}

pub fn list_chunks() -> Vec<ChunkInfo> {
    registry().chunks.iter().filter_map(|c| c.as_ref().copied()).collect()
}

pub fn find_chunk(addr: usize) -> Option<ChunkInfo> {
    let reg = registry();
    reg.chunks
        .iter()
        .flatten()
        .find(|c| addr.wrapping_sub(c.start) < c.len)
        .copied()
}

pub unsafe fn release_chunk(ptr: *mut u8) -> io::Result<()> {
    let mut reg = registry();
    let Some(i) = reg.chunks.iter().position(|c| c.is_some_and(|c| c.start == ptr as usize)) else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    let c = reg.chunks[i].unwrap();
    match c.source {
        Source::Mmap => {
            // SAFETY: our own mapping, no longer used
            if unsafe { libc::munmap(c.start as *mut libc::c_void, c.len) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Source::Sbrk => {
            // SAFETY: reads the break
            let top = unsafe { libc::sbrk(0) } as usize;
            if top == c.start + c.len {
                // SAFETY: the chunk is the top of the break and is no longer used
                if unsafe { libc::sbrk(-(c.len as isize)) } as isize == -1 {
                    return Err(io::Error::last_os_error());
                }
            } else {
                reg.keep(c.start, c.len);
            }
        }
    }
    reg.chunks[i] = None;
    Ok(())
}
