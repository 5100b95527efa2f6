//! Your parts of exercise 3, using mmap (ex3-mmap). Replace each `todo!()` below, in order, with
//! your code, then run `cargo xtask learn`: the lesson's own program runs your parts and checks
//! what they did.
//!
//! Each part's doc comment says what it must do. `cargo xtask hint ex3-mmap` gives a hint for the
//! next one. `cargo xtask learn --reset ex3-mmap` brings this file back as it was (keeping a copy
//! of yours). When the exercise is done, compare with the reference,
//! `exercises/ex3-mmap/src/parts.rs`, from which `cargo xtask templates` wrote this file.

// Until every part is written, their arguments, and the names they will use, are unused:
// this keeps the compiler quiet meanwhile. Delete it when you are done.
#![allow(unused_variables, unused_imports, dead_code)]

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
    todo!()
}

/// Step 2: writes `pattern(offset)` to each of the `len` bytes at `memory`.
///
/// # Safety
/// `memory` must be valid for writes of `len` bytes, used by nothing else.
pub unsafe fn write(memory: *mut u8, len: usize) {
    todo!()
}

/// Step 2, again: reads the `len` bytes at `memory` back and returns how many differ from
/// `pattern(offset)`. The lesson changes one byte behind its back, and it must notice.
///
/// # Safety
/// `memory` must be valid for reads of `len` bytes, which nothing writes meanwhile.
pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    todo!()
}

/// Step 3: unmaps the `len` bytes at `memory` with `munmap(memory, len)`. When munmap fails
/// it returns -1 and sets `errno`: return `io::Error::last_os_error()`. (The lesson tries it
/// first with an address that is not page aligned, which munmap refuses with EINVAL.)
///
/// # Safety
/// The range must be one that [`map`] returned, or start inside one without being page
/// aligned, and nothing may use it any more: afterwards any access faults.
pub unsafe fn unmap(memory: *mut u8, len: usize) -> io::Result<()> {
    todo!()
}

/// Step 4: the same memory as step 1, owned: memmap2's `MmapMut` maps `len` bytes and unmaps
/// them when dropped.
///
/// See <https://docs.rs/memmap2/latest/memmap2/struct.MmapMut.html#method.map_anon>.
pub fn owned_mapping(len: usize) -> io::Result<memmap2::MmapMut> {
    todo!()
}
