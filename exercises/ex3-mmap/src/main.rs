//! Exercise 3: anonymous memory with `mmap`, written, read, and unmapped.
//!
//! `mmap` asks the kernel for a new region of address space. With `MAP_ANONYMOUS` no file is
//! behind it: the kernel fills each page with zeros the first time it is touched. `munmap`
//! gives the region back, and any later access faults.

use std::process::ExitCode;

use anyhow::{Context, Result};
use lesson::{Lesson, LessonInfo, bytes};
use memcore::sys::{self, ChildExit};
use memcore::{Errno, Error, Mapping, MemoryMap, RegionKind, fault};

/// Deliberately not a multiple of the page size.
const LEN: usize = 10_000;

const INFO: LessonInfo = LessonInfo {
    name: "ex3-mmap",
    title: "anonymous memory from mmap, written, read and unmapped",
    about: "Maps anonymous, private, read-write memory of a size that is not a page multiple and \
            finds it in /proc/self/maps; shows it reads as zeros, writes and reads back its \
            whole length; unmaps it; does the same with memmap2's owned mapping, unmapped by \
            Drop; shows, in a child process, that touching unmapped memory is killed by SIGSEGV; \
            and shows mmap refusing a length of 0. See man 2 mmap.",
};

fn main() -> ExitCode {
    let mut lesson = Lesson::start(INFO);
    match run(&mut lesson) {
        Ok(()) => lesson.finish(),
        Err(error) => lesson.abort(error),
    }
}

/// How many bytes of `[start, end)` were not mapped in `before`: the kernel may merge a new
/// mapping with a neighbour that has the same permissions, so the region holding it can be
/// larger than what was just mapped.
fn newly_mapped(before: &MemoryMap, start: usize, end: usize) -> usize {
    let old: usize = before
        .regions()
        .iter()
        .map(|r| r.end.min(end).saturating_sub(r.start.max(start)))
        .sum();
    (end - start) - old
}

fn run(lesson: &mut Lesson) -> Result<()> {
    let page = sys::page_size();
    let rounded = LEN.next_multiple_of(page);

    lesson.step(format!("Map {} of anonymous memory", bytes(LEN as u64)));
    lesson.say(
        "mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0): no \
         address hint, no file; the kernel picks a free place.\n\
         It maps whole pages, so the region is len rounded up to the page size, and the \
         address is page aligned.\n\
         The kernel may merge the new region with a neighbour of the same kind, so we count \
         only the bytes that were not mapped a moment before.",
    );
    let before = lesson.map()?;
    let addr = sys::mmap_anonymous(LEN).context("mmap refused")?;
    let start = addr.as_ptr() as usize;
    let map = lesson.map()?;
    let region = lesson
        .observe_in(&map, "mmap returned", start)
        .context("no region holds the new mapping")?;
    lesson.observe_in(&map, "the last byte asked for", start + LEN - 1);
    let new = newly_mapped(&before, region.start, region.end);
    lesson.fact("asked for", bytes(LEN as u64));
    lesson.fact("newly mapped", bytes(new as u64));
    lesson.check(
        "the address is page aligned",
        start % page == 0,
        format!("{start:#x} is {} bytes past a page boundary", start % page),
    );
    lesson.check(
        "the region is anonymous and rw-p",
        region.kind == RegionKind::Anonymous && region.perms.to_string() == "rw-p",
        format!("it is {region}"),
    );
    lesson.check(
        &format!("the kernel mapped the length rounded up to whole pages: {rounded} bytes"),
        new == rounded,
        format!("{new} bytes were newly mapped"),
    );

    lesson.step("Read zeros, then write and read back the whole length");
    lesson.say(
        "Fresh anonymous memory reads as zeros: the kernel never hands one process another's \
         old data.\n\
         Then every byte is written with a pattern and read back.",
    );
    // SAFETY: mmap just gave us LEN readable and writable bytes at `addr`; nothing else refers
    // to them, and the slice is gone before the munmap in step 3.
    let (zeros, mismatches) = unsafe {
        let memory = std::slice::from_raw_parts_mut(addr.as_ptr(), LEN);
        write_and_verify(memory)
    };
    lesson.check(
        "all of it read as zeros before we wrote",
        zeros == LEN,
        format!("only {zeros} of {LEN} bytes were zero"),
    );
    lesson.check(
        &format!("all {LEN} bytes read back what was written"),
        mismatches == 0,
        format!("{mismatches} bytes differ"),
    );

    lesson.step("Unmap it");
    lesson.say(
        "munmap(addr, len) removes the pages; the range is a hole in the address space again.",
    );
    // SAFETY: the range is the mapping made in step 1, and nothing refers to it any more.
    unsafe { sys::munmap(addr, LEN) }.context("munmap refused")?;
    let map = lesson.map()?;
    let after = lesson.observe_in(&map, "the old address", start);
    lesson.check(
        "no region holds the address any more",
        after.is_none(),
        format!("{start:#x} is still in {after:?}"),
    );

    lesson.step("The same with an owned mapping, unmapped by Drop");
    lesson.say(
        "memcore::Mapping wraps memmap2's MmapMut: it owns the mapping, reads and writes it as \
         a &mut [u8], and calls munmap in its Drop, so it cannot be forgotten or used after \
         being unmapped.",
    );
    let owned_start = {
        let mut owned = Mapping::anonymous(LEN).context("mmap refused")?;
        let owned_start = owned.as_ptr() as usize;
        lesson.observe("the owned mapping", owned_start)?;
        let (zeros, mismatches) = write_and_verify(&mut owned);
        lesson.check(
            "it read as zeros, then read back what was written",
            zeros == LEN && mismatches == 0,
            format!("{zeros} zero bytes, {mismatches} mismatches"),
        );
        owned_start
        // `owned` goes out of scope here and is unmapped.
    };
    let after = lesson.observe("the old address after Drop", owned_start)?;
    lesson.check(
        "Drop unmapped it",
        after.is_none(),
        format!("{owned_start:#x} is still in {after:?}"),
    );

    lesson.step("Touch memory after munmap (in a child process)");
    lesson.say(
        "A pointer into unmapped memory still holds its address, but no page is behind it: the \
         CPU faults and the kernel sends SIGSEGV, which kills the process.\n\
         We do it in a child process made with fork, never in this one: the child maps a \
         page, unmaps it and reads it with one load instruction.",
    );
    let child = || {
        let Ok(page_addr) = sys::mmap_anonymous(page) else {
            return 2;
        };
        // SAFETY: the page was just mapped by this child, and nothing refers to it.
        if unsafe { sys::munmap(page_addr, page) }.is_err() {
            return 3;
        }
        // SAFETY: this load faults on purpose; it is the last thing this child does.
        i32::from(unsafe { fault::probe_read(page_addr.as_ptr() as usize) })
    };
    // SAFETY: this process has only its main thread, and the child only maps, unmaps and loads.
    let exit = unsafe { sys::fork_and_wait(child) }.context("fork failed")?;
    let how = match exit {
        ChildExit::Signaled(signal) => format!("killed by {}", sys::signal_name(signal)),
        ChildExit::Exited(code) => format!("exited with status {code}"),
    };
    lesson.fact("the child", &how);
    lesson.check(
        "the child was killed by SIGSEGV",
        exit.signal_name() == Some("SIGSEGV"),
        format!("the child {how}"),
    );
    lesson.say("This process carries on: the fault and the signal were the child's alone.");

    lesson.step("Ask for a length of 0");
    lesson.say("A mapping of no bytes makes no sense; the kernel refuses it with EINVAL.");
    let refused = sys::mmap_anonymous(0);
    match refused {
        Err(error) => lesson.fact("mmap said", error),
        Ok(_) => lesson.fact("mmap said", "yes (it should not have)"),
    }
    lesson.check(
        "mmap refused a length of 0 with EINVAL",
        matches!(
            refused,
            Err(Error::Os {
                errno: Errno::EINVAL,
                ..
            })
        ),
        format!("got {refused:?}"),
    );
    Ok(())
}

/// Counts the zero bytes, fills the memory with a pattern and counts the bytes that do not read
/// back; returns both counts.
fn write_and_verify(memory: &mut [u8]) -> (usize, usize) {
    let zeros = memory.iter().filter(|&&b| b == 0).count();
    for (i, byte) in memory.iter_mut().enumerate() {
        *byte = (i % 253) as u8 ^ 0x5a;
    }
    let mismatches = memory
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b != (i % 253) as u8 ^ 0x5a)
        .count();
    (zeros, mismatches)
}
