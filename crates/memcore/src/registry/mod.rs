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

mod chunk;
mod chunk_registry;
mod extent;
mod fit_tree;
mod invariants;
mod leaf;
mod leaf_pool;
mod mapped_vec;
mod record;
mod tally;

#[cfg(test)]
mod tests;

pub use chunk::Chunk;
pub use chunk_registry::ChunkRegistry;
pub use extent::{Extent, GRANULE, Source, State};
pub use tally::Tally;
