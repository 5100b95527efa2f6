//! expect: done
//! intent: right: all parts: I made a helper expected_byte(offset) used by both write and read_back, worked on slices made with from_raw_parts, and compared sbrk's result with (-1isize) as a pointer
//! expect-judge: correct
//! Your parts of exercise 2, using sbrk (ex2-sbrk).

use std::io;
use std::slice;

use ex2_sbrk::{MESSAGE, Parts, pattern};

/// The parts, in the lesson's order, for the driver.
pub const PARTS: Parts = Parts {
    current_break,
    request,
    write,
    read_back,
    give_back,
};

/// what byte should be at this offset: the message first, then the pattern
fn expected_byte(offset: usize) -> u8 {
    match MESSAGE.get(offset) {
        Some(&b) => b,
        None => pattern(offset),
    }
}

/// sbrk returns (void *) -1 when it fails
fn sbrk_failed(p: *mut libc::c_void) -> bool {
    p == (-1isize) as *mut libc::c_void
}

/// Step 1: returns the current program break, the first address past the heap, without moving
/// it: `sbrk(0)`.
pub fn current_break() -> *mut u8 {
    unsafe { libc::sbrk(0) as *mut u8 }
}

/// Step 2: grows the break by `n` bytes with `sbrk(n)` and returns the start of the new memory,
/// which is the old break.
pub fn request(n: usize) -> io::Result<*mut u8> {
    if n > isize::MAX as usize {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    let old = unsafe { libc::sbrk(n as libc::intptr_t) };
    if sbrk_failed(old) {
        Err(io::Error::last_os_error())
    } else {
        Ok(old as *mut u8)
    }
}

/// Step 3: writes [`MESSAGE`] at `memory`, then `pattern(offset)` at every later offset up to
/// `len`.
///
/// # Safety
/// `memory` must be valid for writes of `len` bytes, and `len` at least `MESSAGE.len()`.
pub unsafe fn write(memory: *mut u8, len: usize) {
    let bytes = unsafe { slice::from_raw_parts_mut(memory, len) };
    for (offset, byte) in bytes.iter_mut().enumerate() {
        *byte = expected_byte(offset);
    }
}

/// Step 4: reads back the `len` bytes at `memory` and returns how many differ from what
/// [`write`] put there.
///
/// # Safety
/// `memory` must be valid for reads of `len` bytes, and `len` at least `MESSAGE.len()`.
pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    let bytes = unsafe { slice::from_raw_parts(memory, len) };
    bytes
        .iter()
        .enumerate()
        .filter(|&(offset, &b)| b != expected_byte(offset))
        .count()
}

/// Step 5: gives the `len` bytes at `start` back with `sbrk(-len)`, but only if the break is
/// still at `start + len`; otherwise return an error.
///
/// # Safety
/// Nothing may use the `len` bytes at `start` any more: the kernel unmaps their pages.
pub unsafe fn give_back(start: *mut u8, len: usize) -> io::Result<()> {
    let brk_now = current_break() as usize;
    let our_end = start as usize + len;
    if brk_now != our_end {
        return Err(io::Error::new(
            io::ErrorKind::Other,
            "someone moved the break after us, not shrinking",
        ));
    }
    let shrink = -(len as isize);
    let old = unsafe { libc::sbrk(shrink) };
    if sbrk_failed(old) {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
