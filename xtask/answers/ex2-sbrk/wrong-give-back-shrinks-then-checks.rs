//! expect: failed in give_back: the memory below the break, ours and theirs, kept every byte
//! intent: wrong: step 5 (give_back): I shrink with sbrk(-len) first and use the old break it returns to check; if it wasn't start + len I grow it back by len and return an error
//! expect-judge: step 5 is wrong: it does the check after the shrink instead of before; when someone else has grown the break, sbrk(-len) has already unmapped pages holding their memory, and growing back by len gives them fresh zeroed pages, so their data is lost (and in between their memory is not mapped at all) even though the break ends where it was; it must read the break with sbrk(0) and compare before moving anything; the other parts are right
//! Your parts of exercise 2, using sbrk (ex2-sbrk).

#![allow(unused_variables, unused_imports, dead_code)]

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

const SBRK_FAILED: *mut libc::c_void = !0usize as *mut libc::c_void;

/// Step 1: returns the current program break without moving it: `sbrk(0)`.
pub fn current_break() -> *mut u8 {
    unsafe { libc::sbrk(0) as *mut u8 }
}

/// Step 2: grows the break by `n` bytes with `sbrk(n)` and returns the start of the new memory.
pub fn request(n: usize) -> io::Result<*mut u8> {
    if n > isize::MAX as usize {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    let p = unsafe { libc::sbrk(n as isize) };
    if p == SBRK_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(p as *mut u8)
}

/// Step 3: writes [`MESSAGE`] at `memory`, then `pattern(offset)` at every later offset.
pub unsafe fn write(memory: *mut u8, len: usize) {
    unsafe {
        std::ptr::copy_nonoverlapping(MESSAGE.as_ptr(), memory, MESSAGE.len());
        let mut off = MESSAGE.len();
        while off < len {
            memory.add(off).write(pattern(off));
            off += 1;
        }
    }
}

/// Step 4: reads back the `len` bytes at `memory` and returns how many differ.
pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    let mut n = 0;
    for off in 0..len {
        let got = unsafe { memory.add(off).read() };
        let want = if off < MESSAGE.len() { MESSAGE[off] } else { pattern(off) };
        if got != want {
            n += 1;
        }
    }
    n
}

/// Step 5: gives the `len` bytes at `start` back with `sbrk(-len)`, but only if the break is
/// still at `start + len`.
pub unsafe fn give_back(start: *mut u8, len: usize) -> io::Result<()> {
    let amount = len as isize;
    // sbrk returns the break from before the call, so one call does both the shrink and
    // tells me where the break was
    let old = unsafe { libc::sbrk(-amount) };
    if old == SBRK_FAILED {
        return Err(io::Error::last_os_error());
    }
    if old as usize != start as usize + len {
        // someone grew the break after us: undo the shrink so nothing changes
        unsafe { libc::sbrk(amount) };
        return Err(io::Error::other("break was not at the end of our memory, put it back"));
    }
    Ok(())
}
