//! expect: done
//! intent: right: mem_chunk and release_chunk: to make fewer system calls I grow the break at least 64 KiB at a time and carve small chunks out of the spare room (a bump pointer between `top` and `end`); if someone else moved the break I start a fresh aligned arena; releasing the last carved chunk just moves `top` back so the room is reused once
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

/// The break grows by at least this much at a time.
const GROW_STEP: usize = 64 * 1024;

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    chunks: [None; CAPACITY],
    top: 0,
    end: 0,
});

struct Registry {
    chunks: [Option<ChunkInfo>; CAPACITY],
    /// next free byte of the arena (always a multiple of ALIGN)
    top: usize,
    /// end of the arena = where we left the break (0 before the first sbrk)
    end: usize,
}

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn round_up(n: usize, to: usize) -> Option<usize> {
    let r = n.checked_add(to - 1)?;
    Some(r - r % to)
}

fn sbrk_checked(incr: isize) -> io::Result<usize> {
    let p = unsafe { libc::sbrk(incr) };
    if p as isize == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(p as usize)
    }
}

/// Makes sure the arena has `need` bytes between top and end. Only moves the break when it has
/// to; on error nothing has changed.
fn make_room(reg: &mut Registry, need: usize) -> io::Result<()> {
    if reg.end - reg.top >= need {
        return Ok(());
    }
    let cur = sbrk_checked(0)?;
    if reg.end != 0 && cur == reg.end {
        // the break is still where we left it: just make the arena longer
        let missing = need - (reg.end - reg.top);
        let grow = round_up(missing, GROW_STEP).unwrap(); // missing < threshold, no overflow
        sbrk_checked(grow as isize)?;
        reg.end += grow;
    } else {
        // first time, or someone else moved the break: new arena on top of it.
        // the spare room of the old one is abandoned.
        let pad = round_up(cur, ALIGN).unwrap() - cur;
        let grow = round_up(need, GROW_STEP).unwrap();
        let old = sbrk_checked((pad + grow) as isize)?;
        reg.top = old + pad;
        reg.end = old + pad + grow;
    }
    Ok(())
}

/// The milestone: gets at least `size` bytes from the OS, aligned to [`ALIGN`], records them
/// as a live chunk, and returns a pointer to the first byte.
pub fn mem_chunk(size: usize) -> io::Result<*mut u8> {
    if size == 0 || size > isize::MAX as usize {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    let len = match round_up(size, ALIGN) {
        Some(len) if len <= isize::MAX as usize => len,
        _ => return Err(io::Error::from(io::ErrorKind::InvalidInput)),
    };

    let mut reg = registry();
    let slot = match reg.chunks.iter().position(|c| c.is_none()) {
        Some(s) => s,
        None => return Err(io::Error::from(io::ErrorKind::OutOfMemory)),
    };

    let chunk = if size >= MMAP_THRESHOLD {
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
        make_room(&mut reg, len)?;
        let start = reg.top;
        reg.top += len;
        ChunkInfo { start, len, source: Source::Sbrk }
    };

    reg.chunks[slot] = Some(chunk);
    Ok(chunk.start as *mut u8)
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
        .copied()
        .find(|c| (c.start..c.start + c.len).contains(&addr))
}

/// Gives back the chunk that starts at `ptr`.
///
/// # Safety
/// Nothing may use the chunk afterwards: its memory may be unmapped or handed out again.
pub unsafe fn release_chunk(ptr: *mut u8) -> io::Result<()> {
    let mut reg = registry();
    let idx = reg
        .chunks
        .iter()
        .position(|c| c.is_some_and(|c| c.start == ptr as usize))
        .ok_or(io::Error::from(io::ErrorKind::InvalidInput))?;
    let c = reg.chunks[idx].unwrap();

    match c.source {
        Source::Mmap => {
            if unsafe { libc::munmap(ptr as *mut libc::c_void, c.len) } == -1 {
                return Err(io::Error::last_os_error());
            }
        }
        Source::Sbrk => {
            // The break is at reg.end, not at the chunk's end, so nothing goes back to the
            // OS. But if this was the last chunk carved, the room goes back to the arena and
            // the next mem_chunk carves it again (only once, since top moves past it again).
            if c.start + c.len == reg.top {
                reg.top = c.start;
            }
        }
    }
    reg.chunks[idx] = None;
    Ok(())
}
