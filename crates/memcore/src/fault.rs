//! Single-instruction memory probes, for demonstrations that must touch memory that may not be
//! there (a page after `munmap`, a read-only page).
//!
//! Each probe is one load or store instruction in an `asm!` block. The access happens outside
//! Rust's abstract machine, so the compiler cannot assume the address is valid, move the access
//! or delete it; what follows is up to the hardware and the kernel: the value, or a signal
//! (`SIGSEGV`) that kills the process. Use them in a child process made with
//! [`crate::child::in_child`] when the point is to watch that signal.
//!
//! # Safety
//! Each probe is `unsafe` to call: the caller promises that the fault, if it comes, is the
//! point (a child process about to die) or that the address is valid. The `asm!` blocks are the
//! only unsafe code here.

#![allow(unsafe_code)]

use std::arch::asm;

/// Reads the byte at `addr` with one load instruction.
///
/// # Safety
/// If `addr` is not readable the process receives `SIGSEGV` and, with the default handler, dies
/// at once. Call it on readable memory, or in a child process that is meant to die.
pub unsafe fn probe_read(addr: usize) -> u8 {
    let value: u8;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the caller accepts the fault; the load writes only the output register.
    unsafe {
        asm!("mov {v}, byte ptr [{a}]", a = in(reg) addr, v = out(reg_byte) value,
             options(nostack, preserves_flags, readonly));
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: the caller accepts the fault; the load writes only the output register.
    unsafe {
        asm!("ldrb {v:w}, [{a}]", a = in(reg) addr, v = out(reg) value,
             options(nostack, preserves_flags, readonly));
    }
    value
}

/// Writes `value` to the byte at `addr` with one store instruction.
///
/// # Safety
/// The byte must not belong to anything Rust code reads as a typed value (writing there would
/// change it behind the compiler's back). If `addr` is not writable the process receives
/// `SIGSEGV` and dies: call it on memory the caller owns, or in a child process meant to die.
pub unsafe fn probe_write(addr: usize, value: u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the caller owns the byte (or accepts the fault); the store touches only it.
    unsafe {
        asm!("mov byte ptr [{a}], {v}", a = in(reg) addr, v = in(reg_byte) value,
             options(nostack, preserves_flags));
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: the caller owns the byte (or accepts the fault); the store touches only it.
    unsafe {
        asm!("strb {v:w}, [{a}]", a = in(reg) addr, v = in(reg) value,
             options(nostack, preserves_flags));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::child::{Ended, in_child};

    #[test]
    fn probes_read_and_write_owned_memory() {
        let mut byte = Box::new(0u8);
        let addr = &raw mut *byte as usize;
        // SAFETY: the Box owns the byte and no reference to it is live during the probes.
        unsafe { probe_write(addr, 42) };
        // SAFETY: as above; the byte is readable.
        assert_eq!(unsafe { probe_read(addr) }, 42);
        assert_eq!(*byte, 42);
    }

    #[test]
    fn a_probe_of_page_zero_kills_the_child_with_sigsegv() {
        // SAFETY: page zero is never mapped, so the load faults; that is the point.
        let child = || unsafe { probe_read(8) };
        // SAFETY: the child only makes one load; it waits on no lock.
        let ended = unsafe { in_child(child) };
        assert_eq!(ended, Ok(Ended::Signaled(libc::SIGSEGV)));
    }
}
