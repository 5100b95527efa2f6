//! expect: done
//! intent: right: all parts: I wrote a small cvt helper for the -1 return of munmap, compared mmap's result to usize::MAX, did the write and read on a slice with iterators, and used MmapMut::map_anon
//! expect-judge: correct
//! Your parts of exercise 3, using mmap (ex3-mmap).

use std::io;
use std::slice;

use ex3_mmap::{Parts, pattern};

/// The parts, in the lesson's order, for the driver.
pub const PARTS: Parts = Parts {
    map,
    write,
    read_back,
    unmap,
    owned_mapping,
};

/// -1 means the call failed and errno says why
fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Step 1: maps `len` bytes of fresh memory with mmap and returns its first byte.
pub fn map(len: usize) -> io::Result<*mut u8> {
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    // MAP_FAILED is ((void *) -1), i.e. all bits set
    if p as usize == usize::MAX {
        Err(io::Error::last_os_error())
    } else {
        Ok(p.cast())
    }
}

/// Step 2: writes `pattern(offset)` to each of the `len` bytes at `memory`.
///
/// # Safety
/// `memory` must be valid for writes of `len` bytes, used by nothing else.
pub unsafe fn write(memory: *mut u8, len: usize) {
    let buf: &mut [u8] = unsafe { slice::from_raw_parts_mut(memory, len) };
    for (offset, byte) in buf.iter_mut().enumerate() {
        *byte = pattern(offset);
    }
}

/// Step 2, again: reads the `len` bytes at `memory` back and returns how many differ.
///
/// # Safety
/// `memory` must be valid for reads of `len` bytes, which nothing writes meanwhile.
pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    let buf: &[u8] = unsafe { slice::from_raw_parts(memory, len) };
    buf.iter()
        .enumerate()
        .filter(|&(offset, &byte)| byte != pattern(offset))
        .count()
}

/// Step 3: unmaps the `len` bytes at `memory` with `munmap(memory, len)`.
///
/// # Safety
/// The range must be one that [`map`] returned, and nothing may use it any more.
pub unsafe fn unmap(memory: *mut u8, len: usize) -> io::Result<()> {
    cvt(unsafe { libc::munmap(memory as *mut libc::c_void, len) })?;
    Ok(())
}

/// Step 4: the same memory as step 1, owned: memmap2's `MmapMut`.
pub fn owned_mapping(len: usize) -> io::Result<memmap2::MmapMut> {
    memmap2::MmapMut::map_anon(len)
}
