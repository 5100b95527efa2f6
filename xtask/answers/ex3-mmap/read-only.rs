//! expect: failed in map: the region is anonymous and rw-p, and holds all the bytes asked for
//! A typical mistake: mapping the memory readable but not writable.

use std::io;

use ex3_mmap::{Parts, pattern};

pub const PARTS: Parts = Parts {
    map,
    write,
    read_back,
    unmap,
    owned_mapping,
};

pub fn map(len: usize) -> io::Result<*mut u8> {
    // SAFETY: no hint, no MAP_FIXED, no file.
    let memory = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if memory == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(memory.cast())
}

/// # Safety
/// `len` writable bytes at `memory`.
pub unsafe fn write(memory: *mut u8, len: usize) {
    // SAFETY: the caller's promise.
    let bytes = unsafe { std::slice::from_raw_parts_mut(memory, len) };
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = pattern(i);
    }
}

/// # Safety
/// `len` readable bytes at `memory`.
pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    // SAFETY: the caller's promise.
    let bytes = unsafe { std::slice::from_raw_parts(memory, len) };
    bytes.iter().enumerate().filter(|&(i, &b)| b != pattern(i)).count()
}

/// # Safety
/// A mapping of ours that nothing uses any more.
pub unsafe fn unmap(memory: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: the caller's promise.
    if unsafe { libc::munmap(memory.cast(), len) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub fn owned_mapping(len: usize) -> io::Result<memmap2::MmapMut> {
    memmap2::MmapMut::map_anon(len)
}
