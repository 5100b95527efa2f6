//! The lesson's contract for any `mem_chunk`, checked live: the driver behind
//! `cargo run -p milestone -- contract` (the lesson's reference answer, `src/parts.rs`),
//! `contract library` (this crate's [`mem_chunk`](crate::mem_chunk)) and `milestone-learn`
//! (the learner's, `learn/parts.rs`). All three must print the same address pattern.
//!
//! It checks what the lesson asks, and nothing of how:
//! - each chunk is writable to its last byte, aligned, and overlaps no other;
//! - it comes from `sbrk` below the threshold (the program break's region), and from `mmap` at
//!   or above it (an anonymous mapping);
//! - the registry lists every chunk once, and finds one by any address inside it;
//! - bad sizes are refused and change nothing, and so is a request the OS refuses;
//! - chunks taken by several threads at once are each listed once, and none overlaps another;
//! - as a last, optional part, chunks can be given back, a refused `munmap` is reported, and
//!   memory given back is handed out again at most once.
//!
//! How much a chunk is rounded up, whether memory is reused, and how many system calls are made
//! are the implementation's own business. So they are printed marked as varying, or not at all.
//!
//! # Safety
//! The contract writes and reads the chunks an implementation hands out, through slices made
//! from their addresses. It does so only after checking in `/proc/self/maps` that every byte is
//! mapped writable. It also calls `release_chunk`, and keeps its promise: nothing uses the chunk
//! after.

#![allow(unsafe_code)]

use std::process::ExitCode;

use anyhow::{Context, Result};
use lesson::{CommonFlags, Lesson, LessonInfo, count};
use memcore::MemoryMap;
use memcore::child::{Ended, in_child};

use crate::Source;

mod again;
mod bad_input;
mod counting;
mod find;
mod foundation;
mod full;
mod give_back;
mod interface;
mod library;
pub mod on_chunks;
mod refused;
mod registry;
mod take;
mod threads;
mod unmap_refused;

pub use counting::{CountingAllocator, calls_during};
pub use interface::{ALIGN, ChunkInfo, Parts, pattern, sizes};
use interface::{follows_threshold, found};
pub use library::library;
use take::Placement;

const INFO: LessonInfo = LessonInfo {
    name: "milestone",
    title: "mem_chunk, checked against the lesson's contract",
    about: "Asks a mem_chunk implementation for chunks below, at and above its mmap threshold. \
            Checks each is aligned and writable to its last byte. Checks each comes from sbrk \
            below the threshold and from mmap at or above it, as /proc/self/maps and the \
            program break say. Checks the registry lists each chunk once, and finds one by any \
            address inside it. Checks bad sizes, and requests the OS refuses, are refused and \
            change nothing. If release_chunk is written, it gives every chunk back, and takes \
            some again.",
};

/// Runs the contract on `parts`, taking the common flags from the command line; the exit
/// status says how it went (see the `lesson` crate).
pub fn main(parts: &Parts) -> ExitCode {
    main_with(parts, lesson::parse::<CommonFlags>(INFO).1)
}

/// Runs the contract on `parts` with flags already parsed (the demo's `contract` subcommand).
pub fn main_with(parts: &Parts, common: CommonFlags) -> ExitCode {
    Lesson::start_with_flags(INFO, common).run(|lesson| run(lesson, parts))
}

/// One chunk the contract took.
#[derive(Debug, Clone)]
struct Taken {
    size: usize,
    start: usize,
    source: Source,
    /// The program break just after mem_chunk returned it.
    break_after: usize,
    /// The claim about where it lies, if that failed when it was taken: later claims that
    /// fail for the same cause follow from it.
    misplaced: Option<String>,
}

/// What the steps after the first need when it gave nothing.
const NEEDS_CHUNKS: &str = "the chunks taken in step 1";

/// Runs the steps. A step that fails its claims lets the run go on; one that cannot go on
/// stops alone, and the steps that need what it gives say so.
fn run(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    let taken = lesson.attempt(|lesson| take::take(lesson, parts))?;
    let unrecorded = lesson
        .attempt(|lesson| registry::registry(lesson, parts, taken.as_deref()))?
        .flatten();
    lesson.attempt(|lesson| find::find(lesson, parts, taken.as_deref(), unrecorded.as_ref()))?;
    lesson.attempt(|lesson| bad_input::bad_input(lesson, parts))?;
    lesson.attempt(|lesson| refused::os_refuses(lesson, parts))?;
    lesson.attempt(|lesson| threads::many_threads(lesson, parts))?;
    lesson.attempt(|lesson| full::full_registry(lesson, parts))?;
    lesson.attempt(|lesson| foundation::foundation(lesson, parts))?;
    lesson.attempt(|lesson| give_back::give_back(lesson, parts, taken.as_deref()))?;
    Ok(())
}

/// Runs `child` in a process of its own, forked from this one ([`in_child`]), and brings back
/// what it returned, or how it ended otherwise.
fn in_a_child<T: Copy + 'static>(child: impl FnOnce() -> T) -> Result<Ended<T>> {
    // SAFETY: the contract has one thread, so no lock is held at the fork; every child returns
    // an enum or plain numbers, which point into nothing the child made.
    unsafe { in_child(child) }.context("could not fork a child for the contract")
}

/// Checks that `part` never called the global allocator since the last such check; `call`
/// shows the first call that did (`mem_chunk(100)`).
fn never_allocated(lesson: &mut Lesson, part: &'static str, call: impl Fn(usize) -> String) {
    never_allocated_as(lesson, part, counting::take(), call, None);
}

/// As [`never_allocated`], with what the counting allocator saw (`counting::take`) given:
/// in a child, say. `because` names an earlier claim that, failing, made the part allocate
/// (a panic allocates its message), and how.
fn never_allocated_as(
    lesson: &mut Lesson,
    part: &'static str,
    seen: Option<(usize, Option<usize>)>,
    call: impl Fn(usize) -> String,
    because: Option<(&str, &str)>,
) {
    let claim = format!("{part} never called the global allocator");
    let (held, detail) = match seen {
        Some((0, _)) => (true, String::new()),
        Some((calls, first)) => (
            false,
            format!(
                "{} called it, {} in this step. The allocator of the next lessons calls {part} \
                 from inside its own alloc, so a Vec, a Box, a String or an io::Error with a \
                 message calls back into itself: keep the registry in a fixed array, and make \
                 errors from io::ErrorKind alone",
                first.map_or_else(|| part.to_owned(), call),
                count(calls, "time")
            ),
        ),
        None => (
            false,
            "this binary's global allocator is not the contract's CountingAllocator, so \
             nothing can be told (the lesson's fault, not yours)"
                .to_owned(),
        ),
    };
    let claim = lesson.claim(claim).about(part);
    let claim = match because {
        Some((earlier, how)) => claim.because(earlier, how),
        None => claim,
    };
    claim.holds(held, detail);
}

/// Whether `[start, start + len)` lies in one writable region of `map`.
fn writable(map: &MemoryMap, start: usize, len: usize) -> bool {
    map.region_of(start)
        .is_some_and(|r| r.perms.write && start.checked_add(len).is_some_and(|end| end <= r.end))
}
