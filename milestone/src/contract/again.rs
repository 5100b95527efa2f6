//! The give-back step's last checks: memory given back may be handed out again, but once, and
//! only below the threshold. After every chunk is released, the contract takes:
//! - a chunk at the threshold, first, while every released block is free: it must still get an
//!   anonymous mapping of its own;
//! - the small sizes again, twice each, so that an implementation that reuses released memory
//!   meets blocks that fit them exactly: no two may overlap, and each must be listed;
//! - a chunk a byte above the threshold, no whole number of pages: released, it must be
//!   unmapped whole.
//!
//! All go back again at the end.
//!
//! # Safety
//! The chunks are written only after `/proc/self/maps` shows every byte mapped writable, as in
//! the first step, and nothing uses them after they are released.

use anyhow::{Result, anyhow};
use lesson::{Lesson, bytes, count, io_error, varying_bytes};
use memcore::{RegionKind, sys};

use super::counting::counted;
use super::{ChunkInfo, Parts, Placement, Taken, never_allocated, pattern, sizes, writable};
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
pub(super) fn take_again(lesson: &mut Lesson, parts: &Parts, taken: &[Taken]) -> Result<()> {
    // A mapped chunk placed wrong in the first step is placed wrong again for the same cause.
    let misplaced = taken
        .iter()
        .filter(|t| t.source == Source::Mmap)
        .find_map(|t| t.misplaced.as_deref());
    // First, while every released block is still free: the threshold itself.
    let at_threshold = mapped_again(lesson, parts, parts.mmap_threshold, misplaced)?;
    let (again, unwritable) = take_small_again(lesson, parts)?;
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
    // A byte more, so that its length is no whole number of pages.
    let mapped = mapped_again(
        lesson,
        parts,
        parts.mmap_threshold.saturating_add(1),
        misplaced,
    )?;
    let chunks: Vec<&Taken> = again.iter().rev().chain([&at_threshold]).collect();
    release_from_the_top(lesson, parts, &chunks)?;
    let call = format!("release_chunk({:#x})", mapped.start);
    // SAFETY: the chunk is one mem_chunk returned, and nothing uses it any more.
    let _ = lesson.part_call("release_chunk", call, || unsafe {
        counted(mapped.start, || {
            (parts.release_chunk)(mapped.start as *mut u8)
        })
    })?;
    // Asked at once, with mincore, before anything here allocates.
    let left_mapped = sys::first_page_mapped(mapped.start, mapped.size);
    lesson.check_part(
        "release_chunk",
        &format!(
            "the chunk of {} above the threshold was unmapped whole",
            varying_bytes(mapped.size as u64)
        ),
        left_mapped.is_none(),
        left_mapped.map_or_else(String::new, |page| {
            format!(
                "after release_chunk({:#x}), {} of it are still mapped, from {page:#x}: munmap \
                 every page it touches (munmap rounds the length up to whole pages, as mmap did)",
                mapped.start,
                bytes(sys::bytes_mapped(mapped.start, mapped.size) as u64)
            )
        }),
    );
    let left = lesson.part("list_chunks", parts.list_chunks)?;
    lesson.check_part(
        "release_chunk",
        "they were given back too, and the registry lists none",
        left.is_empty(),
        format!("{} still listed", count(left.len(), "chunk")),
    );
    Ok(())
}

/// Releases `chunks`, the last taken first, and checks that no release moved the break up: a
/// chunk on top of the break when its turn comes may go back to the OS, and the break may only
/// go down.
fn release_from_the_top(lesson: &mut Lesson, parts: &Parts, chunks: &[&Taken]) -> Result<()> {
    let mut raised = None;
    for t in chunks {
        let call = format!("release_chunk({:#x})", t.start);
        // SAFETY: the chunk is one mem_chunk returned, and nothing uses it any more.
        let (before, after) = lesson.part_call("release_chunk", call, || unsafe {
            // Read around the call alone: nothing in between allocates.
            let before = sys::program_break() as usize;
            let _ = counted(t.start, || (parts.release_chunk)(t.start as *mut u8));
            (before, sys::program_break() as usize)
        })?;
        if after > before {
            raised.get_or_insert((t.start, after - before));
        }
    }
    let claim = lesson
        .claim("releasing a chunk never moves the break up")
        .about("release_chunk");
    let claim = match raised {
        Some((start, _)) => claim.call(format!("release_chunk({start:#x})")),
        None => claim,
    };
    claim.holds(
        raised.is_none(),
        raised.map_or_else(String::new, |(start, by)| {
            format!(
                "release_chunk({start:#x}) moved the break up by {}: to give break memory \
                 back, sbrk takes minus its length, sbrk(-(len as isize))",
                bytes(by as u64)
            )
        }),
    );
    Ok(())
}

/// Takes the small sizes again, twice each, and writes each chunk with a pattern of its own.
/// Returns the chunks, and the addresses handed out that were not writable.
fn take_small_again(lesson: &mut Lesson, parts: &Parts) -> Result<(Vec<Taken>, Vec<String>)> {
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
            misplaced: None,
        });
    }
    Ok((again, unwritable))
}

/// Takes one chunk of `size` bytes, at or above the threshold, after break memory was given
/// back: it must still get a mapping of its own, not released break memory. Returns it.
fn mapped_again(
    lesson: &mut Lesson,
    parts: &Parts,
    size: usize,
    misplaced: Option<&str>,
) -> Result<Taken> {
    let ptr = lesson
        .part_call("mem_chunk", format!("mem_chunk({size})"), || {
            counted(size, || (parts.mem_chunk)(size))
        })?
        .map_err(|e| anyhow!("mem_chunk({size}) failed: {}", io_error(&e)))?;
    let start = ptr as usize;
    let (map, brk) = lesson.map_and_break()?;
    let place = Placement {
        start,
        size,
        source: Source::Mmap,
        region: map.region_of(start),
        break_region: map.region_of(brk.wrapping_sub(1)),
        brk,
        old_break: brk,
        after_someone_else: false,
        page: sys::page_size(),
    };
    let mut problems = place.problems(&map);
    if place.region.is_some_and(|r| r.kind == RegionKind::Heap) {
        problems.push(
            "released break memory may be handed out again only for sizes below the threshold"
                .to_owned(),
        );
    }
    let claim = lesson
        .claim(format!(
            "mem_chunk({}), after the rest were given back, has an anonymous mapping of its own",
            varying_bytes(size as u64)
        ))
        .about("mem_chunk");
    let claim = match misplaced {
        Some(earlier) => claim.because(earlier, "the same mistake, in a chunk asked for again"),
        None => claim,
    };
    claim.holds(problems.is_empty(), problems.join("; "));
    Ok(Taken {
        size,
        start,
        source: Source::Mmap,
        break_after: brk,
        misplaced: None,
    })
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
