//! The give-back step's last check: memory given back may be handed out again, but once. After
//! every chunk is released, the contract takes the small sizes again, twice each, so that an
//! implementation that reuses released memory meets blocks that fit them exactly. No two of
//! these chunks may overlap, each must be listed, and all go back again at the end.
//!
//! # Safety
//! The chunks are written only after `/proc/self/maps` shows every byte mapped writable, as in
//! the first step, and nothing uses them after they are released.

use anyhow::{Result, anyhow};
use lesson::{Lesson, bytes, count, io_error};

use super::counting::counted;
use super::{ChunkInfo, Parts, Taken, never_allocated, pattern, sizes, writable};
use crate::Source;

/// The sizes taken again: the small ones of [`sizes`], twice each. The first chunks of the
/// contract had these sizes, so released blocks fit them exactly.
fn sizes_again(threshold: usize) -> Vec<usize> {
    let small: Vec<usize> = sizes(threshold)
        .into_iter()
        .filter(|&s| s < threshold && s <= 4096)
        .collect();
    small.iter().chain(&small).copied().collect()
}

/// Takes the small sizes again after everything was released, and checks that no memory was
/// handed out twice; then gives them back.
pub(super) fn take_again(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    let mut again = Vec::new();
    let mut unwritable = Vec::new();
    for size in sizes_again(parts.mmap_threshold) {
        let ptr = lesson
            .part("mem_chunk", || counted(size, || (parts.mem_chunk)(size)))?
            .map_err(|e| anyhow!("mem_chunk({size}) failed: {}", io_error(&e)))?;
        let start = ptr as usize;
        let (map, brk) = lesson.map_and_break()?;
        if !writable(&map, start, size) {
            unwritable.push(format!("{start:#x}"));
            continue;
        }
        // SAFETY: all `size` bytes lie in one writable mapping (just checked), and mem_chunk
        // gave them to us alone.
        let memory = unsafe { std::slice::from_raw_parts_mut(ptr, size) };
        let i = 100 + again.len();
        for (offset, byte) in memory.iter_mut().enumerate() {
            *byte = pattern(i, offset);
        }
        again.push(Taken {
            size,
            start,
            source: Source::Sbrk,
            break_after: brk,
        });
    }
    lesson.fact(
        "chunks taken again, of the small sizes, twice each",
        again.len() + unwritable.len(),
    );
    never_allocated(lesson, "mem_chunk", |size| format!("mem_chunk({size})"));
    let listed = lesson.part("list_chunks", parts.list_chunks)?;
    let problems = handed_twice(&again, &listed, &unwritable);
    lesson.check_part(
        "mem_chunk",
        "memory given back is handed out again at most once: none of these overlaps another, \
         and each is listed once",
        problems.is_empty(),
        problems.join("; "),
    );
    for t in again.iter().rev() {
        // SAFETY: the chunk is one mem_chunk returned, and nothing uses it any more.
        let _ = lesson.part("release_chunk", || unsafe {
            counted(t.start, || (parts.release_chunk)(t.start as *mut u8))
        })?;
    }
    let left = lesson.part("list_chunks", parts.list_chunks)?;
    lesson.check_part(
        "release_chunk",
        "they were given back too, and the registry lists none",
        left.is_empty(),
        format!("{} still listed", count(left.len(), "chunk")),
    );
    Ok(())
}

/// What is wrong with the chunks taken again: memory handed out twice, memory that is not
/// writable, and chunks not listed exactly once.
fn handed_twice(again: &[Taken], listed: &[ChunkInfo], unwritable: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let overlap = again.iter().enumerate().find_map(|(n, t)| {
        let before = again[..n].iter();
        before
            .filter(|o| o.start < t.start + t.size && t.start < o.start + o.size)
            .map(|o| (o, t))
            .next()
    });
    if let Some((live, twice)) = overlap {
        problems.push(format!(
            "mem_chunk({}) returned {:#x}, which the live chunk at {:#x} ({}) already holds: a \
             released block that is handed out again must leave the free list",
            twice.size,
            twice.start,
            live.start,
            bytes(live.size as u64)
        ));
    }
    if !unwritable.is_empty() {
        problems.push(format!(
            "mem_chunk handed out memory that is not mapped writable: {}",
            unwritable.join(", ")
        ));
    }
    let unlisted = again
        .iter()
        .map(|t| (t, listed.iter().filter(|c| c.start == t.start).count()))
        .find(|&(_, times)| times != 1);
    if let Some((t, times)) = unlisted {
        problems.push(format!(
            "the chunk at {:#x} is listed {}",
            t.start,
            count(times, "time")
        ));
    }
    problems
}
