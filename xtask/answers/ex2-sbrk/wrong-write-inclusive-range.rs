//! expect: failed in write: write left the byte past the 10000 bytes alone
//! intent: wrong: write: my pattern loop is `MESSAGE.len()..=len`, so it writes one byte past the end
//! expect-judge: off-by-one: writes memory[len], one byte past the requested memory (still in the mapped page, so it may not crash)
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
    // fill up to and including the last byte
    for offset in MESSAGE.len()..=len {
        // SAFETY: offset is inside the memory
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
