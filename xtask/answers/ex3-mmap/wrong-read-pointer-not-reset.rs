//! expect: crashed in read_back
//! intent: wrong: step 2 (read_back): I walk one pointer P through the memory with P = P.add(1) in write, then walk it again in read_back to read back
//! expect-judge: step 2 is wrong: the read loop goes on from where the write loop stopped, since p is never set back to memory, so it reads the len bytes that follow the ones written, from memory + len on (bytes it does not own: the rest of the last page, then whatever lies past the mapping, likely a SIGSEGV on the unmapped page after it) and the mismatch count is not about the written bytes; p must start again at memory before reading; the other parts are right
//! Your parts of exercise 3, using mmap (ex3-mmap).

#![allow(unused_variables, unused_imports, dead_code)]

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

/// Step 1: maps `len` bytes of fresh memory with mmap and returns its first byte.
pub fn map(len: usize) -> io::Result<*mut u8> {
    let mem = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if mem == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(mem as *mut u8)
}

// the pointer I walk through the memory, in write and then in read_back
static mut P: *mut u8 = std::ptr::null_mut();

/// Step 2: writes `pattern(offset)` to each of the `len` bytes at `memory`.
pub unsafe fn write(memory: *mut u8, len: usize) {
    unsafe { P = memory };
    // write every byte
    for offset in 0..len {
        unsafe {
            *P = pattern(offset);
            P = P.add(1);
        }
    }
}

/// Step 2, again: reads the `len` bytes at `memory` back and returns how many differ from
/// `pattern(offset)`.
pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    // read them back
    let mut differ = 0;
    for offset in 0..len {
        unsafe {
            if *P != pattern(offset) {
                differ += 1;
            }
            P = P.add(1);
        }
    }
    differ
}

/// Step 3: unmaps the `len` bytes at `memory` with `munmap(memory, len)`.
pub unsafe fn unmap(memory: *mut u8, len: usize) -> io::Result<()> {
    let rc = unsafe { libc::munmap(memory as *mut libc::c_void, len) };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Step 4: the same memory as step 1, owned: memmap2's `MmapMut`.
pub fn owned_mapping(len: usize) -> io::Result<memmap2::MmapMut> {
    memmap2::MmapMut::map_anon(len)
}
