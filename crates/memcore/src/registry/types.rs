//! The registry's public types: where a chunk came from, an extent's state, extents and
//! chunks, and the tally of both.
//!
//! # Safety
//! Extents and chunks hold `NonNull` starts, so that a chunk's start is never null by type;
//! they only describe memory, and are `Send` and `Sync` by hand.

#![allow(unsafe_code)]

use std::fmt;
use std::ptr::NonNull;

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
            State::Live(source) => Some(Chunk {
                start: self.start,
                len: self.len,
                source,
            }),
            State::Free => None,
        }
    }
}

// SAFETY: an extent only describes memory (where, how long, whose); it owns nothing and is
// never dereferenced through, so sending or sharing it between threads is sharing numbers.
unsafe impl Send for Extent {}
// SAFETY: as for Send.
unsafe impl Sync for Extent {}

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

/// Every extent length is a multiple of this, which frees the low bits of a record for the state.
pub const GRANULE: usize = 16;

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
