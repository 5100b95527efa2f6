//! Someone else's bytes at the break: what another caller of `sbrk` (glibc's malloc, say) takes
//! and writes there, which must stay theirs whatever mem_chunk and release_chunk do.
//!
//! # Safety
//! The bytes are written only just after their `sbrk` took them, and read only while the break
//! is at or above their end, so that they are mapped.

use memcore::sys;

/// What someone else writes to the bytes their `sbrk` took.
const THEIR_BYTE: u8 = 0xa5;

/// Bytes someone else's `sbrk` took.
#[derive(Debug, Clone, Copy)]
pub(super) struct Theirs {
    pub(super) start: usize,
    pub(super) len: usize,
}

impl Theirs {
    /// The `len` bytes at `start` that someone else's `sbrk` just took, written with their
    /// data.
    ///
    /// # Safety
    /// The bytes must be the ones that sbrk call returned, below the break, and nothing else
    /// may refer to them.
    pub(super) unsafe fn written(start: usize, len: usize) -> Theirs {
        // SAFETY: the caller promises the bytes were just taken for someone else, below the
        // break, and that nothing else refers to them.
        unsafe { std::ptr::write_bytes(start as *mut u8, THEIR_BYTE, len) };
        Theirs { start, len }
    }

    /// The first address past them.
    pub(super) fn end(&self) -> usize {
        self.start + self.len
    }

    /// Whether they still lie below the break, as their owner wrote them.
    pub(super) fn kept(&self) -> bool {
        if (sys::program_break() as usize) < self.end() {
            return false;
        }
        // SAFETY: the break is at or above their end, so they are mapped; nobody but the
        // contract writes them, and nothing writes them while this reads.
        unsafe { std::slice::from_raw_parts(self.start as *const u8, self.len) }
            .iter()
            .all(|&b| b == THEIR_BYTE)
    }
}
