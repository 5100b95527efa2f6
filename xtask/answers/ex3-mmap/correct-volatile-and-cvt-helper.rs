//! expect: done
//! intent: correct: uses write_volatile/read_volatile so the reads really touch memory, returns the error with `?` through a helper, and a `cvt`-style helper for munmap
//! expect-judge: correct; volatile is unnecessary but harmless, the error handling matches the spec

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

/// Turns a C-style `-1 means errno` into an io::Result.
fn cvt(ret: libc::c_int) -> io::Result<()> {
    if ret == -1 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

fn mmap_anon_rw(len: usize) -> io::Result<*mut libc::c_void> {
    // SAFETY: anonymous private mapping, the kernel picks the address
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_WRITE | libc::PROT_READ,
            libc::MAP_ANONYMOUS | libc::MAP_PRIVATE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED { Err(io::Error::last_os_error()) } else { Ok(p) }
}

pub fn map(len: usize) -> io::Result<*mut u8> {
    let p = mmap_anon_rw(len)?;
    Ok(p as *mut u8)
}

pub unsafe fn write(memory: *mut u8, len: usize) {
    let mut i = 0;
    while i < len {
        // SAFETY: i < len
        unsafe { memory.add(i).write_volatile(pattern(i)) };
        i += 1;
    }
}

pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    (0..len)
        // SAFETY: every offset is < len
        .filter(|&i| unsafe { memory.add(i).read_volatile() } != pattern(i))
        .count()
}

pub unsafe fn unmap(memory: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: as the caller promises
    cvt(unsafe { libc::munmap(memory.cast(), len) })
}

pub fn owned_mapping(len: usize) -> io::Result<memmap2::MmapMut> {
    let m = memmap2::MmapMut::map_anon(len)?;
    Ok(m)
}
