//! expect: done
//! A correct answer written differently from the reference.

use std::io;

use ex2_sbrk::{MESSAGE, Parts, pattern};

pub const PARTS: Parts = Parts {
    current_break,
    request,
    write,
    read_back,
    give_back,
};

/// `sbrk` with (void *) -1 turned into the error errno names.
fn sbrk(increment: isize) -> io::Result<*mut u8> {
    // SAFETY: callers only grow the break, ask with 0, or shrink memory nothing uses.
    let old = unsafe { libc::sbrk(increment) } as *mut u8;
    if old == usize::MAX as *mut u8 {
        Err(io::Error::last_os_error())
    } else {
        Ok(old)
    }
}

pub fn current_break() -> *mut u8 {
    sbrk(0).unwrap_or(std::ptr::null_mut())
}

pub fn request(n: usize) -> io::Result<*mut u8> {
    if n > isize::MAX as usize {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "too large for sbrk"));
    }
    sbrk(n as isize)
}

/// # Safety
/// `len` writable bytes at `memory`.
pub unsafe fn write(memory: *mut u8, len: usize) {
    for i in 0..len {
        let byte = if i < MESSAGE.len() { MESSAGE[i] } else { pattern(i) };
        // SAFETY: i < len, and the caller promises len writable bytes.
        unsafe { memory.add(i).write(byte) };
    }
}

/// # Safety
/// `len` readable bytes at `memory`.
pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    let mut differ = 0;
    for i in 0..len {
        let want = if i < MESSAGE.len() { MESSAGE[i] } else { pattern(i) };
        // SAFETY: i < len, and the caller promises len readable bytes.
        if unsafe { memory.add(i).read() } != want {
            differ += 1;
        }
    }
    differ
}

/// # Safety
/// Nothing uses the memory any more.
pub unsafe fn give_back(start: *mut u8, len: usize) -> io::Result<()> {
    let end = start as usize + len;
    if sbrk(0)? as usize != end {
        return Err(io::Error::other("someone else moved the break"));
    }
    let len = isize::try_from(len).map_err(|_| io::ErrorKind::InvalidInput)?;
    sbrk(-len).map(drop)
}
