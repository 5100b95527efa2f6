//! expect: failed in give_back: it refused, and the break did not move
//! A typical mistake: giving the memory back without looking where the break is first.

use std::io;

use ex2_sbrk::{MESSAGE, Parts, pattern};

pub const PARTS: Parts = Parts {
    current_break,
    request,
    write,
    read_back,
    give_back,
};

pub fn current_break() -> *mut u8 {
    // SAFETY: sbrk(0) moves nothing.
    unsafe { libc::sbrk(0) }.cast()
}

pub fn request(n: usize) -> io::Result<*mut u8> {
    let n = isize::try_from(n).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: growing the break touches no memory anyone holds.
    let old = unsafe { libc::sbrk(n) };
    if old as usize == usize::MAX {
        return Err(io::Error::last_os_error());
    }
    Ok(old.cast())
}

/// # Safety
/// `len` writable bytes at `memory`.
pub unsafe fn write(memory: *mut u8, len: usize) {
    // SAFETY: the caller promises len writable bytes.
    let bytes = unsafe { std::slice::from_raw_parts_mut(memory, len) };
    bytes[..MESSAGE.len()].copy_from_slice(MESSAGE);
    for (i, b) in bytes.iter_mut().enumerate().skip(MESSAGE.len()) {
        *b = pattern(i);
    }
}

/// # Safety
/// `len` readable bytes at `memory`.
pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    // SAFETY: the caller promises len readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(memory, len) };
    (0..len)
        .filter(|&i| bytes[i] != if i < MESSAGE.len() { MESSAGE[i] } else { pattern(i) })
        .count()
}

/// # Safety
/// Nothing uses the memory any more.
pub unsafe fn give_back(_start: *mut u8, len: usize) -> io::Result<()> {
    let len = isize::try_from(len).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: not quite: whatever lies just below the break goes, ours or not.
    if unsafe { libc::sbrk(-len) } as usize == usize::MAX {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
