//! expect: done
//! intent: correct: mmap threshold raised to 1 MiB, and every chunk (break ones too) rounded up to whole pages, with the break first moved to a page boundary
//! expect-judge: correct; wasteful for small chunks (24 bytes costs a page) but page multiples are multiples of 16, chunks below 1 MiB come from the break, 1 MiB is mapped

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

/// Only chunks of 1 MiB or more get their own mapping.
pub const MMAP_THRESHOLD: usize = 1024 * 1024;

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

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p <= 0 { 4096 } else { p as usize }
}

/// `n` rounded up to a multiple of `to` (a power of two), if it fits.
fn round_up(n: usize, to: usize) -> Option<usize> {
    debug_assert!(to.is_power_of_two() && to >= ALIGN);
    Some(n.checked_add(to - 1)? & !(to - 1))
}

pub fn mem_chunk(size: usize) -> io::Result<*mut u8> {
    let page = page_size();
    let len = match round_up(size, page) {
        Some(len) if size > 0 && len <= isize::MAX as usize => len,
        _ => return Err(io::Error::from(io::ErrorKind::InvalidInput)),
    };

    let mut reg = registry();
    let Some(free_slot) = reg.chunks.iter().position(Option::is_none) else {
        return Err(io::Error::from(io::ErrorKind::OutOfMemory));
    };

    let chunk = if size < MMAP_THRESHOLD {
        // SAFETY: sbrk(0) just reads the break
        let brk = unsafe { libc::sbrk(0) } as usize;
        // start each chunk on a page, whatever state the break was left in
        let gap = round_up(brk, page).unwrap_or(brk) - brk;
        // SAFETY: grows the break under our lock; the new pages are ours
        let old = unsafe { libc::sbrk((gap + len) as isize) };
        if old == usize::MAX as *mut libc::c_void {
            return Err(io::Error::last_os_error());
        }
        ChunkInfo { start: old as usize + gap, len, source: Source::Sbrk }
    } else {
        // SAFETY: new anonymous private memory
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
    };
    reg.chunks[free_slot] = Some(chunk);
    Ok(chunk.start as *mut u8)
}

pub fn list_chunks() -> Vec<ChunkInfo> {
    let reg = registry();
    reg.chunks.iter().filter_map(|c| *c).collect()
}

pub fn find_chunk(addr: usize) -> Option<ChunkInfo> {
    let reg = registry();
    reg.chunks
        .iter()
        .filter_map(|c| *c)
        .find(|c| c.start <= addr && addr < c.start + c.len)
}

pub unsafe fn release_chunk(ptr: *mut u8) -> io::Result<()> {
    let mut reg = registry();
    let mut found = None;
    for (i, slot) in reg.chunks.iter().enumerate() {
        if let Some(c) = slot {
            if c.start == ptr as usize {
                found = Some((i, *c));
                break;
            }
        }
    }
    let Some((i, c)) = found else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    match c.source {
        Source::Mmap => {
            // SAFETY: the whole mapping we made for this chunk, no longer used
            let rc = unsafe { libc::munmap(ptr.cast(), c.len) };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Source::Sbrk => {
            // SAFETY: sbrk(0) just reads the break
            let brk = unsafe { libc::sbrk(0) } as usize;
            if brk == c.start + c.len {
                // SAFETY: top of the break, unused from now on
                let r = unsafe { libc::sbrk(-(c.len as isize)) };
                if r as isize == -1 {
                    return Err(io::Error::last_os_error());
                }
            }
        }
    }
    reg.chunks[i] = None;
    Ok(())
}
