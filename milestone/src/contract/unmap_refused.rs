//! The give-back step's check on a refused `munmap`: `release_chunk` must return the error and
//! keep the chunk, which is still mapped. A `release_chunk` that does not look at what `munmap`
//! returned says `Ok` and forgets memory that is still there.
//!
//! `munmap` of a whole mapping never fails, so the check builds the one case where it does, in
//! a child process of its own (`in_a_child`). The child makes a hole between two pages of its
//! own, where the kernel puts the next mmap chunk, so that the kernel merges the three into one
//! mapping. Unmapping the chunk would then split that mapping in three. The child next makes mappings until the kernel
//! refuses one (`vm.max_map_count`, 65,530 by default), and past that limit the split is refused
//! with `ENOMEM`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use anyhow::Result;
use lesson::Lesson;
use memcore::{MemoryMap, sys};

use super::{Parts, in_a_child};

/// At most this many mappings are made to reach the kernel's limit.
const MOST_MAPPINGS: usize = 1 << 18;
/// And for at most this long.
const LONGEST: Duration = Duration::from_secs(5);

/// How the release ended, as the child returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unmapped {
    /// It returned the error, and the chunk is still listed and mapped.
    Refused,
    /// It returned Ok, but the chunk is still mapped: munmap's failure was not looked at.
    IgnoredFailure,
    /// It returned the error, but the chunk is no longer listed.
    ForgotChunk,
    /// It panicked.
    Panicked,
    /// munmap could not be made to fail here (no room beside the chunk, or no limit reached):
    /// nothing was judged.
    NoSetup,
}

/// Makes a hole of `len` bytes between two pages of this child's own, where the kernel will put
/// the next mapping of that length: the highest gap that fits it, as the kernel had just chosen
/// that place for the hole and its two pages. A chunk mapped into it merges with both pages.
/// Returns where the hole starts.
fn hole_between_two_pages(len: usize) -> Option<usize> {
    let page = sys::page_size();
    let outer = sys::mmap_anonymous(len.checked_add(2 * page)?).ok()?;
    let hole = outer.map_addr(|a| a.saturating_add(page));
    // SAFETY: the middle of the mapping made just above, used by nothing.
    unsafe { sys::munmap(hole, len) }.ok()?;
    Some(hole.as_ptr() as usize)
}

/// Whether the kernel holds `[start, end)` inside one larger mapping, with bytes on each side.
fn inside_one_mapping(start: usize, end: usize) -> bool {
    MemoryMap::read_self()
        .ok()
        .and_then(|map| map.region_of(start).map(|r| r.start < start && end < r.end))
        .unwrap_or(false)
}

/// In the child: takes an mmap chunk, makes its munmap fail, releases it, and judges what
/// release_chunk did.
fn release_refused(parts: &Parts) -> Unmapped {
    let size = parts.mmap_threshold.max(1);
    let Some(len) = size.checked_next_multiple_of(sys::page_size()) else {
        return Unmapped::NoSetup;
    };
    let Some(hole) = hole_between_two_pages(len) else {
        return Unmapped::NoSetup;
    };
    let Ok(ptr) = (parts.mem_chunk)(size) else {
        return Unmapped::NoSetup;
    };
    let start = ptr as usize;
    // Only a chunk mapped into the hole: one served otherwise (from released break memory,
    // say) is not this check's business.
    if start != hole || !inside_one_mapping(start, start.saturating_add(len)) {
        return Unmapped::NoSetup;
    }
    let Some(full) = sys::MapCountFull::fill(MOST_MAPPINGS, LONGEST) else {
        return Unmapped::NoSetup;
    };
    // SAFETY: the chunk is one mem_chunk returned, and nothing uses it any more.
    let answer = catch_unwind(AssertUnwindSafe(|| unsafe { (parts.release_chunk)(ptr) }));
    // Room again for what list_chunks allocates.
    full.give_back();
    let Ok(answer) = answer else {
        return Unmapped::Panicked;
    };
    let mapped = sys::any_page_mapped(start, size);
    let listed = (parts.list_chunks)().iter().any(|c| c.start == start);
    match (answer, mapped, listed) {
        (Err(_), true, true) => Unmapped::Refused,
        (Ok(()), true, _) => Unmapped::IgnoredFailure,
        (Err(_), _, false) => Unmapped::ForgotChunk,
        // munmap did its work after all: nothing was tried.
        (_, false, _) => Unmapped::NoSetup,
    }
}

/// The check, for the give-back step.
///
/// # Errors
/// When the child cannot be forked.
pub(super) fn munmap_refused(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    let ended = in_a_child(|| release_refused(parts))?;
    let unmapped = ended.clone().returned();
    lesson.fact(
        "release_chunk while munmap fails",
        lesson::varying_text(match unmapped {
            Some(Unmapped::Refused) => "refused",
            Some(Unmapped::NoSetup) => "not tried: munmap could not be made to fail here",
            Some(_) => "answered wrongly",
            None => "the child did not finish",
        }),
    );
    let detail = match unmapped {
        Some(Unmapped::IgnoredFailure) => {
            "munmap failed with ENOMEM, but release_chunk returned Ok and the chunk is still \
             mapped: check what munmap returns (0, or -1 on failure), and return \
             io::Error::last_os_error() then"
                .to_owned()
        }
        Some(Unmapped::ForgotChunk) => "release_chunk returned the error, but the chunk is no \
                                        longer listed though still mapped: free its slot only \
                                        once munmap has succeeded"
            .to_owned(),
        Some(Unmapped::Panicked) => "release_chunk panicked when munmap failed".to_owned(),
        _ => format!("the child releasing the chunk {ended}"),
    };
    lesson.check_part(
        "release_chunk",
        "when munmap fails, release_chunk returns the error and keeps the chunk",
        matches!(unmapped, Some(Unmapped::Refused | Unmapped::NoSetup)),
        detail,
    );
    Ok(())
}
