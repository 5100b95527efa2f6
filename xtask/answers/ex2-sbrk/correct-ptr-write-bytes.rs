//! expect: done
//! intent: correct: uses ptr::copy_nonoverlapping for the message, write/read via ptr::write/ptr::read, and compares against libc's (void*)-1 via a named constant
//! expect-judge: correct, just pointer-style instead of slices; the give_back check and sbrk(-len) are right

use std::io;
use std::ptr;

use ex2_sbrk::{MESSAGE, Parts, pattern};

/// The parts, in the lesson's order, for the driver.
pub const PARTS: Parts = Parts {
    current_break,
    request,
    write,
    read_back,
    give_back,
};

/// sbrk's error value, `(void *) -1`.
const SBRK_FAILED: *mut libc::c_void = !0usize as *mut libc::c_void;

pub fn current_break() -> *mut u8 {
    // SAFETY: sbrk(0) just reports the break
    let brk = unsafe { libc::sbrk(0) };
    brk as *mut u8
}

pub fn request(n: usize) -> io::Result<*mut u8> {
    if n > isize::MAX as usize {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    // SAFETY: moves the break up by n; the memory is ours now
    match unsafe { libc::sbrk(n as libc::intptr_t) } {
        SBRK_FAILED => Err(io::Error::last_os_error()),
        old_break => Ok(old_break as *mut u8),
    }
}

pub unsafe fn write(memory: *mut u8, len: usize) {
    // SAFETY: len >= MESSAGE.len() and memory is valid for len bytes (caller)
    unsafe { ptr::copy_nonoverlapping(MESSAGE.as_ptr(), memory, MESSAGE.len()) };
    let mut off = MESSAGE.len();
    while off < len {
        // SAFETY: off < len
        unsafe { ptr::write(memory.add(off), pattern(off)) };
        off += 1;
    }
}

pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    let mut bad = 0usize;
    let mut off = 0;
    while off < len {
        let want = if off < MESSAGE.len() { MESSAGE[off] } else { pattern(off) };
        // SAFETY: off < len, readable per the caller
        if unsafe { ptr::read(memory.add(off)) } != want {
            bad += 1;
        }
        off += 1;
    }
    bad
}

pub unsafe fn give_back(start: *mut u8, len: usize) -> io::Result<()> {
    let top = current_break();
    if top != start.wrapping_add(len) {
        return Err(io::Error::other("someone moved the break after us"));
    }
    if len > isize::MAX as usize {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    // SAFETY: [start, top) is ours, on top of the break, unused (caller)
    if unsafe { libc::sbrk(-(len as isize)) } == SBRK_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
