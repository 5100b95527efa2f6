//! This crate's own `mem_chunk`, as the contract calls it.
//!
//! # Safety
//! `release_chunk` passes on the promise of [`crate::release_chunk`]: nothing uses the chunk
//! afterwards.

use std::io;

use super::{ChunkInfo, Parts};
use crate::ChunkError;

fn to_io(error: ChunkError) -> io::Error {
    match error {
        ChunkError::Os { errno, .. } => io::Error::from(errno),
        ChunkError::ZeroSize | ChunkError::TooLarge { .. } | ChunkError::NotAChunk { .. } => {
            io::Error::from(io::ErrorKind::InvalidInput)
        }
    }
}

fn info(chunk: &crate::Chunk) -> ChunkInfo {
    ChunkInfo {
        start: chunk.start().as_ptr() as usize,
        len: chunk.len(),
        source: chunk.source(),
    }
}

fn library_mem_chunk(size: usize) -> io::Result<*mut u8> {
    crate::mem_chunk(size).map(|p| p.as_ptr()).map_err(to_io)
}

fn library_list_chunks() -> Vec<ChunkInfo> {
    // for_each_chunk holds the lock while it visits, and pushing may allocate: count first,
    // then fill a vector made big enough beforehand, without allocating under the lock.
    let mut count = 0;
    crate::for_each_chunk(|_| count += 1);
    let mut all = Vec::with_capacity(count + 16);
    crate::for_each_chunk(|c| {
        if all.len() < all.capacity() {
            all.push(info(c));
        }
    });
    all
}

fn library_find_chunk(addr: usize) -> Option<ChunkInfo> {
    crate::find_chunk(addr as *const u8).map(|c| info(&c))
}

/// # Safety
/// As [`crate::release_chunk`]: nothing may use the chunk afterwards.
unsafe fn library_release_chunk(ptr: *mut u8) -> io::Result<()> {
    let ptr = std::ptr::NonNull::new(ptr).ok_or(io::ErrorKind::InvalidInput)?;
    crate::release_chunk(ptr).map_err(to_io)
}

/// This crate's `mem_chunk`, as the contract calls it.
pub fn library() -> Parts {
    Parts {
        mmap_threshold: crate::policy().mmap_threshold(),
        mem_chunk: library_mem_chunk,
        list_chunks: library_list_chunks,
        find_chunk: library_find_chunk,
        release_chunk: library_release_chunk,
    }
}
