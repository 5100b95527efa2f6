//! The process: `fork` and `waitpid`, signals' names, the personality and resource limits,
//! and waiting for a line of input.
//!
//! # Safety
//! Each `unsafe` block is one call; `fork_and_wait` is `unsafe` for its caller, who promises
//! what the child may do.

#![allow(unsafe_code)]

use crate::error::{Errno, Error};

/// How a child process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChildExit {
    /// It called `_exit(code)`.
    Exited(i32),
    /// A signal killed it.
    Signaled(i32),
}

impl std::fmt::Display for ChildExit {
    /// `exited with status 3`, or `killed by SIGSEGV`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ChildExit::Exited(code) => write!(f, "exited with status {code}"),
            ChildExit::Signaled(signal) => write!(f, "killed by {}", signal_name(signal)),
        }
    }
}

/// The conventional name of a signal number (`SIGSEGV`), or `"an unknown signal"`.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGTERM => "SIGTERM",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGINT => "SIGINT",
        _ => "an unknown signal",
    }
}

/// `fork()` then `waitpid(pid, …)`—Runs `child` in a copy of this process and waits for it.
///
/// The child sees the same virtual addresses as the parent, backed by copy-on-write pages: what
/// it writes, the parent never sees. It ends with `_exit(code)` where `code` is what `child`
/// returns (101 if it panics), so no destructor or buffered output of the parent runs twice.
/// It runs with a core-file size limit of 0, so a child that is meant to crash leaves no core.
///
/// # Safety
/// The child has only the calling thread. If the parent has other threads, `child` must not
/// wait for anything they might hold at the moment of the fork (a lock, including the global
/// allocator's); keep it to reads and writes of memory and system calls.
///
/// # Errors
/// [`Error::Os`] if `fork` or `waitpid` fails (`EAGAIN`: too many processes).
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/fork.2.html>
/// - <https://man7.org/linux/man-pages/man2/waitpid.2.html>
pub(crate) unsafe fn fork_and_wait(child: impl FnOnce() -> i32) -> Result<ChildExit, Error> {
    // SAFETY: fork has no memory-safety preconditions of its own; what the child may do is the
    // caller's promise above.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::last_os("fork"));
    }
    if pid == 0 {
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit reads the struct we pass; failure only means a core may be written.
        unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) };
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(101);
        // SAFETY: _exit ends this child at once, without running the parent's atexit handlers
        // or destructors a second time.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes the status into our local variable.
        let done = unsafe { libc::waitpid(pid, &mut status, 0) };
        if done == pid {
            break;
        }
        if Errno::last().0 != libc::EINTR {
            return Err(Error::last_os("waitpid"));
        }
    }
    if libc::WIFSIGNALED(status) {
        Ok(ChildExit::Signaled(libc::WTERMSIG(status)))
    } else {
        Ok(ChildExit::Exited(libc::WEXITSTATUS(status)))
    }
}

/// `personality(0xffffffff)`—This process's personality flags (`ADDR_COMPAT_LAYOUT`,
/// `ADDR_NO_RANDOMIZE`, …), read without changing them.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/personality.2.html>
pub fn personality() -> u32 {
    // SAFETY: 0xffffffff only queries the personality; nothing changes.
    let flags = unsafe { libc::personality(0xffff_ffff) };
    u32::try_from(flags).unwrap_or(0)
}

/// `gnu_get_libc_version()`—The version of the glibc this process runs with, as (major,
/// minor): `(2, 36)` for "2.36".
///
/// # References
/// - <https://man7.org/linux/man-pages/man3/gnu_get_libc_version.3.html>
pub fn glibc_version() -> (u32, u32) {
    // SAFETY: gnu_get_libc_version takes nothing and cannot fail.
    let version = unsafe { libc::gnu_get_libc_version() };
    // SAFETY: it points to a static, NUL-terminated string that lives as long as the process.
    let text = unsafe { std::ffi::CStr::from_ptr(version) };
    parse_version(&text.to_string_lossy())
}

/// `"2.36"` as `(2, 36)`; a part that is not a number counts as 0.
fn parse_version(text: &str) -> (u32, u32) {
    let mut parts = text.split('.').map(|p| p.trim().parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// `getrlimit(RLIMIT_STACK)`—The soft limit of the main thread's stack in bytes, `None` when
/// unlimited.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/getrlimit.2.html>
pub fn stack_limit() -> Option<u64> {
    limit(libc::RLIMIT_STACK)
}

/// `getrlimit(RLIMIT_DATA)`—The soft limit of the data segment (the break's heap and private
/// writable mappings) in bytes, `None` when unlimited.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/getrlimit.2.html>
pub fn data_limit() -> Option<u64> {
    limit(libc::RLIMIT_DATA)
}

/// `getrlimit(RLIMIT_AS)`—The soft limit of this process's address space (`ulimit -v`) in bytes,
/// `None` when unlimited.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/getrlimit.2.html>
pub fn address_space_limit() -> Option<u64> {
    limit(libc::RLIMIT_AS)
}

/// `setrlimit(RLIMIT_AS)`, the soft limit alone—Sets this process's address-space limit
/// (`ulimit -v`) to `bytes`, `None` for unlimited, and keeps the hard limit.
///
/// A limit below what the process already uses unmaps nothing: every later `brk` or `mmap` that
/// would grow the address space fails with `ENOMEM`. The process may raise the soft limit again,
/// up to the hard limit, so a limit read with [`address_space_limit`] can be put back.
///
/// # Errors
/// [`Error::Os`] with `EINVAL` when `bytes` is above the hard limit (and the caller may not
/// raise it), or `EPERM`.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/getrlimit.2.html>
pub fn set_address_space_limit(bytes: Option<u64>) -> Result<(), Error> {
    set_soft_limit(libc::RLIMIT_AS, bytes)
}

/// `setrlimit(RLIMIT_DATA)`, the soft limit alone—Sets the limit of this process's data segment
/// (the break's heap and its private writable mappings) to `bytes`, `None` for unlimited, and
/// keeps the hard limit. As with [`set_address_space_limit`], nothing already mapped is
/// unmapped: later growth fails with `ENOMEM`.
///
/// # Errors
/// As [`set_address_space_limit`].
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/getrlimit.2.html>
pub fn set_data_limit(bytes: Option<u64>) -> Result<(), Error> {
    set_soft_limit(libc::RLIMIT_DATA, bytes)
}

fn set_soft_limit(resource: libc::__rlimit_resource_t, bytes: Option<u64>) -> Result<(), Error> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the limit into our local struct.
    if unsafe { libc::getrlimit(resource, &mut limit) } != 0 {
        return Err(Error::last_os("getrlimit"));
    }
    limit.rlim_cur = bytes.unwrap_or(libc::RLIM_INFINITY);
    // SAFETY: setrlimit reads our local struct; a limit changes no memory already mapped.
    if unsafe { libc::setrlimit(resource, &limit) } != 0 {
        return Err(Error::last_os("setrlimit"));
    }
    Ok(())
}

fn limit(resource: libc::__rlimit_resource_t) -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the limit into our local struct.
    let done = unsafe { libc::getrlimit(resource, &mut limit) };
    (done == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

/// `read(0, buf, 1)` until a newline or the end of input—Waits for the user to press Enter.
///
/// It reads standard input one byte at a time into a buffer on the stack, so that waiting
/// allocates nothing (std's `stdin()` allocates its buffer at first use) and cannot move the
/// program break under a lesson that is watching it. It never reopens the input, which would
/// block forever on a pipe whose writer has gone.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/read.2.html>
pub fn wait_for_line() {
    let mut byte = 0u8;
    loop {
        // SAFETY: read writes at most one byte into `byte`, which lives on this stack frame.
        let got = unsafe { libc::read(0, (&raw mut byte).cast(), 1) };
        let interrupted = got < 0 && Errno::last().0 == libc::EINTR;
        if !interrupted && (got != 1 || byte == b'\n') {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_glibc_version_is_read() {
        assert_eq!(parse_version("2.36"), (2, 36));
        assert_eq!(parse_version("2.17.90"), (2, 17));
        assert_eq!(parse_version("x"), (0, 0));
        assert!(glibc_version() >= (2, 17));
    }

    /// Under a limit of 0, a new mapping is refused with ENOMEM; with the old limit put back,
    /// it is granted again. In a child, as the limit is the whole process's.
    #[test]
    fn an_address_space_limit_refuses_mappings_until_it_is_put_back() {
        let child = || {
            let old = address_space_limit();
            if set_address_space_limit(Some(0)).is_err() {
                return Err("a limit of 0 could not be set");
            }
            let refused = crate::sys::mmap_anonymous(1 << 20);
            if set_address_space_limit(old).is_err() || address_space_limit() != old {
                return Err("the old limit could not be put back");
            }
            match refused {
                Err(Error::Os { errno, .. }) if errno.0 == libc::ENOMEM => {}
                _ => return Err("a mapping under a limit of 0 was not refused with ENOMEM"),
            }
            match crate::sys::mmap_anonymous(1 << 20) {
                Ok(_) => Ok(()),
                Err(_) => Err("a mapping under the old limit was refused"),
            }
        };
        // SAFETY: the child makes system calls only, and allocates nothing, so no lock another
        // test thread held at the fork can stop it.
        let ended = unsafe { crate::child::in_child(child) }.unwrap();
        assert_eq!(ended, crate::child::Ended::Returned(Ok(())));
    }
}
