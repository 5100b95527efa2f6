//! Exercise 2's driver: the program break, grown with `sbrk`, written, read back, given back.
//!
//! The heap of a classic Unix process ends at the *program break*. `sbrk(n)` moves the break up
//! by `n` bytes and returns where it was, which is where the new memory starts. glibc's malloc
//! uses the same call, so the break we find in `main` is already not where the heap began.
//!
//! The driver (steps, explanations, observations, checks) is this file. The calls the lesson
//! asks for are the *parts*, plain functions in `src/parts.rs` (the reference) or
//! `learn/parts.rs` (the learner's), handed over as a [`Parts`]. The driver checks what they
//! do against `/proc/self/maps`, the linker's `end` and the break as memcore reads it.

use std::io;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use lesson::glibc::GlibcMalloc;
use lesson::{
    Lesson, LessonInfo, Marks, bytes, count, io_error, moved, varying_bytes, varying_text,
};
use memcore::linker::segment_bounds;
use memcore::theirs::Theirs;
use memcore::{MemoryMap, Region, sys};

/// Deliberately not a multiple of the page size, to show that the break moves by exactly this
/// much while the kernel maps whole pages.
pub const GROWTH: usize = 10_000;

/// What the `write` part puts at the start of the new memory; [`pattern`] fills the rest.
pub const MESSAGE: &[u8] = b"written to memory we got from sbrk";

/// The byte the `write` part puts at `offset` (for every offset past [`MESSAGE`]).
pub fn pattern(offset: usize) -> u8 {
    (offset % 251) as u8
}

/// The learner's parts, in the lesson's order (see `src/parts.rs` for what each must do).
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    /// Step 1: `sbrk(0)`, the current break.
    pub current_break: fn() -> *mut u8,
    /// Step 2: `sbrk(n)`, the start of `n` new bytes.
    pub request: fn(usize) -> io::Result<*mut u8>,
    /// Step 3: writes [`MESSAGE`] and [`pattern`] to `len` bytes.
    pub write: unsafe fn(*mut u8, usize),
    /// Step 4: counts the bytes that differ from what `write` wrote.
    pub read_back: unsafe fn(*const u8, usize) -> usize,
    /// Step 5: `sbrk(-len)`, only if the break is still at `start + len`.
    pub give_back: unsafe fn(*mut u8, usize) -> io::Result<()>,
}

mod brk_limits;
mod race;

use brk_limits::{ask_for_too_much, set_with_brk};
use race::no_lock;

const INFO: LessonInfo = lesson::info!(
    "Finds the program break with sbrk(0), and compares it with the linker's end and \
     the [heap] mapping. Grows it with sbrk by a size that is not a page multiple. Writes \
     a message and a pattern there, and reads them back in another function. Gives the \
     memory back only if the break is still where we left it. Sets it with brk, shows \
     the kernel refusing an absurd request with ENOMEM, and shows two threads racing \
     sbrk. See man 2 sbrk."
);

/// Runs the lesson with `parts`; the exit status says how it went (see the `lesson` crate).
pub fn main(parts: &Parts) -> ExitCode {
    Lesson::start(INFO).run(|lesson| run(lesson, parts))
}

fn heap_of(map: &MemoryMap) -> Result<Region> {
    map.heap().context("/proc/self/maps has no [heap] region")
}

/// The memory steps 3 to 5 work on: the [`GROWTH`] bytes at `start`, below the break at
/// `grown`. They are request's, or, when request's were not right, bytes the lesson took
/// itself, so that write, read_back and give_back are each judged on their own.
#[derive(Debug, Clone, Copy)]
struct Memory {
    start: usize,
    grown: usize,
}

/// What steps 3 to 5 need when step 2 gave nothing.
const NEEDS_MEMORY: &str = "the 10000 bytes step 2 gets from the break";

/// Runs the steps. A step that fails its claims lets the run go on; one that cannot go on
/// stops alone, and the steps that need what it gives say so.
fn run(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    lesson.attempt(|lesson| find_initial_break(lesson, parts))?;
    let memory = lesson.attempt(|lesson| grow(lesson, parts))?;
    lesson.attempt(|lesson| write(lesson, parts, memory))?;
    lesson.attempt(|lesson| read_back(lesson, parts, memory))?;
    lesson.attempt(|lesson| give_back(lesson, parts, memory))?;
    lesson.attempt(set_with_brk)?;
    lesson.attempt(|lesson| ask_for_too_much(lesson, parts))?;
    lesson.attempt(no_lock)?;
    Ok(())
}

fn find_initial_break(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    lesson.step("Find the initial program break");
    let malloc = GlibcMalloc::read()?;
    let no_heap = malloc.no_heap();
    explain_the_break(lesson, no_heap.is_none());
    lesson.give_malloc_room();
    let (map, truth) = lesson.map_and_break()?;
    let initial =
        lesson.part_call("current_break", "current_break()", parts.current_break)? as usize;
    let after = sys::program_break() as usize;
    let end = segment_bounds().end;
    lesson.observe_with(&map, "the linker's end (end of bss)", end, Marks::REGION);
    let heap = match (map.heap(), no_heap) {
        (Some(heap), _) => Some(heap),
        (None, Some(why)) => {
            lesson.fact("why there is no [heap]", why);
            None
        }
        (None, None) => bail!(
            "/proc/self/maps has no [heap] region, though glibc's malloc is not tuned to avoid \
             the heap"
        ),
    };
    if let Some(heap) = &heap {
        lesson.observe_in(&map, "the start of [heap]", heap.start);
    }
    lesson.observe_in(&map, "the initial program break", initial);
    lesson.fact(
        "address randomization here",
        varying_text(memcore::layout::randomization().describe()),
    );
    if let Some(heap) = &heap {
        lesson.fact(
            "gap from end to [heap]",
            varying_bytes(heap.start.saturating_sub(end) as u64),
        );
        lesson.fact(
            "heap glibc's malloc holds so far",
            varying_bytes(initial.saturating_sub(heap.start) as u64),
        );
    }
    check_initial_break(
        lesson,
        &map,
        Reads {
            initial,
            truth,
            after,
            end,
        },
        heap,
    );
    Ok(())
}

/// The first step's explanation: what sbrk(0) reads, and what glibc's malloc did to the break before
/// `main` (`heap`: whether it uses the heap in this run).
fn explain_the_break(lesson: &mut Lesson, heap: bool) {
    let malloc_here = if heap {
        "Before main ran, the Rust runtime already allocated with glibc's malloc. That grew \
         the heap with sbrk, so the break is above the start of [heap].\n\
         This program allocates too, to read /proc/self/maps and to print.\n\
         So first, glibc's malloc gets 64 KiB of room at the top of its heap, from a block \
         allocated and freed. Then this program never moves the break while we watch it."
    } else {
        "Before main ran, the Rust runtime already allocated with glibc's malloc.\n\
         But in this run glibc's malloc is tuned never to call sbrk. So the break is still \
         where the kernel put it, and there is no [heap] yet.\n\
         What this program allocates, to read /proc/self/maps and to print, never moves \
         the break either."
    };
    lesson.say(&format!(
        "sbrk(0) moves nothing and returns the current break: the first address past the heap.\n\
         The linker's `end` marks the end of the bss. The heap starts above it.\n\
         With full randomisation (randomize_va_space 2, the default), the heap starts a random \
         distance above `end`. Otherwise it starts right after.\n\
         {malloc_here}"
    ));
}

/// What the first step read: the part's answer, the break before and after it, and the linker's `end`.
struct Reads {
    initial: usize,
    truth: usize,
    after: usize,
    end: usize,
}

/// The first step's checks: the part read the break and moved nothing, and the break lies where the
/// lesson says.
fn check_initial_break(lesson: &mut Lesson, map: &MemoryMap, reads: Reads, heap: Option<Region>) {
    let Reads {
        initial,
        truth,
        after,
        end,
    } = reads;
    lesson.check(
        "current_break returned the break, as sbrk(0) reads it, and moved nothing",
        initial == truth && after == truth,
        if after == truth {
            format!("it returned {initial:#x}; sbrk(0) says {truth:#x}")
        } else {
            format!(
                "it moved the break: the break is now {} than before it ran; sbrk(0) only reads",
                moved(truth, after)
            )
        },
    );
    // What the lesson says of the break itself, read as memcore reads it: a wrong answer from
    // current_break is judged above, once.
    lesson.check(
        "the break lies at or above end",
        truth >= end,
        format!("{truth:#x} is below {end:#x}"),
    );
    match heap {
        Some(heap) => lesson.check(
            "malloc already moved the break above the start of [heap]",
            truth > heap.start && truth <= heap.end,
            format!("{truth:#x} is not in ({:#x}, {:#x}]", heap.start, heap.end),
        ),
        None => lesson.check(
            "no region holds the break, and no [heap] exists yet",
            map.region_of(truth).is_none() && map.heap().is_none(),
            format!("{truth:#x} lies in a region"),
        ),
    };
}

fn grow(lesson: &mut Lesson, parts: &Parts) -> Result<Memory> {
    let page = sys::page_size();
    lesson.step(format!("Grow the break by {}", bytes(GROWTH as u64)));
    lesson.say(
        "sbrk(n) returns the old break: the new memory is [old break, old break + n).\n\
         The break moves by exactly n. But the kernel maps memory in whole pages, so [heap] \
         ends at the new break rounded up to a page.",
    );
    let before = sys::program_break() as usize;
    let start = lesson
        .part_call("request", format!("request({GROWTH})"), || {
            (parts.request)(GROWTH)
        })?
        .map_err(|e| anyhow::anyhow!("request({GROWTH}) failed: {}", io_error(&e)))?
        as usize;
    let grown = sys::program_break() as usize;
    let (map, _) = lesson.map_and_break()?;
    let heap = heap_of(&map)?;
    lesson.observe_in(&map, "sbrk returned (the new memory)", start);
    lesson.observe_in(&map, "the last new byte", grown.wrapping_sub(1));
    lesson.observe_in(&map, "the new program break", grown);
    lesson.fact(
        "the break moved by",
        bytes(grown.wrapping_sub(before) as u64),
    );
    lesson.fact("this machine's page size", varying_bytes(page as u64));
    lesson.fact(
        "[heap] ends past the new break by",
        varying_bytes(heap.end.saturating_sub(grown) as u64),
    );
    let returned_old = lesson.check(
        "sbrk returned the old break",
        start == before,
        format!(
            "it returned {start:#x}, {} than the old break, {before:#x}",
            moved(before, start)
        ),
    );
    let moved_right = lesson.check(
        &format!("the break moved by exactly {GROWTH} bytes"),
        grown.wrapping_sub(before) == GROWTH,
        format!("it moved by {} bytes", grown.wrapping_sub(before) as isize),
    );
    let rounded = grown.next_multiple_of(page);
    lesson.check(
        "the kernel mapped whole pages: [heap] ends at the new break rounded up to a page",
        heap.end == rounded,
        format!("[heap] ends at {:#x}, not {rounded:#x}", heap.end),
    );
    if returned_old && moved_right {
        return Ok(Memory { start, grown });
    }
    own_memory(lesson)
}

/// When request's memory is not where it should be, the lesson takes [`GROWTH`] bytes at the
/// break itself, so that the next steps judge write, read_back and give_back on their own.
fn own_memory(lesson: &mut Lesson) -> Result<Memory> {
    let brk = sys::program_break();
    let start = sys::sbrk_from(brk, GROWTH).context(
        "the new memory is not where it should be, and the lesson could not take its own",
    )? as usize;
    lesson.say(
        "request's memory is not where it should be. So the next steps use 10000 bytes the \
         lesson takes from the break itself.",
    );
    Ok(Memory {
        start,
        grown: start + GROWTH,
    })
}

/// The byte just past the memory `write` is given, marked so that a write past the end shows.
/// It lies above the break, in the page the kernel mapped whole. Nobody owns it, and nothing
/// else writes it.
struct PastTheEnd {
    /// The marked byte; `None` when its page is not mapped, where a write past the end faults
    /// instead (and the lesson reports the crash inside `write`).
    at: Option<usize>,
}

impl PastTheEnd {
    /// What the mark holds: not what `write` would put at that offset.
    const MARK: u8 = !((GROWTH % 251) as u8);

    /// Marks the byte at `at`, the break, if its page is mapped. It is when the break is not
    /// on a page boundary (`grow` checked [heap] ends at the break rounded up to a page).
    fn mark(at: usize) -> PastTheEnd {
        if at.is_multiple_of(sys::page_size()) || sys::program_break() as usize != at {
            return PastTheEnd { at: None };
        }
        // SAFETY: `at` is the break and not on a page boundary, so its page is mapped (`grow`
        // checked [heap] ends at the break rounded up); memory above the break is nobody's.
        unsafe { (at as *mut u8).write_volatile(Self::MARK) };
        PastTheEnd { at: Some(at) }
    }

    /// Whether the byte still holds the mark. With no mark, a write past the end would have
    /// faulted, so having returned, `write` left it alone.
    fn untouched(&self) -> bool {
        self.at.is_none_or(|at| {
            // SAFETY: as in `mark`: mapped, and nobody's but this check's.
            unsafe { (at as *const u8).read_volatile() == Self::MARK }
        })
    }
}

/// Counts the bytes of the `GROWTH` bytes at `start` that do not hold what `write` must write.
fn differences(start: usize) -> usize {
    // SAFETY: `grow` checked that these GROWTH bytes are the ones sbrk just gave us, below the
    // break, in [heap]; they stay ours until `give_back`, and nothing writes them meanwhile.
    let memory = unsafe { std::slice::from_raw_parts(start as *const u8, GROWTH) };
    memory
        .iter()
        .enumerate()
        .filter(|&(offset, &got)| got != written_at(offset))
        .count()
}

/// What write must leave at `offset`: the message, then the pattern at every later offset.
fn written_at(offset: usize) -> u8 {
    MESSAGE
        .get(offset)
        .copied()
        .unwrap_or_else(|| pattern(offset))
}

fn write(lesson: &mut Lesson, parts: &Parts, memory: Option<Memory>) -> Result<()> {
    lesson.step("Write to the new memory");
    lesson.say(
        "The memory is ours now: nothing else uses the bytes between the old and the new break.\n\
         We write a message at the start and a numbered pattern after it, to the last byte.",
    );
    let Some(Memory { start, .. }) = lesson.needs(memory, NEEDS_MEMORY) else {
        return Ok(());
    };
    let past_end = PastTheEnd::mark(start + GROWTH);
    lesson.give("write", "request", start, GROWTH);
    // SAFETY: `grow` checked that the GROWTH bytes at `start` are the new memory from sbrk,
    // ours alone until `give_back`.
    lesson.part_call("write", format!("write({start:#x}, {GROWTH})"), || unsafe {
        (parts.write)(start as *mut u8, GROWTH);
    })?;
    lesson.check(
        &format!("write left the byte past the {GROWTH} bytes alone"),
        past_end.untouched(),
        format!(
            "the byte at {:#x}, just past the end, was changed: write wrote past `len`",
            start + GROWTH
        ),
    );
    let wrong = differences(start);
    lesson.fact("bytes written", bytes(GROWTH as u64));
    lesson.fact("message", String::from_utf8_lossy(MESSAGE));
    lesson.check(
        &format!("all {GROWTH} bytes hold the message and the pattern"),
        wrong == 0,
        if wrong == 1 {
            "1 byte of them does not".to_owned()
        } else {
            format!("{wrong} of them do not")
        },
    );
    Ok(())
}

/// Writes what `write` must leave to the [`GROWTH`] bytes at `start`: the message, then the
/// pattern.
fn fill(start: usize) {
    // SAFETY: the GROWTH bytes at `start` are the memory of steps 3 to 5, ours alone until
    // `give_back`, and no reference to them is alive.
    let memory = unsafe { std::slice::from_raw_parts_mut(start as *mut u8, GROWTH) };
    for (offset, byte) in memory.iter_mut().enumerate() {
        *byte = written_at(offset);
    }
}

fn read_back(lesson: &mut Lesson, parts: &Parts, memory: Option<Memory>) -> Result<()> {
    lesson.step("Read it back from another function");
    lesson.say(
        "Memory from sbrk belongs to no function's stack frame. It stays until the break moves \
         down again.\n\
         A separate function, read_back, gets only the address and checks every byte. Then we \
         change one byte behind its back, and it must notice.",
    );
    let Some(Memory { start, .. }) = lesson.needs(memory, NEEDS_MEMORY) else {
        return Ok(());
    };
    if differences(start) != 0 {
        fill(start);
        lesson.say(
            "What write left is not right. So the lesson writes the message and the pattern \
             itself first: read_back is judged on its own.",
        );
    }
    let read = |lesson: &Lesson| {
        lesson.give("read_back", "request", start, GROWTH);
        // SAFETY: the GROWTH bytes at `start` are ours until `give_back` (checked by `grow`), and
        // nothing writes them while read_back runs.
        lesson.part_call(
            "read_back",
            format!("read_back({start:#x}, {GROWTH})"),
            || unsafe { (parts.read_back)(start as *const u8, GROWTH) },
        )
    };
    let found = read(lesson)?;
    lesson.observe("where the other function read", start)?;
    lesson.check(
        "every byte that write put there reads back the same in another function",
        found == 0,
        format!(
            "read_back found {} that differ, though every byte holds what write must put there",
            count(found, "byte")
        ),
    );
    let last = start + GROWTH - 1;
    // SAFETY: `last` is the last of the GROWTH bytes that are ours (checked by `grow`); no reference to
    // them is alive.
    unsafe { (last as *mut u8).write_volatile(!pattern(GROWTH - 1)) };
    let noticed = read(lesson)?;
    // SAFETY: as above; this puts the pattern's byte back.
    unsafe { (last as *mut u8).write_volatile(pattern(GROWTH - 1)) };
    lesson.check(
        "with the last byte changed, read_back finds exactly 1 byte that differs",
        noticed == 1,
        format!(
            "the last byte was changed, yet read_back found {} that differ",
            count(noticed, "byte")
        ),
    );
    Ok(())
}

/// A copy of the bytes in `[start, end)`, all below the break: ours, then someone else's page.
fn bytes_below(start: usize, end: usize) -> Vec<u8> {
    // SAFETY: the break is at `end`, so the range is mapped: our GROWTH bytes, which nothing
    // else uses until give_back, then the page the test took for someone else.
    unsafe { std::slice::from_raw_parts(start as *const u8, end - start) }.to_vec()
}

/// Someone else grows the break by a page above ours, and give_back must refuse, leaving the
/// break and every byte below it as they were. Returns their page.
fn refused_under_their_page(
    lesson: &mut Lesson,
    parts: &Parts,
    start: usize,
    grown: usize,
) -> Result<Theirs> {
    let page = sys::page_size();
    // Someone else's page holds their data; ours holds what write left. A refusal keeps both.
    let their_page =
        Theirs::take(grown as *mut u8, page).context("could not grow the break for the test")?;
    let theirs = their_page.start();
    lesson.span("someone else's page", theirs, page);
    lesson.moment("someone else grew the break by a page, above ours");
    let before = bytes_below(start, theirs + page);
    let call = format!("give_back({start:#x}, {GROWTH}), with someone else's page above");
    // SAFETY: the break is where `grow` left it plus one page that the test above just took
    // (nobody else has moved it on this one thread); give_back must refuse.
    let refused = lesson.part_call("give_back", call, || unsafe {
        (parts.give_back)(start as *mut u8, GROWTH)
    })?;
    let after_refusal = sys::program_break() as usize;
    lesson.moment("give_back was called under their page; the break is where they left it");
    lesson.fact(
        "give_back with someone else's page above ours",
        match &refused {
            Ok(()) => "accepted (it should not have been)".to_owned(),
            // The words are the part's own; only the refusal is the lesson's.
            Err(e) => format!("refused: {}", varying_text(&e.to_string())),
        },
    );
    let stayed = lesson.check(
        "it refused, and the break did not move",
        refused.is_err() && after_refusal == theirs + page,
        match (refused.is_ok(), after_refusal == theirs + page) {
            (true, true) => "it accepted, though someone else's page lies above ours".to_owned(),
            (accepted, false) => format!(
                "it {}, and the break moved: it is {} than where someone else left it",
                if accepted { "accepted" } else { "refused" },
                moved(theirs + page, after_refusal)
            ),
            (false, true) => "it held".to_owned(),
        },
    );
    if !stayed {
        bail!("give_back moved the break under someone else's memory");
    }
    let kept = bytes_below(start, theirs + page) == before && their_page.kept();
    lesson.check(
        "the memory below the break, ours and theirs, kept every byte",
        kept,
        "the break is where it was, but bytes below it changed: give_back shrank the break \
         before it checked, and the kernel unmapped those pages (growing back maps new zeroed \
         ones). Compare sbrk(0) with the end of your memory first",
    );
    Ok(their_page)
}

fn give_back(lesson: &mut Lesson, parts: &Parts, memory: Option<Memory>) -> Result<()> {
    lesson.step("Give the memory back");
    lesson.say(
        "sbrk(-n) moves the break down and the kernel unmaps the whole pages above it.\n\
         Only do it if the break is still where we left it. Someone else, such as glibc's \
         malloc, may have grown it since. Then the memory just below the break is theirs, and \
         shrinking would take it from under them.\n\
         So first someone else grows the break by a page, and give_back must refuse. Then \
         they give their page back, and give_back may shrink.",
    );
    let Some(Memory { start, grown }) = lesson.needs(memory, NEEDS_MEMORY) else {
        return Ok(());
    };
    lesson.span("our memory", start, GROWTH);
    refused_under_their_page(lesson, parts, start, grown)?
        .give_back()
        .context("could not give the test's page back")?;
    lesson.moment("someone else gave their page back; now give_back may shrink");

    // SAFETY: the GROWTH bytes below `grown` are the ones sbrk gave `grow`, nothing
    // refers to them any more, and the break is at `grown` again.
    let given = lesson.part_call(
        "give_back",
        format!("give_back({start:#x}, {GROWTH})"),
        || unsafe { (parts.give_back)(start as *mut u8, GROWTH) },
    )?;
    given.map_err(|e| {
        anyhow::anyhow!(
            "give_back refused: {}. But the break was at {grown:#x}, start + len: our memory was \
             on top, and it had to give it back",
            io_error(&e)
        )
    })?;
    let now = sys::program_break() as usize;
    lesson.observe("the program break after shrinking", now)?;
    lesson.check(
        "the break is back where it was before the memory was taken",
        now == start,
        format!(
            "it is at {now:#x}, {} than before the memory was taken",
            moved(start, now)
        ),
    );
    Ok(())
}
