//! The registry's tally: counts and bytes by state.

use super::extent::{Extent, Source, State};

/// Counts and bytes by state, kept up to date on every change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Live chunks from the break.
    pub sbrk_count: usize,
    /// Their usable bytes.
    pub sbrk_bytes: usize,
    /// Live chunks with mappings of their own.
    pub mmap_count: usize,
    /// Their usable bytes.
    pub mmap_bytes: usize,
    /// Free extents.
    pub free_count: usize,
    /// Their bytes.
    pub free_bytes: usize,
}

impl Tally {
    pub(super) fn add(&mut self, e: Extent, sign: isize) {
        let (count, bytes) = match e.state {
            State::Free => (&mut self.free_count, &mut self.free_bytes),
            State::Live(Source::Sbrk) => (&mut self.sbrk_count, &mut self.sbrk_bytes),
            State::Live(Source::Mmap) => (&mut self.mmap_count, &mut self.mmap_bytes),
        };
        *count = count.wrapping_add_signed(sign);
        *bytes = bytes.wrapping_add_signed(sign * e.len as isize);
    }
}
