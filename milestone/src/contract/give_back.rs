//! The contract's last, optional step: every chunk given back with `release_chunk`, each
//! release harming no other chunk and leaving someone else's page above the chunks theirs.
//!
//! # Safety
//! The contract reads someone else's page only while the break is at its end, and releases
//! only chunks that nothing uses any more.

use anyhow::{Context, Result};
use lesson::{Lesson, bytes, count, io_error, moved};
use memcore::sys;

use super::counting::counted;
use super::take::intact;
use super::{NEEDS_CHUNKS, Parts, Taken, again, never_allocated, unmap_refused, writable};
use crate::Source;
use memcore::theirs::Theirs;

/// What releasing the `released`th chunk did to the chunks taken after it, which are still
/// live. Each must still be mapped writable and hold its pattern. One from sbrk must still lie
/// below the break, since break memory goes back only from the top.
pub(super) fn harmed_by_release(
    lesson: &Lesson,
    taken: &[Taken],
    released: usize,
) -> Result<Vec<String>> {
    let (map, brk) = lesson.map_and_break()?;
    let gone = &taken[released];
    let mut harmed = Vec::new();
    // A chunk that lay in the wrong place when it was taken failed there: where it lies is not
    // what its size says, so nothing is judged of it here.
    let placed = taken.iter().enumerate().skip(released + 1);
    for (i, t) in placed.filter(|(_, t)| t.misplaced.is_none()) {
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

pub(super) fn give_back(lesson: &mut Lesson, parts: &Parts, taken: Option<&[Taken]>) -> Result<()> {
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
    let Some(taken) = lesson.needs(taken, NEEDS_CHUNKS) else {
        return Ok(());
    };
    let first = taken.first().context("no chunk was taken")?;
    interior_refused(lesson, parts, first, taken.len())?;
    let still_mapped = release_each(lesson, parts, taken)?;
    let left = lesson.part("list_chunks", parts.list_chunks)?;
    lesson.check_part(
        "release_chunk",
        "the registry lists none, and the mmap chunks are unmapped",
        left.is_empty() && still_mapped.is_empty(),
        match left.len() {
            0 => still_mapped.join("; "),
            n => format!("{} still listed", count(n, "chunk")),
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
    again::take_again(lesson, parts, taken)
}

/// What is still mapped of the mmap chunk `t` just after its release, in words; `None` when
/// nothing is. Asked with mincore, which allocates nothing: where glibc's malloc maps every
/// allocation, anything allocated after (reading the maps, say) may be mapped into the hole.
fn left_mapped(t: &Taken) -> Option<String> {
    // A chunk placed wrong when taken (from the break though its size called for mmap) failed
    // there, and is not judged again here.
    if t.source != Source::Mmap || t.misplaced.is_some() {
        return None;
    }
    let first = sys::first_page_mapped(t.start, t.size)?;
    let mapped = sys::bytes_mapped(t.start, t.size);
    Some(format!(
        "after release_chunk({:#x}), {} of the chunk's pages are still mapped, from {first:#x}: \
         munmap the chunk's whole length ({}), which the kernel rounds up to whole pages as \
         mmap did",
        t.start,
        bytes(mapped as u64),
        bytes(t.size as u64)
    ))
}

/// A pointer one byte into the first chunk is refused, and every one of the `live` chunks stays.
/// It is the step's first call of release_chunk: a `todo!()` there ends the run here.
fn interior_refused(lesson: &mut Lesson, parts: &Parts, first: &Taken, live: usize) -> Result<()> {
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
        refused.is_err() && still == live,
        format!(
            "it was {}, {still} chunks listed",
            if refused.is_ok() {
                "accepted"
            } else {
                "refused"
            }
        ),
    );
    Ok(())
}

/// Releases every chunk taken, in the order taken, and checks each release harmed no other
/// chunk; returns what is still mapped of the mmap chunks, one line each.
pub(super) fn release_each(
    lesson: &mut Lesson,
    parts: &Parts,
    taken: &[Taken],
) -> Result<Vec<String>> {
    let theirs = their_page_above()?;
    let mut failures = Vec::new();
    let mut harmed = Vec::new();
    let mut still_mapped = Vec::new();
    for (i, t) in taken.iter().enumerate() {
        let call = format!("release_chunk({:#x})", t.start);
        // SAFETY: the chunk is one mem_chunk returned, and nothing uses it any more.
        let released = lesson.part_call("release_chunk", call, || unsafe {
            counted(t.start, || (parts.release_chunk)(t.start as *mut u8))
        })?;
        still_mapped.extend(left_mapped(t));
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
    Ok(still_mapped)
}

/// Before the chunks are released, someone else grows the break by a page above them and
/// writes to it, as glibc's malloc may.
pub(super) fn their_page_above() -> Result<Theirs> {
    Theirs::take(sys::program_break(), sys::page_size())
        .context("could not grow the break for someone else")
}

/// Checks that releasing left someone else's page below the break, with their bytes, then
/// gives it back.
pub(super) fn their_page_kept(lesson: &mut Lesson, theirs: Theirs) -> Result<()> {
    let end = theirs.end();
    let brk = sys::program_break() as usize;
    let intact = brk == end && theirs.kept();
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
        theirs
            .give_back()
            .context("could not give someone else's page back")?;
    }
    Ok(())
}
