//! The contract's step on a full registry: `mem_chunk` must refuse a chunk it has no room to
//! record, with `io::ErrorKind::OutOfMemory`, before any system call, and change nothing.
//!
//! The registry is filled in a child process of its own, so that the chunks it takes never
//! reach the parent's registry, and every later step sees it as it was.
//! The child is forked from the one-threaded contract (`in_a_child`), so the implementation's
//! lock is held by no one at the fork.

use std::io;
use std::time::{Duration, Instant};

use anyhow::Result;
use lesson::Lesson;
use memcore::sys;

use super::refused::{from_break, while_the_os_refuses};
use super::{Parts, in_a_child};

/// At most this many chunks are taken to fill the registry.
const MOST: usize = 100_000;
/// And at most for this long.
const LONGEST: Duration = Duration::from_secs(2);
/// The size of each chunk taken to fill it: small, so that the break grows little.
const SIZE: usize = 16;

/// How the child's filling ended, as the child returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filled {
    /// Refused with OutOfMemory, and nothing changed.
    Refused,
    /// Never refused within [`MOST`] chunks or [`LONGEST`]: the registry grows, which is fine.
    NeverFull,
    /// Refused with another kind of error.
    WrongKind,
    /// Refused, but the break moved: the check came after the system call.
    BreakMoved,
    /// Refused, but the registry changed.
    ListChanged,
    /// Refused, but only after a system call: the refusal changes when the OS refuses too.
    CheckedLate,
}

/// With the registry full, whether the refusal of a request that needs new pages changes when
/// the OS refuses memory too. A refusal made before any system call cannot: one that changes
/// came from a system call, made before the registry was asked (and perhaps undone).
fn refusal_depends_on_the_os(parts: &Parts) -> bool {
    let size = from_break(parts.mmap_threshold);
    let said = |answer: io::Result<*mut u8>| answer.err().map(|e| (e.kind(), e.raw_os_error()));
    let with_memory = said((parts.mem_chunk)(size));
    let without = while_the_os_refuses(|| said((parts.mem_chunk)(size)));
    without.is_some_and(|without| without != with_memory)
}

/// Takes chunks of [`SIZE`] bytes until `mem_chunk` refuses one, then judges the refusal.
fn fill(parts: &Parts) -> Filled {
    let started = Instant::now();
    let mut listed = (parts.list_chunks)().len();
    for _ in 0..MOST {
        if started.elapsed() > LONGEST {
            break;
        }
        let brk = sys::program_break();
        let Err(error) = (parts.mem_chunk)(SIZE) else {
            listed += 1;
            continue;
        };
        return if error.kind() != io::ErrorKind::OutOfMemory {
            Filled::WrongKind
        } else if sys::program_break() != brk {
            Filled::BreakMoved
        } else if (parts.list_chunks)().len() != listed {
            Filled::ListChanged
        } else if refusal_depends_on_the_os(parts) {
            Filled::CheckedLate
        } else {
            Filled::Refused
        };
    }
    Filled::NeverFull
}

/// The step: fills the registry in a child, and checks how the refusal came.
///
/// # Errors
/// When the child cannot be forked.
pub(super) fn full_registry(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    lesson.step("A full registry is refused and changes nothing");
    lesson.say(
        "A registry of fixed size fills up. Then mem_chunk must refuse with OutOfMemory, before \
         any system call, and change nothing.\n\
         A child process takes chunks until mem_chunk refuses one, so the chunks it takes never \
         reach this process's registry. A registry that grows instead is fine too.",
    );
    let ended = in_a_child(|| fill(parts))?;
    let filled = ended.clone().returned();
    lesson.fact(
        "how the registry filled",
        lesson::varying_text(match filled {
            Some(Filled::NeverFull) => "it took more chunks than the lesson tries: it grows",
            Some(_) => "mem_chunk refused a chunk",
            None => "the child did not finish",
        }),
    );
    let detail = match filled {
        Some(Filled::WrongKind) => "the refusal was not io::ErrorKind::OutOfMemory".to_owned(),
        Some(Filled::BreakMoved) => {
            "the break moved though the chunk was refused: look for a free slot before calling \
             sbrk"
                .to_owned()
        }
        Some(Filled::ListChanged) => "the registry changed though the chunk was refused".to_owned(),
        Some(Filled::CheckedLate) => {
            "the refusal changed when the OS refused memory too: mem_chunk called sbrk or mmap \
             before it looked for a free slot (and gave the memory back). Look for the slot \
             first"
                .to_owned()
        }
        _ => format!("the child filling the registry {ended}"),
    };
    lesson.check_part(
        "mem_chunk",
        "with no room left, mem_chunk refuses with OutOfMemory, and nothing changes",
        matches!(filled, Some(Filled::Refused | Filled::NeverFull)),
        detail,
    );
    Ok(())
}
