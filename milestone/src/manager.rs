//! The policy behind `mem_chunk`: where each chunk's memory comes from, how released memory is
//! reused, and when it goes back to the OS. The records themselves live in memcore's
//! [`ChunkRegistry`]; the system calls are memcore's wrappers.
//!
//! # Safety
//! Giving memory back is unsafe: `munmap` and shrinking the break take memory away. The
//! manager does it only for chunks the registry records as its own, once their owner has
//! released them, each call with its argument in a `// SAFETY:` comment.

#![allow(unsafe_code)]

use std::ptr::NonNull;

use memcore::registry::{Chunk, ChunkRegistry, Extent, GRANULE, Source, State};
use memcore::{BreakError, Error, sys};

use crate::ChunkError;
use crate::mapped::MappedChunks;
use crate::policy::{BREAK_STEP, Policy, TRIM_THRESHOLD};
use crate::stats::ChunkStats;

/// The stretch of the break we grew last: `[base, end)` is ours; chunks are carved upward
/// from `start` (`base` aligned), and `[top, end)` is not handed out yet.
#[derive(Debug, Clone, Copy)]
struct BreakSpan {
    /// `base` as `sbrk` returned it: the pointer every chunk of the span is made from.
    origin: NonNull<u8>,
    base: usize,
    start: usize,
    top: usize,
    end: usize,
}

/// All the chunk layer's state: one registry (and the table of mapped chunks beside it), one
/// policy, the current break span and the counters. The `milestone` functions keep one of these behind one lock.
#[derive(Debug)]
pub struct ChunkManager {
    policy: Policy,
    registry: ChunkRegistry,
    /// The first few mapped chunks, kept out of the registry: see `mapped.rs`.
    mapped: MappedChunks,
    span: Option<BreakSpan>,
    held_break: usize,
    brk_calls: usize,
    mmap_calls: usize,
    munmap_calls: usize,
    foreign_break_moves: usize,
    sbrk_fallbacks: usize,
}

// SAFETY: a span is the description of break memory this manager owns; it is used only by
// its manager, under the manager's `&mut self`, wherever the manager is.
unsafe impl Send for BreakSpan {}

impl BreakSpan {
    /// The byte at `addr`, inside the span, as a pointer with the span's provenance.
    fn at(&self, addr: usize) -> NonNull<u8> {
        self.origin
            .map_addr(|origin| origin.saturating_add(addr - origin.get()))
    }
}

fn align_up(value: usize, align: usize) -> Option<usize> {
    value.checked_add(align - 1).map(|v| v & !(align - 1))
}

/// How a request for break memory ended.
enum Carve {
    Done(NonNull<u8>),
    /// The break could not grow; the caller may map instead.
    BreakRefused,
}

impl ChunkManager {
    /// A manager with nothing allocated.
    pub const fn new(policy: Policy) -> ChunkManager {
        ChunkManager {
            policy,
            registry: ChunkRegistry::new(),
            mapped: MappedChunks::new(),
            span: None,
            held_break: 0,
            brk_calls: 0,
            mmap_calls: 0,
            munmap_calls: 0,
            foreign_break_moves: 0,
            sbrk_fallbacks: 0,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Changes the policy for later requests; live chunks keep their source.
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    /// See `milestone::mem_chunk`.
    // Inlined, as `release` is, through `mem_chunk` into its caller: each frame that spans
    // the system call returns into a cold return predictor (BENCHMARKS.md, B1).
    #[inline(always)]
    pub fn chunk(&mut self, size: usize) -> Result<NonNull<u8>, ChunkError> {
        if size == 0 {
            return Err(ChunkError::ZeroSize);
        }
        // Both roundings must fit in isize, checked before any system call.
        let too_large = ChunkError::TooLarge { requested: size };
        let mapped_len = sys::round_up_to_page(size).ok_or(too_large)?;
        if self.policy.uses_break() && size < self.policy.mmap_threshold() {
            let len = align_up(size, GRANULE).ok_or(too_large)?;
            match self.carve(len)? {
                Carve::Done(start) => return Ok(start),
                Carve::BreakRefused => self.sbrk_fallbacks += 1,
            }
        }
        self.mmap_calls += 1;
        let start = sys::mmap_anonymous(mapped_len)?;
        let chunk = Extent {
            start,
            len: mapped_len,
            state: State::Live(Source::Mmap),
        };
        if self.mapped.add(chunk) {
            return Ok(start);
        }
        if let Err(error) = self.registry.insert(chunk) {
            // SAFETY: we mapped it just above and handed it to no one.
            let _ = unsafe { sys::munmap(start, mapped_len) };
            self.munmap_calls += 1;
            return Err(error.into());
        }
        Ok(start)
    }

    /// Finds break memory for `len` bytes (a multiple of GRANULE): a released extent first,
    /// then the unused top of the span, then a larger break.
    fn carve(&mut self, len: usize) -> Result<Carve, ChunkError> {
        if let Some(free) = self.registry.first_free_fit(len) {
            let live = Extent {
                start: free.start,
                len,
                state: State::Live(Source::Sbrk),
            };
            if free.len > len {
                let rest = Extent {
                    start: free.at(len),
                    len: free.len - len,
                    state: State::Free,
                };
                self.registry.replace(free.addr(), live);
                if let Err(error) = self.registry.insert(rest) {
                    self.registry.replace(free.addr(), free);
                    return Err(error.into());
                }
            } else {
                self.registry.replace(free.addr(), live);
            }
            return Ok(Carve::Done(free.start));
        }
        let fits = |s: &BreakSpan| s.end - s.top >= len;
        if !self.span.as_ref().is_some_and(fits) && !self.grow(len) {
            return Ok(Carve::BreakRefused);
        }
        let Some(span) = self.span.as_mut() else {
            return Ok(Carve::BreakRefused);
        };
        let start = span.at(span.top);
        self.registry.insert(Extent {
            start,
            len,
            state: State::Live(Source::Sbrk),
        })?;
        span.top += len;
        Ok(Carve::Done(start))
    }

    /// Grows the break so that the span's unused top holds `len` bytes, starting a new
    /// span if someone else moved the break. Returns false if the break cannot grow.
    fn grow(&mut self, len: usize) -> bool {
        let page = sys::page_size();
        if let Some(span) = self.span {
            let need = len - (span.end - span.top);
            let Some(step) = align_up(need, page).map(|s| s.max(BREAK_STEP)) else {
                return false;
            };
            match sys::sbrk_from(span.end as *mut u8, step) {
                Ok(_) => {
                    self.brk_calls += 1;
                    self.held_break += step;
                    if let Some(s) = self.span.as_mut() {
                        s.end += step;
                    }
                    return true;
                }
                Err(BreakError::Moved { found, .. }) => self.retire_span(found),
                Err(_) => {
                    self.brk_calls += 1;
                    return false;
                }
            }
        }
        // A new span wherever the break is now; GRANULE more leaves room to align.
        let Some(step) = len
            .checked_add(GRANULE)
            .and_then(|l| align_up(l, page))
            .map(|s| s.max(BREAK_STEP))
        else {
            return false;
        };
        self.brk_calls += 1;
        let Some(origin) = sys::sbrk(step).ok().and_then(NonNull::new) else {
            return false;
        };
        let base = origin.as_ptr() as usize;
        let start = base.next_multiple_of(GRANULE);
        self.held_break += step;
        self.span = Some(BreakSpan {
            origin,
            base,
            start,
            top: start,
            end: base + step,
        });
        true
    }

    /// Someone else moved the break away from the end of our span: keep its unused top as
    /// free memory (if the break went up; if it went down, that memory is gone) and start over.
    fn retire_span(&mut self, found: usize) {
        self.foreign_break_moves += 1;
        let Some(span) = self.span.take() else {
            return;
        };
        let unused = (span.end - span.top) & !(GRANULE - 1);
        if found > span.end && unused > 0 {
            // If the registry cannot map a page for this record, the memory stays held but
            // unused: a leak of less than one step, never a double hand-out.
            let _ = self.add_free(span.at(span.top), unused);
        }
    }

    /// Records `[start, start + len)` as free, merged with free neighbours that touch it.
    /// Returns the merged extent.
    fn add_free(&mut self, start: NonNull<u8>, len: usize) -> Result<Extent, ChunkError> {
        let free = Extent {
            start,
            len,
            state: State::Free,
        };
        self.registry.insert(free)?;
        Ok(self.merge_with_free_neighbours(free))
    }

    /// Merges the free extent `free`, already recorded, with the free extents that touch it
    /// on either side; returns the merged extent. Merging only removes and widens records, so
    /// it cannot fail.
    fn merge_with_free_neighbours(&mut self, free: Extent) -> Extent {
        let mut merged = free;
        if let Some(b) = self.registry.before(free.addr())
            && b.state == State::Free
            && b.end() == free.addr()
        {
            self.registry.remove(free.addr());
            merged = Extent {
                start: b.start,
                len: b.len + free.len,
                state: State::Free,
            };
            self.registry.replace(b.addr(), merged);
        }
        if let Some(a) = self.registry.after(merged.addr())
            && a.state == State::Free
            && a.addr() == merged.end()
        {
            self.registry.remove(a.addr());
            merged.len += a.len;
            self.registry.replace(merged.addr(), merged);
        }
        merged
    }

    /// See `milestone::release_chunk`.
    #[inline(always)] // as `chunk`
    pub fn release(&mut self, ptr: NonNull<u8>) -> Result<(), ChunkError> {
        let addr = ptr.as_ptr() as usize;
        if let Some((slot, chunk)) = self.mapped.starting_at(addr) {
            self.munmap_calls += 1;
            // SAFETY: the table holds only live mmap chunks, each of its exact length, and the
            // caller gives this one back, promising not to use it again.
            unsafe { sys::munmap(ptr, chunk.len) }?;
            self.mapped.remove(slot);
            return Ok(());
        }
        let chunk = self
            .registry
            .get(addr)
            .and_then(|e| e.chunk())
            .ok_or(ChunkError::NotAChunk { addr })?;
        match chunk.source() {
            Source::Mmap => {
                self.munmap_calls += 1;
                // SAFETY: the registry says this is a live mmap chunk of exactly this length,
                // and the caller gives it back, promising not to use it again.
                unsafe { sys::munmap(ptr, chunk.len()) }?;
                self.registry.remove(addr);
            }
            Source::Sbrk => self.release_break_memory(ptr, chunk.len()),
        }
        Ok(())
    }

    fn release_break_memory(&mut self, start: NonNull<u8>, len: usize) {
        // Turning a live extent into a free one needs no new record, so this cannot fail.
        let freed = Extent {
            start,
            len,
            state: State::Free,
        };
        self.registry.replace(freed.addr(), freed);
        let merged = self.merge_with_free_neighbours(freed);
        // Free memory at the top of the span goes back to its unused top.
        if let Some(span) = self.span.as_mut()
            && merged.end() == span.top
            && merged.addr() >= span.start
        {
            self.registry.remove(merged.addr());
            span.top = merged.addr();
            self.trim();
        }
    }

    /// Gives unused memory at the top of the break back to the OS, if the break is still where
    /// we left it: all of the span when nothing in it is live, otherwise what exceeds
    /// [`TRIM_THRESHOLD`], keeping [`BREAK_STEP`].
    fn trim(&mut self) {
        let Some(span) = self.span else {
            return;
        };
        let (new_end, drop_span) = if span.top == span.start {
            (span.base, true)
        } else if span.end - span.top > TRIM_THRESHOLD {
            (span.top + BREAK_STEP, false)
        } else {
            return;
        };
        let decrement = span.end - new_end;
        // SAFETY: [new_end, end) is the unused top of our own span (new_end >= top), and
        // sbrk_shrink refuses unless the break is still at our end, so nobody else's memory
        // lies in it.
        let shrunk = unsafe { sys::sbrk_shrink(span.end as *mut u8, decrement) };
        if matches!(shrunk, Err(BreakError::Moved { .. })) {
            return; // someone else's memory now lies above ours; keep what we have
        }
        self.brk_calls += 1;
        if shrunk.is_ok() {
            self.held_break -= decrement;
            self.span = if drop_span {
                None
            } else {
                Some(BreakSpan {
                    end: new_end,
                    ..span
                })
            };
        }
    }

    /// See `milestone::find_chunk`.
    pub fn find(&self, addr: *const u8) -> Option<Chunk> {
        let addr = addr as usize;
        self.registry
            .containing(addr)
            .or_else(|| self.mapped.containing(addr))
            .and_then(|e| e.chunk())
    }

    /// See `milestone::for_each_chunk`: the registry's chunks and the table's, merged in
    /// address order.
    pub fn for_each(&self, mut f: impl FnMut(&Chunk)) {
        let (mapped, len) = self.mapped.sorted();
        let mut mapped = mapped[..len].iter().peekable();
        let mut emit = |e: &Extent| {
            if let Some(chunk) = e.chunk() {
                f(&chunk);
            }
        };
        self.registry.for_each(|e| {
            while let Some(m) = mapped.next_if(|m| m.addr() < e.addr()) {
                emit(m);
            }
            emit(e);
        });
        mapped.for_each(emit);
    }

    /// See `milestone::chunk_stats`.
    pub fn stats(&self) -> ChunkStats {
        let mut t = self.registry.tally();
        let (mapped_count, mapped_bytes) = self.mapped.tally();
        t.mmap_count += mapped_count;
        t.mmap_bytes += mapped_bytes;
        let unused_top = self.span.map_or(0, |s| s.end - s.top);
        ChunkStats {
            count: t.sbrk_count + t.mmap_count,
            bytes: t.sbrk_bytes + t.mmap_bytes,
            sbrk_count: t.sbrk_count,
            sbrk_bytes: t.sbrk_bytes,
            mmap_count: t.mmap_count,
            mmap_bytes: t.mmap_bytes,
            free_bytes: t.free_bytes + unused_top,
            held_bytes: self.held_break + t.mmap_bytes,
            registry_bytes: self.registry.metadata_bytes(),
            registry_mmap_calls: self.registry.metadata_mmaps(),
            brk_calls: self.brk_calls,
            mmap_calls: self.mmap_calls,
            munmap_calls: self.munmap_calls,
            foreign_break_moves: self.foreign_break_moves,
            sbrk_fallbacks: self.sbrk_fallbacks,
        }
    }

    /// Checks the registry's and the span's invariants; for tests.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        self.registry.check_invariants()?;
        if let Some(s) = self.span {
            if !(s.base <= s.start && s.start <= s.top && s.top <= s.end) {
                return Err(format!("span out of order: {s:x?}"));
            }
            if let Some(e) = self.registry.containing(s.top) {
                return Err(format!("{e:x?} lies in the unused top {s:x?}"));
            }
        }
        self.mapped.check_invariants(&self.registry)
    }
}

impl From<Error> for ChunkError {
    fn from(error: Error) -> Self {
        match error {
            Error::Os { call, errno } => ChunkError::Os { call, errno },
            Error::ZeroSize => ChunkError::ZeroSize,
            Error::Overflow { requested } => ChunkError::TooLarge { requested },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapped::MAPPED_SLOTS;

    /// The registry's own pages and mmap calls are counted apart from the chunks'. (mmap only:
    /// this test moves no break, so it may share the test harness's threads.)
    #[test]
    fn the_registry_is_counted_apart_from_the_chunks() {
        let mut manager = ChunkManager::new(Policy::mmap_only());
        // The table takes the first MAPPED_SLOTS; the one after them reaches the registry.
        let taken: Vec<_> = (0..=MAPPED_SLOTS)
            .map(|_| manager.chunk(100).unwrap())
            .collect();
        let s = manager.stats();
        let n = MAPPED_SLOTS + 1;
        assert_eq!((s.count, s.mmap_count, s.mmap_calls), (n, n, n));
        assert!(s.registry_mmap_calls >= 1 && s.registry_bytes > 0, "{s:?}");
        assert_eq!(
            s.held_bytes, s.mmap_bytes,
            "the registry is not held for chunks"
        );
        for ptr in taken {
            manager.release(ptr).unwrap();
        }
        let s = manager.stats();
        assert_eq!((s.count, s.held_bytes, s.munmap_calls), (0, 0, n));
    }

    /// Mapped chunks in the table and in the registry are one set: found, listed in address
    /// order and released alike, whichever holds them.
    #[test]
    fn mapped_chunks_past_the_table_are_found_listed_and_released_alike() {
        let mut manager = ChunkManager::new(Policy::mmap_only());
        let lens = (0..MAPPED_SLOTS + 8).map(|i| 4096 * (1 + i % 3));
        let mut live: Vec<_> = lens.map(|len| (manager.chunk(len).unwrap(), len)).collect();
        manager.check_invariants().unwrap();
        assert_eq!(
            manager.registry.len(),
            8,
            "the 8 past the table are in the registry"
        );
        // Release every third, from both places, then take more: the table's gaps refill.
        let released: Vec<_> = live.iter().step_by(3).copied().collect();
        live.retain(|c| !released.contains(c));
        for (ptr, _) in &released {
            manager.release(*ptr).unwrap();
            assert_eq!(
                manager.release(*ptr),
                Err(ChunkError::NotAChunk {
                    addr: ptr.as_ptr() as usize
                })
            );
        }
        live.extend((0..4).map(|_| (manager.chunk(8192).unwrap(), 8192)));
        manager.check_invariants().unwrap();
        live.sort_by_key(|(ptr, _)| ptr.as_ptr() as usize);
        let mut listed = Vec::new();
        manager.for_each(|c| listed.push((c.start(), c.len())));
        assert_eq!(listed, live, "every live chunk once, in address order");
        for &(ptr, len) in &live {
            let last = ptr.as_ptr().wrapping_add(len - 1);
            assert_eq!(manager.find(last).map(|c| c.start()), Some(ptr));
            assert_ne!(
                manager.find(last.wrapping_add(1)).map(|c| c.start()),
                Some(ptr),
                "one past the end"
            );
        }
        let s = manager.stats();
        let bytes: usize = live.iter().map(|(_, len)| len).sum();
        assert_eq!(
            (s.count, s.mmap_count, s.mmap_bytes),
            (live.len(), live.len(), bytes)
        );
        for (ptr, _) in live {
            manager.release(ptr).unwrap();
        }
        manager.check_invariants().unwrap();
        assert_eq!(manager.stats().held_bytes, 0);
    }
}
