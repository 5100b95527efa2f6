//! A leaf: one page of records, laid out for lookups that miss the cache.
//!
//! # Safety
//! A leaf is a page of `usize`s the registry owns; the views here make slices of its fence,
//! starts and words from the page's address, within the page, for as long as the caller keeps
//! the page from changing (`&` or `&mut` of the registry).

#![allow(unsafe_code)]

use std::ptr::NonNull;

use super::record::Record;

/// Bytes of one leaf, and the records it holds.
///
/// A leaf is laid out for lookups that miss the cache: first a *fence* of 8 words (one cache
/// line) holding the start of every 32nd record, then the records' starts, then their words.
/// A lookup reads the fence, then searches one block of 32 starts (4 cache lines, of which a
/// binary search touches 2 or 3); it never reads the words it does not need.
pub(super) const LEAF_BYTES: usize = 4096;
pub(super) const FENCE: usize = 8;
pub(super) const BLOCK: usize = 32;
pub(super) const LEAF_CAP: usize = (LEAF_BYTES / size_of::<usize>() - FENCE) / 2;

/// The index's entry for one leaf (its first start is kept apart, in `firsts`, for the same
/// reason the leaf keeps its starts apart).
#[derive(Clone, Copy)]
pub(super) struct LeafMeta {
    /// The leaf's page: `LEAF_CAP` starts, then `LEAF_CAP` words.
    pub(super) leaf: NonNull<usize>,
    pub(super) len: usize,
    /// The longest free extent in the leaf (0 if none).
    pub(super) max_free: usize,
}

/// A leaf's records, read-only: record j is `(starts[j], words[j])`; `fence[b]` is
/// `starts[b * BLOCK]`.
#[derive(Clone, Copy)]
pub(super) struct Leaf<'a> {
    pub(super) fence: &'a [usize],
    pub(super) starts: &'a [usize],
    pub(super) words: &'a [usize],
}

/// The word offsets of a leaf's starts and words in its page.
pub(super) const STARTS_AT: usize = FENCE;
pub(super) const WORDS_AT: usize = FENCE + LEAF_CAP;

impl<'a> Leaf<'a> {
    /// The first `len` records of the leaf at `page`.
    ///
    /// # Safety
    /// `page` is a leaf of this registry holding at least `len <= LEAF_CAP` initialised records,
    /// and nothing writes to it while the view lives.
    pub(super) unsafe fn of(page: NonNull<usize>, len: usize) -> Leaf<'a> {
        let base = page.as_ptr();
        Leaf {
            // SAFETY: the caller's promise: the page's first FENCE words are its fence, of which
            // the first len.div_ceil(BLOCK) are current...
            fence: unsafe { std::slice::from_raw_parts(base, len.div_ceil(BLOCK)) },
            // SAFETY: ...then come LEAF_CAP starts, the first `len` initialised...
            starts: unsafe { std::slice::from_raw_parts(base.wrapping_add(STARTS_AT), len) },
            // SAFETY: ...then LEAF_CAP words, all inside the page.
            words: unsafe { std::slice::from_raw_parts(base.wrapping_add(WORDS_AT), len) },
        }
    }

    /// The slot of the last record starting at or below `addr`: the fence picks the block,
    /// then a binary search of that block alone.
    pub(super) fn slot_at_or_below(self, addr: usize) -> Option<usize> {
        let block = self.fence.partition_point(|&f| f <= addr).checked_sub(1)?;
        let from = block * BLOCK;
        let to = (from + BLOCK).min(self.len());
        let within = self.starts[from..to].partition_point(|&s| s <= addr);
        Some(from + within - 1)
    }

    pub(super) fn len(self) -> usize {
        self.starts.len()
    }

    pub(super) fn at(self, j: usize) -> Record {
        Record {
            start: self.starts[j],
            word: self.words[j],
        }
    }

    pub(super) fn get(self, j: usize) -> Option<Record> {
        (j < self.len()).then(|| self.at(j))
    }

    pub(super) fn last(self) -> Option<Record> {
        self.len().checked_sub(1).map(|j| self.at(j))
    }

    pub(super) fn iter(self) -> impl Iterator<Item = Record> + 'a {
        self.starts
            .iter()
            .zip(self.words)
            .map(|(&start, &word)| Record { start, word })
    }
}

/// A leaf's records, writable. After changing starts, call `refresh_fence`.
pub(super) struct LeafMut<'a> {
    pub(super) fence: &'a mut [usize],
    pub(super) starts: &'a mut [usize],
    pub(super) words: &'a mut [usize],
}

impl<'a> LeafMut<'a> {
    /// The first `len` slots of the leaf at `page`, initialised or not (every bit pattern is a
    /// valid `usize`, and the pages were zeroed when mapped).
    ///
    /// # Safety
    /// `page` is a leaf of this registry, `len <= LEAF_CAP`, and nothing else reads or writes it
    /// while the view lives.
    pub(super) unsafe fn of(page: NonNull<usize>, len: usize) -> LeafMut<'a> {
        let base = page.as_ptr();
        LeafMut {
            // SAFETY: the caller's promise: the page has its fence of FENCE words...
            fence: unsafe { std::slice::from_raw_parts_mut(base, FENCE) },
            // SAFETY: ...then LEAF_CAP starts...
            starts: unsafe { std::slice::from_raw_parts_mut(base.wrapping_add(STARTS_AT), len) },
            // SAFETY: ...then LEAF_CAP words; the three ranges do not overlap.
            words: unsafe { std::slice::from_raw_parts_mut(base.wrapping_add(WORDS_AT), len) },
        }
    }

    /// Rewrites the fence from the block holding slot `from` on, for a leaf of `len` records.
    pub(super) fn refresh_fence(&mut self, from: usize, len: usize) {
        for block in from / BLOCK..len.div_ceil(BLOCK) {
            self.fence[block] = self.starts[block * BLOCK];
        }
    }

    pub(super) fn set(&mut self, j: usize, r: Record) {
        self.starts[j] = r.start;
        self.words[j] = r.word;
    }

    pub(super) fn copy_within(&mut self, from: std::ops::Range<usize>, to: usize) {
        // An append, or a removal at the end, moves nothing: spare the two calls to memmove.
        if from.is_empty() {
            return;
        }
        self.starts.copy_within(from.clone(), to);
        self.words.copy_within(from, to);
    }

    pub(super) fn copy_from(&mut self, at: usize, src: Leaf<'_>) {
        self.starts[at..at + src.len()].copy_from_slice(src.starts);
        self.words[at..at + src.len()].copy_from_slice(src.words);
    }
}
