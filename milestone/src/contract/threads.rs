//! The contract's step on many threads at once: `mem_chunk` is called from any thread, so its
//! lock must cover everything from choosing a slot to filling it, `sbrk` included. glibc's
//! `sbrk` is not thread-safe, and a slot chosen under the lock but filled after it is given
//! up can be chosen twice.
//!
//! It runs in a child process of its own (`in_a_child`), so that the chunks the threads take
//! never reach this process's registry. The threads take small chunks and mapped ones in turn,
//! so that both paths race. A race strikes only when a thread is preempted inside its window,
//! which on one CPU happens about once in a thousand runs: so in the child, `sbrk` and `mmap`
//! let the other threads run inside their windows (`memcore::sys::widened`), and every program
//! built on this crate calls them there (the two `#[no_mangle]` functions below).

use std::sync::Barrier;

use anyhow::Result;
use lesson::{Lesson, count};
use memcore::child::Ended;

use super::{Parts, in_a_child};

/// Threads that call mem_chunk at once.
const THREADS: usize = 4;
/// Chunks each thread asks for, at most: with the contract's 8 live chunks, 4 threads stay
/// within the template's registry of 256.
const EACH: usize = 60;
/// The size of each small one, from the break; every other chunk is at the threshold, mapped.
const SIZE: usize = 48;
/// Times the threads race, each in a fresh child, until one shows a fault: a race that strikes
/// one run in three is then missed once in 3.5 billion.
const ROUNDS: usize = 20;

/// How the threads' chunks ended up, as the child returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shared {
    /// Every chunk taken is listed once, and no two overlap.
    Apart,
    /// Fewer chunks are listed than were taken: a slot was filled twice.
    Lost,
    /// Two chunks taken at once share bytes: sbrk raced.
    Overlap,
}

/// The size of the `i`th chunk of the `thread`th thread: small and mapped in turn, each thread
/// starting with the other kind than its neighbour, so that both paths race.
fn size_of(parts: &Parts, thread: usize, i: usize) -> usize {
    if (thread + i).is_multiple_of(2) {
        SIZE
    } else {
        parts.mmap_threshold.max(SIZE)
    }
}

/// One thread's work: up to [`EACH`] chunks, until mem_chunk refuses (a full registry).
/// Returns their starts and sizes.
fn take_many(parts: &Parts, thread: usize) -> Vec<(usize, usize)> {
    let mut taken = Vec::with_capacity(EACH);
    for i in 0..EACH {
        let size = size_of(parts, thread, i);
        match (parts.mem_chunk)(size) {
            Ok(ptr) => taken.push((ptr as usize, size)),
            Err(_) => break,
        }
    }
    taken
}

/// In the child: [`THREADS`] threads take chunks at once, then the registry is compared with
/// what they took.
fn at_once(parts: &Parts) -> Shared {
    let before = (parts.list_chunks)().len();
    let start = Barrier::new(THREADS);
    memcore::sys::widened::widen(true);
    let mut taken: Vec<(usize, usize)> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..THREADS)
            .map(|thread| {
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    take_many(parts, thread)
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap_or_default())
            .collect()
    });
    memcore::sys::widened::widen(false);
    taken.sort_unstable();
    if taken.windows(2).any(|w| w[1].0 - w[0].0 < w[0].1) {
        return Shared::Overlap;
    }
    let listed = (parts.list_chunks)();
    let all_listed = taken
        .iter()
        .all(|&(t, _)| listed.iter().filter(|c| c.start == t).count() == 1);
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
         A child process runs {THREADS} threads, each taking up to {EACH} chunks at once, small \
         and mapped in turn. Then every chunk must be listed once, and no two may overlap. This \
         is done {ROUNDS} times, each in a new child.\n\
         A race strikes only when a thread is paused inside it. So in the child, sbrk and mmap \
         let the other threads run at the worst moment, as a pause there would."
    ));
    let mut outcome = in_a_child(|| at_once(parts))?;
    for _ in 1..ROUNDS {
        if outcome != Ended::Returned(Shared::Apart) {
            break;
        }
        outcome = in_a_child(|| at_once(parts))?;
    }
    let shared = outcome.clone().returned();
    let detail = match shared {
        Some(Shared::Lost) => "some chunks taken at once are not listed, or listed twice: two \
                               threads filled the same slot. Hold the lock from the search for \
                               a free slot until the chunk is stored in it"
            .to_owned(),
        Some(Shared::Overlap) => "two chunks taken at once share bytes: two threads moved the \
                                  break at the same time. Call sbrk only while holding the lock"
            .to_owned(),
        _ => format!(
            "the child taking chunks from {} {outcome}",
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

/// `sbrk` for every call in a program built on this crate, the learner's among them: glibc's,
/// through [`memcore::sys::widened`], whose window is wide only inside this step's child.
///
/// # Safety
/// As `sbrk` (man 2 sbrk).
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sbrk(increment: libc::intptr_t) -> *mut libc::c_void {
    // SAFETY: the caller keeps sbrk's contract, which widened::sbrk has.
    unsafe { memcore::sys::widened::sbrk(increment) }
}

/// `mmap` for every call in a program built on this crate, as [`sbrk`].
///
/// # Safety
/// As `mmap` (man 2 mmap).
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mmap(
    addr: *mut libc::c_void,
    len: libc::size_t,
    prot: libc::c_int,
    flags: libc::c_int,
    fd: libc::c_int,
    offset: libc::off_t,
) -> *mut libc::c_void {
    // SAFETY: the caller keeps mmap's contract, which widened::mmap has.
    unsafe { memcore::sys::widened::mmap(addr, len, prot, flags, fd, offset) }
}
