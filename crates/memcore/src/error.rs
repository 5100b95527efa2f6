//! Errors of the syscall layer and the registry: small, `Copy`, and free of allocation, so that
//! they can travel through an allocator's `alloc` path.

use std::fmt;

/// An `errno` value returned by a failed system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    /// Out of memory, or over a limit.
    pub const ENOMEM: Errno = Errno(libc::ENOMEM);
    /// An invalid argument (a length of 0 for `mmap`).
    pub const EINVAL: Errno = Errno(libc::EINVAL);
    /// Try again.
    pub const EAGAIN: Errno = Errno(libc::EAGAIN);

    /// The calling thread's `errno` as the last failed call left it.
    pub fn last() -> Errno {
        // `last_os_error` reads errno without allocating (its representation is the raw code).
        Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }

    /// The symbolic name of the common memory-related values (`ENOMEM`), or `None`.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            libc::ENOMEM => "ENOMEM",
            libc::EINVAL => "EINVAL",
            libc::EPERM => "EPERM",
            libc::EACCES => "EACCES",
            libc::EAGAIN => "EAGAIN",
            libc::EBADF => "EBADF",
            libc::EEXIST => "EEXIST",
            libc::EFAULT => "EFAULT",
            libc::ENOENT => "ENOENT",
            libc::ENODEV => "ENODEV",
            libc::ECHILD => "ECHILD",
            libc::EINTR => "EINTR",
            libc::EOVERFLOW => "EOVERFLOW",
            _ => return None,
        })
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = std::io::Error::from_raw_os_error(self.0);
        match self.name() {
            // io::Error's text ends in "(os error N)"; keep only the description before it.
            Some(name) => {
                let text = text.to_string();
                let description = text.split(" (os error").next().unwrap_or(&text);
                write!(f, "{name} ({description})")
            }
            None => write!(f, "{text}"),
        }
    }
}

impl From<Errno> for std::io::Error {
    fn from(errno: Errno) -> Self {
        std::io::Error::from_raw_os_error(errno.0)
    }
}

/// What went wrong in a call to the OS or in the chunk registry. Every variant is something a
/// caller can act on; none of them allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The kernel (or glibc on its behalf) refused the call.
    #[error("{call} was refused by the OS: {errno}")]
    Os {
        /// The C call that failed, as written in its man page (`"sbrk"`, `"mmap"`).
        call: &'static str,
        /// The `errno` it set.
        errno: Errno,
    },
    /// A size of zero was asked for; no call was made.
    #[error("a size of 0 bytes was requested")]
    ZeroSize,
    /// A size or increment too large to represent once rounded, or above `isize::MAX`; refused
    /// before any call was made, so it was never passed on as a negative number.
    #[error("a size of {requested} bytes is too large (the limit is isize::MAX once rounded)")]
    Overflow {
        /// The size that was asked for.
        requested: usize,
    },
}

/// Why growing or shrinking the break from where the caller left it did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BreakError {
    /// The program break is not where we left it: someone else (glibc's malloc, another
    /// `sbrk` caller) moved it, so the memory next to it is no longer ours to take or give back.
    /// No call was made.
    #[error("the program break moved behind our back: expected {expected:#x}, found {found:#x}")]
    Moved {
        /// Where we left the break.
        expected: usize,
        /// Where it is now.
        found: usize,
    },
    /// The break was where we left it, but the call failed.
    #[error(transparent)]
    Failed(#[from] Error),
}

impl Error {
    /// The `Os` error for `call` with the current `errno`.
    pub(crate) fn last_os(call: &'static str) -> Error {
        Error::Os {
            call,
            errno: Errno::last(),
        }
    }

    /// The errno, when the OS refused.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Os { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_displays_name_and_description() {
        assert_eq!(
            Errno(libc::ENOMEM).to_string(),
            "ENOMEM (Cannot allocate memory)"
        );
        assert_eq!(Errno(libc::EINVAL).name(), Some("EINVAL"));
    }

    #[test]
    fn os_error_names_the_call() {
        let err = Error::Os {
            call: "mmap",
            errno: Errno(libc::EINVAL),
        };
        assert_eq!(
            err.to_string(),
            "mmap was refused by the OS: EINVAL (Invalid argument)"
        );
        assert_eq!(err.errno(), Some(Errno(libc::EINVAL)));
        assert_eq!(Error::ZeroSize.errno(), None);
    }
}
