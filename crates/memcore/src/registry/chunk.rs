//! A live chunk, as the registry hands it to its callers.
//!
//! # Safety
//! A chunk holds a `NonNull` start, so that its start is never null by type; it only describes
//! memory, and is `Send` and `Sync` by hand.

#![allow(unsafe_code)]

use std::ptr::NonNull;

use super::extent::Source;

/// A live chunk: memory handed out by the chunk layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Chunk {
    start: NonNull<u8>,
    len: usize,
    source: Source,
}

// SAFETY: a chunk only describes memory handed out (where, how long, from where); it owns
// nothing and is never dereferenced through, so sending or sharing it is sharing numbers.
unsafe impl Send for Chunk {}
// SAFETY: as for Send.
unsafe impl Sync for Chunk {}

impl Chunk {
    /// The live chunk of `len` bytes at `start`, from `source`.
    pub(super) fn new(start: NonNull<u8>, len: usize, source: Source) -> Chunk {
        Chunk { start, len, source }
    }

    /// The first usable byte (16-byte aligned; page aligned for mmap chunks).
    pub fn start(&self) -> NonNull<u8> {
        self.start
    }

    /// The number of usable bytes: at least what was asked for.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a chunk has at least one byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where its memory came from.
    pub fn source(&self) -> Source {
        self.source
    }

    /// First address past it.
    pub fn end(&self) -> usize {
        self.start.as_ptr() as usize + self.len
    }

    /// Whether `addr` lies inside it.
    pub fn contains(&self, addr: *const u8) -> bool {
        let (addr, start) = (addr as usize, self.start.as_ptr() as usize);
        start <= addr && addr - start < self.len
    }
}
