//! expect: done
//! intent: correct: keeps the registry sorted by start address (with a count) and finds chunks with partition_point, a binary search, instead of a linear scan
//! expect-judge: correct; insertion/removal shift the array with copy_within, nothing allocates, find_chunk is O(log n)

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

const CAPACITY: usize = 256;

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    chunks: [None; CAPACITY],
    count: 0,
});

/// `chunks[..count]` are all `Some`, sorted by start; the rest are `None`.
struct Registry {
    chunks: [Option<ChunkInfo>; CAPACITY],
    count: usize,
}

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Registry {
    fn start_of(&self, i: usize) -> usize {
        self.chunks[i].map_or(usize::MAX, |c| c.start)
    }

    /// Index of the first chunk starting after `addr`.
    fn upper_bound(&self, addr: usize) -> usize {
        self.chunks[..self.count].partition_point(|c| c.is_some_and(|c| c.start <= addr))
    }

    fn insert(&mut self, info: ChunkInfo) {
        let at = self.upper_bound(info.start);
        self.chunks.copy_within(at..self.count, at + 1);
        self.chunks[at] = Some(info);
        self.count += 1;
    }

    fn remove(&mut self, at: usize) {
        self.chunks.copy_within(at + 1..self.count, at);
        self.count -= 1;
        self.chunks[self.count] = None;
    }

    fn containing(&self, addr: usize) -> Option<usize> {
        let i = self.upper_bound(addr).checked_sub(1)?;
        let c = self.chunks[i]?;
        (addr - c.start < c.len).then_some(i)
    }
}

pub fn mem_chunk(size: usize) -> io::Result<*mut u8> {
    const LIMIT: usize = isize::MAX as usize;
    let n = match size {
        0 => return Err(io::Error::from(io::ErrorKind::InvalidInput)),
        s if s > LIMIT - (ALIGN - 1) => {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        s => (s + ALIGN - 1) & !(ALIGN - 1),
    };
    let mut reg = registry();
    if reg.count == CAPACITY {
        return Err(io::Error::from(io::ErrorKind::OutOfMemory));
    }
    let info = if size < MMAP_THRESHOLD {
        // SAFETY: sbrk(0) does not move the break
        let now = unsafe { libc::sbrk(0) } as usize;
        let fix = now.next_multiple_of(ALIGN) - now;
        // SAFETY: moves the break up under our lock; the new memory belongs to us
        let got = unsafe { libc::sbrk((fix + n) as isize) };
        if got as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        ChunkInfo { start: got as usize + fix, len: n, source: Source::Sbrk }
    } else {
        // SAFETY: new anonymous private mapping chosen by the kernel
        let got = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                n,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if got == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        ChunkInfo { start: got as usize, len: n, source: Source::Mmap }
    };
    reg.insert(info);
    Ok(info.start as *mut u8)
}

pub fn list_chunks() -> Vec<ChunkInfo> {
    let reg = registry();
    reg.chunks[..reg.count].iter().map(|c| c.expect("sorted prefix")).collect()
}

pub fn find_chunk(addr: usize) -> Option<ChunkInfo> {
    let reg = registry();
    reg.containing(addr).and_then(|i| reg.chunks[i])
}

pub unsafe fn release_chunk(ptr: *mut u8) -> io::Result<()> {
    let addr = ptr as usize;
    let mut reg = registry();
    let i = match reg.containing(addr) {
        Some(i) if reg.start_of(i) == addr => i,
        _ => return Err(io::Error::from(io::ErrorKind::InvalidInput)),
    };
    let c = reg.chunks[i].expect("live");
    if c.source == Source::Mmap {
        // SAFETY: our own mapping of c.len bytes, no longer used by anyone
        if unsafe { libc::munmap(ptr.cast(), c.len) } != 0 {
            return Err(io::Error::last_os_error());
        }
    } else {
        // SAFETY: sbrk(0) does not move the break
        let brk = unsafe { libc::sbrk(0) } as usize;
        if brk == c.start + c.len {
            // SAFETY: the chunk is on top of the break and unused now
            if unsafe { libc::sbrk(-(c.len as isize)) } as isize == -1 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    reg.remove(i);
    Ok(())
}
