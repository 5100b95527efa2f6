//! Exercise 2: the program break, grown with `sbrk`, written, read back, given back.
//!
//! The heap of a classic Unix process ends at the *program break*. `sbrk(n)` moves the break up
//! by `n` bytes and returns where it was, which is where the new memory starts. glibc's malloc
//! uses the same call, so the break we find in `main` is already not where the heap began.

use std::hint::black_box;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use lesson::{Lesson, LessonInfo, bytes, varying_bytes};
use memcore::linker::segment_bounds;
use memcore::{Errno, Error, MemoryMap, Region, RegionKind, sys};

/// Deliberately not a multiple of the page size, to show that the break moves by exactly this
/// much while the kernel maps whole pages.
const GROWTH: usize = 10_000;

/// What we write at the start of the new memory; the rest gets a numbered pattern.
const MESSAGE: &[u8] = b"written to memory we got from sbrk";

const INFO: LessonInfo = LessonInfo {
    name: "ex2-sbrk",
    title: "the program break, grown with sbrk, written, read back and given back",
    about: "Finds the program break with sbrk(0) and compares it with the linker's end and the \
            [heap] mapping; grows it with sbrk by a size that is not a page multiple; writes a \
            message and a pattern there and reads them back in another function; gives the \
            memory back only if the break is still where we left it; and shows the kernel \
            refusing an absurd request with ENOMEM. See man 2 sbrk.",
};

fn main() -> ExitCode {
    let mut lesson = Lesson::start(INFO);
    match run(&mut lesson) {
        Ok(()) => lesson.finish(),
        Err(error) => lesson.abort(error),
    }
}

fn heap_of(map: &MemoryMap) -> Result<Region> {
    map.first(RegionKind::Heap)
        .cloned()
        .context("/proc/self/maps has no [heap] region")
}

fn run(lesson: &mut Lesson) -> Result<()> {
    let page = sys::page_size();

    lesson.step("Find the initial program break");
    lesson.say(
        "sbrk(0) moves nothing and returns the current break: the first address past the heap.\n\
         The linker's `end` marks the end of the bss; the heap starts a random distance above \
         it (ASLR).\n\
         Before main ran, the Rust runtime already allocated with glibc's malloc, which grew \
         the heap with sbrk, so the break is above the start of [heap].",
    );
    let map = lesson.map()?;
    let initial = sys::program_break() as usize;
    let end = segment_bounds().end;
    let heap = heap_of(&map)?;
    lesson.observe_in(&map, "the linker's end (end of bss)", end);
    lesson.observe_in(&map, "the start of [heap]", heap.start);
    lesson.observe_in(&map, "the initial program break", initial);
    lesson.fact(
        "gap from end to [heap]",
        varying_bytes((heap.start - end) as u64),
    );
    lesson.fact(
        "heap malloc took before main",
        varying_bytes((initial - heap.start) as u64),
    );
    lesson.check(
        "the break lies at or above end",
        initial >= end,
        format!("{initial:#x} is below {end:#x}"),
    );
    lesson.check(
        "malloc already moved the break above the start of [heap]",
        initial > heap.start && initial <= heap.end,
        format!(
            "{initial:#x} is not in ({:#x}, {:#x}]",
            heap.start, heap.end
        ),
    );

    lesson.step(format!("Grow the break by {}", bytes(GROWTH as u64)));
    lesson.say(
        "sbrk(n) returns the old break: the new memory is [old break, old break + n).\n\
         The break moves by exactly n, but the kernel maps memory in whole pages, so the end \
         of [heap] is the new break rounded up to a page.\n\
         (sbrk_from grows only if the break is still where we just saw it.)",
    );
    let before = sys::program_break();
    let start = sys::sbrk_from(before, GROWTH).context("sbrk refused to grow the break")? as usize;
    let grown = sys::program_break() as usize;
    let map = lesson.map()?;
    let heap = heap_of(&map)?;
    lesson.observe_in(&map, "sbrk returned (the new memory)", start);
    lesson.observe_in(&map, "the last new byte", grown - 1);
    lesson.observe_in(&map, "the new program break", grown);
    lesson.fact("the break moved by", bytes((grown - start) as u64));
    lesson.fact("page size", bytes(page as u64));
    lesson.fact(
        "[heap] ends past the new break by",
        bytes((heap.end - grown) as u64),
    );
    lesson.check(
        "sbrk returned the old break",
        start == before as usize,
        format!("returned {start:#x}, the break was {:#x}", before as usize),
    );
    lesson.check(
        &format!("the break moved by exactly {GROWTH} bytes"),
        grown - start == GROWTH,
        format!("it moved by {} bytes", grown - start),
    );
    let rounded = grown.next_multiple_of(page);
    lesson.check(
        "the kernel mapped whole pages: [heap] ends at the new break rounded up to a page",
        heap.end == rounded,
        format!("[heap] ends at {:#x}, not {rounded:#x}", heap.end),
    );

    lesson.step("Write to the new memory");
    lesson.say(
        "The memory is ours now: nothing else uses the bytes between the old and the new break.\n\
         We write a message at the start and a numbered pattern after it, to the last byte.",
    );
    // SAFETY: sbrk just gave us GROWTH bytes at `start`; nothing else refers to them, and the
    // slice does not outlive this block, long before the memory is given back in step 5.
    let written = unsafe {
        let memory = std::slice::from_raw_parts_mut(start as *mut u8, GROWTH);
        fill(memory);
        memory.len()
    };
    lesson.fact("bytes written", bytes(written as u64));
    lesson.fact("message", String::from_utf8_lossy(MESSAGE));

    lesson.step("Read it back from another function");
    lesson.say(
        "Memory from sbrk does not belong to any function's stack frame: it stays until the \
         break moves down again.\n\
         A separate, non-inlined function gets only the address and checks every byte.",
    );
    let mismatches = black_box(verify_elsewhere)(start);
    lesson.observe("where the other function read", start)?;
    lesson.check(
        "every byte written in step 3 reads back the same in another function",
        mismatches == 0,
        format!("{mismatches} bytes differ"),
    );

    lesson.step("Give the memory back");
    lesson.say(
        "sbrk(-n) moves the break down and the kernel unmaps the whole pages above it.\n\
         Only do it if the break is still where we left it: if someone else (glibc's malloc) \
         has grown it since, the memory just below the break is theirs, and shrinking would \
         take it from under them. sbrk_shrink checks first.",
    );
    // SAFETY: the GROWTH bytes below `grown` are the ones sbrk gave us in step 2; nothing
    // refers to them any more, and sbrk_shrink refuses if the break is no longer at `grown`.
    let back = unsafe { sys::sbrk_shrink(grown as *mut u8, GROWTH) };
    let back = back.context("could not give the memory back")? as usize;
    let now = sys::program_break() as usize;
    lesson.observe("the program break after shrinking", now)?;
    lesson.check(
        "the break is back at its value from step 1",
        now == initial && back == initial,
        format!("it is at {now:#x}, not {initial:#x}"),
    );

    lesson.step("Ask for far too much");
    lesson.say(
        "The kernel refuses to move the break past its limit (RLIMIT_DATA) or into other \
         mappings; sbrk then returns (void *) -1 and sets errno to ENOMEM.",
    );
    let absurd = 1usize << 46;
    let before = sys::program_break() as usize;
    let refused = sys::sbrk(absurd);
    let after = sys::program_break() as usize;
    lesson.fact("asked for", bytes(absurd as u64));
    match refused {
        Err(error) => lesson.fact("sbrk said", error),
        Ok(_) => bail!("the kernel granted 64 TiB; this machine breaks the lesson's premise"),
    }
    lesson.check(
        "the OS refused with ENOMEM",
        matches!(
            refused,
            Err(Error::Os {
                errno: Errno::ENOMEM,
                ..
            })
        ),
        format!("got {refused:?}"),
    );
    lesson.check(
        "the break did not move",
        after == before,
        format!("it moved from {before:#x} to {after:#x}"),
    );
    Ok(())
}

/// The byte the pattern puts at `offset` (after the message).
fn pattern(offset: usize) -> u8 {
    (offset % 251) as u8
}

fn fill(memory: &mut [u8]) {
    memory[..MESSAGE.len()].copy_from_slice(MESSAGE);
    for (offset, byte) in memory.iter_mut().enumerate().skip(MESSAGE.len()) {
        *byte = pattern(offset);
    }
}

/// Reads the GROWTH bytes at `addr` and counts the ones that differ from what `fill` wrote.
#[inline(never)]
fn verify_elsewhere(addr: usize) -> usize {
    // SAFETY: `addr` is the memory sbrk gave us in step 2, still ours until step 5 shrinks the
    // break, and nothing writes to it while this shared slice lives.
    let memory = unsafe { std::slice::from_raw_parts(addr as *const u8, GROWTH) };
    let message_ok = memory[..MESSAGE.len()] == *MESSAGE;
    let pattern_bad = memory
        .iter()
        .enumerate()
        .skip(MESSAGE.len())
        .filter(|&(offset, &byte)| byte != pattern(offset))
        .count();
    pattern_bad + usize::from(!message_ok) * MESSAGE.len()
}
