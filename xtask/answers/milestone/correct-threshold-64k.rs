//! expect: done
//! intent: correct: mmap threshold lowered to 64 KiB; rounds with checked_next_multiple_of, aligns the break by asking for the skip in the same sbrk call, finds with Range::contains, gives top break memory back with brk()
//! expect-judge: correct; 64 KiB is a legal threshold (131071/131072/200000 all mapped), two sbrk calls per chunk are the implementation's choice

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

/// I map everything from 64 KiB up: the break stays small.
pub const MMAP_THRESHOLD: usize = 64 * 1024;

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

const SBRK_FAILED: *mut libc::c_void = usize::MAX as *mut libc::c_void;

/// Moves the break up by `incr` and returns the old break.
fn sbrk(incr: usize) -> io::Result<usize> {
    // SAFETY: only called with the registry locked; the new memory is ours
    let old = unsafe { libc::sbrk(incr as libc::intptr_t) };
    if old == SBRK_FAILED { Err(io::Error::last_os_error()) } else { Ok(old as usize) }
}

fn from_break(n: usize) -> io::Result<usize> {
    let brk = sbrk(0)?;
    // somebody may have left the break unaligned: skip up to the next multiple of ALIGN,
    // in the same sbrk call so that a refusal moves nothing
    let skip = brk.next_multiple_of(ALIGN) - brk;
    Ok(sbrk(skip + n)? + skip)
}

fn from_mmap(n: usize) -> io::Result<usize> {
    // SAFETY: a new private anonymous mapping, placed by the kernel
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
    if p == libc::MAP_FAILED { Err(io::Error::last_os_error()) } else { Ok(p as usize) }
}

pub fn mem_chunk(size: usize) -> io::Result<*mut u8> {
    let n = match size.checked_next_multiple_of(ALIGN) {
        Some(n) if size != 0 && n <= isize::MAX as usize => n,
        _ => return Err(io::ErrorKind::InvalidInput.into()),
    };
    let mut reg = registry();
    let slot = reg
        .chunks
        .iter_mut()
        .find(|s| s.is_none())
        .ok_or(io::Error::from(io::ErrorKind::OutOfMemory))?;
    let (start, source) = if size >= MMAP_THRESHOLD {
        (from_mmap(n)?, Source::Mmap)
    } else {
        (from_break(n)?, Source::Sbrk)
    };
    *slot = Some(ChunkInfo { start, len: n, source });
    Ok(start as *mut u8)
}

pub fn list_chunks() -> Vec<ChunkInfo> {
    let reg = registry();
    let mut out = Vec::new();
    for c in reg.chunks.iter().flatten() {
        out.push(*c);
    }
    out
}

pub fn find_chunk(addr: usize) -> Option<ChunkInfo> {
    let reg = registry();
    for c in reg.chunks.iter().flatten() {
        if (c.start..c.start + c.len).contains(&addr) {
            return Some(*c);
        }
    }
    None
}

pub unsafe fn release_chunk(ptr: *mut u8) -> io::Result<()> {
    let addr = ptr as usize;
    let mut reg = registry();
    let slot = reg
        .chunks
        .iter_mut()
        .find(|s| s.is_some_and(|c| c.start == addr))
        .ok_or(io::Error::from(io::ErrorKind::InvalidInput))?;
    let c = slot.expect("found above");
    if c.source == Source::Mmap {
        // SAFETY: exactly the range we mapped; the caller is done with it
        if unsafe { libc::munmap(ptr.cast(), c.len) } == -1 {
            return Err(io::Error::last_os_error());
        }
    } else if sbrk(0)? == c.start + c.len {
        // on top of the break: set the break back to the chunk's start
        // SAFETY: the chunk is the top of the break, nobody uses it any more
        if unsafe { libc::brk(ptr.cast()) } == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    *slot = None;
    Ok(())
}
