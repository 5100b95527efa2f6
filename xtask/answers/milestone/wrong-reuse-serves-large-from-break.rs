//! expect: failed in mem_chunk: mem_chunk(~N bytes (~N)), after the rest were given back, has an anonymous mapping of its own
//! intent: wrong: mem_chunk: released break chunks that are not on top are kept in the registry marked free, and mem_chunk first looks for a free one that is big enough, for any size, since reusing saves a system call; only when none fits does it go to sbrk or mmap
//! expect-judge: fail: the reuse runs before the threshold test, so a request at or above MMAP_THRESHOLD can be served from a released break chunk (e.g. 128 KiB from the chunk left by a released 131071-byte request), and that chunk lies in the break and is listed as sbrk instead of being an anonymous mapping of its own; reuse should be limited to requests below the threshold
//! Your parts of the milestone, mem_chunk (milestone). Replace each `todo!()` below, in order, with
//! your code, then run `cargo xtask learn`: the lesson's own program runs your parts and checks
//! what they did.
//!
//! Each part's doc comment says what it must do. `cargo xtask hint milestone` gives a hint for the
//! next one. `cargo xtask learn --reset milestone` brings this file back as it was (keeping a copy
//! of yours). When the exercise is done, compare with the reference, `milestone/src/parts.rs`, from
//! which `cargo xtask templates` wrote this file.

use std::io;
use std::sync::Mutex;

use milestone::Source;
use milestone::contract::{ALIGN, ChunkInfo, Parts};

// What this file uses from the lesson, a line each:
// - `ChunkInfo { start: usize, len: usize, source: Source }`: one live chunk, as you record it;
// - `Source::Sbrk` or `Source::Mmap`: where a chunk's memory came from;
// - `ALIGN: usize`: 16, the alignment every chunk must have;
// - `Parts`: the struct below, through which the lesson calls your parts.

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

/// One entry of the registry: a chunk, and whether it was released.
///
/// A released break chunk that is not at the top of the break can't go back to the OS, so I
/// keep it here marked `free`, and mem_chunk hands it out again for a request that fits.
#[derive(Clone, Copy)]
struct Entry {
    info: ChunkInfo,
    free: bool,
}

/// Every chunk, in a fixed array. (A Vec could call the global allocator, which in the next
/// lessons calls mem_chunk, so: fixed array behind a const Mutex.)
///
/// The lock also serialises our `sbrk` calls, which glibc does not make thread-safe. It cannot
/// stop glibc's own malloc from calling `sbrk` on another thread at the same time.
static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    entries: [None; CAPACITY],
});

/// `None` is an unused slot; `Some` with `free` is a released break chunk kept for reuse.
struct Registry {
    entries: [Option<Entry>; CAPACITY],
}

/// Locks the registry. A panic while it was held cannot have left it half-changed (every
/// change is one assignment), so a poisoned lock is still good to use.
fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn page_size() -> usize {
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// The milestone: gets at least `size` bytes from the OS, aligned to [`ALIGN`], records them
/// as a live chunk, and returns a pointer to the first byte.
///
/// It never calls the global allocator, and neither do `find_chunk` and `release_chunk`: the
/// allocator of the next lessons calls them from inside its own `alloc`. So no `Vec`, `Box`,
/// `String` or `io::Error` with a message here; make errors from an `io::ErrorKind` alone.
///
/// - Below [`MMAP_THRESHOLD`], from the program break: `sbrk(n)` returns the old break, the
///   start of `n` new bytes. Round `n` up to a multiple of [`ALIGN`] so that the chunk after
///   this one is aligned too (and align the break first if someone left it unaligned).
/// - At or above it, from `mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
///   -1, 0)`: page aligned.
///
/// Refuse a `size` of 0, and one that overflows when rounded up or exceeds `isize::MAX`, with
/// `io::ErrorKind::InvalidInput`, and a full registry with `io::ErrorKind::OutOfMemory`, before
/// any system call. A refused system call gives `io::Error::last_os_error()`. A refusal
/// changes nothing.
///
/// See `man 2 sbrk` and `man 2 mmap`.
pub fn mem_chunk(size: usize) -> io::Result<*mut u8> {
    if size == 0 || size > isize::MAX as usize {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    // rounded to 16 (no overflow: size <= isize::MAX)
    let len = (size + ALIGN - 1) & !(ALIGN - 1);

    let mut reg = registry();

    // 1. a released chunk that is big enough? take it whole, no system call needed
    for e in reg.entries.iter_mut().flatten() {
        if e.free && e.info.len >= len {
            e.free = false;
            return Ok(e.info.start as *mut u8);
        }
    }

    // 2. new memory, into an unused slot
    let Some(slot) = reg.entries.iter().position(|e| e.is_none()) else {
        return Err(io::ErrorKind::OutOfMemory.into());
    };
    let info = if size < MMAP_THRESHOLD {
        let brk = unsafe { libc::sbrk(0) };
        if brk as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        let pad = (ALIGN - brk as usize % ALIGN) % ALIGN;
        let old = unsafe { libc::sbrk((pad + len) as libc::intptr_t) };
        if old as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        ChunkInfo { start: old as usize + pad, len, source: Source::Sbrk }
    } else {
        let page = page_size();
        let Some(map_len) = size.checked_add(page - 1).map(|n| n & !(page - 1)) else {
            return Err(io::ErrorKind::InvalidInput.into());
        };
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        ChunkInfo { start: p as usize, len: map_len, source: Source::Mmap }
    };
    reg.entries[slot] = Some(Entry { info, free: false });
    Ok(info.start as *mut u8)
}

/// Every live chunk, once each, in any order.
pub fn list_chunks() -> Vec<ChunkInfo> {
    let entries = registry().entries;
    entries
        .iter()
        .flatten()
        .filter(|e| !e.free)
        .map(|e| e.info)
        .collect()
}

/// The live chunk that holds `addr` (its first byte, its last, or any between), or `None`.
/// It never reads the memory at `addr`.
pub fn find_chunk(addr: usize) -> Option<ChunkInfo> {
    let reg = registry();
    for e in reg.entries.iter().flatten() {
        let c = e.info;
        // released ones are not live any more
        if !e.free && addr >= c.start && addr < c.start + c.len {
            return Some(c);
        }
    }
    None
}

/// The last part, optional: gives back the chunk that starts at `ptr`. An mmap chunk is
/// unmapped with `munmap`. Break memory can go back only from the top of the break (`sbrk`
/// with a negative size), and only while the break is still at the chunk's end; otherwise keep
/// it, no longer listed.
///
/// Refuse any other pointer (the middle of a chunk, a released one, one that was never a
/// chunk) with `io::ErrorKind::InvalidInput`, without reading it, and change nothing.
///
/// # Safety
/// Nothing may use the chunk afterwards: its memory may be unmapped or handed out again.
pub unsafe fn release_chunk(ptr: *mut u8) -> io::Result<()> {
    let addr = ptr as usize;
    let mut reg = registry();
    // must be the start of a live chunk; a free one was already released
    let Some(i) = reg
        .entries
        .iter()
        .position(|e| matches!(e, Some(e) if !e.free && e.info.start == addr))
    else {
        return Err(io::ErrorKind::InvalidInput.into());
    };
    let c = reg.entries[i].unwrap().info;

    if matches!(c.source, Source::Mmap) {
        if unsafe { libc::munmap(c.start as *mut libc::c_void, c.len) } != 0 {
            return Err(io::Error::last_os_error());
        }
        reg.entries[i] = None;
    } else {
        let brk = unsafe { libc::sbrk(0) } as usize;
        if brk == c.start + c.len {
            // on top: give it back to the OS
            unsafe { libc::sbrk(-(c.len as libc::intptr_t)) };
            reg.entries[i] = None;
        } else {
            // something above it: keep it for later
            reg.entries[i] = Some(Entry { info: c, free: true });
        }
    }
    Ok(())
}
