//! expect: failed in unmap: an address that is not page aligned comes back as munmap's error, EINVAL
//! intent: wrong: unmap: I call munmap but never look at what it returns, so I always say Ok
//! expect-judge: munmap's -1 is ignored: an unmap the kernel refuses (unaligned address, bad length) is reported as success
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
    // SAFETY: a fresh anonymous mapping does not touch any existing memory.
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
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(p as *mut u8)
}

/// Step 2: write pattern to every byte.
pub unsafe fn write(memory: *mut u8, len: usize) {
    for i in 0..len {
        // SAFETY: i < len, the caller gives us len bytes.
        unsafe { *memory.add(i) = pattern(i) };
    }
}

/// Step 2, again: read back, count differences.
pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    let mut wrong = 0;
    for i in 0..len {
        // SAFETY: i < len.
        if unsafe { *memory.add(i) } != pattern(i) {
            wrong += 1;
        }
    }
    wrong
}

/// Step 3: munmap.
pub unsafe fn unmap(memory: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: the caller says this is a range map returned and nothing uses it any more.
    unsafe { libc::munmap(memory as *mut libc::c_void, len) };
    Ok(())
}

/// Step 4: memmap2's owned anonymous mapping.
pub fn owned_mapping(len: usize) -> io::Result<memmap2::MmapMut> {
    memmap2::MmapMut::map_anon(len)
}
