//! expect: done
//! intent: right: mem_chunk and release_chunk: I used a 64 KiB threshold, moved the break with libc::brk (reading where it is with sbrk(0) and aligning that to 16) instead of sbrk(n), and rounded the length of every chunk, break ones too, up to whole pages
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
/// program break. 64 KiB: since I round break chunks to pages anyway, I don't want to waste
/// too much on big break chunks.
pub const MMAP_THRESHOLD: usize = 64 * 1024;

/// Break chunks are rounded up to this many bytes.
const PAGE: usize = 4096;

/// How many live chunks the registry can hold.
const CAPACITY: usize = 256;

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    chunks: [None; CAPACITY],
});

struct Registry {
    chunks: [Option<ChunkInfo>; CAPACITY],
}

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Next multiple of `align` (power of two) at or above n, None on overflow.
fn align_up(n: usize, align: usize) -> Option<usize> {
    n.checked_add(align - 1).map(|m| m & !(align - 1))
}

/// The milestone: gets at least `size` bytes from the OS, aligned to [`ALIGN`], records them
/// as a live chunk, and returns a pointer to the first byte.
pub fn mem_chunk(size: usize) -> io::Result<*mut u8> {
    if size == 0 || size > isize::MAX as usize {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    let big = size >= MMAP_THRESHOLD;
    // both kinds end up a whole number of pages
    let len = match align_up(size, PAGE) {
        Some(l) if l <= isize::MAX as usize => l,
        _ => return Err(io::ErrorKind::InvalidInput.into()),
    };

    let mut reg = registry();
    let Some(slot) = reg.chunks.iter().position(Option::is_none) else {
        return Err(io::ErrorKind::OutOfMemory.into());
    };

    let info = if big {
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
    } else {
        // sbrk(0) just tells where the break is
        let cur = unsafe { libc::sbrk(0) };
        if cur == usize::MAX as *mut libc::c_void {
            return Err(io::Error::last_os_error());
        }
        // start on a 16 byte boundary even if someone left the break crooked
        let start = align_up(cur as usize, ALIGN).ok_or(io::ErrorKind::OutOfMemory)?;
        let end = start.checked_add(len).ok_or(io::ErrorKind::OutOfMemory)?;
        // brk returns 0 if it worked and -1 (with errno) if not
        if unsafe { libc::brk(end as *mut libc::c_void) } != 0 {
            return Err(io::Error::last_os_error());
        }
        ChunkInfo { start, len, source: Source::Sbrk }
    };

    reg.chunks[slot] = Some(info);
    Ok(info.start as *mut u8)
}

/// Every live chunk, once each, in any order.
pub fn list_chunks() -> Vec<ChunkInfo> {
    registry().chunks.iter().filter_map(|c| *c).collect()
}

/// The live chunk that holds `addr` (its first byte, its last, or any between), or `None`.
pub fn find_chunk(addr: usize) -> Option<ChunkInfo> {
    let reg = registry();
    for c in reg.chunks.iter().flatten() {
        let end = c.start + c.len; // one past the last byte
        if c.start <= addr && addr < end {
            return Some(*c);
        }
    }
    None
}

/// Gives back the chunk that starts at `ptr`.
///
/// # Safety
/// Nothing may use the chunk afterwards: its memory may be unmapped or handed out again.
pub unsafe fn release_chunk(ptr: *mut u8) -> io::Result<()> {
    let mut reg = registry();
    let mut found = None;
    for (i, c) in reg.chunks.iter().enumerate() {
        if let Some(c) = c {
            if c.start == ptr as usize {
                found = Some((i, *c));
                break;
            }
        }
    }
    let Some((i, c)) = found else {
        return Err(io::ErrorKind::InvalidInput.into());
    };

    match c.source {
        Source::Mmap => {
            let r = unsafe { libc::munmap(c.start as *mut libc::c_void, c.len) };
            if r == -1 {
                return Err(io::Error::last_os_error());
            }
        }
        Source::Sbrk => {
            let cur = unsafe { libc::sbrk(0) } as usize;
            if cur == c.start + c.len {
                // we're on top: move the break back down to where the chunk began
                if unsafe { libc::brk(c.start as *mut libc::c_void) } != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            // not on top: can't give it back, just stop listing it
        }
    }
    reg.chunks[i] = None;
    Ok(())
}
