//! A fault reported by the process that takes it: where a `SIGSEGV` or `SIGBUS` struck, and the
//! address space at that moment, written to files the process opened before.
//!
//! The handler runs on an alternate stack of its own (a fault from a stack overflow must still
//! find a stack), and uses only calls that are async-signal-safe (`man 7 signal-safety`):
//! `write`, `open`, `read` and `close`. It formats the address itself, allocating nothing. Then
//! it returns with the signal's default action restored, so the faulting instruction runs
//! again and the process dies of the same signal, as it would have without the report.
//!
//! # Safety
//! Each `unsafe` block is one system call, or reads the `siginfo_t` the kernel hands the
//! handler; the handler touches only its own stack and two file descriptors kept in atomics.
//!
//! # References
//! - <https://man7.org/linux/man-pages/man2/sigaction.2.html>
//! - <https://man7.org/linux/man-pages/man2/sigaltstack.2.html>
//! - <https://man7.org/linux/man-pages/man7/signal-safety.7.html>

#![allow(unsafe_code)]

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering::Relaxed};

use crate::error::Error;
use crate::sys;

/// Where the handler writes its one line: `{"event":"fault","signal":…,"address":…}`.
static EVENTS_FD: AtomicI32 = AtomicI32::new(-1);
/// Where it copies `/proc/self/maps`.
static MAPS_FD: AtomicI32 = AtomicI32::new(-1);
/// The process that asked for the reports. A child it forks inherits the handler, and may
/// fault on purpose (the lessons show faults in children): its faults are not reported.
static REPORTER: AtomicI32 = AtomicI32::new(0);

/// The alternate stack's size: the handler's buffers and frames fit with room to spare.
const STACK_SIZE: usize = 64 * 1024;

/// Reports a `SIGSEGV` or `SIGBUS` of this process from now on: one JSON line to `events_fd`
/// (`{"event":"fault","signal":"SIGSEGV","address":"0x…"}`), and `/proc/self/maps` as it was at
/// the fault to `maps_fd`. Both must stay open for the life of the process. The alternate stack
/// is set for the calling thread only, so report faults of that thread.
///
/// # Errors
/// [`Error::Os`] if the stack cannot be mapped, or `sigaltstack` or `sigaction` fails.
pub fn report_faults_to(events_fd: RawFd, maps_fd: RawFd) -> Result<(), Error> {
    EVENTS_FD.store(events_fd, Relaxed);
    MAPS_FD.store(maps_fd, Relaxed);
    // SAFETY: getpid has no preconditions and cannot fail.
    REPORTER.store(unsafe { libc::getpid() }, Relaxed);
    // Never unmapped: the handler may run at any moment until the process ends.
    let stack = sys::mmap_anonymous(STACK_SIZE)?;
    let alt = libc::stack_t {
        ss_sp: stack.as_ptr().cast(),
        ss_flags: 0,
        ss_size: STACK_SIZE,
    };
    // SAFETY: `alt` describes a mapping of STACK_SIZE bytes that lives as long as the process.
    if unsafe { libc::sigaltstack(&alt, std::ptr::null_mut()) } != 0 {
        return Err(Error::last_os("sigaltstack"));
    }
    for signal in [libc::SIGSEGV, libc::SIGBUS] {
        // SAFETY: an all-zero sigaction is a valid value (empty mask, no flags) to fill in.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = handler as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESETHAND;
        // SAFETY: the handler is async-signal-safe (see the module's docs).
        if unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) } != 0 {
            return Err(Error::last_os("sigaction"));
        }
    }
    Ok(())
}

/// Appends `bytes` to `line` at `at`; returns the new end (bytes past the line's end are cut).
fn put(line: &mut [u8], at: usize, bytes: &[u8]) -> usize {
    let end = (at + bytes.len()).min(line.len());
    line[at..end].copy_from_slice(&bytes[..end - at]);
    end
}

/// `address` in decimal digits, into `out`; returns how many bytes it took.
fn decimal(address: usize, out: &mut [u8; 20]) -> usize {
    let mut digits = 1;
    while digits < out.len() && address / 10usize.pow(digits as u32) > 0 {
        digits += 1;
    }
    let mut rest = address;
    for i in (0..digits).rev() {
        out[i] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    digits
}

/// The line the handler writes, into `line`; returns its length. It is the JSON of the
/// `lesson` crate's `Event::Fault`, written without allocating; a test there reads one back.
pub fn fault_line(signal: libc::c_int, address: usize, line: &mut [u8; 128]) -> usize {
    let name = match signal {
        libc::SIGBUS => &b"SIGBUS"[..],
        _ => &b"SIGSEGV"[..],
    };
    let mut digits = [0u8; 20];
    let n = decimal(address, &mut digits);
    let mut at = put(line, 0, b"{\"event\":\"fault\",\"signal\":\"");
    at = put(line, at, name);
    at = put(line, at, b"\",\"address\":");
    at = put(line, at, &digits[..n]);
    put(line, at, b"}\n")
}

/// Writes all of `bytes` to `fd`, as far as `write` lets it.
fn write_all(fd: RawFd, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: write reads `bytes.len()` bytes from a live buffer.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

extern "C" fn handler(signal: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: getpid is async-signal-safe, has no preconditions and cannot fail.
    if unsafe { libc::getpid() } != REPORTER.load(Relaxed) {
        // A forked child's fault: SA_RESETHAND restored the default action, so returning
        // faults again and the child dies of the signal, unreported, as it would have.
        return;
    }
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler.
    let info = unsafe { &*info };
    // SAFETY: for SIGSEGV and SIGBUS, si_addr is the field the kernel filled: the address.
    let address = unsafe { info.si_addr() } as usize;
    let mut line = [0u8; 128];
    let n = fault_line(signal, address, &mut line);
    write_all(EVENTS_FD.load(Relaxed), &line[..n]);
    let maps_fd = MAPS_FD.load(Relaxed);
    // SAFETY: open reads a NUL-terminated path from a static string.
    let fd = unsafe { libc::open(c"/proc/self/maps".as_ptr(), libc::O_RDONLY) };
    if fd >= 0 {
        let mut buffer = [0u8; 4096];
        loop {
            // SAFETY: read writes at most `buffer.len()` bytes into the live buffer.
            let n = unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) };
            if n <= 0 {
                break;
            }
            write_all(maps_fd, &buffer[..n as usize]);
        }
        // SAFETY: closes the descriptor opened above.
        unsafe { libc::close(fd) };
    }
    // SA_RESETHAND has restored the default action: returning runs the faulting instruction
    // again, and the process dies of this signal.
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::child::{Ended, in_child};

    #[test]
    fn the_fault_line_is_an_event_with_the_address_as_a_number() {
        let mut line = [0u8; 128];
        let n = fault_line(libc::SIGSEGV, 0x55d0_a1b2_c010, &mut line);
        assert_eq!(
            std::str::from_utf8(&line[..n]).unwrap(),
            "{\"event\":\"fault\",\"signal\":\"SIGSEGV\",\"address\":94354554404880}\n"
        );
        let n = fault_line(libc::SIGBUS, 0, &mut line);
        assert!(
            std::str::from_utf8(&line[..n])
                .unwrap()
                .contains("\"SIGBUS\",\"address\":0}")
        );
        let mut digits = [0u8; 20];
        for (value, text) in [(usize::MAX, "18446744073709551615"), (9, "9"), (10, "10")] {
            let n = decimal(value, &mut digits);
            assert_eq!(&digits[..n], text.as_bytes());
        }
    }

    #[test]
    fn a_fault_is_reported_with_its_address_and_the_maps_then_kills_as_before() {
        use std::os::fd::AsRawFd;
        let folder = std::env::temp_dir().join(format!("fault-report-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let (events, maps) = (folder.join("events"), folder.join("maps"));
        let events_file = std::fs::File::create(&events).unwrap();
        let maps_file = std::fs::File::create(&maps).unwrap();
        // A page no one may touch, which no other test thread can map over, unlike a hole.
        let guard = sys::mmap_anonymous(sys::page_size()).unwrap();
        // SAFETY: the page mapped above; nothing refers to it.
        unsafe { sys::mprotect(guard, sys::page_size(), sys::Protection::None) }.unwrap();
        let target = guard.as_ptr() as usize + 8;
        let child = || {
            if report_faults_to(events_file.as_raw_fd(), maps_file.as_raw_fd()).is_err() {
                return "the reporter could not be set up";
            }
            // A child of the reporter that faults on purpose is not reported.
            let probe = || {
                // SAFETY: the probe faults on purpose, in the grandchild only.
                unsafe { crate::fault::probe_read(target) }
            };
            // SAFETY: the grandchild makes one probe; it waits on nothing.
            let grandchild = unsafe { in_child(probe) };
            if grandchild != Ok(Ended::Signaled(libc::SIGSEGV)) {
                return "the grandchild's probe did not die of SIGSEGV";
            }
            // SAFETY: the probe faults on purpose, in this child only.
            unsafe { crate::fault::probe_read(target) };
            "the probe did not fault"
        };
        // SAFETY: the child makes system calls and one probe; it waits on no lock.
        let exit = unsafe { in_child(child) };
        // SAFETY: the page mapped above; nothing refers to it.
        unsafe { sys::munmap(guard, sys::page_size()) }.unwrap();
        let line = std::fs::read_to_string(&events).unwrap();
        let text = std::fs::read_to_string(&maps).unwrap();
        std::fs::remove_dir_all(&folder).unwrap();
        assert_eq!(exit, Ok(Ended::Signaled(libc::SIGSEGV)));
        assert_eq!(
            line,
            format!("{{\"event\":\"fault\",\"signal\":\"SIGSEGV\",\"address\":{target}}}\n")
        );
        assert!(text.contains("[stack]"), "{text}");
    }
}
