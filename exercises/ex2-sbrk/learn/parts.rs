//! Your parts of exercise 2, using sbrk (ex2-sbrk). Replace each `todo!()` below, in order, with
//! your code, then run `cargo xtask learn`: the lesson's own program runs your parts and checks
//! what they did.
//!
//! Each part's doc comment says what it must do. `cargo xtask hint ex2-sbrk` gives a hint for the
//! next one. `cargo xtask learn --reset ex2-sbrk` brings this file back as it was (keeping a copy
//! of yours). When the exercise is done, compare with the reference,
//! `exercises/ex2-sbrk/src/parts.rs`, from which `cargo xtask templates` wrote this file.

// Until every part is written, their arguments, and the names they will use, are unused:
// this keeps the compiler quiet meanwhile. Delete it when you are done.
#![allow(unused_variables, unused_imports, dead_code)]

use std::io;

use ex2_sbrk::{MESSAGE, Parts, pattern};

// What this file uses from the lesson, a line each:
// - `MESSAGE: &[u8]`: the bytes `write` puts first (`MESSAGE.len()` of them);
// - `pattern(offset: usize) -> u8`: the byte `write` puts at each later offset;
// - `Parts`: the struct of function pointers below, through which the lesson calls your parts.

// What your parts call, a line each: the C library through the `libc` crate (a dependency
// already; write `libc::` and nothing to import). Each call into C is `unsafe`.
// - `libc::sbrk(increment: libc::intptr_t) -> *mut libc::c_void`: `intptr_t` is `isize`;
//   moves the break by `increment` bytes (0 moves nothing) and returns where it was; on failure
//   returns `(void *) -1`, which in Rust is `usize::MAX as *mut c_void`, and sets `errno`;
// - `std::io::Error::last_os_error() -> io::Error`: `errno` as an error; call it right after
//   the call that failed;
// - `ptr.cast::<u8>()` turns a `*mut c_void` into a `*mut u8`; `ptr as usize` makes a number;
// - `std::slice::from_raw_parts_mut(ptr: *mut u8, len: usize) -> &mut [u8]` (`unsafe`), and
//   `from_raw_parts` for a `&[u8]`: the bytes at `ptr` as a slice.

/// The parts, in the lesson's order, for the driver.
pub const PARTS: Parts = Parts {
    current_break,
    request,
    write,
    read_back,
    give_back,
};

/// Step 1: returns the current program break, the first address past the heap, without moving
/// it: `sbrk(0)`.
///
/// See `man 2 sbrk`.
pub fn current_break() -> *mut u8 {
    todo!()
}

/// Step 2: grows the break by `n` bytes with `sbrk(n)` and returns the start of the new memory,
/// which is the old break.
///
/// sbrk's argument is an `intptr_t` (`isize`): refuse an `n` above `isize::MAX` with
/// `io::ErrorKind::InvalidInput` before calling, or it would be read as a negative number and
/// shrink the break. When sbrk fails it returns `(void *) -1` and sets `errno`: return
/// `io::Error::last_os_error()`.
///
/// See `man 2 sbrk`.
pub fn request(n: usize) -> io::Result<*mut u8> {
    todo!()
}

/// Step 3: writes [`MESSAGE`] at `memory`, then `pattern(offset)` at every later offset up to
/// `len`.
///
/// # Safety
/// `memory` must be valid for writes of `len` bytes, and `len` at least `MESSAGE.len()`.
pub unsafe fn write(memory: *mut u8, len: usize) {
    todo!()
}

/// Step 4: reads back, in this other function, the `len` bytes at `memory` and returns how
/// many differ from what [`write`] put there.
///
/// # Safety
/// `memory` must be valid for reads of `len` bytes, and `len` at least `MESSAGE.len()`.
pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    todo!()
}

/// Step 5: gives the `len` bytes at `start` back with `sbrk(-len)`, but only if the break is
/// still at `start + len`; otherwise someone else has grown it since, the memory below the
/// break is theirs, and nothing may change: return an error.
///
/// # Safety
/// Nothing may use the `len` bytes at `start` any more: the kernel unmaps their pages.
pub unsafe fn give_back(start: *mut u8, len: usize) -> io::Result<()> {
    todo!()
}
