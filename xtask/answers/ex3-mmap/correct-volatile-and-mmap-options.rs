//! expect: done
//! intent: right: all parts: I used MAP_ANON (the short name), write_volatile/read_volatile through ptr.add so nothing is optimised away, a match on munmap's return, and MmapOptions::new().len(len).map_anon() for the owned one
//! expect-judge: correct
//! Your parts of exercise 3, using mmap (ex3-mmap). Replace each `todo!()` below, in order, with
//! your code, then run `cargo xtask learn`: the lesson's own program runs your parts and checks
//! what they did.

use std::io;
use std::ptr;

use ex3_mmap::{Parts, pattern};

/// The parts, in the lesson's order, for the driver.
pub const PARTS: Parts = Parts {
    map,
    write,
    read_back,
    unmap,
    owned_mapping,
};

/// Step 1: maps `len` bytes of fresh memory with
/// `mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)` and returns
/// its first byte.
pub fn map(len: usize) -> io::Result<*mut u8> {
    let prot = libc::PROT_WRITE | libc::PROT_READ;
    // MAP_ANON is the same flag as MAP_ANONYMOUS
    let flags = libc::MAP_ANON | libc::MAP_PRIVATE;
    let addr = unsafe { libc::mmap(ptr::null_mut(), len, prot, flags, -1, 0) };
    if addr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(addr as *mut u8)
}

/// Step 2: writes `pattern(offset)` to each of the `len` bytes at `memory`.
///
/// # Safety
/// `memory` must be valid for writes of `len` bytes, used by nothing else.
pub unsafe fn write(memory: *mut u8, len: usize) {
    // volatile so the compiler really touches the memory instead of "knowing" the answer
    for i in 0..len {
        unsafe { memory.add(i).write_volatile(pattern(i)) };
    }
}

/// Step 2, again: reads the `len` bytes at `memory` back and returns how many differ from
/// `pattern(offset)`.
///
/// # Safety
/// `memory` must be valid for reads of `len` bytes, which nothing writes meanwhile.
pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    // volatile here too, so every byte is really read from memory
    let mut mismatches = 0;
    for i in 0..len {
        let byte = unsafe { memory.add(i).read_volatile() };
        if byte != pattern(i) {
            mismatches += 1;
        }
    }
    mismatches
}

/// Step 3: unmaps the `len` bytes at `memory` with `munmap(memory, len)`.
///
/// # Safety
/// The range must be one that [`map`] returned, and nothing may use it any more.
pub unsafe fn unmap(memory: *mut u8, len: usize) -> io::Result<()> {
    match unsafe { libc::munmap(memory.cast(), len) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Step 4: the same memory as step 1, owned: memmap2's `MmapMut` maps `len` bytes and unmaps
/// them when dropped.
pub fn owned_mapping(len: usize) -> io::Result<memmap2::MmapMut> {
    memmap2::MmapOptions::new().len(len).map_anon()
}
