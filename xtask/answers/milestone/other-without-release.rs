//! expect: done
//! A correct answer written differently from the reference: a packed array with a count,
//! mappings rounded up to whole pages, and the optional release_chunk left to do.

use std::io;
use std::sync::Mutex;

use milestone::Source;
use milestone::contract::{ChunkInfo, Parts};

pub const PARTS: Parts = Parts {
    mmap_threshold: THRESHOLD,
    mem_chunk,
    list_chunks,
    find_chunk,
    release_chunk,
};

const THRESHOLD: usize = 128 * 1024;
const PAGE: usize = 4096;

struct Chunks {
    count: usize,
    all: [ChunkInfo; 64],
}

const EMPTY: ChunkInfo = ChunkInfo {
    start: 0,
    len: 0,
    source: Source::Sbrk,
};

static CHUNKS: Mutex<Chunks> = Mutex::new(Chunks {
    count: 0,
    all: [EMPTY; 64],
});

fn failed<T>() -> io::Result<T> {
    Err(io::Error::last_os_error())
}

pub fn mem_chunk(size: usize) -> io::Result<*mut u8> {
    let Some(len) = size.checked_add(15).map(|n| n & !15) else {
        return Err(io::ErrorKind::InvalidInput.into());
    };
    if size == 0 || len > isize::MAX as usize / 2 {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    let mut chunks = CHUNKS.lock().map_err(|_| io::ErrorKind::Other)?;
    if chunks.count == chunks.all.len() {
        return Err(io::ErrorKind::OutOfMemory.into());
    }
    let chunk = if size >= THRESHOLD {
        let len = len.div_ceil(PAGE) * PAGE;
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        // SAFETY: a fresh anonymous mapping where the kernel chooses.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, -1, 0) };
        if p == libc::MAP_FAILED {
            return failed();
        }
        ChunkInfo { start: p as usize, len, source: Source::Mmap }
    } else {
        // SAFETY: sbrk(0) moves nothing.
        let brk = unsafe { libc::sbrk(0) } as usize;
        let pad = (16 - brk % 16) % 16;
        // SAFETY: growing the break touches no memory anyone holds.
        let p = unsafe { libc::sbrk((pad + len) as isize) };
        if p as isize == -1 {
            return failed();
        }
        ChunkInfo { start: p as usize + pad, len, source: Source::Sbrk }
    };
    let at = chunks.count;
    chunks.all[at] = chunk;
    chunks.count += 1;
    Ok(chunk.start as *mut u8)
}

pub fn list_chunks() -> Vec<ChunkInfo> {
    let chunks = CHUNKS.lock().unwrap();
    chunks.all[..chunks.count].to_vec()
}

pub fn find_chunk(addr: usize) -> Option<ChunkInfo> {
    let chunks = CHUNKS.lock().unwrap();
    chunks.all[..chunks.count]
        .iter()
        .copied()
        .find(|c| (c.start..c.start + c.len).contains(&addr))
}

/// # Safety
/// Nothing uses the chunk afterwards.
pub unsafe fn release_chunk(ptr: *mut u8) -> io::Result<()> {
    todo!()
}
