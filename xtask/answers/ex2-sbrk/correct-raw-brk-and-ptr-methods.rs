//! expect: done
//! intent: right: all parts: I read the break with the raw brk(0) system call, wrote and read with ptr methods (copy_nonoverlapping, add, read/write), and gave the memory back with brk(start) once I checked the break was still at start + len
//! expect-judge: correct
//! Your parts of exercise 2, using sbrk (ex2-sbrk). Replace each `todo!()` below, in order, with
//! your code, then run `cargo xtask learn`: the lesson's own program runs your parts and checks
//! what they did.

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

/// Step 1: returns the current program break, without moving it: `sbrk(0)`.
pub fn current_break() -> *mut u8 {
    // the raw brk system call with 0 can't move the break (0 is below the heap, the kernel
    // refuses) and always answers with the current break
    let brk = unsafe { libc::syscall(libc::SYS_brk, 0usize) };
    brk as usize as *mut u8
}

/// Step 2: grows the break by `n` bytes with `sbrk(n)` and returns the start of the new memory,
/// which is the old break.
pub fn request(n: usize) -> io::Result<*mut u8> {
    // sbrk takes an isize, anything bigger would turn negative
    let increment: isize = n
        .try_into()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "n does not fit in intptr_t"))?;
    let old_break = unsafe { libc::sbrk(increment) };
    // sbrk's error value is (void *) -1
    if old_break as isize == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(old_break.cast::<u8>())
}

/// Step 3: writes [`MESSAGE`] at `memory`, then `pattern(offset)` at every later offset up to
/// `len`.
///
/// # Safety
/// `memory` must be valid for writes of `len` bytes, and `len` at least `MESSAGE.len()`.
pub unsafe fn write(memory: *mut u8, len: usize) {
    unsafe {
        ptr::copy_nonoverlapping(MESSAGE.as_ptr(), memory, MESSAGE.len());
        for offset in MESSAGE.len()..len {
            memory.add(offset).write(pattern(offset));
        }
    }
}

/// Step 4: reads back the `len` bytes at `memory` and returns how many differ from what
/// [`write`] put there.
///
/// # Safety
/// `memory` must be valid for reads of `len` bytes, and `len` at least `MESSAGE.len()`.
pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    let mut wrong = 0;
    for offset in 0..len {
        let expected = if offset < MESSAGE.len() { MESSAGE[offset] } else { pattern(offset) };
        let got = unsafe { memory.add(offset).read() };
        if got != expected {
            wrong += 1;
        }
    }
    wrong
}

/// Step 5: gives the `len` bytes at `start` back, but only if the break is still at
/// `start + len`; otherwise return an error.
///
/// # Safety
/// Nothing may use the `len` bytes at `start` any more: the kernel unmaps their pages.
pub unsafe fn give_back(start: *mut u8, len: usize) -> io::Result<()> {
    let end = start.wrapping_add(len);
    let now = unsafe { libc::sbrk(0) }.cast::<u8>();
    if now != end {
        return Err(io::Error::other(format!(
            "the break moved: it is at {now:p}, our memory ends at {end:p}"
        )));
    }
    // setting the break back to where our memory started is the same as sbrk(-len)
    if unsafe { libc::brk(start.cast()) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
