//! The contract's step on many threads at once: `mem_chunk` is called from any thread, so its
//! lock must cover everything from choosing a slot to filling it, `sbrk` included. glibc's
//! `sbrk` is not thread-safe, and a slot chosen under the lock but filled after it is given
//! up can be chosen twice.
//!
//! It runs in a child process of its own (`in_a_child`), so that the chunks the threads take
//! never reach this process's registry. Races show only sometimes: a run that passes proves
//! less than one that fails.

use std::sync::Barrier;

use anyhow::Result;
use lesson::{Lesson, count};

use super::{Parts, in_a_child};

/// Threads that call mem_chunk at once.
const THREADS: usize = 4;
/// Chunks each thread asks for, at most: with the contract's 8 live chunks, 4 threads stay
/// within the template's registry of 256.
const EACH: usize = 60;
/// The size of each: small, from the break.
const SIZE: usize = 48;
/// Times the threads race, each in a fresh child, until one shows a fault: a race that strikes
/// one run in three is then missed once in 3.5 billion.
const ROUNDS: usize = 20;

/// How the threads' chunks ended up, as the child's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shared {
    /// Every chunk taken is listed once, and no two overlap.
    Apart = 0,
    /// Fewer chunks are listed than were taken: a slot was filled twice.
    Lost = 1,
    /// Two chunks taken at once share bytes: sbrk raced.
    Overlap = 2,
}

const SHARED: [Shared; 3] = [Shared::Apart, Shared::Lost, Shared::Overlap];

/// One thread's work: up to [`EACH`] chunks of [`SIZE`] bytes, until mem_chunk refuses (a full
/// registry). Returns their starts.
fn take_many(parts: &Parts) -> Vec<usize> {
    let mut starts = Vec::with_capacity(EACH);
    for _ in 0..EACH {
        match (parts.mem_chunk)(SIZE) {
            Ok(ptr) => starts.push(ptr as usize),
            Err(_) => break,
        }
    }
    starts
}

/// In the child: [`THREADS`] threads take chunks at once, then the registry is compared with
/// what they took.
fn at_once(parts: &Parts) -> Shared {
    let before = (parts.list_chunks)().len();
    let start = Barrier::new(THREADS);
    let mut taken: Vec<usize> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    take_many(parts)
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap_or_default())
            .collect()
    });
    taken.sort_unstable();
    if taken.windows(2).any(|w| w[1] - w[0] < SIZE) {
        return Shared::Overlap;
    }
    let listed = (parts.list_chunks)();
    let all_listed = taken
        .iter()
        .all(|&t| listed.iter().filter(|c| c.start == t).count() == 1);
    if !all_listed || listed.len() != before + taken.len() {
        return Shared::Lost;
    }
    Shared::Apart
}

/// The step.
///
/// # Errors
/// When the child cannot be forked.
pub(super) fn many_threads(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    lesson.step("Many threads at once");
    lesson.say(&format!(
        "The allocator of the next lessons calls mem_chunk from any thread. Its lock must hold \
         from the choice of a slot to the slot filled, sbrk included: glibc's sbrk is not \
         thread-safe.\n\
         A child process runs {THREADS} threads, each taking up to {EACH} chunks at once. Then \
         every chunk must be listed once, and no two may overlap. This is done {ROUNDS} times, \
         each in a new child.\n\
         A race shows only sometimes. So a pass here proves less than a failure."
    ));
    let mut outcome = in_a_child(&SHARED, |s| s as i32, || at_once(parts))?;
    for _ in 1..ROUNDS {
        if outcome.0 != Some(Shared::Apart) {
            break;
        }
        outcome = in_a_child(&SHARED, |s| s as i32, || at_once(parts))?;
    }
    let (shared, exit) = outcome;
    let detail = match shared {
        Some(Shared::Lost) => "some chunks taken at once are not listed, or listed twice: two \
                               threads filled the same slot. Hold the lock from the search for \
                               a free slot until the chunk is stored in it"
            .to_owned(),
        Some(Shared::Overlap) => "two chunks taken at once share bytes: two threads moved the \
                                  break at the same time. Call sbrk only while holding the lock"
            .to_owned(),
        _ => format!(
            "the child taking chunks from {} {exit}",
            count(THREADS, "thread")
        ),
    };
    lesson.check_part(
        "mem_chunk",
        "chunks taken by many threads at once are each listed once, and none overlaps another",
        shared == Some(Shared::Apart),
        detail,
    );
    Ok(())
}
