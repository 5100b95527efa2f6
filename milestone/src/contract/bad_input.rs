//! The contract's step on bad sizes: 0, a size that overflows when rounded, and any above
//! `isize::MAX` are refused with `InvalidInput` before any system call, and change nothing.

use std::io;

use anyhow::{Context, Result, bail};
use lesson::Lesson;
use memcore::shared::SharedCells;
use memcore::sys;

use super::counting::{self, counted};
use super::{Parts, in_a_child, never_allocated_as};

/// The bad sizes, as the step names them.
const BAD: [(&str, usize); 3] = [
    ("0", 0),
    ("isize::MAX + 1", isize::MAX as usize + 1),
    ("usize::MAX", usize::MAX),
];

/// The step's first claim.
const REFUSED: &str = "each was refused, and the registry and the break are as they were";

/// What mem_chunk did with one bad size, as the child tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Refused with `InvalidInput`.
    InvalidInput = 1,
    /// Refused with another kind.
    OtherKind = 2,
    /// Granted.
    Granted = 3,
    /// It panicked.
    Panicked = 4,
}

/// The cells the child fills: an [`Answer`] for each bad size, then whether the registry and
/// the break stayed, then what the counting allocator saw, then that it finished.
const REGISTRY_KEPT: usize = BAD.len();
const BREAK_KEPT: usize = BAD.len() + 1;
const ALLOCATIONS: usize = BAD.len() + 2;
const FIRST_ALLOCATION: usize = BAD.len() + 3;
const COUNTED: usize = BAD.len() + 4;
const FINISHED: usize = BAD.len() + 5;
/// The first panic's message, 8 bytes a cell, cut at [`MESSAGE_CELLS`] cells.
const MESSAGE: usize = BAD.len() + 6;
const MESSAGE_CELLS: usize = 24;

/// Keeps `message` in the cells from [`MESSAGE`] on, for the parent to read.
fn keep_message(cells: &SharedCells, message: &str) {
    let bytes = message.as_bytes();
    for (i, chunk) in bytes.chunks(8).take(MESSAGE_CELLS).enumerate() {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        cells.set(MESSAGE + i, u64::from_le_bytes(word));
    }
}

/// The message [`keep_message`] kept.
fn kept_message(cells: &SharedCells) -> String {
    let bytes: Vec<u8> = (0..MESSAGE_CELLS)
        .flat_map(|i| cells.get(MESSAGE + i).to_le_bytes())
        .take_while(|&b| b != 0)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// In the child: each bad size asked for, and what changed.
fn ask(parts: &Parts, cells: &SharedCells) -> i32 {
    let _ = counting::take();
    let mut before = (parts.list_chunks)();
    let brk = sys::program_break() as usize;
    for (i, (_, size)) in BAD.into_iter().enumerate() {
        let asked = std::panic::catch_unwind(|| counted(size, || (parts.mem_chunk)(size)));
        let answer = match asked {
            Ok(Err(e)) if e.kind() == io::ErrorKind::InvalidInput => Answer::InvalidInput,
            Ok(Err(_)) => Answer::OtherKind,
            Ok(Ok(_)) => Answer::Granted,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                if (0..i).all(|j| cells.get(j) != Answer::Panicked as u64) {
                    keep_message(cells, &message);
                }
                Answer::Panicked
            }
        };
        cells.set(i, answer as u64);
    }
    let seen = counting::take();
    let mut after = (parts.list_chunks)();
    before.sort_by_key(|c| c.start);
    after.sort_by_key(|c| c.start);
    cells.set(REGISTRY_KEPT, u64::from(before == after));
    cells.set(BREAK_KEPT, u64::from(sys::program_break() as usize == brk));
    if let Some((calls, first)) = seen {
        cells.set(ALLOCATIONS, calls as u64);
        cells.set(FIRST_ALLOCATION, first.map_or(u64::MAX, |f| f as u64));
        cells.set(COUNTED, 1);
    }
    cells.set(FINISHED, 1);
    0
}

/// The step. The bad sizes are asked for in a child process, so that whatever a mem_chunk that
/// grants one records stays there, and no later step meets it.
///
/// # Errors
/// When the child cannot be forked, or its cells made.
pub(super) fn bad_input(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    lesson.step("Bad sizes are refused and change nothing");
    lesson.say(
        "Some sizes make no chunk: 0, a size that overflows when rounded up, and any size \
         above isize::MAX, which neither sbrk nor mmap can take.\n\
         mem_chunk must refuse them before any system call, leaving the registry as it was.\n\
         They are asked for in a child process, so that what a wrong answer records stays \
         there.",
    );
    let cells =
        SharedCells::new(MESSAGE + MESSAGE_CELLS).context("could not map cells for the child")?;
    let (_, exit) = in_a_child(&[0], |code| code, || ask(parts, &cells))?;
    if cells.get(FINISHED) != 1 {
        bail!("the child asking for the bad sizes {exit}");
    }
    let answers: Vec<u64> = (0..BAD.len()).map(|i| cells.get(i)).collect();
    for ((label, _), answer) in BAD.iter().zip(&answers) {
        let said = match *answer {
            a if a == Answer::InvalidInput as u64 => "refused, with InvalidInput",
            a if a == Answer::OtherKind as u64 => "refused, with another kind",
            a if a == Answer::Panicked as u64 => "it panicked",
            _ => "granted",
        };
        lesson.fact(&format!("mem_chunk({label})"), said);
    }
    refusals(lesson, &cells, &answers);
    Ok(())
}

/// The step's claims, from what the child told: each size refused with InvalidInput, nothing
/// changed, nothing allocated.
fn refusals(lesson: &mut Lesson, cells: &SharedCells, answers: &[u64]) {
    let refused = answers
        .iter()
        .all(|&a| a != Answer::Granted as u64 && a != Answer::Panicked as u64);
    let panicked = BAD
        .iter()
        .zip(answers)
        .find(|(_, a)| **a == Answer::Panicked as u64)
        .map(|((label, _), _)| *label);
    let registry_kept = cells.get(REGISTRY_KEPT) == 1;
    let unchanged = registry_kept && cells.get(BREAK_KEPT) == 1;
    let granted = BAD
        .iter()
        .zip(answers)
        .find(|(_, a)| **a == Answer::Granted as u64 || **a == Answer::Panicked as u64)
        .map(|((label, _), _)| format!("mem_chunk({label})"));
    let claim = lesson.claim(REFUSED).about("mem_chunk");
    let claim = match granted {
        Some(call) => claim.call(call),
        None => claim,
    };
    claim.holds(
        refused && unchanged,
        match (refused, registry_kept) {
            (false, _) if panicked.is_some() => format!(
                "mem_chunk({}) panicked: {}. Check the size before any arithmetic on it \
                 (checked_add, checked_next_multiple_of), and refuse it with InvalidInput",
                panicked.unwrap_or_default(),
                kept_message(cells)
            ),
            (false, _) => "mem_chunk granted a size it must refuse (see above)".to_owned(),
            (true, false) => "the registry changed, though every size was refused".to_owned(),
            (true, true) => "the break moved, though every size was refused".to_owned(),
        },
    );
    lesson.check_part(
        "mem_chunk",
        "each refusal is io::ErrorKind::InvalidInput, made before any system call",
        answers.iter().all(|&a| a != Answer::OtherKind as u64),
        "a refusal came back with another kind: a size that is 0, overflows or exceeds \
         isize::MAX must be refused by mem_chunk itself, with InvalidInput, before sbrk or mmap",
    );
    let seen = (cells.get(COUNTED) == 1).then(|| {
        let first = cells.get(FIRST_ALLOCATION);
        (
            cells.get(ALLOCATIONS) as usize,
            (first != u64::MAX).then_some(first as usize),
        )
    });
    let because = panicked.map(|_| (REFUSED, "a panic allocates its message as it unwinds"));
    never_allocated_as(
        lesson,
        "mem_chunk",
        seen,
        |size| format!("mem_chunk({size})"),
        because,
    );
}
