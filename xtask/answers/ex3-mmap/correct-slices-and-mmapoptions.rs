//! expect: done
//! intent: correct: MAP_ANON spelling, checks MAP_FAILED via `as isize == -1`, works on a slice with iterators, owned mapping built with MmapOptions
//! expect-judge: correct; MAP_ANON is the same flag as MAP_ANONYMOUS, MmapOptions::new().len(len).map_anon() equals MmapMut::map_anon(len)

use std::io;
use std::ptr;

use ex3_mmap::{Parts, pattern};
use memmap2::MmapOptions;

/// The parts, in the lesson's order, for the driver.
pub const PARTS: Parts = Parts {
    map,
    write,
    read_back,
    unmap,
    owned_mapping,
};

pub fn map(len: usize) -> io::Result<*mut u8> {
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANON;
    // SAFETY: new anonymous memory, no fd, overlaps nothing of ours
    let addr = unsafe { libc::mmap(ptr::null_mut(), len, prot, flags, -1, 0) };
    if addr as isize == -1 {
        // MAP_FAILED is ((void *) -1)
        return Err(io::Error::last_os_error());
    }
    Ok(addr.cast::<u8>())
}

pub unsafe fn write(memory: *mut u8, len: usize) {
    // SAFETY: caller: valid for writes of len bytes, and only ours
    let mem = unsafe { std::slice::from_raw_parts_mut(memory, len) };
    mem.iter_mut().enumerate().for_each(|(i, b)| *b = pattern(i));
}

pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    // SAFETY: caller: valid for reads of len bytes, nobody writes them meanwhile
    let mem = unsafe { std::slice::from_raw_parts(memory, len) };
    mem.iter().enumerate().filter(|(i, b)| **b != pattern(*i)).count()
}

pub unsafe fn unmap(memory: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: caller: a range from map, no longer used
    match unsafe { libc::munmap(memory.cast(), len) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

pub fn owned_mapping(len: usize) -> io::Result<memmap2::MmapMut> {
    MmapOptions::new().len(len).map_anon()
}
