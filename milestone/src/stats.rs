//! What `chunk_stats` reports.

/// Figures about the chunk layer, as of one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChunkStats {
    /// Live chunks.
    pub count: usize,
    /// Their usable bytes.
    pub bytes: usize,
    /// Live chunks carved from the break.
    pub sbrk_count: usize,
    /// Their usable bytes.
    pub sbrk_bytes: usize,
    /// Live chunks with a mapping of their own.
    pub mmap_count: usize,
    /// Their usable bytes.
    pub mmap_bytes: usize,
    /// Released break memory kept for reuse, and the unused top of the break.
    pub free_bytes: usize,
    /// All memory held from the OS for chunks: the break memory we grew (live, free and unused)
    /// plus the mapped chunks.
    pub held_bytes: usize,
    /// Memory mapped for the registry's own records (not counted in `held_bytes`).
    pub registry_bytes: usize,
    /// `mmap` system calls made for the registry's own records (not counted in `mmap_calls`).
    pub registry_mmap_calls: usize,
    /// `brk` system calls made (each `sbrk` that moved, or tried to move, the break).
    pub brk_calls: usize,
    /// `mmap` system calls made for chunks.
    pub mmap_calls: usize,
    /// `munmap` system calls made (the registry keeps its own pages until it is dropped).
    pub munmap_calls: usize,
    /// Times the break was found moved by someone else, so a new stretch of it was started.
    pub foreign_break_moves: usize,
    /// Times `sbrk` refused, so the request was served by `mmap` instead.
    pub sbrk_fallbacks: usize,
}
