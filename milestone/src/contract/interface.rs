//! What a `mem_chunk` implementation hands the contract, and what the contract promises it:
//! the learner-facing types. Each implementation (the reference answer, the library, the
//! learner's) builds a [`Parts`] of plain functions, and lists its chunks as [`ChunkInfo`]s.

use std::io;

use lesson::bytes;

use crate::Source;

/// One live chunk, as an implementation's registry describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkInfo {
    /// The address of its first byte.
    pub start: usize,
    /// How many bytes are usable, at least the size asked for.
    pub len: usize,
    /// Where the memory came from.
    pub source: Source,
}

impl std::fmt::Display for ChunkInfo {
    /// `the chunk at 0x…, 32 bytes, from sbrk`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the chunk at {:#x}, {}, from {}",
            self.start,
            bytes(self.len as u64),
            self.source.name()
        )
    }
}

/// `the chunk at …`, or `no chunk`.
pub(super) fn found(chunk: Option<ChunkInfo>) -> String {
    chunk.map_or_else(|| "no chunk".to_owned(), |c| c.to_string())
}

/// A `mem_chunk` implementation, as the contract calls it (see `src/parts.rs` for what each
/// part must do).
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    /// Requests of this many bytes or more are mapped; smaller ones come from the break.
    pub mmap_threshold: usize,
    /// At least `size` writable bytes from the OS, recorded in the registry.
    pub mem_chunk: fn(usize) -> io::Result<*mut u8>,
    /// Every live chunk, once each.
    pub list_chunks: fn() -> Vec<ChunkInfo>,
    /// The live chunk holding an address, if any.
    pub find_chunk: fn(usize) -> Option<ChunkInfo>,
    /// Gives a chunk back (optional).
    pub release_chunk: unsafe fn(*mut u8) -> io::Result<()>,
}

/// The sizes the contract asks for, in this order, for an implementation whose mmap threshold
/// is `threshold`: small ones, one byte below the threshold, at it and above it, a large one,
/// and a small one after them. The threshold is the implementation's choice, so the sizes that
/// follow it are printed marked as varying.
pub fn sizes(threshold: usize) -> [usize; 8] {
    let t = threshold.max(1);
    [
        24,
        100,
        4096,
        t - 1,
        t,
        t.saturating_add(t / 2),
        t.saturating_mul(8),
        64,
    ]
}

/// Whether the `i`th of [`sizes`] follows the threshold (and so is printed marked as varying).
pub(super) fn follows_threshold(i: usize) -> bool {
    (3..=6).contains(&i)
}

/// The alignment every chunk must have: enough for any Rust or C type on x86_64 and aarch64
/// (`max_align_t`).
pub const ALIGN: usize = 16;

/// The byte the `chunk`th chunk holds at `offset`: each chunk a pattern of its own, so that
/// an overlap shows.
pub fn pattern(chunk: usize, offset: usize) -> u8 {
    (chunk * 31 + offset % 251) as u8
}
