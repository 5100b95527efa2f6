//! One extent packed into 16 bytes: its start, and its length with the state in the low bits
//! (every length is a multiple of [`GRANULE`], which leaves them free).
//!
//! # Safety
//! A record's start is the address of an [`Extent`]'s `NonNull` start, exposed when packed;
//! unpacking makes it a pointer again, with that provenance, and never null: every record in a
//! leaf was packed from an extent.

#![allow(unsafe_code)]

use std::ptr::NonNull;

use super::extent::{Extent, GRANULE, Source, State};

pub(super) const TAG_MASK: usize = GRANULE - 1;
pub(super) const TAG_FREE: usize = 0;
pub(super) const TAG_SBRK: usize = 1;
pub(super) const TAG_MMAP: usize = 2;

/// One extent, packed: `word` is the length with the state in its low bits.
#[derive(Clone, Copy)]
#[repr(C)]
pub(super) struct Record {
    pub(super) start: usize,
    pub(super) word: usize,
}

impl Record {
    pub(super) fn pack(e: Extent) -> Record {
        let tag = match e.state {
            State::Free => TAG_FREE,
            State::Live(Source::Sbrk) => TAG_SBRK,
            State::Live(Source::Mmap) => TAG_MMAP,
        };
        Record {
            start: e.start.as_ptr().expose_provenance(),
            word: e.len | tag,
        }
    }

    pub(super) fn len(self) -> usize {
        self.word & !TAG_MASK
    }

    pub(super) fn tag(self) -> usize {
        self.word & TAG_MASK
    }

    pub(super) fn is_free(self) -> bool {
        self.tag() == TAG_FREE
    }

    pub(super) fn unpack(self) -> Extent {
        let start = std::ptr::with_exposed_provenance_mut::<u8>(self.start);
        Extent {
            // SAFETY: the start was packed from an extent's NonNull start (see the module).
            start: unsafe { NonNull::new_unchecked(start) },
            len: self.len(),
            state: match self.tag() {
                TAG_FREE => State::Free,
                TAG_SBRK => State::Live(Source::Sbrk),
                _ => State::Live(Source::Mmap),
            },
        }
    }
}
