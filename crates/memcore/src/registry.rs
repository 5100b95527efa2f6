//! The chunk registry: every extent of memory the chunk layer holds from the OS, live or free,
//! in address order.
//!
//! An allocator calls into this from its `GlobalAlloc::alloc`, so the registry never uses the
//! global allocator: its records live in pages it maps itself with [`crate::sys`]. Lookups by
//! address are O(log n), and the records cost 16 bytes each plus a little per page.
//!
//! # Layout
//! Records (`start`, `len` and a two-bit state packed into 16 bytes) are kept sorted in
//! *leaves* of one 4 KiB page each (256 records). A sorted *index* holds, per leaf, its first
//! address, its length, and the largest free extent in it. Finding an address is a binary
//! search of the index and then of one leaf; inserting or removing moves at most one leaf's
//! records, or, when a leaf splits or empties, the index's entries (one per 256 records).
//! A stream of appends in rising address order fills each leaf completely.
//!
//! The registry only records; the policy (where memory comes from, when to give it back) is
//! the caller's: see the `milestone` crate's `mem_chunk`.

use std::fmt;
use std::ptr::NonNull;

use crate::error::Error;
use crate::sys;

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

const TAG_MASK: usize = GRANULE - 1;
const TAG_FREE: usize = 0;
const TAG_SBRK: usize = 1;
const TAG_MMAP: usize = 2;

/// One extent, packed: `word` is the length with the state in its low bits.
#[derive(Clone, Copy)]
#[repr(C)]
struct Record {
    start: usize,
    word: usize,
}

impl Record {
    fn pack(e: Extent) -> Record {
        let tag = match e.state {
            State::Free => TAG_FREE,
            State::Live(Source::Sbrk) => TAG_SBRK,
            State::Live(Source::Mmap) => TAG_MMAP,
        };
        Record {
            start: e.start,
            word: e.len | tag,
        }
    }

    fn len(self) -> usize {
        self.word & !TAG_MASK
    }

    fn tag(self) -> usize {
        self.word & TAG_MASK
    }

    fn is_free(self) -> bool {
        self.tag() == TAG_FREE
    }

    fn unpack(self) -> Extent {
        Extent {
            start: self.start,
            len: self.len(),
            state: match self.tag() {
                TAG_FREE => State::Free,
                TAG_SBRK => State::Live(Source::Sbrk),
                _ => State::Live(Source::Mmap),
            },
        }
    }
}

/// Bytes of one leaf, and the records it holds.
///
/// A leaf is laid out for lookups that miss the cache: first a *fence* of 8 words (one cache
/// line) holding the start of every 32nd record, then the records' starts, then their words.
/// A lookup reads the fence, then searches one block of 32 starts (4 cache lines, of which a
/// binary search touches 2 or 3); it never reads the words it does not need.
const LEAF_BYTES: usize = 4096;
const FENCE: usize = 8;
const BLOCK: usize = 32;
const LEAF_CAP: usize = (LEAF_BYTES / size_of::<usize>() - FENCE) / 2;
/// Leaves are mapped this many at a time, with their pages populated at once: one system call
/// and no page faults per 16 leaves, instead of a call and a fault per leaf.
const BATCH_LEAVES: usize = 16;
const BATCH_BYTES: usize = LEAF_BYTES * BATCH_LEAVES;

/// The index's entry for one leaf (its first start is kept apart, in `firsts`, for the same
/// reason the leaf keeps its starts apart).
#[derive(Clone, Copy)]
struct LeafMeta {
    /// The leaf's page: `LEAF_CAP` starts, then `LEAF_CAP` words.
    leaf: NonNull<usize>,
    len: usize,
    /// The longest free extent in the leaf (0 if none).
    max_free: usize,
}

/// A leaf's records, read-only: record j is `(starts[j], words[j])`; `fence[b]` is
/// `starts[b * BLOCK]`.
#[derive(Clone, Copy)]
struct Leaf<'a> {
    fence: &'a [usize],
    starts: &'a [usize],
    words: &'a [usize],
}

/// The word offsets of a leaf's starts and words in its page.
const STARTS_AT: usize = FENCE;
const WORDS_AT: usize = FENCE + LEAF_CAP;

impl<'a> Leaf<'a> {
    /// The first `len` records of the leaf at `page`.
    ///
    /// # Safety
    /// `page` is a leaf of this registry holding at least `len <= LEAF_CAP` initialised records,
    /// and nothing writes to it while the view lives.
    unsafe fn of(page: NonNull<usize>, len: usize) -> Leaf<'a> {
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
    fn slot_at_or_below(self, addr: usize) -> Option<usize> {
        let block = self.fence.partition_point(|&f| f <= addr).checked_sub(1)?;
        let from = block * BLOCK;
        let to = (from + BLOCK).min(self.len());
        let within = self.starts[from..to].partition_point(|&s| s <= addr);
        Some(from + within - 1)
    }

    fn len(self) -> usize {
        self.starts.len()
    }

    fn at(self, j: usize) -> Record {
        Record {
            start: self.starts[j],
            word: self.words[j],
        }
    }

    fn get(self, j: usize) -> Option<Record> {
        (j < self.len()).then(|| self.at(j))
    }

    fn last(self) -> Option<Record> {
        self.len().checked_sub(1).map(|j| self.at(j))
    }

    fn iter(self) -> impl Iterator<Item = Record> + 'a {
        self.starts
            .iter()
            .zip(self.words)
            .map(|(&start, &word)| Record { start, word })
    }
}

/// A leaf's records, writable. After changing starts, call `refresh_fence`.
struct LeafMut<'a> {
    fence: &'a mut [usize],
    starts: &'a mut [usize],
    words: &'a mut [usize],
}

impl<'a> LeafMut<'a> {
    /// The first `len` slots of the leaf at `page`, initialised or not (every bit pattern is a
    /// valid `usize`, and the pages were zeroed when mapped).
    ///
    /// # Safety
    /// `page` is a leaf of this registry, `len <= LEAF_CAP`, and nothing else reads or writes it
    /// while the view lives.
    unsafe fn of(page: NonNull<usize>, len: usize) -> LeafMut<'a> {
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
    fn refresh_fence(&mut self, from: usize, len: usize) {
        for block in from / BLOCK..len.div_ceil(BLOCK) {
            self.fence[block] = self.starts[block * BLOCK];
        }
    }

    fn set(&mut self, j: usize, r: Record) {
        self.starts[j] = r.start;
        self.words[j] = r.word;
    }

    fn copy_within(&mut self, from: std::ops::Range<usize>, to: usize) {
        self.starts.copy_within(from.clone(), to);
        self.words.copy_within(from, to);
    }

    fn copy_from(&mut self, at: usize, src: Leaf<'_>) {
        self.starts[at..at + src.len()].copy_from_slice(src.starts);
        self.words[at..at + src.len()].copy_from_slice(src.words);
    }
}

/// A growable array of `Copy` values in memory mapped for it alone.
struct MappedVec<T: Copy> {
    ptr: NonNull<T>,
    len: usize,
    cap: usize,
    /// How many mappings it has made.
    maps: usize,
}

impl<T: Copy> MappedVec<T> {
    const fn new() -> Self {
        MappedVec {
            ptr: NonNull::dangling(),
            len: 0,
            cap: 0,
            maps: 0,
        }
    }

    fn as_slice(&self) -> &[T] {
        // SAFETY: `ptr` is either dangling with len 0, or a mapping of `cap >= len` values whose
        // first `len` were written; `&self` keeps them from being changed meanwhile.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as in as_slice; `&mut self` makes this the only access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    fn mapped_bytes(&self) -> usize {
        if self.cap == 0 {
            0
        } else {
            sys::round_up_to_page(self.cap * size_of::<T>()).unwrap_or(0)
        }
    }

    /// Makes room for one more value; on failure nothing changes.
    fn reserve_one(&mut self) -> Result<(), Error> {
        if self.len < self.cap {
            return Ok(());
        }
        let bytes = (self.cap * size_of::<T>()).max(sys::page_size()) * 2;
        let bytes = sys::round_up_to_page(bytes).ok_or(Error::Overflow { requested: bytes })?;
        let new = sys::mmap_anonymous(bytes)?.cast::<T>();
        self.maps += 1;
        // SAFETY: the new mapping holds `bytes / size_of::<T>() > len` values and does not
        // overlap the old one; the old one holds `len` initialised values.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.as_ptr(), new.as_ptr(), self.len) };
        self.release_mapping();
        self.ptr = new;
        self.cap = bytes / size_of::<T>();
        Ok(())
    }

    fn release_mapping(&mut self) {
        if self.cap > 0 {
            // SAFETY: the mapping is this vector's own and nothing refers to it after this.
            // munmap of a mapping we made cannot fail in a way we could act on; ignoring its
            // result at worst leaks the pages, as memmap2's Drop does.
            let _ = unsafe { sys::munmap(self.ptr.cast(), self.mapped_bytes()) };
            self.cap = 0;
            self.ptr = NonNull::dangling();
        }
    }

    /// Makes it `n` zeroed values long, mapping afresh if it has less room.
    fn reset_zeroed(&mut self, n: usize) -> Result<(), Error> {
        if n > self.cap {
            let bytes = n
                .checked_mul(size_of::<T>())
                .and_then(sys::round_up_to_page);
            let bytes = bytes.ok_or(Error::Overflow { requested: n })?;
            let new = sys::mmap_anonymous(bytes)?.cast::<T>();
            self.maps += 1;
            self.release_mapping();
            self.ptr = new;
            self.cap = bytes / size_of::<T>();
        }
        // SAFETY: the mapping holds `cap >= n` values; all-zero bytes are a valid value of the
        // integer types this is used with.
        unsafe { std::ptr::write_bytes(self.ptr.as_ptr(), 0, n) };
        self.len = n;
        Ok(())
    }

    /// Inserts at `at`; the caller has reserved room.
    fn insert(&mut self, at: usize, value: T) {
        debug_assert!(self.len < self.cap && at <= self.len);
        let p = self.ptr.as_ptr().wrapping_add(at);
        // SAFETY: room was reserved, so `len + 1 <= cap`; this moves the `len - at` initialised
        // values from `at` one place up, inside the mapping.
        unsafe { std::ptr::copy(p, p.wrapping_add(1), self.len - at) };
        // SAFETY: `at <= len < cap`, so `p` is inside the mapping.
        unsafe { p.write(value) };
        self.len += 1;
    }

    fn remove(&mut self, at: usize) -> T {
        let value = self.as_slice()[at];
        let p = self.ptr.as_ptr().wrapping_add(at);
        // SAFETY: `at < len` (checked by the indexing above); this moves the values after it
        // one place down, inside the mapping.
        unsafe { std::ptr::copy(p.wrapping_add(1), p, self.len - at - 1) };
        self.len -= 1;
        value
    }
}

/// Where leaves come from: batches mapped for the registry alone. A leaf given back is kept on a
/// free list (linked through its first word) for the next one; the batches are unmapped only
/// when the registry is dropped, so the registry holds as many leaves as it ever needed at once.
struct LeafPool {
    batches: MappedVec<NonNull<u8>>,
    /// The next never-used leaf of the newest batch, and how many are left there.
    next: usize,
    left: usize,
    free: Option<NonNull<usize>>,
}

impl LeafPool {
    const fn new() -> LeafPool {
        LeafPool {
            batches: MappedVec::new(),
            next: 0,
            left: 0,
            free: None,
        }
    }

    fn take(&mut self) -> Result<NonNull<usize>, Error> {
        if let Some(leaf) = self.free {
            // SAFETY: a leaf on the free list holds the next free leaf (or null) in its first
            // word, written by `give`; nothing else uses a free leaf.
            self.free = NonNull::new(unsafe { leaf.cast::<*mut usize>().read() });
            return Ok(leaf);
        }
        if self.left == 0 {
            // Room for the batch's record first, so that a failure leaks nothing.
            self.batches.reserve_one()?;
            let batch = sys::mmap_anonymous_populated(BATCH_BYTES)?;
            self.batches.insert(self.batches.len, batch);
            self.next = batch.as_ptr() as usize;
            self.left = BATCH_LEAVES;
        }
        let leaf = NonNull::new(self.next as *mut usize).ok_or(Error::ZeroSize)?;
        self.next += LEAF_BYTES;
        self.left -= 1;
        Ok(leaf)
    }

    fn give(&mut self, leaf: NonNull<usize>) {
        let next = self.free.map_or(std::ptr::null_mut(), NonNull::as_ptr);
        // SAFETY: the leaf is a page of ours that no index entry refers to any more; its first
        // word now links the free list.
        unsafe { leaf.cast::<*mut usize>().write(next) };
        self.free = Some(leaf);
    }

    fn mapped_bytes(&self) -> usize {
        self.batches.len * BATCH_BYTES + self.batches.mapped_bytes()
    }

    fn release_all(&mut self) {
        for &batch in self.batches.as_slice() {
            // SAFETY: each batch is a mapping this pool made; the registry is being dropped,
            // so no leaf in it is used any more. A failure only leaks the pages.
            let _ = unsafe { sys::munmap(batch, BATCH_BYTES) };
        }
        self.batches.release_mapping();
        self.free = None;
        self.left = 0;
    }
}

/// A max-tree over the leaves' longest free extents, so that first fit finds the lowest leaf
/// with room in O(log leaves) instead of scanning the index. A leaf's value changes in place in
/// O(log leaves); a leaf inserted or removed in the middle shifts the positions, so the tree is
/// marked stale and rebuilt on the next search.
struct FitTree {
    /// `nodes[width + i]` is leaf i's value; `nodes[n]` is the max of its two children.
    nodes: MappedVec<usize>,
    width: usize,
    stale: bool,
}

impl FitTree {
    const fn new() -> FitTree {
        FitTree {
            nodes: MappedVec::new(),
            width: 0,
            stale: true,
        }
    }

    fn rebuild(&mut self, leaves: &[LeafMeta]) -> Result<(), Error> {
        let width = leaves.len().next_power_of_two();
        self.nodes.reset_zeroed(2 * width)?;
        let nodes = self.nodes.as_mut_slice();
        for (i, leaf) in leaves.iter().enumerate() {
            nodes[width + i] = leaf.max_free;
        }
        for n in (1..width).rev() {
            nodes[n] = nodes[2 * n].max(nodes[2 * n + 1]);
        }
        self.width = width;
        self.stale = false;
        Ok(())
    }

    fn set(&mut self, leaf: usize, value: usize) {
        if self.stale || leaf >= self.width {
            self.stale = true;
            return;
        }
        let nodes = self.nodes.as_mut_slice();
        let mut n = self.width + leaf;
        nodes[n] = value;
        while n > 1 {
            n /= 2;
            nodes[n] = nodes[2 * n].max(nodes[2 * n + 1]);
        }
    }

    /// The lowest leaf whose value is at least `len`.
    fn first_at_least(&self, len: usize) -> Option<usize> {
        let nodes = self.nodes.as_slice();
        if self.stale || nodes.get(1).is_none_or(|&top| top < len) {
            return None;
        }
        let mut n = 1;
        while n < self.width {
            n = if nodes[2 * n] >= len {
                2 * n
            } else {
                2 * n + 1
            };
        }
        Some(n - self.width)
    }
}

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
    fn add(&mut self, e: Extent, sign: isize) {
        let (count, bytes) = match e.state {
            State::Free => (&mut self.free_count, &mut self.free_bytes),
            State::Live(Source::Sbrk) => (&mut self.sbrk_count, &mut self.sbrk_bytes),
            State::Live(Source::Mmap) => (&mut self.mmap_count, &mut self.mmap_bytes),
        };
        *count = count.wrapping_add_signed(sign);
        *bytes = bytes.wrapping_add_signed(sign * e.len as isize);
    }
}

/// Every extent the chunk layer holds, in address order. See the module docs.
pub struct ChunkRegistry {
    /// Each leaf's first start, in order: what a search reads.
    firsts: MappedVec<usize>,
    /// Each leaf's page, length and longest free extent, in the same order.
    metas: MappedVec<LeafMeta>,
    fit: FitTree,
    leaves: LeafPool,
    tally: Tally,
    /// The slot of the last insert, (leaf, position): the next insert often goes right after
    /// it (chunks carved upward from the break), and then needs no search.
    finger: (usize, usize),
    /// The slot of the last exact lookup: releasing a chunk looks up it and its neighbours
    /// several times in a row, and under contention each search's cache misses are dear.
    last: std::cell::Cell<(usize, usize)>,
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

impl Drop for ChunkRegistry {
    fn drop(&mut self) {
        self.leaves.release_all();
        self.firsts.release_mapping();
        self.metas.release_mapping();
        self.fit.nodes.release_mapping();
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
            finger: (0, 0),
            last: std::cell::Cell::new((0, 0)),
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
        self.metas.len == 0
    }

    /// Bytes the registry has mapped for its own records (leaves, the index, the fit tree).
    pub fn own_bytes(&self) -> usize {
        self.leaves.mapped_bytes()
            + self.firsts.mapped_bytes()
            + self.metas.mapped_bytes()
            + self.fit.nodes.mapped_bytes()
    }

    /// `mmap` calls made for the registry's own memory so far: one per batch of leaves and one
    /// per growth of a table. It unmaps nothing until dropped.
    pub fn own_mmaps(&self) -> usize {
        self.leaves.batches.len
            + self.leaves.batches.maps
            + self.firsts.maps
            + self.metas.maps
            + self.fit.nodes.maps
    }

    fn leaf(&self, i: usize) -> Leaf<'_> {
        let m = self.metas.as_slice()[i];
        // SAFETY: every leaf in the index holds `len` initialised records; `&self` keeps them
        // from changing while the view lives.
        unsafe { Leaf::of(m.leaf, m.len) }
    }

    /// Leaf `i`'s records and `extra` slots of room after them.
    fn leaf_mut(&mut self, i: usize, extra: usize) -> LeafMut<'_> {
        let m = self.metas.as_slice()[i];
        debug_assert!(m.len + extra <= LEAF_CAP);
        // SAFETY: the leaf is ours, `len + extra <= LEAF_CAP`, and `&mut self` makes this the
        // only access.
        unsafe { LeafMut::of(m.leaf, m.len + extra) }
    }

    fn recompute_max_free(&mut self, i: usize) {
        let max = self
            .leaf(i)
            .iter()
            .filter(|r| r.is_free())
            .map(|r| r.len())
            .max()
            .unwrap_or(0);
        self.set_max_free(i, max);
    }

    fn set_max_free(&mut self, i: usize, max: usize) {
        self.metas.as_mut_slice()[i].max_free = max;
        self.fit.set(i, max);
    }

    /// Makes room for one more leaf in the index; on failure nothing changes.
    fn reserve_leaf(&mut self) -> Result<(), Error> {
        self.firsts.reserve_one()?;
        self.metas.reserve_one()
    }

    /// Inserts an index entry (room reserved), keeping the fit tree current when appended.
    fn insert_leaf(&mut self, at: usize, first: usize, meta: LeafMeta) {
        self.firsts.insert(at, first);
        self.metas.insert(at, meta);
        if at + 1 == self.metas.len {
            self.fit.set(at, meta.max_free);
        } else {
            self.fit.stale = true;
        }
    }

    /// Removes an index entry, keeping the fit tree current when it was the last.
    fn remove_leaf(&mut self, at: usize) -> LeafMeta {
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
    fn leaf_for(&self, addr: usize) -> Option<usize> {
        self.firsts
            .as_slice()
            .partition_point(|&first| first <= addr)
            .checked_sub(1)
    }

    /// The position (leaf, slot) of the last record starting at or below `addr`.
    fn locate(&self, addr: usize) -> Option<(usize, usize)> {
        let i = self.leaf_for(addr)?;
        Some((i, self.leaf(i).slot_at_or_below(addr)?))
    }

    fn at(&self, (i, j): (usize, usize)) -> Extent {
        self.leaf(i).at(j).unpack()
    }

    /// The position of the record that starts exactly at `start`.
    fn position(&self, start: usize) -> Option<(usize, usize)> {
        // The last slot found, or its neighbours in the same leaf, checked by key: a stale
        // hint is only a missed shortcut.
        let (i, j) = self.last.get();
        if i < self.metas.len {
            let starts = self.leaf(i).starts;
            for j in [j, j.wrapping_sub(1), j + 1] {
                if starts.get(j) == Some(&start) {
                    self.last.set((i, j));
                    return Some((i, j));
                }
            }
        }
        let found = self
            .locate(start)
            .filter(|&(i, j)| self.leaf(i).starts[j] == start)?;
        self.last.set(found);
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
            e.len > 0 && e.len.is_multiple_of(GRANULE) && e.start.is_multiple_of(GRANULE)
        );
        debug_assert!(self.containing(e.start).is_none() && self.containing(e.end() - 1).is_none());
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
            self.insert_leaf(0, e.start, meta);
        }
        let (mut i, mut j) = match self.after_finger(e.start) {
            Some(slot) => slot,
            None => {
                let i = self.leaf_for(e.start).unwrap_or(0);
                (i, self.leaf(i).starts.partition_point(|&s| s < e.start))
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
                e.start
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
            self.firsts.as_mut_slice()[i] = e.start;
        }
        if free_len > self.metas.as_slice()[i].max_free {
            self.set_max_free(i, free_len);
        }
        self.tally.add(e, 1);
        self.finger = (i, j);
        Ok(())
    }

    /// The slot right after the last insert, if a record starting at `start` belongs there:
    /// above the finger's record and below the one after it. The keys are checked, so a finger
    /// left stale by other changes is only a missed shortcut.
    fn after_finger(&self, start: usize) -> Option<(usize, usize)> {
        let (i, j) = self.finger;
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
        if len == 1 {
            let meta = self.remove_leaf(i);
            self.leaves.give(meta.leaf);
            return Some(removed.unpack());
        }
        if j == 0 {
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
        debug_assert!(new.start == start && new.len > 0 && new.len.is_multiple_of(GRANULE));
        debug_assert!(self.after(start).is_none_or(|n| new.end() <= n.start));
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
    fn merge_if_sparse(&mut self, i: usize) {
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

    /// Checks every internal invariant; for tests.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut previous_end = 0;
        let mut tally = Tally::default();
        if self.firsts.len != self.metas.len {
            return Err("the index's two tables differ in length".into());
        }
        for (i, meta) in self.metas.as_slice().iter().enumerate() {
            let leaf = self.leaf(i);
            if leaf.len() == 0 || leaf.len() > LEAF_CAP {
                return Err(format!("leaf {i} has {} records", leaf.len()));
            }
            if self.firsts.as_slice()[i] != leaf.starts[0] {
                return Err(format!("leaf {i}'s first is stale"));
            }
            for (b, &f) in leaf.fence.iter().enumerate() {
                if f != leaf.starts[b * BLOCK] {
                    return Err(format!("leaf {i}'s fence {b} is stale"));
                }
            }
            let max = leaf.iter().filter(|r| r.is_free()).map(|r| r.len()).max();
            if meta.max_free != max.unwrap_or(0) {
                return Err(format!("leaf {i}'s max_free is stale"));
            }
            for r in leaf.iter() {
                if r.start < previous_end || r.len() == 0 {
                    return Err(format!("record at {:#x} overlaps or is empty", r.start));
                }
                previous_end = r.start + r.len();
                tally.add(r.unpack(), 1);
            }
        }
        if tally != self.tally {
            return Err(format!("tally {:?} != recount {tally:?}", self.tally));
        }
        if !self.fit.stale {
            let nodes = self.fit.nodes.as_slice();
            for i in 0..self.fit.width {
                let want = self.metas.as_slice().get(i).map_or(0, |m| m.max_free);
                if nodes[self.fit.width + i] != want {
                    return Err(format!("the fit tree's leaf {i} is stale"));
                }
            }
            for n in 1..self.fit.width {
                if nodes[n] != nodes[2 * n].max(nodes[2 * n + 1]) {
                    return Err(format!("the fit tree's node {n} is stale"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(start: usize, len: usize) -> Extent {
        Extent {
            start,
            len,
            state: State::Live(Source::Sbrk),
        }
    }

    fn free(start: usize, len: usize) -> Extent {
        Extent {
            start,
            len,
            state: State::Free,
        }
    }

    #[test]
    fn an_empty_registry_finds_nothing_and_maps_nothing() {
        let mut r = ChunkRegistry::new();
        assert!(r.is_empty());
        assert_eq!(r.containing(0x1000), None);
        assert_eq!(r.get(0), None);
        assert_eq!(r.first_free_fit(16), None);
        assert_eq!(r.own_bytes(), 0);
    }

    #[test]
    fn lookups_find_the_extent_holding_any_interior_byte() {
        let mut r = ChunkRegistry::new();
        r.insert(live(0x1000, 64)).unwrap();
        r.insert(free(0x1040, 32)).unwrap();
        r.insert(live(0x2000, 16)).unwrap();
        assert_eq!(r.containing(0x1000), Some(live(0x1000, 64)));
        assert_eq!(r.containing(0x103f), Some(live(0x1000, 64)));
        assert_eq!(r.containing(0x1040), Some(free(0x1040, 32)));
        assert_eq!(r.containing(0x1060), None);
        assert_eq!(r.containing(0xfff), None);
        assert_eq!(r.get(0x1010), None, "an interior address is not a start");
        assert_eq!(r.before(0x1040), Some(live(0x1000, 64)));
        assert_eq!(r.after(0x1040), Some(live(0x2000, 16)));
        assert_eq!(r.after(0x2000), None);
        assert_eq!(r.before(0x1000), None);
        r.check_invariants().unwrap();
    }

    #[test]
    fn many_ascending_inserts_fill_leaves_and_stay_searchable() {
        let mut r = ChunkRegistry::new();
        let n = 100_000;
        for k in 0..n {
            r.insert(live(0x10_0000 + k * 64, 64)).unwrap();
        }
        r.check_invariants().unwrap();
        assert_eq!(r.len(), n);
        // Appends fill each leaf: 16 bytes a record, plus the index.
        let per = r.own_bytes() as f64 / n as f64;
        assert!(per < 17.0, "{per} bytes per record");
        for k in (0..n).step_by(997) {
            assert_eq!(
                r.containing(0x10_0000 + k * 64 + 63),
                Some(live(0x10_0000 + k * 64, 64))
            );
        }
    }

    #[test]
    fn random_inserts_and_removes_match_a_sorted_model() {
        // A small xorshift keeps the test deterministic without a dependency.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut r = ChunkRegistry::new();
        let mut model = std::collections::BTreeMap::new();
        for step in 0..40_000 {
            let slot = (next() % 5_000) as usize;
            let start = 0x4000_0000 + slot * 256;
            if let Some(old) = model.remove(&start) {
                assert_eq!(r.remove(start), Some(old));
            } else {
                let e = if next() % 3 == 0 {
                    free(start, 16 * (1 + (next() % 16) as usize))
                } else {
                    live(start, 16 * (1 + (next() % 16) as usize))
                };
                r.insert(e).unwrap();
                model.insert(start, e);
            }
            if step % 97 == 0 {
                // First fit agrees with the model, and the fit tree stays consistent.
                let want = 16 * (1 + (next() % 16) as usize);
                let fit = model
                    .values()
                    .find(|e| e.state == State::Free && e.len >= want)
                    .copied();
                assert_eq!(r.first_free_fit(want), fit, "step {step}");
            }
            if step % 1_000 == 0 {
                r.check_invariants().unwrap();
            }
        }
        r.check_invariants().unwrap();
        let mut seen = Vec::new();
        r.for_each(|e| seen.push(*e));
        assert_eq!(seen, model.values().copied().collect::<Vec<_>>());
        let fit = model
            .values()
            .find(|e| e.state == State::Free && e.len >= 200)
            .copied();
        assert_eq!(r.first_free_fit(200), fit);
        // Removing everything keeps the leaves for reuse: the same records again need no more.
        let held = r.own_bytes();
        for start in model.keys() {
            r.remove(*start).unwrap();
        }
        assert!(r.is_empty());
        r.check_invariants().unwrap();
        for e in model.values() {
            r.insert(*e).unwrap();
        }
        r.check_invariants().unwrap();
        assert_eq!(r.own_bytes(), held);
    }

    #[test]
    fn replace_keeps_the_largest_free_extent_current() {
        let mut r = ChunkRegistry::new();
        r.insert(free(0x1000, 256)).unwrap();
        r.insert(free(0x2000, 64)).unwrap();
        assert_eq!(r.first_free_fit(200), Some(free(0x1000, 256)));
        r.replace(0x1000, live(0x1000, 208)).unwrap();
        r.insert(free(0x10d0, 48)).unwrap();
        assert_eq!(r.first_free_fit(200), None);
        assert_eq!(r.first_free_fit(64), Some(free(0x2000, 64)));
        assert_eq!(r.first_free_fit(48), Some(free(0x10d0, 48)));
        assert_eq!(r.replace(0x1234, live(0x1234, 16)), None);
        r.check_invariants().unwrap();
        let t = r.tally();
        assert_eq!(
            (t.sbrk_count, t.sbrk_bytes, t.free_count, t.free_bytes),
            (1, 208, 2, 112)
        );
    }
}
