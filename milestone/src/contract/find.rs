//! The contract's find step: `find_chunk` answers any address inside a chunk with that chunk,
//! and no other address with any.

use anyhow::Result;
use lesson::{Lesson, Marks};

use super::counting::counted;
use super::registry::{RECORDED, Unrecorded};
use super::{NEEDS_CHUNKS, Parts, Taken, found, never_allocated};

pub(super) fn find(
    lesson: &mut Lesson,
    parts: &Parts,
    taken: Option<&[Taken]>,
    unrecorded: Option<&Unrecorded>,
) -> Result<()> {
    lesson.step("Find the chunk that holds an address");
    lesson.say(
        "find_chunk takes any address and answers with the chunk that holds it.\n\
         It is asked for the first byte of each chunk, one in its middle and its last. An \
         address in no chunk finds none.\n\
         It must never read the address itself.",
    );
    let Some(taken) = lesson.needs(taken, NEEDS_CHUNKS) else {
        return Ok(());
    };
    every_byte_finds_it(lesson, parts, taken, unrecorded)?;
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

/// The first, middle and last byte of each chunk find it. A chunk mem_chunk never recorded
/// cannot be found: when such chunks are all that is wrong, that failure is mem_chunk's.
fn every_byte_finds_it(
    lesson: &mut Lesson,
    parts: &Parts,
    taken: &[Taken],
    unrecorded: Option<&Unrecorded>,
) -> Result<()> {
    let mut wrong = Vec::new();
    let mut first_wrong = None;
    let mut only_unrecorded = true;
    for t in taken {
        for addr in [t.start, t.start + t.size / 2, t.start + t.size - 1] {
            let chunk = lesson.part_call("find_chunk", format!("find_chunk({addr:#x})"), || {
                counted(addr, || (parts.find_chunk)(addr))
            })?;
            if chunk.map(|c| c.start) != Some(t.start) {
                only_unrecorded &= unrecorded.is_some_and(|u| u.holds(t.start));
                first_wrong.get_or_insert(addr);
                wrong.push(format!(
                    "{addr:#x}, inside the chunk at {:#x}, found {}",
                    t.start,
                    found(chunk)
                ));
            }
        }
    }
    let claim = lesson.claim(format!(
        "for each of the {} chunks, its first, middle and last byte find it",
        taken.len()
    ));
    let claim = match first_wrong {
        Some(addr) => claim.call(format!("find_chunk({addr:#x})")),
        None => claim,
    };
    let claim = if !wrong.is_empty() && only_unrecorded {
        claim.because(RECORDED, "a chunk mem_chunk never recorded cannot be found")
    } else {
        claim
    };
    claim.holds(wrong.is_empty(), wrong.join("; "));
    Ok(())
}

/// The address one past a chunk's last usable byte (its listed length, which may be more than
/// was asked) is not in it: a `<=` where a `<` belongs claims it.
pub(super) fn one_past_the_end(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    let listed = lesson.part("list_chunks", parts.list_chunks)?;
    let mut claimed = Vec::new();
    let mut first = None;
    for chunk in &listed {
        let past = chunk.start.wrapping_add(chunk.len);
        let answer = lesson.part("find_chunk", || counted(past, || (parts.find_chunk)(past)))?;
        if answer.is_some_and(|c| c.start == chunk.start) {
            first.get_or_insert(past);
            claimed.push(format!(
                "{past:#x}, one past the end of {chunk}, found that chunk"
            ));
        }
    }
    let claim = lesson.claim("the address one past a chunk's last byte does not find that chunk");
    let claim = match first {
        Some(past) => claim.call(format!("find_chunk({past:#x})")),
        None => claim,
    };
    claim.holds(claimed.is_empty(), claimed.join("; "));
    Ok(())
}
