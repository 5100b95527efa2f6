//! expect: done
//! intent: right: all parts: I wrote each byte with ptr.add(i).write(..), read back by zipping a slice's bytes with (0..len).map(pattern), and matched on munmap's -1
//! expect-judge: correct, pointer writes and an iterator read instead of the reference's slices; the error handling matches the spec
use std::io;
use std::slice;

use ex3_mmap::{Parts, pattern};

pub const PARTS: Parts = Parts {
    map,
    write,
    read_back,
    unmap,
    owned_mapping,
};

/// Step 1: anonymous, private, read-write memory from mmap.
pub fn map(len: usize) -> io::Result<*mut u8> {
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    // SAFETY: null hint and no MAP_FIXED: the kernel picks addresses nobody uses.
    let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, -1, 0) };
    if p == libc::MAP_FAILED {
        Err(io::Error::last_os_error())
    } else {
        Ok(p.cast::<u8>())
    }
}

/// Step 2: `pattern(i)` at `memory + i`, for every i below `len`.
///
/// # Safety
/// `memory` is valid for writes of `len` bytes.
pub unsafe fn write(memory: *mut u8, len: usize) {
    for i in 0..len {
        // SAFETY: i < len, so memory + i is one of the bytes we were given.
        unsafe { memory.add(i).write(pattern(i)) };
    }
}

/// Step 2, again: the number of bytes that are not `pattern(i)`.
///
/// # Safety
/// `memory` is valid for reads of `len` bytes.
pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    // SAFETY: len readable bytes, and nobody writes them while we look.
    let got = unsafe { slice::from_raw_parts(memory, len) };
    got.iter()
        .zip((0..len).map(pattern))
        .filter(|(byte, want)| *byte != want)
        .count()
}

/// Step 3: munmap; -1 means it refused, and errno says why.
///
/// # Safety
/// The range came from map (or starts inside it), and nobody uses it any more.
pub unsafe fn unmap(memory: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: the caller's promise.
    match unsafe { libc::munmap(memory.cast(), len) } {
        -1 => Err(io::Error::last_os_error()),
        _ => Ok(()),
    }
}

/// Step 4: an owned mapping, unmapped when dropped.
pub fn owned_mapping(len: usize) -> io::Result<memmap2::MmapMut> {
    memmap2::MmapOptions::new().len(len).map_anon()
}
