//! expect: failed in mem_chunk: when sbrk or mmap fails, mem_chunk returns an error, and nothing changes
//! intent: wrong: mem_chunk (mmap branch): I treat a null pointer from mmap as the failure, the way you check malloc; the sbrk side compares with -1 properly
//! expect-judge: wrong: mmap signals failure with MAP_FAILED ((void *) -1), never NULL, so a refused mmap is taken as success: mem_chunk returns Ok(0xffff...ffff) and records a bogus mmap chunk instead of returning io::Error::last_os_error() and changing nothing (step 5, mmap side)
//!
//! Your parts of the milestone, mem_chunk (milestone). Replace each `todo!()` below, in order, with
//! your code, then run `cargo xtask learn`: the lesson's own program runs your parts and checks
//! what they did.

use std::io;
use std::ptr;
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

const SBRK_FAILED: *mut libc::c_void = -1isize as *mut libc::c_void;

fn get_from_break(len: usize) -> io::Result<usize> {
    let now = unsafe { libc::sbrk(0) };
    if now == SBRK_FAILED {
        return Err(io::Error::last_os_error());
    }
    // how far to the next multiple of 16
    let misalign = now as usize % ALIGN;
    let pad = if misalign == 0 { 0 } else { ALIGN - misalign };
    let old = unsafe { libc::sbrk((pad + len) as isize) };
    if old == SBRK_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(old as usize + pad)
}

fn get_mapping(len: usize) -> io::Result<usize> {
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p.is_null() {
        return Err(io::Error::last_os_error());
    }
    Ok(p as usize)
}

/// The milestone: gets at least `size` bytes from the OS, aligned to [`ALIGN`], records them
/// as a live chunk, and returns a pointer to the first byte.
pub fn mem_chunk(size: usize) -> io::Result<*mut u8> {
    if size == 0 {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    let len = match size.checked_next_multiple_of(ALIGN) {
        Some(l) if l <= isize::MAX as usize => l,
        _ => return Err(io::Error::from(io::ErrorKind::InvalidInput)),
    };

    let mut reg = registry();
    let free_slot = reg.chunks.iter().position(|c| c.is_none());
    let Some(slot) = free_slot else {
        return Err(io::Error::from(io::ErrorKind::OutOfMemory));
    };

    let info = if size >= MMAP_THRESHOLD {
        ChunkInfo { start: get_mapping(len)?, len, source: Source::Mmap }
    } else {
        ChunkInfo { start: get_from_break(len)?, len, source: Source::Sbrk }
    };
    reg.chunks[slot] = Some(info);
    Ok(info.start as *mut u8)
}

/// Every live chunk, once each, in any order.
pub fn list_chunks() -> Vec<ChunkInfo> {
    let reg = registry();
    reg.chunks.iter().filter_map(|slot| *slot).collect()
}

/// The live chunk that holds `addr` (its first byte, its last, or any between), or `None`.
pub fn find_chunk(addr: usize) -> Option<ChunkInfo> {
    let reg = registry();
    for slot in reg.chunks.iter() {
        if let Some(c) = slot {
            if addr >= c.start && addr <= c.start + (c.len - 1) {
                return Some(*c);
            }
        }
    }
    None
}

/// Gives back the chunk that starts at `ptr`.
///
/// # Safety
/// Nothing may use the chunk afterwards: its memory may be unmapped or handed out again.
pub unsafe fn release_chunk(ptr: *mut u8) -> io::Result<()> {
    let addr = ptr as usize;
    let mut reg = registry();
    let mut index = None;
    for (i, slot) in reg.chunks.iter().enumerate() {
        if let Some(c) = slot {
            if c.start == addr {
                index = Some(i);
            }
        }
    }
    let Some(i) = index else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    let c = reg.chunks[i].unwrap();

    if let Source::Mmap = c.source {
        if unsafe { libc::munmap(ptr as *mut libc::c_void, c.len) } != 0 {
            return Err(io::Error::last_os_error());
        }
    } else {
        let brk = unsafe { libc::sbrk(0) };
        if brk as usize == c.start + c.len {
            // top of the heap, hand it back
            if unsafe { libc::sbrk(-(c.len as isize)) } == SBRK_FAILED {
                return Err(io::Error::last_os_error());
            }
        }
    }
    reg.chunks[i] = None;
    Ok(())
}
