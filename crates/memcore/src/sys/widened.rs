//! `sbrk` and `mmap` with their race windows made wide, for a test of code that must hold a
//! lock around them: while [`widen`] is on, each lets the other threads run at the moment a
//! preemption would hurt most.
//!
//! A race between two threads strikes only when one is preempted inside the window. On two
//! CPUs the threads run at once, and a window of a microsecond is hit in most runs. On one CPU
//! a thread is preempted only when its time slice ends, every few milliseconds, and the same
//! window is hit about once in a thousand runs. A program that interposes these functions (a
//! `#[no_mangle] extern "C" fn sbrk` in its own crate that calls [`sbrk`] here) then meets the
//! race on any machine: its calls, the learner's among them, come here instead of to glibc.
//!
//! - [`sbrk`] does what glibc's `sbrk` does, in its order: read the cached break, move the
//!   break to `old + increment` with `brk`, return `old`. It yields between the read and the
//!   move, where glibc's own unlocked read-modify-write is open.
//! - [`mmap`] yields before and after the system call, where code that lets its lock go around
//!   the call gives another thread the slot it chose.
//!
//! With [`widen`] off, each passes straight to the C library's call.
//!
//! # Safety
//! Each function has the contract of the C call it stands for (`man 2 sbrk`, `man 2 mmap`);
//! the `unsafe` blocks are those calls.

#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the windows are wide now.
static WIDE: AtomicBool = AtomicBool::new(false);

unsafe extern "C" {
    /// glibc's own `sbrk`, under the name it exports beside `sbrk` (GLIBC_2.2.5): a program
    /// that defines `sbrk` itself still reaches glibc's through it.
    fn __sbrk(increment: libc::intptr_t) -> *mut libc::c_void;
}

/// Makes the windows wide (`true`) or not, for the calls that come here from now on.
pub fn widen(on: bool) {
    WIDE.store(on, Ordering::SeqCst);
}

/// Lets the other threads run, as a preemption would.
fn let_others_run() {
    std::thread::yield_now();
}

/// `sbrk(increment)`—glibc's, with its window wide while [`widen`] is on.
///
/// # Safety
/// As `sbrk` (man 2 sbrk): shrinking the break unmaps memory that must no longer be used.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/brk.2.html>
pub unsafe fn sbrk(increment: libc::intptr_t) -> *mut libc::c_void {
    if increment == 0 || !WIDE.load(Ordering::Relaxed) {
        // SAFETY: the caller keeps sbrk's contract.
        return unsafe { __sbrk(increment) };
    }
    // SAFETY: sbrk(0) only reads glibc's cached break.
    let old = unsafe { __sbrk(0) };
    let_others_run();
    let Some(new) = (old as usize).checked_add_signed(increment) else {
        // SAFETY: __errno_location has no preconditions; it returns this thread's errno.
        let errno = unsafe { libc::__errno_location() };
        // SAFETY: the pointer is this thread's errno, valid for as long as the thread lives.
        unsafe { *errno = libc::ENOMEM };
        return usize::MAX as *mut libc::c_void;
    };
    // SAFETY: the caller keeps sbrk's contract; brk(old + increment) is what sbrk does.
    if unsafe { libc::brk(new as *mut libc::c_void) } != 0 {
        return usize::MAX as *mut libc::c_void;
    }
    old
}

/// `mmap(addr, len, prot, flags, fd, offset)`—the system call, with the other threads let in
/// before and after it while [`widen`] is on.
///
/// # Safety
/// As `mmap` (man 2 mmap): with `MAP_FIXED`, the range replaces whatever was mapped there.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/mmap.2.html>
pub unsafe fn mmap(
    addr: *mut libc::c_void,
    len: libc::size_t,
    prot: libc::c_int,
    flags: libc::c_int,
    fd: libc::c_int,
    offset: libc::off_t,
) -> *mut libc::c_void {
    let wide = WIDE.load(Ordering::Relaxed);
    if wide {
        let_others_run();
    }
    // SAFETY: the caller keeps mmap's contract; the system call is what glibc's mmap makes,
    // and `syscall` sets errno as glibc's wrapper does.
    let mapped = unsafe { libc::syscall(libc::SYS_mmap, addr, len, prot, flags, fd, offset) };
    if wide {
        let_others_run();
    }
    mapped as *mut libc::c_void
}
