//! An extent of memory the registry holds, where its memory came from, and whether it is a live
//! chunk or free.
//!
//! # Safety
//! An extent holds a `NonNull` start, so that a chunk's start is never null by type; it only
//! describes memory, and is `Send` and `Sync` by hand.

#![allow(unsafe_code)]

use std::fmt;
use std::ptr::NonNull;

use super::chunk::Chunk;

/// Where a chunk's memory came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Carved from memory got by moving the program break (`sbrk`).
    Sbrk,
    /// A mapping of its own (`mmap`).
    Mmap,
}

impl Source {
    /// `"sbrk"` or `"mmap"`.
    pub fn name(self) -> &'static str {
        match self {
            Source::Sbrk => "sbrk",
            Source::Mmap => "mmap",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether an extent is handed out, and from where, or free for reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Held from the OS but not handed out; reusable.
    Free,
    /// Handed out as a chunk.
    Live(Source),
}

/// A range of memory the registry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Extent {
    /// First byte.
    pub start: NonNull<u8>,
    /// Length in bytes, a multiple of [`GRANULE`].
    pub len: usize,
    /// Live or free.
    pub state: State,
}

impl Extent {
    /// Its first address, the registry's key.
    pub fn addr(&self) -> usize {
        self.start.as_ptr() as usize
    }

    /// First address past it.
    pub fn end(&self) -> usize {
        self.addr() + self.len
    }

    /// Whether `addr` lies inside it.
    pub fn contains(&self, addr: usize) -> bool {
        self.addr() <= addr && addr - self.addr() < self.len
    }

    /// The byte `offset` bytes into it (or past its end), with its provenance.
    pub fn at(&self, offset: usize) -> NonNull<u8> {
        self.start.map_addr(|a| a.saturating_add(offset))
    }

    /// It as a [`Chunk`], if it is live.
    pub fn chunk(&self) -> Option<Chunk> {
        match self.state {
            State::Live(source) => Some(Chunk::new(self.start, self.len, source)),
            State::Free => None,
        }
    }
}

// SAFETY: an extent only describes memory (where, how long, whose); it owns nothing and is
// never dereferenced through, so sending or sharing it between threads is sharing numbers.
unsafe impl Send for Extent {}
// SAFETY: as for Send.
unsafe impl Sync for Extent {}

/// Every extent length is a multiple of this, which frees the low bits of a record for the state.
pub const GRANULE: usize = 16;
