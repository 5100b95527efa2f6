//! Someone else's bytes at the program break: what another caller of `sbrk` (glibc's malloc,
//! say) takes there and writes. Whatever a lesson's break code does, they must stay theirs: the
//! lessons take them with [`Theirs::take`], ask [`Theirs::kept`] after the learner's part, and
//! give them back with [`Theirs::give_back`].
//!
//! # Safety
//! The bytes are written only just after their `sbrk` took them, and read only while the break
//! is at or above their end, so that they are mapped. A `Theirs` is neither `Copy` nor `Clone`,
//! and [`Theirs::give_back`] takes it: once given back, nothing can read them.

#![allow(unsafe_code)]

use crate::BreakError;
use crate::sys;

/// What someone else writes to the bytes their `sbrk` took.
const THEIR_BYTE: u8 = 0xa5;

/// Bytes someone else's `sbrk` took at the break, written with their data.
#[derive(Debug)]
pub struct Theirs {
    start: usize,
    len: usize,
}

impl Theirs {
    /// Grows the break by `len` bytes from `expected`, as someone else's `sbrk` would, and
    /// writes their data there.
    ///
    /// # Errors
    /// As [`sys::sbrk_from`]: the break is not at `expected`, or the kernel refuses.
    pub fn take(expected: *mut u8, len: usize) -> Result<Theirs, BreakError> {
        let start = sys::sbrk_from(expected, len)? as usize;
        // SAFETY: sbrk took these bytes just now, below the break, and nothing else refers to
        // them.
        Ok(unsafe { Theirs::written(start, len) })
    }

    /// The `len` bytes at `start` that someone else's `sbrk` just took, written with their
    /// data.
    ///
    /// # Safety
    /// The bytes must be the ones that `sbrk` call returned, below the break, and nothing else
    /// may refer to them.
    pub unsafe fn written(start: usize, len: usize) -> Theirs {
        // SAFETY: the caller promises the bytes were just taken for someone else, below the
        // break, and that nothing else refers to them.
        unsafe { std::ptr::write_bytes(start as *mut u8, THEIR_BYTE, len) };
        Theirs { start, len }
    }

    /// Their first address.
    pub fn start(&self) -> usize {
        self.start
    }

    /// How many bytes they are.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether they are no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first address past them.
    pub fn end(&self) -> usize {
        self.start + self.len
    }

    /// Whether they still lie below the break, as their owner wrote them.
    pub fn kept(&self) -> bool {
        if (sys::program_break() as usize) < self.end() {
            return false;
        }
        // SAFETY: the break is at or above their end, so they are mapped; nobody but their
        // owner writes them, and nothing writes them while this reads.
        unsafe { std::slice::from_raw_parts(self.start as *const u8, self.len) }
            .iter()
            .all(|&b| b == THEIR_BYTE)
    }

    /// Gives them back, as their owner would: shrinks the break by their length, if it is still
    /// at their end.
    ///
    /// # Errors
    /// As [`sys::sbrk_shrink`]: the break is not at their end (it is left as it is), or the
    /// kernel refuses.
    pub fn give_back(self) -> Result<(), BreakError> {
        // SAFETY: the bytes are this value's alone, and it is consumed here: nothing refers to
        // them any more.
        unsafe { sys::sbrk_shrink(self.end() as *mut u8, self.len) }.map(|_| ())
    }
}
