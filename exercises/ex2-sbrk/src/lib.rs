//! Exercise 2's driver: the program break, grown with `sbrk`, written, read back, given back.
//!
//! The heap of a classic Unix process ends at the *program break*. `sbrk(n)` moves the break up
//! by `n` bytes and returns where it was, which is where the new memory starts. glibc's malloc
//! uses the same call, so the break we find in `main` is already not where the heap began.
//!
//! The driver (steps, explanations, observations, checks) is this file. The calls the lesson
//! asks for are the *parts*, plain functions in `src/parts.rs` (the reference) or
//! `learn/parts.rs` (the learner's), handed over as a [`Parts`]; the driver checks what they
//! do against `/proc/self/maps`, the linker's `end` and the break as memcore reads it.

use std::io;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use lesson::{Lesson, LessonInfo, Marks, bytes, io_error, varying_bytes, varying_text};
use memcore::linker::segment_bounds;
use memcore::shared::SharedCells;
use memcore::{Errno, MemoryMap, Region, RegionKind, sys};

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

const INFO: LessonInfo = LessonInfo {
    name: "ex2-sbrk",
    title: "the program break, grown with sbrk, written, read back and given back",
    about: "Finds the program break with sbrk(0) and compares it with the linker's end and the \
            [heap] mapping; grows it with sbrk by a size that is not a page multiple; writes a \
            message and a pattern there and reads them back in another function; gives the \
            memory back only if the break is still where we left it; and shows the kernel \
            refusing an absurd request with ENOMEM. See man 2 sbrk.",
};

/// Runs the lesson with `parts`; the exit status says how it went (see the `lesson` crate).
pub fn main(parts: &Parts) -> ExitCode {
    let mut lesson = Lesson::start(INFO);
    match run(&mut lesson, parts) {
        Ok(()) => lesson.finish(),
        Err(error) => lesson.abort(error),
    }
}

fn heap_of(map: &MemoryMap) -> Result<Region> {
    map.first(RegionKind::Heap)
        .cloned()
        .context("/proc/self/maps has no [heap] region")
}

fn run(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    let initial = find_initial_break(lesson, parts)?;
    let (start, grown) = grow(lesson, parts, initial)?;
    write(lesson, parts, start)?;
    read_back(lesson, parts, start)?;
    give_back(lesson, parts, start, grown, initial)?;
    set_with_brk(lesson)?;
    ask_for_too_much(lesson, parts)?;
    no_lock(lesson)
}

fn find_initial_break(lesson: &mut Lesson, parts: &Parts) -> Result<usize> {
    lesson.step("Find the initial program break");
    lesson.say(
        "sbrk(0) moves nothing and returns the current break: the first address past the heap.\n\
         The linker's `end` marks the end of the bss; the heap starts above it, a random \
         distance above when the kernel randomises fully (randomize_va_space 2, the default), \
         right after it otherwise.\n\
         Before main ran, the Rust runtime already allocated with glibc's malloc, which grew \
         the heap with sbrk, so the break is above the start of [heap].\n\
         This program allocates too, to read /proc/self/maps and to print. So that it never \
         moves the break while we watch it, glibc's malloc is first given 64 KiB of room at the \
         top of its heap (a block allocated and freed), as glibc itself keeps room there \
         (M_TOP_PAD, 128 KiB) unless it is tuned to 0.",
    );
    lesson.give_malloc_room();
    let (map, truth) = lesson.map_and_break()?;
    let initial = lesson.part("current_break", parts.current_break)? as usize;
    let end = segment_bounds().end;
    let heap = heap_of(&map)?;
    lesson.observe_with(&map, "the linker's end (end of bss)", end, Marks::REGION);
    lesson.observe_in(&map, "the start of [heap]", heap.start);
    lesson.observe_in(&map, "the initial program break", initial);
    lesson.fact(
        "address randomization here",
        varying_text(memcore::layout::randomization().describe()),
    );
    lesson.fact(
        "gap from end to [heap]",
        varying_bytes(heap.start.saturating_sub(end) as u64),
    );
    lesson.fact(
        "heap glibc's malloc holds so far",
        varying_bytes(initial.saturating_sub(heap.start) as u64),
    );
    lesson.check(
        "current_break returned the break, as sbrk(0) reads it",
        initial == truth,
        format!("it returned {initial:#x}; sbrk(0) says {truth:#x}"),
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
    Ok(initial)
}

fn grow(lesson: &mut Lesson, parts: &Parts, initial: usize) -> Result<(usize, usize)> {
    let page = sys::page_size();
    lesson.step(format!("Grow the break by {}", bytes(GROWTH as u64)));
    lesson.say(
        "sbrk(n) returns the old break: the new memory is [old break, old break + n).\n\
         The break moves by exactly n, but the kernel maps memory in whole pages, so the end \
         of [heap] is the new break rounded up to a page.",
    );
    let before = sys::program_break() as usize;
    let start = lesson
        .part("request", || (parts.request)(GROWTH))?
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
        bytes(grown.wrapping_sub(start) as u64),
    );
    lesson.fact("this machine's page size", varying_bytes(page as u64));
    lesson.fact(
        "[heap] ends past the new break by",
        varying_bytes(heap.end.saturating_sub(grown) as u64),
    );
    let returned_old = lesson.check(
        "sbrk returned the old break",
        start == before && before == initial,
        format!("returned {start:#x}, the break was {before:#x}"),
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
    if !(returned_old && moved_right) {
        bail!(
            "stopping here: the new memory is not where step 2 expects it, so writing to it \
             could hit memory that is not ours"
        );
    }
    Ok((start, grown))
}

/// Counts the bytes of the `GROWTH` bytes at `start` that do not hold what `write` must write.
fn differences(start: usize) -> usize {
    // SAFETY: step 2 checked that these GROWTH bytes are the ones sbrk just gave us, below the
    // break, in [heap]; they stay ours until step 5, and nothing writes them meanwhile.
    let memory = unsafe { std::slice::from_raw_parts(start as *const u8, GROWTH) };
    let message_wrong = memory[..MESSAGE.len()]
        .iter()
        .zip(MESSAGE)
        .filter(|(a, b)| a != b)
        .count();
    let pattern_wrong = memory
        .iter()
        .enumerate()
        .skip(MESSAGE.len())
        .filter(|&(offset, &byte)| byte != pattern(offset))
        .count();
    message_wrong + pattern_wrong
}

fn write(lesson: &mut Lesson, parts: &Parts, start: usize) -> Result<()> {
    lesson.step("Write to the new memory");
    lesson.say(
        "The memory is ours now: nothing else uses the bytes between the old and the new break.\n\
         We write a message at the start and a numbered pattern after it, to the last byte.",
    );
    // SAFETY: step 2 checked that the GROWTH bytes at `start` are the new memory from sbrk,
    // ours alone until step 5.
    lesson.part("write", || unsafe {
        (parts.write)(start as *mut u8, GROWTH);
    })?;
    let wrong = differences(start);
    lesson.fact("bytes written", bytes(GROWTH as u64));
    lesson.fact("message", String::from_utf8_lossy(MESSAGE));
    lesson.check(
        &format!("all {GROWTH} bytes hold the message and the pattern"),
        wrong == 0,
        format!("{wrong} bytes do not"),
    );
    Ok(())
}

fn read_back(lesson: &mut Lesson, parts: &Parts, start: usize) -> Result<()> {
    lesson.step("Read it back from another function");
    lesson.say(
        "Memory from sbrk does not belong to any function's stack frame: it stays until the \
         break moves down again.\n\
         A separate function, read_back, gets only the address and checks every byte; then we \
         change one byte behind its back, and it must notice.",
    );
    let read = |lesson: &Lesson| {
        // SAFETY: the GROWTH bytes at `start` are ours until step 5 (checked in step 2), and
        // nothing writes them while read_back runs.
        lesson.part("read_back", || unsafe {
            (parts.read_back)(start as *const u8, GROWTH)
        })
    };
    let found = read(lesson)?;
    lesson.observe("where the other function read", start)?;
    lesson.check(
        "every byte written in step 3 reads back the same in another function",
        found == 0 && differences(start) == 0,
        format!("read_back found {found} bytes that differ"),
    );
    let last = start + GROWTH - 1;
    // SAFETY: `last` is the last of the GROWTH bytes that are ours (step 2); no reference to
    // them is alive.
    unsafe { (last as *mut u8).write_volatile(!pattern(GROWTH - 1)) };
    let noticed = read(lesson)?;
    // SAFETY: as above; this puts the pattern's byte back.
    unsafe { (last as *mut u8).write_volatile(pattern(GROWTH - 1)) };
    lesson.check(
        "with the last byte changed, read_back finds exactly 1 byte that differs",
        noticed == 1,
        format!("it found {noticed}"),
    );
    Ok(())
}

fn give_back(
    lesson: &mut Lesson,
    parts: &Parts,
    start: usize,
    grown: usize,
    initial: usize,
) -> Result<()> {
    let page = sys::page_size();
    lesson.step("Give the memory back");
    lesson.say(
        "sbrk(-n) moves the break down and the kernel unmaps the whole pages above it.\n\
         Only do it if the break is still where we left it: if someone else (glibc's malloc) \
         has grown it since, the memory just below the break is theirs, and shrinking would \
         take it from under them.\n\
         So first someone else grows the break by a page, and give_back must refuse; then \
         they give their page back, and give_back may shrink.",
    );
    let theirs = sys::sbrk_from(grown as *mut u8, page)
        .context("could not grow the break for the test")? as usize;
    // SAFETY: the break is where step 2 left it plus one page that the test above just took
    // (nobody else has moved it on this one thread); give_back must refuse.
    let refused = lesson.part("give_back", || unsafe {
        (parts.give_back)(start as *mut u8, GROWTH)
    })?;
    let after_refusal = sys::program_break() as usize;
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
        format!(
            "it {}, and the break is at {after_refusal:#x}, not {:#x}",
            if refused.is_ok() {
                "accepted"
            } else {
                "refused"
            },
            theirs + page
        ),
    );
    if !stayed {
        bail!("stopping here: give_back moved the break under someone else's memory");
    }
    // SAFETY: that page is the one taken above, and nothing refers to it.
    unsafe { sys::sbrk_shrink((theirs + page) as *mut u8, page) }
        .context("could not give the test's page back")?;

    // SAFETY: the GROWTH bytes below `grown` are the ones sbrk gave us in step 2, nothing
    // refers to them any more, and the break is at `grown` again.
    let given = lesson.part("give_back", || unsafe {
        (parts.give_back)(start as *mut u8, GROWTH)
    })?;
    given.map_err(|e| anyhow::anyhow!("give_back failed: {}", io_error(&e)))?;
    let now = sys::program_break() as usize;
    lesson.observe("the program break after shrinking", now)?;
    lesson.check(
        "the break is back at its value from step 1",
        now == initial,
        format!("it is at {now:#x}, not {initial:#x}"),
    );
    Ok(())
}

fn set_with_brk(lesson: &mut Lesson) -> Result<()> {
    let page = sys::page_size();
    lesson.step("Set the break to an address with brk");
    lesson.say(
        "brk(addr), the lesson's other call, sets the break to an absolute address where sbrk \
         moves it by a distance. glibc's brk returns 0 on success and -1 with errno ENOMEM on \
         failure, and keeps glibc's own record of the break, which sbrk reads, right.\n\
         The system call underneath answers differently (man 2 brk, \"C library/kernel \
         differences\"): it returns the new break on success and, on a refusal, the current \
         break: never an error code. glibc's wrapper sees a refusal when that answer is below \
         the address asked for, and turns it into -1 and ENOMEM.",
    );
    let before = sys::program_break() as usize;
    let target = before + page;
    // SAFETY: growing the break gives memory back to nobody.
    let grown = unsafe { sys::brk(target as *mut u8) };
    let at = sys::program_break() as usize;
    lesson.fact(
        "brk(the break + one page) returned",
        match &grown {
            Ok(()) => "0".to_owned(),
            Err(e) => format!("-1: {e}"),
        },
    );
    lesson.check(
        "it returned 0, and the break is exactly at the address asked for",
        grown.is_ok() && at == target,
        format!("the break is at {at:#x}, not {target:#x}"),
    );
    // SAFETY: the page between `before` and `target` was just added by brk and nothing uses it;
    // the break is still at `target` (checked above, on this one thread).
    let back = unsafe { sys::brk(before as *mut u8) };
    let now = sys::program_break() as usize;
    lesson.check(
        "brk(the old break) returned 0 and put it back",
        back.is_ok() && now == before,
        format!("the break is at {now:#x}, not {before:#x}"),
    );
    let absurd = 1usize << 46;
    let refused = sys::kernel_brk_refusal(absurd)
        .context("64 TiB above the break does not reach the stack here")?;
    lesson.fact(
        "the raw system call, asked for 64 TiB more, returned",
        "the current break",
    );
    lesson.check(
        "the raw system call refused by returning the current break, not an error",
        refused == now,
        format!("it returned {refused:#x}; the break is {now:#x}"),
    );
    // SAFETY: the kernel refuses this growth (it reaches the stack), so nothing moves.
    let wrapped = unsafe { sys::brk((now + absurd) as *mut u8) };
    let said = match &wrapped {
        Ok(()) => "0 (it should not have)".to_owned(),
        Err(e) => format!("-1: {e}"),
    };
    lesson.fact("glibc's brk, asked for the same, returned", &said);
    lesson.check(
        "glibc's brk turned the refusal into -1 and ENOMEM, and the break did not move",
        wrapped.is_err_and(|e| e.errno() == Some(Errno::ENOMEM))
            && sys::program_break() as usize == now,
        format!("it returned {said}"),
    );
    Ok(())
}

fn ask_for_too_much(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    lesson.step("Ask for far too much");
    lesson.say(
        "The kernel refuses to move the break into another mapping, or past the data limit \
         (RLIMIT_DATA, man 2 getrlimit); its brk then returns the old break, and glibc's sbrk \
         returns (void *) -1 with errno ENOMEM.\n\
         64 TiB above the break runs into other mappings: the mmap area and the stack lie \
         above the heap, and a process's addresses end at 128 TiB on x86_64 (256 TiB on \
         aarch64), so no limit is even needed to refuse it.\n\
         A size above isize::MAX cannot even be passed to sbrk, whose argument is signed: it \
         must be refused before the call.",
    );
    let limit = sys::data_limit().map_or("unlimited".to_owned(), bytes);
    lesson.fact("the data limit here", varying_text(&limit));
    let local = 0u8;
    let stack = &raw const local as usize;
    let reach = (sys::program_break() as usize).saturating_add(1 << 46);
    lesson.fact("64 TiB above the break", format!("~{reach:#x}"));
    lesson.fact("the stack, above the heap", format!("~{stack:#x}"));
    lesson.check(
        "64 TiB above the break lies beyond the stack: the request runs into it",
        reach > stack,
        format!("{reach:#x} is not above {stack:#x}"),
    );
    let before = sys::program_break() as usize;
    let absurd = 1usize << 46;
    let refused = lesson.part("request", || (parts.request)(absurd))?;
    lesson.fact("asked for", bytes(absurd as u64));
    let said = match &refused {
        Err(error) => io_error(error),
        Ok(_) => bail!("the kernel granted 64 TiB; this machine breaks the lesson's premise"),
    };
    lesson.fact("sbrk said", &said);
    lesson
        .say("(cargo xtask trace ex2-sbrk shows the raw brk call and the old break it returned.)");
    let enomem = refused
        .as_ref()
        .err()
        .and_then(io::Error::raw_os_error)
        .is_some_and(|code| Errno(code) == Errno::ENOMEM);
    lesson.check("the OS refused with ENOMEM", enomem, format!("got {said}"));
    let unmoved = sys::program_break() as usize;
    lesson.check(
        "the break did not move",
        unmoved == before,
        format!("it moved from {before:#x} to {unmoved:#x}"),
    );

    let overflowing = lesson.part("request", || (parts.request)(usize::MAX))?;
    let after = sys::program_break() as usize;
    if after < before {
        // A request read as negative shrank the break; put it back before going on.
        let _ = sys::sbrk_from(after as *mut u8, before - after);
    }
    let said = match &overflowing {
        Err(error) => format!("refused: {}", varying_text(&io_error(error))),
        Ok(_) => "granted".to_owned(),
    };
    lesson.fact("request(usize::MAX)", &said);
    lesson.check(
        "a size above isize::MAX is refused before the call, and the break did not move",
        overflowing.is_err() && after == before,
        format!("it was {said}, and the break went from {before:#x} to {after:#x}"),
    );
    Ok(())
}

fn no_lock(lesson: &mut Lesson) -> Result<()> {
    const THREADS: usize = 2;
    const CALLS: usize = 20_000;
    const ROUNDS: usize = 20;
    lesson.step("The break has no lock");
    lesson.say(&format!(
        "glibc's sbrk reads its record of the break, asks the kernel for more, and writes the \
         record back, with no lock: two threads calling it at once can both read the same \
         break, and both get the same memory.\n\
         In a child process (its break is its own), {THREADS} threads each call sbrk(16) \
         {CALLS} times at once, and we count the pointers handed out twice; up to {ROUNDS} \
         rounds, until one shows it.\n\
         This is why mem_chunk takes a lock around its own sbrk calls. What no lock of ours can \
         cover is glibc's malloc, which calls sbrk under its own lock: a program whose other \
         threads use glibc's malloc while mem_chunk moves the break should use mmap only."
    ));
    let cells = SharedCells::new(4).context("could not map a page to share with the child")?;
    let mut round = 0;
    while round < ROUNDS && cells.get(1) == 0 {
        round += 1;
        let child = || {
            // SAFETY: this child uses the break for nothing else and exits right after.
            let race = unsafe { sys::sbrk_race(THREADS, CALLS, 16) };
            cells.set(0, race.calls as u64);
            cells.set(1, race.duplicates as u64);
            cells.set(2, race.grown as u64);
            cells.set(3, race.taken_back as u64);
            0
        };
        // SAFETY: this process has one thread; the child only races sbrk, as sbrk_race says,
        // and stores four numbers.
        let exit = unsafe { sys::fork_and_wait(child) }.context("fork failed")?;
        if !matches!(exit, sys::ChildExit::Exited(0)) {
            bail!("the child did not finish: {exit:?}");
        }
    }
    let (calls, duplicates, grown) = (cells.get(0), cells.get(1), cells.get(2));
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    lesson.fact("CPUs this process may use", format!("~{cpus}"));
    lesson.fact("rounds", format!("~{round}"));
    lesson.fact("calls in the last round", calls);
    lesson.fact("pointers handed out twice", format!("~{duplicates}"));
    lesson.fact(
        "the break grew by",
        format!("{}, for ~{} bytes asked", varying_bytes(grown), calls * 16),
    );
    lesson.fact(
        "pointers above where the break ended (handed out, then taken back by another thread's \
         stale write)",
        format!("~{}", cells.get(3)),
    );
    lesson.check(
        "two threads got the same memory from sbrk: it has no lock",
        duplicates > 0,
        format!("no pointer was handed out twice in {round} rounds, with {cpus} CPUs"),
    );
    Ok(())
}
