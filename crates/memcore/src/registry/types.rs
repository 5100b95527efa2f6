//! The registry's public types: where a chunk came from, an extent's state, extents and
//! chunks, and the tally of both.

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
    /// First address.
    pub start: usize,
    /// Length in bytes, a multiple of [`GRANULE`].
    pub len: usize,
    /// Live or free.
    pub state: State,
}

impl Extent {
    /// First address past it.
    pub fn end(&self) -> usize {
        self.start + self.len
    }

    /// Whether `addr` lies inside it.
    pub fn contains(&self, addr: usize) -> bool {
        self.start <= addr && addr - self.start < self.len
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

/// A live chunk: memory handed out by the chunk layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Chunk {
    start: usize,
    len: usize,
    source: Source,
}

impl Chunk {
    /// The first usable byte (16-byte aligned; page aligned for mmap chunks).
    pub fn start(&self) -> NonNull<u8> {
        // A chunk never starts at address 0: the kernel never maps page zero for us.
        NonNull::new(self.start as *mut u8).unwrap_or(NonNull::dangling())
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
        self.start + self.len
    }

    /// Whether `addr` lies inside it.
    pub fn contains(&self, addr: *const u8) -> bool {
        let addr = addr as usize;
        self.start <= addr && addr - self.start < self.len
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
