//! expect: failed in find_chunk: find_chunk never called the global allocator
//! expect: failed in mem_chunk: it is aligned to 16 bytes, comes from sbrk as its size calls for, and every byte asked for is mapped writable
//! A typical mistake: taking exactly `size` bytes from the break, so the next chunk starts
//! wherever this one ended.

use std::io;
use std::sync::Mutex;

use milestone::Source;
use milestone::contract::{ChunkInfo, Parts};

pub const PARTS: Parts = Parts {
    mmap_threshold: 128 * 1024,
    mem_chunk,
    list_chunks,
    find_chunk,
    release_chunk,
};

static CHUNKS: Mutex<[Option<ChunkInfo>; 64]> = Mutex::new([None; 64]);

pub fn mem_chunk(size: usize) -> io::Result<*mut u8> {
    if size == 0 || size > isize::MAX as usize {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    let mut chunks = CHUNKS.lock().unwrap();
    let slot = chunks.iter().position(Option::is_none).ok_or(io::ErrorKind::OutOfMemory)?;
    let (start, source) = if size < 128 * 1024 {
        // SAFETY: growing the break touches no memory anyone holds.
        let p = unsafe { libc::sbrk(size as isize) };
        if p as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        (p as usize, Source::Sbrk)
    } else {
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        // SAFETY: a fresh anonymous mapping where the kernel chooses.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), size, prot, flags, -1, 0) };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        (p as usize, Source::Mmap)
    };
    chunks[slot] = Some(ChunkInfo { start, len: size, source });
    Ok(start as *mut u8)
}

pub fn list_chunks() -> Vec<ChunkInfo> {
    CHUNKS.lock().unwrap().iter().flatten().copied().collect()
}

pub fn find_chunk(addr: usize) -> Option<ChunkInfo> {
    list_chunks().into_iter().find(|c| c.start <= addr && addr < c.start + c.len)
}

/// # Safety
/// Nothing uses the chunk afterwards.
pub unsafe fn release_chunk(ptr: *mut u8) -> io::Result<()> {
    todo!()
}
