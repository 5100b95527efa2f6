//! expect: failed in read_back: with the last byte changed, read_back finds exactly 1 byte that differs
//! intent: wrong: read_back: off-by-one: I count over 0..len - 1, since the last index is len - 1, so the last byte is never compared
//! expect-judge: 0..len - 1 leaves out the last byte: changed behind read_back's back, it goes unnoticed; the other parts are right
use std::io;

use ex3_mmap::{Parts, pattern};

/// The parts, in the lesson's order, for the driver.
pub const PARTS: Parts = Parts {
    map,
    write,
    read_back,
    unmap,
    owned_mapping,
};

/// Step 1: mmap `len` bytes of private anonymous read-write memory.
pub fn map(len: usize) -> io::Result<*mut u8> {
    // SAFETY: no hint, no MAP_FIXED, no file: the kernel picks a free place.
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
    Ok(addr.cast())
}

/// Step 2: the pattern in every byte.
///
/// # Safety
/// `len` writable bytes at `memory`, ours alone.
pub unsafe fn write(memory: *mut u8, len: usize) {
    // SAFETY: the caller gives us len writable bytes.
    let bytes = unsafe { std::slice::from_raw_parts_mut(memory, len) };
    for i in 0..len {
        bytes[i] = pattern(i);
    }
}

/// Step 2, again: how many bytes are not the pattern.
///
/// # Safety
/// `len` readable bytes at `memory`.
pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    // SAFETY: the caller gives us len readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(memory, len) };
    let mut differ = 0;
    // indexes go from 0 to len - 1
    for i in 0..len - 1 {
        if bytes[i] != pattern(i) {
            differ += 1;
        }
    }
    differ
}

/// Step 3: munmap, and its error when it refuses.
///
/// # Safety
/// A range map returned, which nothing uses any more.
pub unsafe fn unmap(memory: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: the caller's promise.
    if unsafe { libc::munmap(memory.cast(), len) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Step 4: memmap2's owned anonymous mapping.
pub fn owned_mapping(len: usize) -> io::Result<memmap2::MmapMut> {
    memmap2::MmapMut::map_anon(len)
}
