//! expect: failed in unmap: no page of it is mapped any more (mincore answers ENOMEM for each)
//! intent: wrong: step 3 (unmap): munmap works on pages, so I turn the byte length into a number of pages before calling munmap(memory, pages)
//! expect-judge: step 3 is wrong: munmap's length is in bytes, not pages; passing len / page_size (2 for 10000 bytes) unmaps only the first page and leaks the other two, which stay mapped after unmap returns Ok; it should be munmap(memory, len); the other parts are right
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

fn page_size() -> usize {
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
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
    if p == libc::MAP_FAILED {
        Err(io::Error::last_os_error())
    } else {
        Ok(p as *mut u8)
    }
}

/// Step 2: writes `pattern(offset)` to each of the `len` bytes at `memory`.
pub unsafe fn write(memory: *mut u8, len: usize) {
    for off in 0..len {
        unsafe { memory.add(off).write(pattern(off)) };
    }
}

/// Step 2, again: reads the `len` bytes at `memory` back and returns how many differ from
/// `pattern(offset)`.
pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    (0..len)
        .filter(|&off| unsafe { memory.add(off).read() } != pattern(off))
        .count()
}

/// Step 3: unmaps the `len` bytes at `memory` with `munmap`.
pub unsafe fn unmap(memory: *mut u8, len: usize) -> io::Result<()> {
    // the kernel maps and unmaps whole pages, so tell munmap how many pages
    let pages = len / page_size();
    let rc = unsafe { libc::munmap(memory.cast(), pages) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Step 4: the same memory as step 1, owned: memmap2's `MmapMut`.
pub fn owned_mapping(len: usize) -> io::Result<memmap2::MmapMut> {
    memmap2::MmapMut::map_anon(len)
}
