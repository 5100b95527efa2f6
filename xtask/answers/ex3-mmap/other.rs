//! expect: done
//! A correct answer written differently from the reference.

use std::io;
use std::ptr::NonNull;

use ex3_mmap::{Parts, pattern};

pub const PARTS: Parts = Parts {
    map,
    write,
    read_back,
    unmap,
    owned_mapping,
};

pub fn map(len: usize) -> io::Result<*mut u8> {
    let flags = libc::MAP_ANONYMOUS | libc::MAP_PRIVATE;
    // SAFETY: no hint, no MAP_FIXED, no file: the kernel picks a free range.
    let raw = unsafe {
        libc::mmap(std::ptr::null_mut(), len, libc::PROT_WRITE | libc::PROT_READ, flags, -1, 0)
    };
    match raw {
        libc::MAP_FAILED => Err(io::Error::last_os_error()),
        raw => NonNull::new(raw.cast::<u8>())
            .map(NonNull::as_ptr)
            .ok_or_else(|| io::Error::other("mmap returned null")),
    }
}

/// # Safety
/// `len` writable bytes at `memory`.
pub unsafe fn write(memory: *mut u8, len: usize) {
    for i in 0..len {
        // SAFETY: i < len, inside the memory the caller vouches for.
        unsafe { *memory.add(i) = pattern(i) };
    }
}

/// # Safety
/// `len` readable bytes at `memory`.
pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    // SAFETY: i < len, inside the memory the caller vouches for.
    (0..len).filter(|&i| unsafe { *memory.add(i) } != pattern(i)).count()
}

/// # Safety
/// A mapping of ours that nothing uses any more.
pub unsafe fn unmap(memory: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: the caller's promise.
    match unsafe { libc::munmap(memory.cast(), len) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

pub fn owned_mapping(len: usize) -> io::Result<memmap2::MmapMut> {
    memmap2::MmapOptions::new().len(len).map_anon()
}
