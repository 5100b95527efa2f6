//! expect: stopped in give_back
//! intent: wrong: give_back compares the break with start, not start + len, so it always refuses, even when the break is where our memory ends
use std::io;

use ex2_sbrk::{MESSAGE, Parts, pattern};

/// The parts, in the lesson's order, for the driver.
pub const PARTS: Parts = Parts {
    current_break,
    request,
    write,
    read_back,
    give_back,
};

/// Step 1: the current program break, `sbrk(0)`.
pub fn current_break() -> *mut u8 {
    // SAFETY: sbrk(0) only reads the break.
    unsafe { libc::sbrk(0) as *mut u8 }
}

/// Step 2: grows the break by `n` bytes and returns the old break.
pub fn request(n: usize) -> io::Result<*mut u8> {
    if n > isize::MAX as usize {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "n is too large for sbrk"));
    }
    // SAFETY: growing the break hands us new memory; nobody else owns it.
    let old = unsafe { libc::sbrk(n as isize) };
    if old == usize::MAX as *mut libc::c_void {
        return Err(io::Error::last_os_error());
    }
    Ok(old as *mut u8)
}

/// Step 3: MESSAGE, then pattern(offset) for every later offset.
pub unsafe fn write(memory: *mut u8, len: usize) {
    for (i, &b) in MESSAGE.iter().enumerate() {
        // SAFETY: i < MESSAGE.len() <= len, the caller says memory is valid for len bytes.
        unsafe { *memory.add(i) = b };
    }
    for offset in MESSAGE.len()..len {
        // SAFETY: offset < len.
        unsafe { *memory.add(offset) = pattern(offset) };
    }
}

/// Step 4: counts the bytes that differ from what `write` put there.
pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    let mut differ = 0;
    for offset in 0..len {
        let expected = if offset < MESSAGE.len() { MESSAGE[offset] } else { pattern(offset) };
        // SAFETY: offset < len.
        let got = unsafe { *memory.add(offset) };
        if got != expected {
            differ += 1;
        }
    }
    differ
}

/// Step 5: sbrk(-len), only if the break is still at start + len.
pub unsafe fn give_back(start: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: sbrk(0) moves nothing.
    let now = unsafe { libc::sbrk(0) };
    if now.cast::<u8>() != start {
        return Err(io::Error::other("someone else moved the break"));
    }
    // SAFETY: the caller promises nothing uses these bytes any more.
    let r = unsafe { libc::sbrk(-(len as isize)) };
    if r as isize == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
