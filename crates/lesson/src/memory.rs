//! What the drivers check of memory, again and again, written once: the bytes a new mapping
//! added (with glibc's tuned-to-nothing mmap threshold, where the maps cannot tell), a region
//! still mapped after munmap, an OS error that must be a given `errno` (a non-aligned address
//! refused with `EINVAL`), and a child process that must die of a given signal.

use std::io;

use anyhow::Context;
use memcore::child::{Ended, in_child};
use memcore::{Errno, MemoryMap};

use crate::Lesson;
use crate::format::bytes;
use crate::glibc::GlibcMalloc;

/// How many bytes of `[start, end)` were not mapped in `before`: the kernel may merge a new
/// mapping with a neighbour that has the same permissions, so the region holding it can be
/// larger than what was just mapped.
pub fn newly_mapped(before: &MemoryMap, start: usize, end: usize) -> usize {
    let old: usize = before
        .regions()
        .iter()
        .map(|r| r.end.min(end).saturating_sub(r.start.max(start)))
        .sum();
    (end - start) - old
}

/// Whether `result` is the OS error `errno` (`EINVAL` for an address that is not page aligned,
/// say; see `man 3 errno`).
pub fn is_os_error<T>(result: &io::Result<T>, errno: Errno) -> bool {
    result
        .as_ref()
        .err()
        .and_then(io::Error::raw_os_error)
        .is_some_and(|code| Errno(code) == errno)
}

/// Why a check that the `len` bytes at `start` are gone failed: `page` is the first page still
/// mapped (`sys::first_page_mapped`), with the region `map` shows there.
pub fn still_mapped(start: usize, len: usize, page: usize, map: &MemoryMap) -> String {
    let region = map.region_of(page).map_or_else(
        || "though /proc/self/maps, read after, shows none".to_owned(),
        |r| format!("in {r}"),
    );
    if page > start {
        format!(
            "the first {} went, but from {page:#x} on the pages are still mapped, {region}: \
             munmap's length is in bytes, all {len} of them, which it rounds up to whole pages",
            bytes((page - start) as u64),
        )
    } else {
        format!("a page at {page:#x} is still mapped, {region}")
    }
}

impl Lesson {
    /// Checks that a mapping of `rounded` bytes (the length asked, rounded up to whole pages)
    /// at `start` added `new` bytes to the address space, in a region that ends at `end`. When
    /// glibc's malloc maps every request (its mmap threshold tuned to nothing), the maps before
    /// and after cannot tell our pages from malloc's: the lesson says so and checks only that
    /// the region holds them.
    ///
    /// # Errors
    /// When glibc's settings cannot be read.
    pub fn check_newly_mapped(
        &mut self,
        start: usize,
        end: usize,
        new: usize,
        rounded: usize,
    ) -> anyhow::Result<bool> {
        if GlibcMalloc::read()?.maps_every_request() {
            // Each allocation made to read the maps got a mapping of its own, freed again or
            // merged with ours: the maps before and after cannot tell our pages from malloc's.
            self.fact(
                "why newly mapped is not the lesson here",
                "glibc's mmap threshold is tuned to nothing, so every allocation this program \
                 made to read the maps got an mmap of its own, which merge with ours or were \
                 unmapped where ours now lies",
            );
            return Ok(self.check(
                "the region holds the length rounded up to whole pages",
                end >= start + rounded,
                format!("it ends at {end:#x}, before {:#x}", start + rounded),
            ));
        }
        Ok(self.check(
            "the kernel mapped the length rounded up to whole pages",
            new == rounded,
            format!("{new} bytes were newly mapped, not {rounded}"),
        ))
    }

    /// Runs `child` in a process of its own (`man 2 fork`) and checks the claim `claim`: that
    /// it was killed by the signal `signal` (`"SIGSEGV"`). A child that lives on returns what
    /// went wrong instead. Shows how it ended as the fact `label`. Returns whether it died so.
    ///
    /// # Safety
    /// As [`in_child`]: if this process has other threads, `child` must keep to reads and
    /// writes of memory and system calls.
    ///
    /// # Errors
    /// When the child cannot be forked.
    pub unsafe fn check_child_dies_of(
        &mut self,
        label: &str,
        claim: &str,
        signal: &str,
        child: impl FnOnce() -> &'static str,
    ) -> anyhow::Result<bool> {
        // SAFETY: the caller keeps the child to what a fork of this process allows, and a
        // `&'static str` points into the program, the same in both processes.
        let ended = unsafe { in_child(child) }.context("fork failed")?;
        let how = match &ended {
            Ended::Returned(why) => format!("lived on: {why}"),
            other => other.to_string(),
        };
        self.fact(label, &how);
        Ok(self.check(
            claim,
            ended.signal_name() == Some(signal),
            format!("the child {how}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_os_error_is_told_by_its_errno() {
        let einval: io::Result<()> = Err(io::Error::from_raw_os_error(Errno::EINVAL.0));
        assert!(is_os_error(&einval, Errno::EINVAL));
        assert!(!is_os_error(&Ok::<(), io::Error>(()), Errno::EINVAL));
        let other: io::Result<()> = Err(io::Error::other("not the OS's"));
        assert!(!is_os_error(&other, Errno::EINVAL));
    }
}
