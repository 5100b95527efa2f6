//! expect: failed in current_break: current_break returned the break, as sbrk(0) reads it, and moved nothing
//! expect: stopped in give_back
//! intent: wrong: current_break: I used brk(NULL) because the man page says the brk system call returns the break, but glibc's brk returns 0/-1
//! expect-judge: glibc's brk returns an int (0 or -1), not the break; current_break returns 0x0 or 0xffff...ffff, never the real break
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
    // brk(0) returns the current break (man 2 brk, "C library/kernel differences")
    // SAFETY: asking for address 0 can't be granted, so nothing moves
    let r = unsafe { libc::brk(std::ptr::null_mut()) };
    r as isize as *mut u8
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
    let end = start.wrapping_add(len);
    if current_break() != end {
        return Err(io::Error::other("the break has moved since: not giving anything back"));
    }
    // SAFETY: the caller promises nothing uses these bytes any more, and they are on top.
    let r = unsafe { libc::sbrk(-(len as isize)) };
    if r == usize::MAX as *mut libc::c_void {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
