//! The contract's step on the OS refusing memory: when `sbrk` or `mmap` fails, `mem_chunk` must
//! return an error and change nothing. Both calls return `(void *) -1` on failure (`MAP_FAILED`
//! is that value too), and a `mem_chunk` that does not check hands it out as a chunk.
//!
//! Each request runs in a child process of its own, forked from the one-threaded contract
//! (`in_a_child`). The child lowers its address-space limit (`RLIMIT_AS`) below what it
//! already uses, so that every `brk` or `mmap` that would grow it fails with `ENOMEM`, asks for
//! one chunk, and puts the limit back before it looks at the answer.

use std::panic::{AssertUnwindSafe, catch_unwind};

use anyhow::Result;
use lesson::Lesson;
use memcore::{MemoryMap, sys};

use super::{ChunkInfo, Parts, in_a_child, writable};

/// How one request under the limit ended, as the child returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// Refused with an error, and the registry is as it was.
    Refused,
    /// Served from memory already held: writable, and listed. Fine.
    Served,
    /// Served with `(void *) -1`, sbrk's and mmap's failure value.
    FailureValue,
    /// Served with an address that is not writable memory (the failure value plus padding, say).
    NotMemory,
    /// Served with writable memory that the registry does not list.
    NotListed,
    /// Refused, but the registry changed.
    ListChanged,
    /// mem_chunk panicked.
    Panicked,
    /// The limit could not be set or put back: nothing was asked.
    NoLimit,
    /// Refused, but the break moved (the padding asked apart, say).
    BreakMoved,
}

/// In the child: asks for `size` bytes while the OS refuses all memory, and judges the answer.
fn ask_refused(parts: &Parts, size: usize) -> Refusal {
    // Someone else leaves the break unaligned, so that mem_chunk must pad, as it may well have
    // to when the OS refuses.
    let _ = super::take::unalign_break();
    let brk = sys::program_break();
    let before = (parts.list_chunks)();
    let Some(answer) =
        while_the_os_refuses(|| catch_unwind(AssertUnwindSafe(|| (parts.mem_chunk)(size))))
    else {
        return Refusal::NoLimit;
    };
    // A panic first: it may have left the registry's lock poisoned for list_chunks.
    let Ok(answer) = answer else {
        return Refusal::Panicked;
    };
    let after = (parts.list_chunks)();
    match answer {
        Err(_) if sys::program_break() != brk => Refusal::BreakMoved,
        Err(_) if same_chunks(before, after.clone()) => Refusal::Refused,
        Err(_) => Refusal::ListChanged,
        Ok(ptr) if ptr as usize == usize::MAX => Refusal::FailureValue,
        Ok(ptr) => {
            let start = ptr as usize;
            let mapped = MemoryMap::read_self().is_ok_and(|map| writable(&map, start, size));
            if !mapped {
                Refusal::NotMemory
            } else if !after.iter().any(|c| c.start == start && c.len >= size) {
                Refusal::NotListed
            } else {
                Refusal::Served
            }
        }
    }
}

/// Runs `f` while the OS refuses all new memory: this process's address-space limit lowered to
/// 0, so that every `brk` or `mmap` that would grow it fails with `ENOMEM`. `f` must not
/// allocate: malloc would be refused too. `None` when the limit could not be set or put back.
pub(super) fn while_the_os_refuses<T>(f: impl FnOnce() -> T) -> Option<T> {
    grow_stack();
    let old = sys::address_space_limit();
    sys::set_address_space_limit(Some(0)).ok()?;
    let value = f();
    sys::set_address_space_limit(old).ok()?;
    Some(value)
}

/// A request from the break that needs new pages: a growth within the break's last page needs
/// no new memory, so the OS cannot refuse it.
pub(super) fn from_break(threshold: usize) -> usize {
    (4 * sys::page_size())
        .min(threshold.saturating_sub(1))
        .max(1)
}

/// Touches 64 KiB of stack, so that mem_chunk's calls need no new stack page: under the limit,
/// growing the stack would fail too.
fn grow_stack() {
    let room = [0u8; 64 * 1024];
    std::hint::black_box(&room);
}

fn same_chunks(mut before: Vec<ChunkInfo>, mut after: Vec<ChunkInfo>) -> bool {
    before.sort_by_key(|c| c.start);
    after.sort_by_key(|c| c.start);
    before == after
}

/// What went wrong, for the report; `None` when the answer is one the lesson allows.
fn problem(refusal: Refusal, call: &str, size: usize) -> Option<String> {
    let asked = format!("mem_chunk({size})");
    let detail = match refusal {
        Refusal::Refused | Refusal::Served | Refusal::NoLimit => return None,
        Refusal::FailureValue => format!(
            "{asked} returned 0xffffffffffffffff as a chunk: that is (void *) -1, what {call} \
             returns when it fails. Compare {call}'s result with it, and return \
             io::Error::last_os_error() instead"
        ),
        Refusal::NotMemory => format!(
            "{asked} returned an address that is not writable memory, while {call} was failing. \
             {call} returns (void *) -1 when it fails: check its result before using it, and \
             return io::Error::last_os_error() instead"
        ),
        Refusal::NotListed => format!("{asked} returned memory that the registry does not list"),
        Refusal::ListChanged => format!(
            "{asked} was refused, but the registry changed: record a chunk only once the OS has \
             given its memory"
        ),
        Refusal::BreakMoved => format!(
            "{asked} was refused, but the break moved: a refusal changes nothing. Ask sbrk for \
             the padding and the chunk in one call, or give the padding back when the chunk is \
             refused"
        ),
        Refusal::Panicked => format!(
            "{asked} panicked while {call} was failing. {call} returns (void *) -1 when it \
             fails: check its result before using it"
        ),
    };
    Some(detail)
}

/// The step: one request from the break and one mapped, each in a child under a limit.
///
/// # Errors
/// When a child cannot be forked.
pub(super) fn os_refuses(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    lesson.step("When the OS refuses memory, mem_chunk says so");
    lesson.say(
        "sbrk and mmap fail when the OS refuses memory, for example past a limit. Both then \
         return (void *) -1, which is never memory.\n\
         mem_chunk must then return an error, and change nothing.\n\
         A child process lowers its address-space limit, so that both calls fail. Then it asks \
         for one chunk below the threshold, and one at it.\n\
         A chunk served from memory mem_chunk already holds is fine too.",
    );
    let mut problems = Vec::new();
    let from_break = from_break(parts.mmap_threshold);
    for (call, size) in [("sbrk", from_break), ("mmap", parts.mmap_threshold.max(1))] {
        let ended = in_a_child(|| ask_refused(parts, size))?;
        let refusal = ended.clone().returned();
        lesson.fact(
            &format!("mem_chunk while {call} fails"),
            lesson::varying_text(&match refusal {
                Some(Refusal::Refused) => "refused".to_owned(),
                Some(Refusal::Served) => "served from memory it held".to_owned(),
                Some(Refusal::NoLimit) => "not asked: the limit could not be set".to_owned(),
                Some(_) => "answered wrongly".to_owned(),
                None => format!("the child {ended}"),
            }),
        );
        let wrong = match refusal {
            None => Some(format!(
                "the child asking mem_chunk while {call} fails {ended}"
            )),
            Some(refusal) => problem(refusal, call, size),
        };
        problems.extend(wrong);
    }
    lesson.check_part(
        "mem_chunk",
        "when sbrk or mmap fails, mem_chunk returns an error, and nothing changes",
        problems.is_empty(),
        problems.join("; "),
    );
    Ok(())
}
