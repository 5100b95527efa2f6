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

use std::collections::BTreeMap;
use std::io;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use lesson::{
    CommonFlags, Lesson, LessonInfo, Marks, bytes, count, io_error, moved, varying_bytes,
    varying_text,
};
use memcore::{MemoryMap, RegionKind, sys};

use crate::Source;

mod again;
mod bump;
mod counting;
mod full;
mod library;
mod refused;
mod threads;
mod unmap_refused;

pub use counting::CountingAllocator;
use counting::counted;

pub use library::library;

/// One live chunk, as an implementation's registry describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkInfo {
    /// The address of its first byte.
    pub start: usize,
    /// How many bytes are usable, at least the size asked for.
    pub len: usize,
    /// Where the memory came from.
    pub source: Source,
}

impl std::fmt::Display for ChunkInfo {
    /// `the chunk at 0x…, 32 bytes, from sbrk`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the chunk at {:#x}, {}, from {}",
            self.start,
            bytes(self.len as u64),
            self.source.name()
        )
    }
}

/// `the chunk at …`, or `no chunk`.
fn found(chunk: Option<ChunkInfo>) -> String {
    chunk.map_or_else(|| "no chunk".to_owned(), |c| c.to_string())
}

/// A `mem_chunk` implementation, as the contract calls it (see `src/parts.rs` for what each
/// part must do).
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    /// Requests of this many bytes or more are mapped; smaller ones come from the break.
    pub mmap_threshold: usize,
    /// At least `size` writable bytes from the OS, recorded in the registry.
    pub mem_chunk: fn(usize) -> io::Result<*mut u8>,
    /// Every live chunk, once each.
    pub list_chunks: fn() -> Vec<ChunkInfo>,
    /// The live chunk holding an address, if any.
    pub find_chunk: fn(usize) -> Option<ChunkInfo>,
    /// Gives a chunk back (optional).
    pub release_chunk: unsafe fn(*mut u8) -> io::Result<()>,
}

/// The sizes the contract asks for, in this order, for an implementation whose mmap threshold
/// is `threshold`: small ones, one byte below the threshold, at it and above it, a large one,
/// and a small one after them. The threshold is the implementation's choice, so the sizes that
/// follow it are printed marked as varying.
pub fn sizes(threshold: usize) -> [usize; 8] {
    let t = threshold.max(1);
    [
        24,
        100,
        4096,
        t - 1,
        t,
        t.saturating_add(t / 2),
        t.saturating_mul(8),
        64,
    ]
}

/// Whether the `i`th of [`sizes`] follows the threshold (and so is printed marked as varying).
fn follows_threshold(i: usize) -> bool {
    (3..=6).contains(&i)
}

/// Where the contract leaves the break before the second chunk, as another caller of `sbrk`
/// would: this many bytes past a multiple of [`ALIGN`], so the next break chunk must be
/// aligned first.
const FOREIGN_SBRK: usize = 8;

/// Moves the break as someone else's `sbrk` would, to [`FOREIGN_SBRK`] bytes past a multiple
/// of [`ALIGN`]. The bytes it takes are never given back: they lie under the chunks above.
fn leave_break_unaligned(lesson: &mut Lesson) -> Result<()> {
    unalign_break().context("could not move the break as someone else would")?;
    lesson.fact(
        "someone else's sbrk left the break",
        format!("{FOREIGN_SBRK} bytes past a multiple of {ALIGN}"),
    );
    Ok(())
}

/// Moves the break up by a few bytes, as someone else's `sbrk` would, to [`FOREIGN_SBRK`] bytes
/// past a multiple of [`ALIGN`].
fn unalign_break() -> Result<*mut u8, memcore::BreakError> {
    let brk = sys::program_break();
    let past = (brk as usize) % ALIGN;
    let increment = match (FOREIGN_SBRK + ALIGN - past) % ALIGN {
        0 => ALIGN,
        n => n,
    };
    sys::sbrk_from(brk, increment)
}

/// The alignment every chunk must have: enough for any Rust or C type on x86_64 and aarch64
/// (`max_align_t`).
pub const ALIGN: usize = 16;

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
#[derive(Debug, Clone, Copy)]
struct Taken {
    size: usize,
    start: usize,
    source: Source,
    /// The program break just after mem_chunk returned it.
    break_after: usize,
}

/// The byte the `chunk`th chunk holds at `offset`: each chunk a pattern of its own, so that
/// an overlap shows.
pub fn pattern(chunk: usize, offset: usize) -> u8 {
    (chunk * 31 + offset % 251) as u8
}

fn run(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    let taken = take(lesson, parts)?;
    registry(lesson, parts, &taken)?;
    find(lesson, parts, &taken)?;
    bad_input(lesson, parts)?;
    refused::os_refuses(lesson, parts)?;
    threads::many_threads(lesson, parts)?;
    full::full_registry(lesson, parts)?;
    bump::foundation(lesson, parts)?;
    give_back(lesson, parts, &taken)
}

/// Runs `child` in a process of its own, forked from this one, and reads back which of
/// `outcomes` it reached from its exit code (`code` gives an outcome's). The outcome is `None`
/// when the child died of a signal or exited otherwise (a panic's 101); the exit says which.
///
/// # Safety
/// The contract has one thread, so no lock is held at the fork; `child` calls only the
/// implementation's parts and what it allocates itself.
fn in_a_child<T: Copy>(
    outcomes: &[T],
    code: fn(T) -> i32,
    child: impl FnOnce() -> T,
) -> Result<(Option<T>, sys::ChildExit)> {
    // SAFETY: see the function's doc: one thread, so nothing the child waits on is held.
    let exit = unsafe { sys::fork_and_wait(move || code(child())) }
        .context("could not fork a child for the contract")?;
    let outcome = match exit {
        sys::ChildExit::Exited(exited) => outcomes.iter().copied().find(|o| code(*o) == exited),
        sys::ChildExit::Signaled(_) => None,
    };
    Ok((outcome, exit))
}

/// Checks that `part` never called the global allocator since the last such check; `call`
/// shows the first call that did (`mem_chunk(100)`).
fn never_allocated(lesson: &mut Lesson, part: &'static str, call: impl Fn(usize) -> String) {
    let claim = format!("{part} never called the global allocator");
    let (held, detail) = match counting::take() {
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
    lesson.check_part(part, &claim, held, detail);
}

/// Whether `[start, start + len)` lies in one writable region of `map`.
fn writable(map: &MemoryMap, start: usize, len: usize) -> bool {
    map.region_of(start)
        .is_some_and(|r| r.perms.write && start.checked_add(len).is_some_and(|end| end <= r.end))
}

/// Where a chunk mem_chunk returned lies, against where its size says it must.
struct Placement<'a> {
    start: usize,
    size: usize,
    source: Source,
    region: Option<&'a memcore::Region>,
    /// The region holding the last byte below the break.
    break_region: Option<&'a memcore::Region>,
    brk: usize,
    page: usize,
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

    /// What is wrong with the chunk, in the words of mem_chunk's doc comment; empty if nothing.
    fn problems(&self, map: &MemoryMap) -> Vec<String> {
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
            problems.push(format!(
                "{start:#x} is {} past a multiple of {}",
                bytes((start % align) as u64),
                self.aligned_to()
            ));
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

fn take(lesson: &mut Lesson, parts: &Parts) -> Result<Vec<Taken>> {
    let sizes = sizes(parts.mmap_threshold);
    explain_take(lesson, parts, sizes.len());
    lesson.give_malloc_room();
    let mut taken = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        if i == 1 {
            leave_break_unaligned(lesson)?;
        }
        taken.push(take_one(lesson, parts, i, size)?);
    }
    let intact = taken.iter().enumerate().all(|(i, t)| intact(i, t));
    lesson.check(
        "after all were written, each still holds its own pattern: none overlaps another",
        intact,
        "a chunk's bytes were overwritten by another's",
    );
    never_allocated(lesson, "mem_chunk", |size| format!("mem_chunk({size})"));
    Ok(taken)
}

/// The first step's heading, and what it says before the chunks are taken.
fn explain_take(lesson: &mut Lesson, parts: &Parts, chunks: usize) {
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
fn take_one(lesson: &mut Lesson, parts: &Parts, i: usize, size: usize) -> Result<Taken> {
    let ptr = lesson
        .part("mem_chunk", || counted(size, || (parts.mem_chunk)(size)))?
        .map_err(|e| anyhow!("mem_chunk({size}) failed: {}", io_error(&e)))?;
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
        page: sys::page_size(),
    };
    let unaligned_first = if i == 1 {
        ", even after someone else left the break unaligned"
    } else {
        ""
    };
    let problems = place.problems(&map);
    lesson.check(
        &format!(
            "it is aligned to {}{unaligned_first}, comes from {source} as its size calls for, \
             and every byte asked for is mapped writable",
            place.aligned_to()
        ),
        problems.is_empty(),
        problems.join("; "),
    );
    if !writable(&map, start, size) {
        bail!("stopping here: the chunk is not all ours to write, so the lesson cannot fill it");
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
    })
}

/// What releasing the `released`th chunk did to the chunks taken after it, which are still
/// live. Each must still be mapped writable and hold its pattern. One from sbrk must still lie
/// below the break, since break memory goes back only from the top.
fn harmed_by_release(lesson: &Lesson, taken: &[Taken], released: usize) -> Result<Vec<String>> {
    let (map, brk) = lesson.map_and_break()?;
    let gone = &taken[released];
    let mut harmed = Vec::new();
    for (i, t) in taken.iter().enumerate().skip(released + 1) {
        let whole = writable(&map, t.start, t.size);
        let below = t.source == Source::Mmap || t.start + t.size <= brk;
        if !whole || !below {
            harmed.push(format!(
                "after the chunk at {:#x} was released, the live chunk at {:#x} ({}) {}; \
                 break memory goes back only when the chunk is on top, at the break",
                gone.start,
                t.start,
                bytes(t.size as u64),
                if whole {
                    format!("reaches past the break, now at {brk:#x}")
                } else {
                    "is no longer mapped writable".to_owned()
                }
            ));
        } else if !intact(i, t) {
            harmed.push(format!(
                "after the chunk at {:#x} was released, the live chunk at {:#x} no longer \
                 holds what was written to it",
                gone.start, t.start
            ));
        }
    }
    Ok(harmed)
}

/// Whether the `i`th chunk still holds its pattern.
fn intact(i: usize, taken: &Taken) -> bool {
    // SAFETY: `take` checked these bytes are mapped writable and ours; nothing else writes them.
    let memory = unsafe { std::slice::from_raw_parts(taken.start as *const u8, taken.size) };
    memory
        .iter()
        .enumerate()
        .all(|(offset, &b)| b == pattern(i, offset))
}

fn registry(lesson: &mut Lesson, parts: &Parts, taken: &[Taken]) -> Result<()> {
    lesson.step("The registry lists every chunk once");
    lesson.say(
        "list_chunks gives every live chunk: its start, its usable length and where it came \
         from.\n\
         The usable length is at least what was asked. How much more is the implementation's \
         choice.",
    );
    let listed = lesson.part("list_chunks", parts.list_chunks)?;
    let (map, brk) = lesson.map_and_break()?;
    lesson.line(format!(
        "  {:<18} {:<26} {:<7} region",
        "start", "usable", "source"
    ));
    let mut times: BTreeMap<usize, usize> = BTreeMap::new();
    for chunk in &listed {
        *times.entry(chunk.start).or_default() += 1;
    }
    for t in taken {
        let entry = listed.iter().find(|c| c.start == t.start);
        let region = map
            .region_of(t.start)
            .map_or_else(|| "no region".to_owned(), |r| r.to_string());
        let (usable, source) = entry.map_or(("not listed".to_owned(), "-".to_owned()), |c| {
            (varying_bytes(c.len as u64), c.source.name().to_owned())
        });
        lesson.line(format!(
            "  ~{:<#17x} {usable:<26} {source:<7} {region}",
            t.start
        ));
    }
    let once = taken.iter().all(|t| times.get(&t.start) == Some(&1));
    lesson.check(
        "each chunk is listed exactly once, and nothing else is",
        once && listed.len() == taken.len(),
        format!("{} listed for {} taken", listed.len(), taken.len()),
    );
    let described = taken.iter().all(|t| {
        listed
            .iter()
            .any(|c| c.start == t.start && c.len >= t.size && c.source == t.source)
    });
    lesson.check(
        "each is listed with at least the size asked, and the source its size calls for",
        described,
        "a chunk's length or source is wrong (see the table)",
    );
    let mut spans: Vec<(usize, usize)> =
        listed.iter().map(|c| (c.start, c.start + c.len)).collect();
    spans.sort_unstable();
    let apart = spans.windows(2).all(|w| w[0].1 <= w[1].0);
    lesson.check(
        "no two listed chunks overlap",
        apart,
        "two chunks share bytes",
    );
    let agree = listed.iter().all(|c| match c.source {
        Source::Sbrk => c.start + c.len <= brk && writable(&map, c.start, c.len),
        Source::Mmap => map
            .region_of(c.start)
            .is_some_and(|r| r.kind == RegionKind::Anonymous && c.start + c.len <= r.end),
    });
    let claim = "the break and /proc/self/maps agree: sbrk chunks lie below the break, mmap \
                 chunks in anonymous mappings, each whole";
    match past_the_break(taken, &listed) {
        // Its cause is in mem_chunk, which recorded more than it took.
        Some(detail) => {
            lesson.check_part("mem_chunk", claim, false, detail);
        }
        None => {
            lesson.check(
                claim,
                agree,
                format!("the break is at {brk:#x}; see the table"),
            );
        }
    }
    Ok(())
}

/// The first break chunk listed with more bytes than mem_chunk had moved the break past its
/// start when it returned it: bytes that were not yet its own, which the next `sbrk` (anyone's)
/// hands out again.
fn past_the_break(taken: &[Taken], listed: &[ChunkInfo]) -> Option<String> {
    taken
        .iter()
        .filter(|t| t.source == Source::Sbrk)
        .find_map(|t| {
            let c = listed
                .iter()
                .find(|c| c.start == t.start && c.source == Source::Sbrk)?;
            (c.start + c.len > t.break_after).then(|| {
            format!(
                "the chunk at {:#x} is listed with {}, but when mem_chunk returned it the break \
                 was only {} past its start: list only bytes that sbrk gave",
                c.start,
                bytes(c.len as u64),
                bytes(t.break_after.saturating_sub(c.start) as u64)
            )
        })
        })
}

fn find(lesson: &mut Lesson, parts: &Parts, taken: &[Taken]) -> Result<()> {
    lesson.step("Find the chunk that holds an address");
    lesson.say(
        "find_chunk takes any address and answers with the chunk that holds it.\n\
         It is asked for the first byte of each chunk, one in its middle and its last. An \
         address in no chunk finds none.\n\
         It must never read the address itself.",
    );
    let mut wrong = Vec::new();
    for t in taken {
        for addr in [t.start, t.start + t.size / 2, t.start + t.size - 1] {
            let chunk = lesson.part("find_chunk", || counted(addr, || (parts.find_chunk)(addr)))?;
            if chunk.map(|c| c.start) != Some(t.start) {
                wrong.push(format!(
                    "{addr:#x}, inside the chunk at {:#x}, found {}",
                    t.start,
                    found(chunk)
                ));
            }
        }
    }
    lesson.check(
        &format!(
            "for each of the {} chunks, its first, middle and last byte find it",
            taken.len()
        ),
        wrong.is_empty(),
        wrong.join("; "),
    );
    one_past_the_end(lesson, parts)?;
    let local = 0u8;
    let on_stack = &raw const local as usize;
    let boxed = Box::new(0u64);
    let from_malloc = &raw const *boxed as usize;
    let map = lesson.map()?;
    lesson.observe_with(&map, "a local variable", on_stack, Marks::ADDRESS);
    lesson.observe_with(
        &map,
        "a Box from glibc's malloc",
        from_malloc,
        Marks::ADDRESS,
    );
    let none = (
        lesson.part("find_chunk", || {
            counted(on_stack, || (parts.find_chunk)(on_stack))
        })?,
        lesson.part("find_chunk", || {
            counted(from_malloc, || (parts.find_chunk)(from_malloc))
        })?,
    );
    lesson.check(
        "neither is in a chunk",
        none == (None, None),
        format!(
            "the local found {}; the Box found {}",
            found(none.0),
            found(none.1)
        ),
    );
    never_allocated(lesson, "find_chunk", |addr| {
        format!("find_chunk({addr:#x})")
    });
    Ok(())
}

/// The address one past a chunk's last usable byte (its listed length, which may be more than
/// was asked) is not in it: a `<=` where a `<` belongs claims it.
fn one_past_the_end(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    let listed = lesson.part("list_chunks", parts.list_chunks)?;
    let mut claimed = Vec::new();
    for chunk in &listed {
        let past = chunk.start.wrapping_add(chunk.len);
        let answer = lesson.part("find_chunk", || counted(past, || (parts.find_chunk)(past)))?;
        if answer.is_some_and(|c| c.start == chunk.start) {
            claimed.push(format!(
                "{past:#x}, one past the end of {chunk}, found that chunk"
            ));
        }
    }
    lesson.check(
        "the address one past a chunk's last byte does not find that chunk",
        claimed.is_empty(),
        claimed.join("; "),
    );
    Ok(())
}

fn bad_input(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    lesson.step("Bad sizes are refused and change nothing");
    lesson.say(
        "Some sizes make no chunk: 0, a size that overflows when rounded up, and any size \
         above isize::MAX, which neither sbrk nor mmap can take.\n\
         mem_chunk must refuse them before any system call, leaving the registry as it was.",
    );
    let mut before = lesson.part("list_chunks", parts.list_chunks)?;
    let brk = sys::program_break() as usize;
    let mut refused = true;
    let mut invalid_input = true;
    for (label, size) in [
        ("0", 0),
        ("isize::MAX + 1", isize::MAX as usize + 1),
        ("usize::MAX", usize::MAX),
    ] {
        let result = lesson.part("mem_chunk", || counted(size, || (parts.mem_chunk)(size)))?;
        let said = match &result {
            // The words are the implementation's own; only the refusal is the lesson's.
            Err(e) => format!("refused: {}", varying_text(&io_error(e))),
            Ok(p) => format!("granted at {:#x}", *p as usize),
        };
        refused &= result.is_err();
        invalid_input &= result
            .as_ref()
            .is_err_and(|e| e.kind() == io::ErrorKind::InvalidInput);
        lesson.fact(&format!("mem_chunk({label})"), said);
    }
    let mut after = lesson.part("list_chunks", parts.list_chunks)?;
    before.sort_by_key(|c| c.start);
    after.sort_by_key(|c| c.start);
    let unchanged = before == after && sys::program_break() as usize == brk;
    lesson.check_part(
        "mem_chunk",
        "each was refused, and the registry and the break are as they were",
        refused && unchanged,
        match (refused, before == after) {
            (false, _) => "mem_chunk granted a size it must refuse (see above)".to_owned(),
            (true, false) => "the registry changed, though every size was refused".to_owned(),
            (true, true) => "the break moved, though every size was refused".to_owned(),
        },
    );
    lesson.check_part(
        "mem_chunk",
        "each refusal is io::ErrorKind::InvalidInput, made before any system call",
        !refused || invalid_input,
        "a refusal came back with another kind: a size that is 0, overflows or exceeds \
         isize::MAX must be refused by mem_chunk itself, with InvalidInput, before sbrk or mmap",
    );
    never_allocated(lesson, "mem_chunk", |size| format!("mem_chunk({size})"));
    Ok(())
}

fn give_back(lesson: &mut Lesson, parts: &Parts, taken: &[Taken]) -> Result<()> {
    lesson.step("Give every chunk back (the last part, optional)");
    lesson.say(
        "release_chunk takes a pointer mem_chunk returned. It unmaps an mmap chunk at once. \
         It gives break memory back or keeps it for reuse, as the implementation chooses.\n\
         Any other pointer is refused and changes nothing, such as one into the middle of a \
         chunk, or one already released.\n\
         Before the chunks go back, someone else takes a page above them with sbrk. It stays \
         theirs.\n\
         munmap can fail too. A child process makes it fail, and release_chunk must then \
         return the error and keep the chunk.\n\
         Then the small sizes are taken again, twice each, and one size above the threshold. \
         Memory given back may be handed out again, but only once, and only below the \
         threshold.",
    );
    let first = taken.first().context("no chunk was taken")?;
    let interior = (first.start + 1) as *mut u8;
    // SAFETY: release_chunk must refuse a pointer that is not a chunk's start, without using
    // the memory; if it does not, the check below says so.
    let refused = lesson.optional_part("release_chunk", || unsafe {
        counted(interior as usize, || (parts.release_chunk)(interior))
    })?;
    let still = lesson.part("list_chunks", parts.list_chunks)?.len();
    lesson.check_part(
        "release_chunk",
        "a pointer into the middle of a chunk is refused, and every chunk stays",
        refused.is_err() && still == taken.len(),
        format!(
            "it was {}, {still} chunks listed",
            if refused.is_ok() {
                "accepted"
            } else {
                "refused"
            }
        ),
    );
    let unmapped = release_each(lesson, parts, taken)?;
    let left = lesson.part("list_chunks", parts.list_chunks)?;
    lesson.check_part(
        "release_chunk",
        "the registry lists none, and the mmap chunks are unmapped",
        left.is_empty() && unmapped,
        match (left.len(), unmapped) {
            (0, _) => "an mmap chunk still has a page mapped after its release".to_owned(),
            (n, _) => format!("{} still listed", count(n, "chunk")),
        },
    );
    let mut still_found = Vec::new();
    for t in taken {
        if let Some(found) = lesson.part("find_chunk", || (parts.find_chunk)(t.start))? {
            still_found.push(format!("{:#x} finds {found}", t.start));
        }
    }
    lesson.check_part(
        "find_chunk",
        "no released chunk is found any more",
        still_found.is_empty(),
        format!(
            "{}: find_chunk must answer only with live chunks, as list_chunks lists them",
            still_found.join(", ")
        ),
    );
    // SAFETY: the pointer was released just above; release_chunk must refuse it unread.
    let again = lesson.part("release_chunk", || unsafe {
        counted(first.start, || {
            (parts.release_chunk)(first.start as *mut u8)
        })
    })?;
    lesson.check(
        "releasing a chunk twice is refused",
        again.is_err(),
        "the second release was accepted",
    );
    never_allocated(lesson, "release_chunk", |ptr| {
        format!("release_chunk({ptr:#x})")
    });
    unmap_refused::munmap_refused(lesson, parts)?;
    again::take_again(lesson, parts)
}

/// Releases every chunk taken, in the order taken, and checks each release harmed no other
/// chunk; returns whether every mmap chunk's pages were gone at once.
fn release_each(lesson: &mut Lesson, parts: &Parts, taken: &[Taken]) -> Result<bool> {
    let theirs = their_page_above()?;
    let mut failures = Vec::new();
    let mut harmed = Vec::new();
    let mut unmapped = true;
    for (i, t) in taken.iter().enumerate() {
        // SAFETY: the chunk is one mem_chunk returned, and nothing uses it any more.
        let released = lesson.part("release_chunk", || unsafe {
            counted(t.start, || (parts.release_chunk)(t.start as *mut u8))
        })?;
        // Asked at once, with mincore: where glibc's malloc maps every allocation, anything
        // allocated from here on (reading the maps, say) may be mapped into the hole.
        unmapped &= t.source != Source::Mmap || !sys::any_page_mapped(t.start, t.size);
        if let Err(e) = released {
            failures.push(format!("{:#x}: {}", t.start, io_error(&e)));
        }
        if harmed.is_empty() {
            harmed = harmed_by_release(lesson, taken, i)?;
        }
    }
    // The chunks are released in the order they were taken, so most break chunks are not on
    // top when their turn comes: their memory can only be kept, never given back.
    lesson.check(
        "releasing a chunk leaves every other live chunk whole, and below the break",
        harmed.is_empty(),
        harmed.join("; "),
    );
    lesson.check(
        &format!("all {} chunks were released", taken.len()),
        failures.is_empty(),
        failures.join("; "),
    );
    their_page_kept(lesson, theirs)?;
    Ok(unmapped)
}

/// What someone else writes to the page they take above the chunks.
const THEIR_BYTE: u8 = 0xa5;

/// Before the chunks are released, someone else grows the break by a page above them and
/// writes to it, as glibc's malloc may. Returns where their page starts.
fn their_page_above() -> Result<usize> {
    let page = sys::page_size();
    let theirs = sys::sbrk_from(sys::program_break(), page)
        .context("could not grow the break for someone else")? as usize;
    // SAFETY: sbrk gave that page to the contract just now, for someone else, and nothing else
    // refers to it.
    unsafe { std::ptr::write_bytes(theirs as *mut u8, THEIR_BYTE, page) };
    Ok(theirs)
}

/// Checks that releasing left someone else's page below the break, with their bytes, then
/// gives it back.
fn their_page_kept(lesson: &mut Lesson, theirs: usize) -> Result<()> {
    let page = sys::page_size();
    let end = theirs + page;
    let brk = sys::program_break() as usize;
    // SAFETY: read only while the break is at their page's end, so it is mapped; nobody but
    // the contract writes it.
    let intact = brk == end
        && unsafe { std::slice::from_raw_parts(theirs as *const u8, page) }
            .iter()
            .all(|&b| b == THEIR_BYTE);
    lesson.check_part(
        "release_chunk",
        "someone else's page above the chunks is still theirs: below the break, as they left it",
        intact,
        if brk == end {
            "their bytes changed: the break went down and up again under them".to_owned()
        } else {
            format!(
                "the break is {} than where they left it: a chunk goes back only when the \
                 break is at its end, as sbrk(0) says, whatever your registry says",
                moved(end, brk)
            )
        },
    );
    if brk == end {
        // SAFETY: their page is the one taken above, and nothing refers to it any more.
        unsafe { sys::sbrk_shrink(end as *mut u8, page) }
            .context("could not give someone else's page back")?;
    }
    Ok(())
}
