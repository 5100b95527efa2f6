//! expect: done
//! intent: right: all parts: I raised the threshold to 256 KiB and kept the registry sorted by start address (live chunks packed at the front, with a count), so find_chunk and release_chunk can binary search instead of scanning all 256 slots
//! expect-judge: correct
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
/// program break. I use 256 KiB instead of glibc's 128 KiB: the README says the threshold is
/// ours to choose.
pub const MMAP_THRESHOLD: usize = 256 * 1024;

/// How many live chunks the registry can hold.
const CAPACITY: usize = 256;

/// Every live chunk, sorted by `start`. Slots `0..count` are all `Some`, the rest `None`.
static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    chunks: [None; CAPACITY],
    count: 0,
});

struct Registry {
    chunks: [Option<ChunkInfo>; CAPACITY],
    /// number of live chunks (they sit in chunks[..count], sorted by start)
    count: usize,
}

impl Registry {
    fn get(&self, i: usize) -> ChunkInfo {
        // only called with i < count, where every slot is Some
        self.chunks[i].expect("slot below count is always filled")
    }

    /// Index of the first live chunk whose start is > addr (binary search).
    fn upper_bound(&self, addr: usize) -> usize {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.get(mid).start <= addr {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Puts a new chunk in its sorted place, shifting the later ones one slot right.
    /// The caller has checked that count < CAPACITY.
    fn insert(&mut self, info: ChunkInfo) {
        let pos = self.upper_bound(info.start);
        let mut i = self.count;
        while i > pos {
            self.chunks[i] = self.chunks[i - 1];
            i -= 1;
        }
        self.chunks[pos] = Some(info);
        self.count += 1;
    }

    /// Takes out the chunk at index i, shifting the later ones one slot left.
    fn remove(&mut self, i: usize) {
        for j in i..self.count - 1 {
            self.chunks[j] = self.chunks[j + 1];
        }
        self.chunks[self.count - 1] = None;
        self.count -= 1;
    }

    /// Index of the chunk holding addr, if any: the last one starting at or before addr.
    fn index_holding(&self, addr: usize) -> Option<usize> {
        let ub = self.upper_bound(addr);
        if ub == 0 {
            return None;
        }
        let c = self.get(ub - 1);
        // addr >= c.start here, so the subtraction can't underflow
        if addr - c.start < c.len { Some(ub - 1) } else { None }
    }
}

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn invalid() -> io::Error {
    io::Error::from(io::ErrorKind::InvalidInput)
}

/// Rounds n up to a multiple of `to` (a power of two), or None if that overflows.
fn round_up(n: usize, to: usize) -> Option<usize> {
    Some(n.checked_add(to - 1)? & !(to - 1))
}

/// The milestone: gets at least `size` bytes from the OS, aligned to [`ALIGN`], records them
/// as a live chunk, and returns a pointer to the first byte.
pub fn mem_chunk(size: usize) -> io::Result<*mut u8> {
    if size == 0 {
        return Err(invalid());
    }
    let len = round_up(size, ALIGN).ok_or_else(invalid)?;
    if len > isize::MAX as usize {
        return Err(invalid());
    }

    let mut reg = registry();
    if reg.count == CAPACITY {
        return Err(io::ErrorKind::OutOfMemory.into());
    }

    let (start, source) = if size >= MMAP_THRESHOLD {
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
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        (p as usize, Source::Mmap)
    } else {
        // where is the break now? someone may have left it unaligned
        let cur = unsafe { libc::sbrk(0) };
        if cur as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        let cur = cur as usize;
        let pad = cur.wrapping_neg() & (ALIGN - 1);
        // len < 256 KiB here, so pad + len can't overflow
        let old = unsafe { libc::sbrk((pad + len) as isize) };
        if old as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        // sbrk gives back the old break; skip the padding
        (old as usize + pad, Source::Sbrk)
    };

    reg.insert(ChunkInfo { start, len, source });
    Ok(start as *mut u8)
}

/// Every live chunk, once each, in any order (here: by address).
pub fn list_chunks() -> Vec<ChunkInfo> {
    let reg = registry();
    reg.chunks[..reg.count].iter().flatten().copied().collect()
}

/// The live chunk that holds `addr` (its first byte, its last, or any between), or `None`.
pub fn find_chunk(addr: usize) -> Option<ChunkInfo> {
    let reg = registry();
    reg.index_holding(addr).map(|i| reg.get(i))
}

/// Gives back the chunk that starts at `ptr`.
///
/// # Safety
/// Nothing may use the chunk afterwards: its memory may be unmapped or handed out again.
pub unsafe fn release_chunk(ptr: *mut u8) -> io::Result<()> {
    let addr = ptr as usize;
    let mut reg = registry();
    let i = match reg.index_holding(addr) {
        Some(i) if reg.get(i).start == addr => i,
        // middle of a chunk, released already, or never ours
        _ => return Err(invalid()),
    };
    let c = reg.get(i);

    match c.source {
        Source::Mmap => {
            if unsafe { libc::munmap(c.start as *mut libc::c_void, c.len) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Source::Sbrk => {
            // only the chunk right under the break can go back to the OS
            let brk = unsafe { libc::sbrk(0) } as usize;
            if brk == c.start + c.len {
                let r = unsafe { libc::sbrk(-(c.len as isize)) };
                if r as isize == -1 {
                    return Err(io::Error::last_os_error());
                }
            }
            // otherwise we just forget it (leaked, but never handed out twice)
        }
    }

    reg.remove(i);
    Ok(())
}
