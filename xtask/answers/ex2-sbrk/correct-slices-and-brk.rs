//! expect: done
//! intent: correct: works through slices (copy_from_slice, iterator zip/filter) and gives back with brk(start) instead of sbrk(-len)
//! expect-judge: correct; brk(start) sets the break exactly where sbrk(-len) would, after the same "still on top" check

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

pub fn current_break() -> *mut u8 {
    // SAFETY: asking for 0 more bytes does not move anything
    unsafe { libc::sbrk(0).cast() }
}

pub fn request(n: usize) -> io::Result<*mut u8> {
    let Ok(incr) = isize::try_from(n) else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    // SAFETY: we only move the break up; the new bytes are ours
    let p = unsafe { libc::sbrk(incr) };
    if p as isize == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(p.cast())
    }
}

/// What `write` leaves at every offset.
fn expected(offset: usize) -> u8 {
    MESSAGE.get(offset).copied().unwrap_or_else(|| pattern(offset))
}

pub unsafe fn write(memory: *mut u8, len: usize) {
    // SAFETY: the caller gives us len writable bytes
    let buf = unsafe { slice::from_raw_parts_mut(memory, len) };
    let (head, tail) = buf.split_at_mut(MESSAGE.len());
    head.copy_from_slice(MESSAGE);
    for (i, b) in tail.iter_mut().enumerate() {
        *b = pattern(MESSAGE.len() + i);
    }
}

pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    // SAFETY: the caller gives us len readable bytes
    let buf = unsafe { slice::from_raw_parts(memory, len) };
    buf.iter()
        .enumerate()
        .filter(|&(i, &b)| b != expected(i))
        .count()
}

pub unsafe fn give_back(start: *mut u8, len: usize) -> io::Result<()> {
    let brk_now = current_break() as usize;
    if brk_now != start as usize + len {
        return Err(io::Error::new(
            io::ErrorKind::Other,
            format!("break is at {brk_now:#x}, not at the end of our memory: someone grew it"),
        ));
    }
    // brk(addr) sets the break straight to `start`, same as sbrk(-len)
    // SAFETY: nothing uses [start, start+len) any more (caller's promise) and it is the top
    if unsafe { libc::brk(start.cast()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
