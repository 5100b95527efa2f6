//! The index: every extent in address order, found by a binary search of the leaves' first
//! starts and then of one leaf.
//!
//! # Safety
//! The registry's pages are raw memory it owns, not Rust values with lifetimes: `Send` is
//! asserted for it by hand, and the leaf views are made here under the borrow of `self` that
//! keeps them valid.

#![allow(unsafe_code)]

use std::fmt;

use super::extent::{Extent, GRANULE, State};
use super::fit_tree::FitTree;
use super::leaf::{LEAF_CAP, Leaf, LeafMeta, LeafMut};
use super::leaf_pool::LeafPool;
use super::mapped_vec::MappedVec;
use super::record::Record;
use super::tally::Tally;
use crate::error::Error;

/// Every extent the chunk layer holds, in address order. See the module docs.
pub struct ChunkRegistry {
    /// Each leaf's first start, in order: what a search reads.
    pub(super) firsts: MappedVec<usize>,
    /// Each leaf's page, length and longest free extent, in the same order.
    pub(super) metas: MappedVec<LeafMeta>,
    pub(super) fit: FitTree,
    pub(super) leaves: LeafPool,
    pub(super) tally: Tally,
    /// The slot of the last insert, (leaf, position): the next insert often goes right after
    /// it (chunks carved upward from the break), and then needs no search.
    pub(super) insert_hint: (usize, usize),
    /// The slot of the last exact lookup: releasing a chunk looks up it and its neighbours
    /// several times in a row, and under contention each search's cache misses are dear.
    pub(super) lookup_hint: std::cell::Cell<(usize, usize)>,
}

// SAFETY: the registry owns its mappings outright (no other value points into them), so moving
// it to another thread moves sole ownership; it has no thread-local state.
unsafe impl Send for ChunkRegistry {}

impl Default for ChunkRegistry {
    fn default() -> Self {
        ChunkRegistry::new()
    }
}

impl fmt::Debug for ChunkRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkRegistry")
            .field("leaves", &self.metas.len)
            .field("tally", &self.tally)
            .finish()
    }
}

impl ChunkRegistry {
    /// An empty registry; maps nothing until the first insert.
    pub const fn new() -> ChunkRegistry {
        ChunkRegistry {
            firsts: MappedVec::new(),
            metas: MappedVec::new(),
            fit: FitTree::new(),
            leaves: LeafPool::new(),
            tally: Tally {
                sbrk_count: 0,
                sbrk_bytes: 0,
                mmap_count: 0,
                mmap_bytes: 0,
                free_count: 0,
                free_bytes: 0,
            },
            insert_hint: (0, 0),
            lookup_hint: std::cell::Cell::new((0, 0)),
        }
    }

    /// Counts and bytes of live and free extents.
    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// The number of extents recorded, live and free.
    pub fn len(&self) -> usize {
        self.metas.as_slice().iter().map(|m| m.len).sum()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the registry has mapped for its own records (leaves, the index, the fit tree).
    pub fn metadata_bytes(&self) -> usize {
        self.leaves.mapped_bytes()
            + self.firsts.mapped_bytes()
            + self.metas.mapped_bytes()
            + self.fit.nodes.mapped_bytes()
    }

    /// `mmap` calls made for the registry's own memory so far: one per batch of leaves and one
    /// per growth of a table. It unmaps nothing until dropped.
    pub fn metadata_mmaps(&self) -> usize {
        self.leaves.mmaps() + self.firsts.maps + self.metas.maps + self.fit.nodes.maps
    }

    pub(super) fn leaf(&self, i: usize) -> Leaf<'_> {
        let m = self.metas.as_slice()[i];
        // SAFETY: every leaf in the index holds `len` initialised records; `&self` keeps them
        // from changing while the view lives.
        unsafe { Leaf::of(m.leaf, m.len) }
    }

    /// Leaf `i`'s records and `extra` slots of room after them.
    pub(super) fn leaf_mut(&mut self, i: usize, extra: usize) -> LeafMut<'_> {
        let m = self.metas.as_slice()[i];
        debug_assert!(m.len + extra <= LEAF_CAP);
        // SAFETY: the leaf is ours, `len + extra <= LEAF_CAP`, and `&mut self` makes this the
        // only access.
        unsafe { LeafMut::of(m.leaf, m.len + extra) }
    }

    pub(super) fn recompute_max_free(&mut self, i: usize) {
        let max = self
            .leaf(i)
            .iter()
            .filter(|r| r.is_free())
            .map(|r| r.len())
            .max()
            .unwrap_or(0);
        self.set_max_free(i, max);
    }

    pub(super) fn set_max_free(&mut self, i: usize, max: usize) {
        self.metas.as_mut_slice()[i].max_free = max;
        self.fit.set(i, max);
    }

    /// Makes room for one more leaf in the index; on failure nothing changes.
    pub(super) fn reserve_leaf(&mut self) -> Result<(), Error> {
        self.firsts.reserve_one()?;
        self.metas.reserve_one()
    }

    /// Inserts an index entry (room reserved), keeping the fit tree current when appended.
    pub(super) fn insert_leaf(&mut self, at: usize, first: usize, meta: LeafMeta) {
        self.firsts.insert(at, first);
        self.metas.insert(at, meta);
        if at + 1 == self.metas.len {
            self.fit.set(at, meta.max_free);
        } else {
            self.fit.stale = true;
        }
    }

    /// Removes an index entry, keeping the fit tree current when it was the last.
    pub(super) fn remove_leaf(&mut self, at: usize) -> LeafMeta {
        self.firsts.remove(at);
        let meta = self.metas.remove(at);
        if at == self.metas.len {
            self.fit.set(at, 0);
        } else {
            self.fit.stale = true;
        }
        meta
    }

    /// The leaf that holds, or would hold, `addr`: the last whose first start is `<= addr`.
    pub(super) fn leaf_for(&self, addr: usize) -> Option<usize> {
        self.firsts
            .as_slice()
            .partition_point(|&first| first <= addr)
            .checked_sub(1)
    }

    /// The position (leaf, slot) of the last record starting at or below `addr`.
    pub(super) fn locate(&self, addr: usize) -> Option<(usize, usize)> {
        let i = self.leaf_for(addr)?;
        Some((i, self.leaf(i).slot_at_or_below(addr)?))
    }

    pub(super) fn at(&self, (i, j): (usize, usize)) -> Extent {
        self.leaf(i).at(j).unpack()
    }

    /// The position of the record that starts exactly at `start`.
    pub(super) fn position(&self, start: usize) -> Option<(usize, usize)> {
        // The last slot found, or its neighbours in the same leaf, checked by key: a stale
        // hint is only a missed shortcut.
        let (i, j) = self.lookup_hint.get();
        if i < self.metas.len {
            let starts = self.leaf(i).starts;
            for j in [j, j.wrapping_sub(1), j + 1] {
                if starts.get(j) == Some(&start) {
                    self.lookup_hint.set((i, j));
                    return Some((i, j));
                }
            }
        }
        let found = self
            .locate(start)
            .filter(|&(i, j)| self.leaf(i).starts[j] == start)?;
        self.lookup_hint.set(found);
        Some(found)
    }

    /// The extent that starts exactly at `start`.
    pub fn get(&self, start: usize) -> Option<Extent> {
        self.position(start).map(|p| self.at(p))
    }

    /// The extent that holds `addr` (any byte inside it), live or free.
    pub fn containing(&self, addr: usize) -> Option<Extent> {
        self.locate(addr)
            .map(|p| self.at(p))
            .filter(|e| e.contains(addr))
    }

    /// The extent just below the one starting at `start` (which must exist).
    pub fn before(&self, start: usize) -> Option<Extent> {
        let (i, j) = self.position(start)?;
        match (i, j) {
            (0, 0) => None,
            (i, 0) => self.leaf(i - 1).last().map(Record::unpack),
            (i, j) => Some(self.leaf(i).at(j - 1).unpack()),
        }
    }

    /// The extent just above the one starting at `start` (which must exist).
    pub fn after(&self, start: usize) -> Option<Extent> {
        let (i, j) = self.position(start)?;
        match self.leaf(i).get(j + 1) {
            Some(r) => Some(r.unpack()),
            None if i + 1 < self.metas.len => Some(self.leaf(i + 1).at(0).unpack()),
            None => None,
        }
    }

    /// The lowest free extent of at least `len` bytes (first fit), in O(log n).
    pub fn first_free_fit(&mut self, len: usize) -> Option<Extent> {
        if self.tally.free_bytes < len {
            return None;
        }
        if self.fit.stale {
            // Should the tree's page not be mapped, scanning the index gives the same answer.
            let _ = self.fit.rebuild(self.metas.as_slice());
        }
        let i = if self.fit.stale {
            self.metas
                .as_slice()
                .iter()
                .position(|m| m.max_free >= len)?
        } else {
            self.fit.first_at_least(len)?
        };
        self.leaf(i)
            .iter()
            .find(|r| r.is_free() && r.len() >= len)
            .map(Record::unpack)
    }

    /// Calls `f` with every extent, in address order, without allocating.
    pub fn for_each(&self, mut f: impl FnMut(&Extent)) {
        for i in 0..self.metas.len {
            for r in self.leaf(i).iter() {
                f(&r.unpack());
            }
        }
    }

    /// Records a new extent. It must not overlap any recorded one, and its length must be a
    /// non-zero multiple of [`GRANULE`].
    ///
    /// # Errors
    /// [`Error::Os`] if a page for the records cannot be mapped; nothing is changed then.
    pub fn insert(&mut self, e: Extent) -> Result<(), Error> {
        debug_assert!(
            e.len > 0 && e.len.is_multiple_of(GRANULE) && e.addr().is_multiple_of(GRANULE)
        );
        debug_assert!(
            self.containing(e.addr()).is_none() && self.containing(e.end() - 1).is_none()
        );
        let record = Record::pack(e);
        let free_len = if record.is_free() { e.len } else { 0 };
        if self.metas.len == 0 {
            self.reserve_leaf()?;
            let leaf = self.leaves.take()?;
            let meta = LeafMeta {
                leaf,
                len: 0,
                max_free: 0,
            };
            self.insert_leaf(0, e.addr(), meta);
        }
        let (mut i, mut j) = match self.after_insert_hint(e.addr()) {
            Some(slot) => slot,
            None => {
                let i = self.leaf_for(e.addr()).unwrap_or(0);
                (i, self.leaf(i).starts.partition_point(|&s| s < e.addr()))
            }
        };
        if self.metas.as_slice()[i].len == LEAF_CAP {
            // Both fallible steps come first, so a failure changes nothing.
            self.reserve_leaf()?;
            let fresh = self.leaves.take()?;
            let appending = i + 1 == self.metas.len && j == LEAF_CAP;
            let moved = if appending { 0 } else { LEAF_CAP / 2 };
            if moved > 0 {
                // SAFETY: the fresh leaf is ours and referred to by nothing else yet.
                let mut to = unsafe { LeafMut::of(fresh, moved) };
                let from = self.leaf(i);
                to.starts.copy_from_slice(&from.starts[LEAF_CAP - moved..]);
                to.words.copy_from_slice(&from.words[LEAF_CAP - moved..]);
                to.refresh_fence(0, moved);
            }
            let first = if moved > 0 {
                self.leaf(i).starts[LEAF_CAP - moved]
            } else {
                e.addr()
            };
            self.metas.as_mut_slice()[i].len = LEAF_CAP - moved;
            let meta = LeafMeta {
                leaf: fresh,
                len: moved,
                max_free: 0,
            };
            self.insert_leaf(i + 1, first, meta);
            if moved > 0 {
                self.recompute_max_free(i);
                self.recompute_max_free(i + 1);
            }
            if j >= LEAF_CAP - moved {
                j -= LEAF_CAP - moved;
                i += 1;
            }
        }
        let len = self.metas.as_slice()[i].len;
        let mut records = self.leaf_mut(i, 1);
        records.copy_within(j..len, j + 1);
        records.set(j, record);
        records.refresh_fence(j, len + 1);
        self.metas.as_mut_slice()[i].len += 1;
        if j == 0 {
            self.firsts.as_mut_slice()[i] = e.addr();
        }
        if free_len > self.metas.as_slice()[i].max_free {
            self.set_max_free(i, free_len);
        }
        self.tally.add(e, 1);
        self.insert_hint = (i, j);
        Ok(())
    }

    /// The slot right after the last insert, if a record starting at `start` belongs there:
    /// above the hinted record and below the one after it. The keys are checked, so a hint
    /// left stale by other changes is only a missed shortcut.
    pub(super) fn after_insert_hint(&self, start: usize) -> Option<(usize, usize)> {
        let (i, j) = self.insert_hint;
        if i >= self.metas.len {
            return None;
        }
        let leaf = self.leaf(i);
        if *leaf.starts.get(j)? >= start {
            return None;
        }
        let next = match leaf.starts.get(j + 1) {
            Some(&s) => s,
            None => self
                .firsts
                .as_slice()
                .get(i + 1)
                .copied()
                .unwrap_or(usize::MAX),
        };
        (start < next).then_some((i, j + 1))
    }

    /// Removes and returns the extent that starts exactly at `start`.
    pub fn remove(&mut self, start: usize) -> Option<Extent> {
        let (i, j) = self.position(start)?;
        let len = self.metas.as_slice()[i].len;
        let removed = self.leaf(i).at(j);
        let mut records = self.leaf_mut(i, 0);
        records.copy_within(j + 1..len, j);
        records.refresh_fence(j, len - 1);
        self.metas.as_mut_slice()[i].len -= 1;
        self.tally.add(removed.unpack(), -1);
        // An emptied leaf goes back to the pool, unless it is the only one: a program that holds
        // one chunk at a time (one mapping, say) would give it back and take it again each time.
        if len == 1 && self.metas.len > 1 {
            let meta = self.remove_leaf(i);
            self.leaves.give(meta.leaf);
            return Some(removed.unpack());
        }
        if j == 0 && len > 1 {
            let first = self.leaf(i).starts[0];
            self.firsts.as_mut_slice()[i] = first;
        }
        if removed.is_free() && removed.len() == self.metas.as_slice()[i].max_free {
            self.recompute_max_free(i);
        }
        self.merge_if_sparse(i);
        Some(removed.unpack())
    }

    /// Replaces the extent starting at `start` with `new`, which must start at the same
    /// address and not reach the next extent. Returns the old extent, or `None` (and changes
    /// nothing) if no extent starts at `start`.
    pub fn replace(&mut self, start: usize, new: Extent) -> Option<Extent> {
        debug_assert!(new.addr() == start && new.len > 0 && new.len.is_multiple_of(GRANULE));
        debug_assert!(self.after(start).is_none_or(|n| new.end() <= n.addr()));
        let (i, j) = self.position(start)?;
        let old = self.leaf(i).at(j);
        self.leaf_mut(i, 0).set(j, Record::pack(new));
        self.tally.add(old.unpack(), -1);
        self.tally.add(new, 1);
        let max_free = self.metas.as_slice()[i].max_free;
        let new_free = if new.state == State::Free { new.len } else { 0 };
        if old.is_free() && old.len() == max_free && new_free < old.len() {
            self.recompute_max_free(i);
        } else if new_free > max_free {
            self.set_max_free(i, new_free);
        }
        Some(old.unpack())
    }

    /// Merges leaf `i` with a neighbour when both are sparse, so that churn cannot leave the
    /// registry with many nearly empty leaves.
    pub(super) fn merge_if_sparse(&mut self, i: usize) {
        let metas = self.metas.as_slice();
        let this = metas[i].len;
        if this >= LEAF_CAP / 4 {
            return;
        }
        let fits = |other: &LeafMeta| other.len + this <= LEAF_CAP * 3 / 4;
        let (into, from) = if i > 0 && fits(&metas[i - 1]) {
            (i - 1, i)
        } else if metas.get(i + 1).is_some_and(fits) {
            (i, i + 1)
        } else {
            return;
        };
        let (into_len, src) = (metas[into].len, metas[from]);
        // SAFETY: leaf `from` holds `len` records and is a different page from leaf `into`,
        // the only one written below.
        let src = unsafe { Leaf::of(src.leaf, src.len) };
        // `from`'s records go after `into`'s; the total fits in a leaf (checked above).
        let mut records = self.leaf_mut(into, src.len());
        records.copy_from(into_len, src);
        records.refresh_fence(into_len, into_len + src.len());
        self.metas.as_mut_slice()[into].len += src.len();
        let gone = self.remove_leaf(from);
        self.leaves.give(gone.leaf);
        self.recompute_max_free(into);
    }
}
