//! expect: failed in write: write left the byte past the 10000 bytes alone
//! expect: failed in give_back: it refused, and the break did not move
//! expect: failed in request: request returned an error for 64 TiB
//! intent: wrong, three parts at once: request never checks for (void *) -1, write fills one byte too many (an inclusive range), and give_back shrinks without checking that the break is still at the end of our memory
//! Your parts of exercise 2, using sbrk (ex2-sbrk). Replace each `todo!()` below, in order, with
//! your code, then run `cargo xtask learn`: the lesson's own program runs your parts and checks
//! what they did.
//!
//! Each part's doc comment says what it must do. `cargo xtask hint ex2-sbrk` gives a hint for the
//! next one. `cargo xtask learn --reset ex2-sbrk` brings this file back as it was (keeping a copy
//! of yours). When the exercise is done, compare with the reference,
//! `exercises/ex2-sbrk/src/parts.rs`, from which `cargo xtask templates` wrote this file.

use std::io;

use ex2_sbrk::{MESSAGE, Parts, pattern};

// What this file uses from the lesson, a line each:
// - `MESSAGE: &[u8]`: the bytes `write` puts first (`MESSAGE.len()` of them);
// - `pattern(offset: usize) -> u8`: the byte `write` puts at each later offset;
// - `Parts`: the struct of function pointers below, through which the lesson calls your parts.

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
    // SAFETY: sbrk(0) moves nothing; it only returns the current break.
    unsafe { libc::sbrk(0) }.cast()
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
    let increment = isize::try_from(n).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: growing the break hands out new memory past the old break; it cannot touch memory
    // anyone holds.
    let old = unsafe { libc::sbrk(increment) };
    Ok(old.cast())
}

/// Step 3: writes [`MESSAGE`] at `memory`, then `pattern(offset)` at every later offset up to
/// `len`.
///
/// # Safety
/// `memory` must be valid for writes of `len` bytes, and `len` at least `MESSAGE.len()`.
pub unsafe fn write(memory: *mut u8, len: usize) {
    // SAFETY: the caller promises `len` writable bytes at `memory`, used by nothing else.
    let bytes = unsafe { std::slice::from_raw_parts_mut(memory, len + 1) };
    bytes[..MESSAGE.len()].copy_from_slice(MESSAGE);
    for (offset, byte) in bytes.iter_mut().enumerate().skip(MESSAGE.len()) {
        *byte = pattern(offset);
    }
}

/// Step 4: reads back, in this other function, the `len` bytes at `memory` and returns how
/// many differ from what [`write`] put there.
///
/// # Safety
/// `memory` must be valid for reads of `len` bytes, and `len` at least `MESSAGE.len()`.
pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    // SAFETY: the caller promises `len` readable bytes at `memory`, written by nobody meanwhile.
    let bytes = unsafe { std::slice::from_raw_parts(memory, len) };
    let message = bytes.iter().zip(MESSAGE).filter(|(a, b)| a != b).count();
    let rest = bytes
        .iter()
        .enumerate()
        .skip(MESSAGE.len())
        .filter(|&(offset, &byte)| byte != pattern(offset))
        .count();
    message + rest
}

/// Step 5: gives the `len` bytes at `start` back with `sbrk(-len)`, but only if the break is
/// still at `start + len`; otherwise someone else has grown it since, the memory below the
/// break is theirs, and nothing may change: return an error.
///
/// # Safety
/// Nothing may use the `len` bytes at `start` any more: the kernel unmaps their pages.
pub unsafe fn give_back(start: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: sbrk(0) moves nothing.
    let now = unsafe { libc::sbrk(0) }.cast::<u8>();
    if now.is_null() {
        return Err(io::Error::other(format!(
            "the break is at {now:p}, not at the end of our memory, {:p}",
            start.wrapping_add(len)
        )));
    }
    let decrement =
        isize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: the break is at the end of our `len` bytes, and the caller promises nothing uses
    // them, so shrinking takes memory from nobody.
    if unsafe { libc::sbrk(-decrement) } as usize == usize::MAX {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
