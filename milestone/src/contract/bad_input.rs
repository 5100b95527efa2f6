//! The contract's step on bad sizes: 0, a size that overflows when rounded, and any above
//! `isize::MAX` are refused with `InvalidInput` before any system call, and change nothing.

use std::io;

use anyhow::{Result, bail};
use lesson::Lesson;
use memcore::child::{Ended, Message};
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
    InvalidInput,
    /// Refused with another kind.
    OtherKind,
    /// Granted.
    Granted,
    /// It panicked.
    Panicked,
}

/// What the child saw, as it returns it.
#[derive(Debug, Clone, Copy)]
struct Asked {
    /// An [`Answer`] for each bad size.
    answers: [Answer; BAD.len()],
    /// Whether the registry stayed as it was.
    registry_kept: bool,
    /// Whether the break stayed where it was.
    break_kept: bool,
    /// What the counting allocator saw (`counting::take`).
    seen: Option<(usize, Option<usize>)>,
    /// The first panic's message.
    panic: Option<Message>,
}

/// In the child: each bad size asked for, and what changed.
fn ask(parts: &Parts) -> Asked {
    let _ = counting::take();
    let mut before = (parts.list_chunks)();
    let brk = sys::program_break() as usize;
    let mut panic = None;
    let answers = BAD.map(|(_, size)| {
        match std::panic::catch_unwind(|| counted(size, || (parts.mem_chunk)(size))) {
            Ok(Err(e)) if e.kind() == io::ErrorKind::InvalidInput => Answer::InvalidInput,
            Ok(Err(_)) => Answer::OtherKind,
            Ok(Ok(_)) => Answer::Granted,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or_default();
                panic.get_or_insert(Message::new(message));
                Answer::Panicked
            }
        }
    });
    let seen = counting::take();
    let mut after = (parts.list_chunks)();
    before.sort_by_key(|c| c.start);
    after.sort_by_key(|c| c.start);
    Asked {
        answers,
        registry_kept: before == after,
        break_kept: sys::program_break() as usize == brk,
        seen,
        panic,
    }
}

/// The step. The bad sizes are asked for in a child process, so that whatever a mem_chunk that
/// grants one records stays there, and no later step meets it.
///
/// # Errors
/// When the child cannot be forked, or does not finish.
pub(super) fn bad_input(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    lesson.step("Bad sizes are refused and change nothing");
    lesson.say(
        "Some sizes make no chunk: 0, a size that overflows when rounded up, and any size \
         above isize::MAX, which neither sbrk nor mmap can take.\n\
         mem_chunk must refuse them before any system call, leaving the registry as it was.\n\
         They are asked for in a child process, so that what a wrong answer records stays \
         there.",
    );
    let asked = match in_a_child(|| ask(parts))? {
        Ended::Returned(asked) => asked,
        other => bail!("the child asking for the bad sizes {other}"),
    };
    for ((label, _), answer) in BAD.iter().zip(asked.answers) {
        let said = match answer {
            Answer::InvalidInput => "refused, with InvalidInput",
            Answer::OtherKind => "refused, with another kind",
            Answer::Panicked => "it panicked",
            Answer::Granted => "granted",
        };
        lesson.fact(&format!("mem_chunk({label})"), said);
    }
    refusals(lesson, &asked);
    Ok(())
}

/// The step's claims, from what the child told: each size refused with InvalidInput, nothing
/// changed, nothing allocated.
fn refusals(lesson: &mut Lesson, asked: &Asked) {
    let answers = asked.answers;
    let refused = answers
        .iter()
        .all(|a| !matches!(a, Answer::Granted | Answer::Panicked));
    let panicked = BAD
        .iter()
        .zip(answers)
        .find(|(_, a)| *a == Answer::Panicked)
        .map(|((label, _), _)| *label);
    let registry_kept = asked.registry_kept;
    let unchanged = registry_kept && asked.break_kept;
    let granted = BAD
        .iter()
        .zip(answers)
        .find(|(_, a)| matches!(a, Answer::Granted | Answer::Panicked))
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
                asked.panic.as_ref().map_or("", Message::as_str)
            ),
            (false, _) => "mem_chunk granted a size it must refuse (see above)".to_owned(),
            (true, false) => "the registry changed, though every size was refused".to_owned(),
            (true, true) => "the break moved, though every size was refused".to_owned(),
        },
    );
    lesson.check_part(
        "mem_chunk",
        "each refusal is io::ErrorKind::InvalidInput, made before any system call",
        answers.iter().all(|&a| a != Answer::OtherKind),
        "a refusal came back with another kind: a size that is 0, overflows or exceeds \
         isize::MAX must be refused by mem_chunk itself, with InvalidInput, before sbrk or mmap",
    );
    let seen = asked.seen;
    let because = panicked.map(|_| (REFUSED, "a panic allocates its message as it unwinds"));
    never_allocated_as(
        lesson,
        "mem_chunk",
        seen,
        |size| format!("mem_chunk({size})"),
        because,
    );
}
