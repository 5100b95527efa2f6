//! The mmap path's fast path: the first [`MAPPED_SLOTS`] chunks that are mappings of their own
//! are kept in this small table beside the registry, not in it.
//!
//! Why: a mapped chunk is never split, merged with a neighbour or reused, and a program holds
//! few of them, as they are large. The registry's general machinery (the index, the leaves
//! and their fences, the fit tree) did its full work for one all the same, and that was two
//! thirds of our cost in a pair of `mem_chunk(1 MiB)` and `release_chunk` (callgrind: 620
//! instructions a pair; BENCHMARKS.md, B1). Here a chunk costs one slot: taking it writes the
//! next slot, and releasing it looks at most at [`MAPPED_SLOTS`] starts, all in the lock's own
//! static, so a pair touches no page of the registry's. When the table is full, further
//! mapped chunks go to the registry as before: the table never refuses a chunk.

use memcore::registry::{ChunkRegistry, Extent, Source, State};

/// How many mapped chunks the table holds; 16 slots are 384 bytes.
pub const MAPPED_SLOTS: usize = 16;

/// Live mapped chunks, in no order: the slots below `len` are in use.
#[derive(Debug)]
pub struct MappedChunks {
    len: usize,
    slots: [Extent; MAPPED_SLOTS],
}

impl MappedChunks {
    /// An empty table.
    pub const fn new() -> MappedChunks {
        const UNUSED: Extent = Extent {
            start: std::ptr::NonNull::dangling(),
            len: 0,
            state: State::Free,
        };
        MappedChunks {
            len: 0,
            slots: [UNUSED; MAPPED_SLOTS],
        }
    }

    #[inline]
    fn in_use(&self) -> &[Extent] {
        &self.slots[..self.len]
    }

    /// Records a live mapped chunk; false, changing nothing, when the table is full.
    #[inline]
    pub fn add(&mut self, chunk: Extent) -> bool {
        debug_assert_eq!(chunk.state, State::Live(Source::Mmap));
        let Some(slot) = self.slots.get_mut(self.len) else {
            return false;
        };
        *slot = chunk;
        self.len += 1;
        true
    }

    /// The slot of the chunk that starts at `addr`, and the chunk.
    #[inline]
    pub fn starting_at(&self, addr: usize) -> Option<(usize, Extent)> {
        let slot = self.in_use().iter().position(|e| e.addr() == addr)?;
        Some((slot, self.slots[slot]))
    }

    /// Forgets the chunk in `slot` (from [`Self::starting_at`]): the last one takes its place.
    #[inline]
    pub fn remove(&mut self, slot: usize) {
        self.len -= 1;
        self.slots[slot] = self.slots[self.len];
    }

    /// The chunk that holds `addr`, if the table has it.
    pub fn containing(&self, addr: usize) -> Option<Extent> {
        self.in_use().iter().find(|e| e.contains(addr)).copied()
    }

    /// The chunks in address order, without allocating: a sorted copy, and how many it holds.
    pub fn sorted(&self) -> ([Extent; MAPPED_SLOTS], usize) {
        let mut copy = self.slots;
        copy[..self.len].sort_unstable_by_key(Extent::addr);
        (copy, self.len)
    }

    /// How many chunks the table holds, and their bytes.
    pub fn tally(&self) -> (usize, usize) {
        (self.len, self.in_use().iter().map(|e| e.len).sum())
    }

    /// Checks that each chunk is live, mapped, page aligned and whole pages, and overlaps
    /// no other chunk of the table nor any extent of `registry`; for tests.
    pub fn check_invariants(&self, registry: &ChunkRegistry) -> Result<(), String> {
        let page = memcore::sys::page_size();
        let (sorted, len) = self.sorted();
        let sorted = &sorted[..len];
        for e in sorted {
            if e.state != State::Live(Source::Mmap)
                || !e.addr().is_multiple_of(page)
                || e.len == 0
                || !e.len.is_multiple_of(page)
            {
                return Err(format!("the table holds {e:x?}"));
            }
        }
        let mut overlap = None;
        registry.for_each(|r| {
            if let Some(e) = sorted
                .iter()
                .find(|e| e.addr() < r.end() && r.addr() < e.end())
            {
                overlap.get_or_insert((*e, *r));
            }
        });
        if let Some((e, r)) = overlap {
            return Err(format!("the table's {e:x?} overlaps the registry's {r:x?}"));
        }
        if let Some(w) = sorted.windows(2).find(|w| w[0].end() > w[1].addr()) {
            return Err(format!("the table's {:x?} and {:x?} overlap", w[0], w[1]));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::ptr::NonNull;

    use super::*;

    fn chunk(addr: usize, len: usize) -> Extent {
        Extent {
            start: NonNull::new(addr as *mut u8).unwrap(),
            len,
            state: State::Live(Source::Mmap),
        }
    }

    #[test]
    fn a_full_table_refuses_and_keeps_what_it_has() {
        let mut table = MappedChunks::new();
        for i in 0..MAPPED_SLOTS {
            assert!(table.add(chunk((i + 1) << 20, 4096)));
        }
        assert!(!table.add(chunk(999 << 20, 4096)));
        assert_eq!(table.tally(), (MAPPED_SLOTS, MAPPED_SLOTS * 4096));
        assert!(table.starting_at(999 << 20).is_none());
    }

    #[test]
    fn removing_moves_the_last_chunk_into_the_gap_and_loses_none() {
        let mut table = MappedChunks::new();
        for addr in [3 << 20, 1 << 20, 2 << 20] {
            assert!(table.add(chunk(addr, 8192)));
        }
        let (slot, found) = table.starting_at(3 << 20).unwrap();
        assert_eq!((slot, found), (0, chunk(3 << 20, 8192)));
        table.remove(slot);
        assert_eq!(table.tally(), (2, 2 * 8192));
        assert!(table.starting_at(3 << 20).is_none());
        assert_eq!(table.starting_at(2 << 20).map(|(s, _)| s), Some(0));
        assert_eq!(
            table.containing((1 << 20) + 8191),
            Some(chunk(1 << 20, 8192))
        );
        assert_eq!(table.containing((1 << 20) + 8192), None);
        assert!(table.starting_at((1 << 20) + 16).is_none(), "only starts");
    }

    #[test]
    fn sorted_lists_the_chunks_in_address_order() {
        let mut table = MappedChunks::new();
        for addr in [5, 1, 4, 2] {
            assert!(table.add(chunk(addr << 20, 4096)));
        }
        let (sorted, len) = table.sorted();
        let addrs: Vec<usize> = sorted[..len].iter().map(|e| e.addr() >> 20).collect();
        assert_eq!(addrs, [1, 2, 4, 5]);
    }
}
