//! The reference answer to exercise 3: the calls the lesson asks for, and nothing else. The
//! driver (`src/lib.rs`) calls them step by step and checks what they did.

use std::io;

use ex3_mmap::{Parts, pattern};

// What this file uses from the lesson, a line each:
// - `pattern(offset: usize) -> u8`: the byte `write` puts at each offset;
// - `memmap2::MmapMut`: memmap2's owned, writable mapping, unmapped when dropped;
// - `Parts`: the struct of function pointers below, through which the lesson calls your parts.

// What your parts call, a line each: the C library through the `libc` crate (a dependency
// already; write `libc::` and nothing to import). Each call into C is `unsafe`.
// - `libc::mmap(addr: *mut c_void, len: usize, prot: c_int, flags: c_int, fd: c_int,
//   offset: off_t) -> *mut c_void`: maps `len` bytes and returns the first; `addr` null lets
//   the kernel choose; `prot` is `libc::PROT_READ | libc::PROT_WRITE`, `flags`
//   `libc::MAP_PRIVATE | libc::MAP_ANONYMOUS`, `fd` -1 and `offset` 0 for memory with no file;
// - `libc::MAP_FAILED: *mut c_void`: what mmap returns on failure (not null), with `errno` set;
// - `libc::munmap(addr: *mut c_void, len: usize) -> c_int`: 0, or -1 with `errno` set;
// - `std::io::Error::last_os_error() -> io::Error`: `errno` as an error; call it right after
//   the call that failed;
// - `ptr.cast()` turns a `*mut c_void` into a `*mut u8` and back;
// - `std::slice::from_raw_parts_mut(ptr: *mut u8, len: usize) -> &mut [u8]` (`unsafe`), and
//   `from_raw_parts` for a `&[u8]`: the bytes at `ptr` as a slice;
// - `memmap2::MmapMut::map_anon(len: usize) -> io::Result<MmapMut>`: step 4's mapping, owned.

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
    // ANCHOR: map
    // IDEA: mmap with no address, no file (-1), private and anonymous, readable and writable. It
    // IDEA: fails with MAP_FAILED, not NULL. See man 2 mmap.
    // SHAPE: 1. Call mmap with its six arguments. 2. If it returned MAP_FAILED (compare with that,
    // SHAPE: not with null), return `last_os_error()`. 3. Otherwise return it as a `*mut u8`. No
    // SHAPE: check of `len` of your own: the kernel refuses what it must.
    // HINT: `libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE,
    // HINT: libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)`. Compare what it returns with
    // HINT: `libc::MAP_FAILED`, and `.cast()` the `*mut c_void` into a `*mut u8`.
    // SAFETY: with a null hint and without MAP_FIXED the kernel picks addresses no mapping uses,
    // so the call cannot disturb memory anyone holds; no file is involved.
    let memory = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if memory == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(memory.cast())
    // ANCHOR_END: map
}

/// Step 2: writes `pattern(offset)` to each of the `len` bytes at `memory`.
///
/// # Safety
/// `memory` must be valid for writes of `len` bytes, used by nothing else.
pub unsafe fn write(memory: *mut u8, len: usize) {
    // ANCHOR: write
    // IDEA: Make a slice of the `len` bytes and write the pattern into every byte.
    // SHAPE: Make a `&mut [u8]` of the `len` bytes; for each byte and its offset, store
    // SHAPE: `pattern(offset)`.
    // HINT: `std::slice::from_raw_parts_mut(memory, len)` gives a `&mut [u8]` (the caller's
    // HINT: promise is what makes it sound). Write with `iter_mut().enumerate()`.
    // SAFETY: the caller promises `len` writable bytes at `memory`, ours alone.
    let bytes = unsafe { std::slice::from_raw_parts_mut(memory, len) };
    for (offset, byte) in bytes.iter_mut().enumerate() {
        *byte = pattern(offset);
    }
    // ANCHOR_END: write
}

/// Step 2, again: reads the `len` bytes at `memory` back and returns how many differ from
/// `pattern(offset)`. The lesson changes one byte behind its back, and it must notice.
///
/// # Safety
/// `memory` must be valid for reads of `len` bytes, which nothing writes meanwhile.
pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    // ANCHOR: read_back
    // IDEA: Make a shared slice of the `len` bytes and count those that are not the pattern.
    // SHAPE: Make a `&[u8]` of the `len` bytes; count the offsets whose byte is not
    // SHAPE: `pattern(offset)`; return the count. Read only.
    // HINT: `std::slice::from_raw_parts(memory, len)` gives a `&[u8]`; count the bytes that
    // HINT: differ with `iter().enumerate().filter(..).count()`.
    // SAFETY: the caller promises `len` readable bytes at `memory`, which nothing writes.
    let bytes = unsafe { std::slice::from_raw_parts(memory, len) };
    bytes
        .iter()
        .enumerate()
        .filter(|&(offset, &byte)| byte != pattern(offset))
        .count()
    // ANCHOR_END: read_back
}

/// Step 3: unmaps the `len` bytes at `memory` with `munmap(memory, len)`. When munmap fails
/// it returns -1 and sets `errno`: return `io::Error::last_os_error()`. (The lesson tries it
/// first with an address that is not page aligned, which munmap refuses with EINVAL.)
///
/// # Safety
/// The range must be one that [`map`] returned, or start inside one without being page
/// aligned, and nothing may use it any more: afterwards any access faults.
pub unsafe fn unmap(memory: *mut u8, len: usize) -> io::Result<()> {
    // ANCHOR: unmap
    // IDEA: munmap(addr, len) removes the pages. It returns -1 with errno set when it refuses:
    // IDEA: return that error. See man 2 munmap.
    // SHAPE: 1. Call munmap with the pointer cast to `*mut c_void`, and `len`. 2. If it returned
    // SHAPE: anything but 0, return `last_os_error()`. 3. Otherwise `Ok(())`. Check no alignment
    // SHAPE: yourself: the lesson wants the kernel's own EINVAL.
    // HINT: `libc::munmap(memory.cast(), len)` returns 0, or -1 with `errno` set.
    // SAFETY: the caller promises the range is a mapping of ours that nothing uses any more.
    if unsafe { libc::munmap(memory.cast(), len) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
    // ANCHOR_END: unmap
}

/// Step 4: the same memory as step 1, owned: memmap2's `MmapMut` maps `len` bytes and unmaps
/// them when dropped.
///
/// See <https://docs.rs/memmap2/latest/memmap2/struct.MmapMut.html#method.map_anon>.
pub fn owned_mapping(len: usize) -> io::Result<memmap2::MmapMut> {
    // ANCHOR: owned_mapping
    // IDEA: memmap2's MmapMut maps anonymous memory and unmaps it when dropped: the same as steps 1
    // IDEA: and 3, owned by a value.
    // SHAPE: One call, no `unsafe`: `MmapMut::map_anon(len)` already returns an `io::Result`;
    // SHAPE: return it as it is.
    // HINT: `memmap2::MmapMut::map_anon(len)` is all it takes, and needs no `unsafe`: the
    // HINT: mapping is fresh, so nothing else can change it behind the slice's back.
    memmap2::MmapMut::map_anon(len)
    // ANCHOR_END: owned_mapping
}
