//! A few numbers shared with a child process: an anonymous `MAP_SHARED` mapping survives `fork`
//! as the *same* memory in both processes, unlike the rest of the address space, which the child
//! gets as a copy. A child writes what it saw there, and the parent reads it after `wait`.
//!
//! # Safety
//! The numbers are `AtomicU64`s in a shared mapping this type owns: the unsafe code turns the
//! mapping's address into a reference to one of them, in bounds, for as long as the mapping
//! lives.

#![allow(unsafe_code)]

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Error;
use crate::sys;

/// `n` numbers in a shared anonymous mapping, unmapped on `Drop`.
#[derive(Debug)]
pub struct SharedCells {
    start: NonNull<AtomicU64>,
    len: usize,
    n: usize,
}

impl SharedCells {
    /// `mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)`—`n` numbers,
    /// all 0, that a child made by `fork` later shares with this process.
    ///
    /// # Errors
    /// [`Error::ZeroSize`] for `n` = 0; [`Error::Os`] if the kernel refuses.
    ///
    /// # References
    /// - <https://man7.org/linux/man-pages/man2/mmap.2.html>
    pub fn new(n: usize) -> Result<SharedCells, Error> {
        if n == 0 {
            return Err(Error::ZeroSize);
        }
        let len = n
            .checked_mul(size_of::<AtomicU64>())
            .ok_or(Error::Overflow { requested: n })?;
        let start = sys::mmap_shared_anonymous(len)?;
        Ok(SharedCells {
            start: start.cast(),
            len,
            n,
        })
    }

    fn cell(&self, i: usize) -> &AtomicU64 {
        assert!(i < self.n, "cell {i} of {}", self.n);
        // SAFETY: i < n, so the cell lies inside the mapping of n cells.
        let cell = unsafe { self.start.as_ptr().add(i) };
        // SAFETY: the mapping holds `n` zero-initialised, page-aligned u64s (a valid AtomicU64
        // each) for as long as `self` lives.
        unsafe { &*cell }
    }

    /// The `i`th number.
    ///
    /// # Panics
    /// If `i` is not below `n`.
    pub fn get(&self, i: usize) -> u64 {
        self.cell(i).load(Ordering::SeqCst)
    }

    /// Sets the `i`th number.
    ///
    /// # Panics
    /// If `i` is not below `n`.
    pub fn set(&self, i: usize, value: u64) {
        self.cell(i).store(value, Ordering::SeqCst);
    }
}

impl Drop for SharedCells {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours, made in `new`, and no reference into it outlives `self`.
        // An error here would leave a mapping behind, which nothing can mend; it is ignored.
        let _ = unsafe { sys::munmap(self.start.cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{ChildExit, fork_and_wait};

    #[test]
    fn a_child_writes_and_the_parent_reads() {
        let cells = SharedCells::new(2).unwrap();
        assert_eq!((cells.get(0), cells.get(1)), (0, 0));
        let child = || {
            cells.set(1, 300);
            0
        };
        // SAFETY: the child only stores one number and exits.
        let exit = unsafe { fork_and_wait(child) }.unwrap();
        assert!(matches!(exit, ChildExit::Exited(0)));
        assert_eq!(
            cells.get(1),
            300,
            "above 255: no exit status could carry it"
        );
        assert_eq!(SharedCells::new(0).unwrap_err(), Error::ZeroSize);
    }
}
