//! expect: failed in map: the region is anonymous and rw-p, and holds all the bytes asked for
//! expect: failed in read_back: with the last byte changed, read_back finds exactly 1 byte that differs
//! expect: failed in unmap: an address that is not page aligned comes back as munmap's error, EINVAL
//! intent: wrong, three parts at once: map uses MAP_SHARED, read_back stops one byte short, and unmap ignores what munmap returns
//! Your parts of exercise 3, using mmap (ex3-mmap). Replace each `todo!()` below, in order, with
//! your code, then run `cargo xtask learn`: the lesson's own program runs your parts and checks
//! what they did.
//!
//! Each part's doc comment says what it must do. `cargo xtask hint ex3-mmap` gives a hint for the
//! next one. `cargo xtask learn --reset ex3-mmap` brings this file back as it was (keeping a copy
//! of yours). When the exercise is done, compare with the reference,
//! `exercises/ex3-mmap/src/parts.rs`, from which `cargo xtask templates` wrote this file.

use std::io;

use ex3_mmap::{Parts, pattern};

// What this file uses from the lesson, a line each:
// - `pattern(offset: usize) -> u8`: the byte `write` puts at each offset;
// - `memmap2::MmapMut`: memmap2's owned, writable mapping, unmapped when dropped;
// - `Parts`: the struct of function pointers below, through which the lesson calls your parts.

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
///
/// When mmap fails it returns `MAP_FAILED` and sets `errno`: return
/// `io::Error::last_os_error()`. Pass any `len` on, 0 included: the kernel judges it.
///
/// See `man 2 mmap`.
pub fn map(len: usize) -> io::Result<*mut u8> {
    // SAFETY: with a null hint and without MAP_FIXED the kernel picks addresses no mapping uses,
    // so the call cannot disturb memory anyone holds; no file is involved.
    let memory = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if memory == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(memory.cast())
}

/// Step 2: writes `pattern(offset)` to each of the `len` bytes at `memory`.
///
/// # Safety
/// `memory` must be valid for writes of `len` bytes, used by nothing else.
pub unsafe fn write(memory: *mut u8, len: usize) {
    // SAFETY: the caller promises `len` writable bytes at `memory`, ours alone.
    let bytes = unsafe { std::slice::from_raw_parts_mut(memory, len) };
    for (offset, byte) in bytes.iter_mut().enumerate() {
        *byte = pattern(offset);
    }
}

/// Step 2, again: reads the `len` bytes at `memory` back and returns how many differ from
/// `pattern(offset)`. The lesson changes one byte behind its back, and it must notice.
///
/// # Safety
/// `memory` must be valid for reads of `len` bytes, which nothing writes meanwhile.
pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    // SAFETY: the caller promises `len` readable bytes at `memory`, which nothing writes.
    let bytes = unsafe { std::slice::from_raw_parts(memory, len - 1) };
    bytes
        .iter()
        .enumerate()
        .filter(|&(offset, &byte)| byte != pattern(offset))
        .count()
}

/// Step 3: unmaps the `len` bytes at `memory` with `munmap(memory, len)`. When munmap fails
/// it returns -1 and sets `errno`: return `io::Error::last_os_error()`. (The lesson tries it
/// first with an address that is not page aligned, which munmap refuses with EINVAL.)
///
/// # Safety
/// The range must be one that [`map`] returned, or start inside one without being page
/// aligned, and nothing may use it any more: afterwards any access faults.
pub unsafe fn unmap(memory: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: the caller promises the range is a mapping of ours that nothing uses any more.
    unsafe { libc::munmap(memory.cast(), len) };
    Ok(())
}

/// Step 4: the same memory as step 1, owned: memmap2's `MmapMut` maps `len` bytes and unmaps
/// them when dropped.
///
/// See <https://docs.rs/memmap2/latest/memmap2/struct.MmapMut.html#method.map_anon>.
pub fn owned_mapping(len: usize) -> io::Result<memmap2::MmapMut> {
    memmap2::MmapMut::map_anon(len)
}
