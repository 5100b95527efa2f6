//! The contract's first step: chunks of every size the lesson asks for, each checked where it
//! lies (aligned, from the source its size calls for, mapped writable) and filled with a
//! pattern of its own. Before the second, someone else's `sbrk` leaves the break unaligned.
//!
//! # Safety
//! A chunk is written only after `/proc/self/maps` shows every byte of it mapped writable.

use anyhow::{Context, Result, anyhow, bail};
use lesson::{Lesson, Marks, bytes, io_error, varying_bytes};
use memcore::{MemoryMap, RegionKind, sys};

use super::counting::counted;
use super::{ALIGN, Parts, Taken, follows_threshold, never_allocated, pattern, sizes, writable};
use crate::Source;
use memcore::theirs::Theirs;

/// Where the contract leaves the break before the second chunk, as another caller of `sbrk`
/// would: this many bytes past a multiple of [`ALIGN`], so the next break chunk must be
/// aligned first.
pub(super) const FOREIGN_SBRK: usize = 8;

/// Moves the break as someone else's `sbrk` would, to [`FOREIGN_SBRK`] bytes past a multiple
/// of [`ALIGN`], and writes their bytes. The bytes it takes are never given back: they lie
/// under the chunks above.
pub(super) fn leave_break_unaligned(lesson: &mut Lesson) -> Result<Theirs> {
    let start = unalign_break().context("could not move the break as someone else would")? as usize;
    let len = sys::program_break() as usize - start;
    // SAFETY: their sbrk just took these bytes, below the break; nothing else refers to them.
    let theirs = unsafe { Theirs::written(start, len) };
    lesson.fact(
        "someone else's sbrk left the break",
        format!("{FOREIGN_SBRK} bytes past a multiple of {ALIGN}"),
    );
    Ok(theirs)
}

/// Moves the break up by a few bytes, as someone else's `sbrk` would, to [`FOREIGN_SBRK`] bytes
/// past a multiple of [`ALIGN`].
pub(super) fn unalign_break() -> Result<*mut u8, memcore::BreakError> {
    let brk = sys::program_break();
    let past = (brk as usize) % ALIGN;
    let increment = match (FOREIGN_SBRK + ALIGN - past) % ALIGN {
        0 => ALIGN,
        n => n,
    };
    sys::sbrk_from(brk, increment)
}

/// Where a chunk mem_chunk returned lies, against where its size says it must.
pub(super) struct Placement<'a> {
    pub(super) start: usize,
    pub(super) size: usize,
    pub(super) source: Source,
    pub(super) region: Option<&'a memcore::Region>,
    /// The region holding the last byte below the break.
    pub(super) break_region: Option<&'a memcore::Region>,
    pub(super) brk: usize,
    /// The break just before mem_chunk was called.
    pub(super) old_break: usize,
    /// Someone else's sbrk moved the break just before.
    pub(super) after_someone_else: bool,
    pub(super) page: usize,
}

impl Placement<'_> {
    fn alignment(&self) -> usize {
        match self.source {
            Source::Sbrk => ALIGN,
            Source::Mmap => self.page,
        }
    }

    fn aligned_to(&self) -> String {
        match self.source {
            Source::Sbrk => format!("{ALIGN} bytes"),
            Source::Mmap => "a page".to_owned(),
        }
    }

    /// Why the chunk is not aligned: for a break chunk at a break left unaligned, where that
    /// came from and how to remove it.
    fn misaligned(&self) -> String {
        let (start, old) = (self.start, self.old_break);
        let past = bytes((start % self.alignment()) as u64);
        let said = format!(
            "{start:#x} is {past} past a multiple of {}",
            self.aligned_to()
        );
        if self.source != Source::Sbrk || old.is_multiple_of(ALIGN) || start % ALIGN != old % ALIGN
        {
            return said;
        }
        let who = if self.after_someone_else {
            "someone else's sbrk had left it there. Rounding each size up keeps the break \
             aligned only while nobody else moves it"
        } else {
            "the break was not on a multiple of 16 either"
        };
        format!(
            "{said}: it starts where the break was, {old:#x}, and {who}. So align the break \
             itself first: ask sbrk for the padding up to the next multiple of {ALIGN}, then for \
             the chunk, rounded up"
        )
    }

    /// What is wrong with the chunk, in the words of mem_chunk's doc comment; empty if nothing.
    pub(super) fn problems(&self, map: &MemoryMap) -> Vec<String> {
        let start = self.start;
        if start == usize::MAX {
            return vec![
                "it returned (void *) -1, the value sbrk and mmap (MAP_FAILED) return when they \
                 fail, as if it were memory: when the call fails, return \
                 Err(io::Error::last_os_error())"
                    .to_owned(),
            ];
        }
        if start == 0 {
            return vec!["it returned a null pointer".to_owned()];
        }
        let mut problems = Vec::new();
        let align = self.alignment();
        if !start.is_multiple_of(align) {
            problems.push(self.misaligned());
        }
        let here = self.region.map_or_else(
            || "no mapped region".to_owned(),
            std::string::ToString::to_string,
        );
        match (self.source, self.region) {
            (_, None) => problems.push(format!("{start:#x} lies in no mapped region")),
            (Source::Sbrk, Some(r)) if Some(r) != self.break_region => problems.push(format!(
                "it lies in {here}, but a size below the threshold must come from sbrk, in the \
                 break's region"
            )),
            (Source::Sbrk, Some(_)) if start + self.size > self.brk => {
                problems.push(format!("it ends past the program break, {:#x}", self.brk))
            }
            (Source::Mmap, Some(r)) if r.perms.shared => problems.push(format!(
                "it lies in {here}, a shared mapping (MAP_SHARED): a chunk must be private, \
                 MAP_PRIVATE | MAP_ANONYMOUS"
            )),
            (Source::Mmap, Some(r)) if r.kind != RegionKind::Anonymous => {
                problems.push(format!(
                    "it lies in {here}, but a size at or above the threshold must have an \
                     anonymous mapping of its own (mmap)"
                ));
            }
            _ => {}
        }
        if self.region.is_some() && !writable(map, start, self.size) {
            problems.push(format!(
                "not all {} asked for are mapped writable from {start:#x}: {here} \
                 ends at {:#x}",
                bytes(self.size as u64),
                self.region.map_or(start, |r| r.end)
            ));
        }
        problems
    }
}

pub(super) fn take(lesson: &mut Lesson, parts: &Parts) -> Result<Vec<Taken>> {
    let sizes = sizes(parts.mmap_threshold);
    explain_take(lesson, parts, sizes.len());
    lesson.give_malloc_room();
    let mut taken = Vec::new();
    let mut theirs = None;
    for (i, &size) in sizes.iter().enumerate() {
        if i == 1 {
            theirs = Some(leave_break_unaligned(lesson)?);
        }
        taken.push(take_one(lesson, parts, i, size)?);
    }
    let intact = taken.iter().enumerate().all(|(i, t)| intact(i, t));
    lesson.check(
        "after all were written, each still holds its own pattern: none overlaps another",
        intact,
        "a chunk's bytes were overwritten by another's",
    );
    lesson.check_part(
        "mem_chunk",
        "the bytes someone else's sbrk took below the chunks are still theirs",
        theirs.as_ref().is_none_or(Theirs::kept),
        "a chunk's pattern was written over them: mem_chunk handed out bytes that someone \
         else's sbrk took. Hand out only memory your own sbrk gave: align the break up, never \
         down",
    );
    never_allocated(lesson, "mem_chunk", |size| format!("mem_chunk({size})"));
    Ok(taken)
}

/// The first step's heading, and what it says before the chunks are taken.
pub(super) fn explain_take(lesson: &mut Lesson, parts: &Parts, chunks: usize) {
    lesson.step(format!(
        "Take {chunks} chunks, and write each to its last byte"
    ));
    lesson.say(
        "mem_chunk(size) gets memory from the OS. Below the mmap threshold it uses sbrk, \
         moving the program break. At or above it, it uses an anonymous mmap of its own.\n\
         It records every chunk in a registry. The registry lists the chunks, and finds the \
         chunk that holds any address.",
    );
    lesson.fact(
        "mmap threshold (the implementation's choice)",
        varying_bytes(parts.mmap_threshold as u64),
    );
    lesson.say(&format!(
        "Each chunk must be aligned to {ALIGN} bytes, which is enough for any type.\n\
         A chunk smaller than the threshold must lie in the program break's region ([heap]). \
         Any other chunk must lie in an anonymous mapping.\n\
         Each chunk must hold every byte asked for. So each is filled with a pattern of its \
         own, and read back.\n\
         Where a chunk lies among the others is the implementation's choice, so the addresses \
         are marked ~.\n\
         The threshold is the implementation's choice too. The sizes one byte below it, at it \
         and above it follow it, so they are marked ~.\n\
         Before the second chunk, someone else calls sbrk and leaves the break unaligned. The \
         chunks after it must still be aligned.\n\
         This program allocates with glibc's malloc, to read /proc/self/maps and to print.\n\
         So first, malloc gets 64 KiB of room at the top of its heap, from a block allocated \
         and freed. Then this program's allocations never move the break between two chunks."
    ));
}

/// Takes the `i`th chunk, of `size` bytes, checks where it lies, and fills it with its pattern.
pub(super) fn take_one(lesson: &mut Lesson, parts: &Parts, i: usize, size: usize) -> Result<Taken> {
    let old_break = sys::program_break() as usize;
    let call = call_of(i, size, parts.mmap_threshold);
    let ptr = lesson
        .part_call("mem_chunk", call.clone(), || {
            counted(size, || (parts.mem_chunk)(size))
        })?
        .map_err(|e| anyhow!("{call} failed: {}", io_error(&e)))?;
    let start = ptr as usize;
    let (map, brk) = lesson.map_and_break()?;
    let shown = if follows_threshold(i) {
        varying_bytes(size as u64)
    } else {
        bytes(size as u64)
    };
    let region = lesson.observe_with(&map, &format!("mem_chunk({shown})"), start, Marks::ADDRESS);
    let source = if size < parts.mmap_threshold {
        Source::Sbrk
    } else {
        Source::Mmap
    };
    let place = Placement {
        start,
        size,
        source,
        region: region.as_ref(),
        break_region: map.region_of(brk.wrapping_sub(1)),
        brk,
        old_break,
        after_someone_else: i == 1,
        page: sys::page_size(),
    };
    let problems = place.problems(&map);
    let claim = format!(
        "it is aligned to {}, comes from {source} as its size calls for, and every byte asked \
         for is mapped writable",
        place.aligned_to()
    );
    let placed = lesson.check(&claim, problems.is_empty(), problems.join("; "));
    if !writable(&map, start, size) {
        bail!("the chunk is not all ours to write, so the lesson cannot fill it");
    }
    // SAFETY: all `size` bytes lie in one writable mapping (just checked), and mem_chunk gave
    // them to us alone.
    let memory = unsafe { std::slice::from_raw_parts_mut(ptr, size) };
    for (offset, byte) in memory.iter_mut().enumerate() {
        *byte = pattern(i, offset);
    }
    Ok(Taken {
        size,
        start,
        source,
        break_after: brk,
        misplaced: (!placed).then_some(claim),
    })
}

/// The `i`th call of the first step, in the learner's terms: for a size that follows the
/// threshold, where it lies against it.
pub(super) fn call_of(i: usize, size: usize, threshold: usize) -> String {
    let against = match i {
        3 => format!(", 1 byte below your threshold of {threshold}"),
        4 => ", at your threshold".to_owned(),
        5 => format!(", above your threshold of {threshold}"),
        6 => ", 8 times your threshold".to_owned(),
        _ => String::new(),
    };
    format!("mem_chunk({size}){against}")
}

/// Whether the `i`th chunk still holds its pattern.
pub(super) fn intact(i: usize, taken: &Taken) -> bool {
    // SAFETY: `take` checked these bytes are mapped writable and ours; nothing else writes them.
    let memory = unsafe { std::slice::from_raw_parts(taken.start as *const u8, taken.size) };
    memory
        .iter()
        .enumerate()
        .all(|(offset, &b)| b == pattern(i, offset))
}
