//! One thin wrapper per system call, named after it. Each is safe where the call cannot break
//! memory safety and `unsafe` exactly where it can (shrinking the break, unmapping, changing
//! protection, forking).
//!
//! Every size is checked before the call: a value above `isize::MAX` is refused with
//! [`Error::Overflow`] and never reaches the kernel as a negative number.
//!
//! One file per thing the calls act on: `brk` (the program break), `mmap` (mappings),
//! `process` (fork, signals, limits, input); this file has the page size.
//!
//! # Safety
//! This is where memcore calls the C library: each `unsafe` block is one call, and its comment
//! says why that call cannot break memory safety, or which promise of the caller makes it safe.
//! Here, only `sysconf`.

#![allow(unsafe_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::Error;

mod brk;
mod map_count;
mod mmap;
mod process;
pub mod widened;

pub use brk::{
    SbrkRace, brk, kernel_brk_refusal, program_break, sbrk, sbrk_from, sbrk_race, sbrk_shrink,
};
pub use map_count::MapCountFull;
pub use mmap::{
    Protection, any_page_mapped, bytes_mapped, first_page_mapped, madvise_no_huge_pages,
    mmap_anonymous, mmap_anonymous_at, mmap_anonymous_noreserve, mmap_anonymous_populated,
    mmap_shared_anonymous, mprotect, munmap,
};
pub(crate) use process::{ChildExit, fork_and_wait};
pub use process::{
    address_space_limit, data_limit, glibc_version, personality, set_address_space_limit,
    set_data_limit, signal_name, stack_limit, wait_for_line,
};

/// `sysconf(_SC_PAGESIZE)`—The size of a page, in bytes; read once and cached.
///
/// # References
/// - <https://man7.org/linux/man-pages/man3/sysconf.3.html>
#[inline]
pub fn page_size() -> usize {
    static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);
    match PAGE_SIZE.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: sysconf only reads a configuration value; it has no preconditions.
            let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            // POSIX requires _SC_PAGESIZE; a failure here means the C library is broken.
            let size = usize::try_from(size).ok().filter(|s| s.is_power_of_two());
            let size = size.expect("sysconf(_SC_PAGESIZE) returned no page size");
            PAGE_SIZE.store(size, Ordering::Relaxed);
            size
        }
        size => size,
    }
}

/// Rounds `len` up to a whole number of pages, or `None` if that overflows `isize::MAX`.
#[inline]
pub fn round_up_to_page(len: usize) -> Option<usize> {
    let page = page_size();
    len.checked_add(page - 1)
        .map(|l| l & !(page - 1))
        .filter(|&l| l <= isize::MAX as usize)
}

/// The C convention for a call that returns 0 on success and -1 with `errno` on failure.
fn zero_or_errno(call: &'static str, returned: libc::c_int) -> Result<(), Error> {
    if returned == 0 {
        Ok(())
    } else {
        Err(Error::last_os(call))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::child::{Ended, in_child};
    use crate::error::{BreakError, Errno};
    use std::ptr::NonNull;

    #[test]
    fn page_size_is_a_power_of_two_and_cached() {
        let page = page_size();
        assert!(page.is_power_of_two() && page >= 4096);
        assert_eq!(page_size(), page);
        assert_eq!(round_up_to_page(1), Some(page));
        assert_eq!(round_up_to_page(page), Some(page));
        assert_eq!(round_up_to_page(page + 1), Some(2 * page));
        assert_eq!(round_up_to_page(usize::MAX), None);
        assert_eq!(round_up_to_page(isize::MAX as usize), None);
    }

    #[test]
    fn a_fixed_mapping_fills_a_hole_and_never_replaces_a_page() {
        // In a child of its own, for the reason above: a hole is anyone's to take.
        let child = || {
            let page = page_size();
            let Ok(start) = mmap_anonymous(3 * page) else {
                return Err("three pages could not be mapped");
            };
            let addr = start.as_ptr() as usize;
            let middle = NonNull::new((addr + page) as *mut u8).unwrap();
            // SAFETY: the middle page of the mapping made above; nothing refers to it.
            if unsafe { munmap(middle, page) }.is_err() {
                return Err("the middle page could not be unmapped");
            }
            // The first page is taken: refused, and left as it was.
            // SAFETY: the first page of the mapping above; nothing else refers to it.
            unsafe { start.as_ptr().write(7) };
            match mmap_anonymous_at(start, 2 * page) {
                Err(Error::Os { errno, .. }) if errno.0 == libc::EEXIST => {}
                _ => return Err("a fixed mapping over a taken page was not refused with EEXIST"),
            }
            // SAFETY: as above; the refused call replaced nothing.
            if unsafe { start.as_ptr().read() } != 7 {
                return Err("the refused fixed mapping changed the page it was refused");
            }
            // The hole is free: mapped there, zeroed and writable.
            if mmap_anonymous_at(middle, page) != Ok(middle) || !any_page_mapped(addr, 3 * page) {
                return Err("the hole could not be mapped at its own address");
            }
            // SAFETY: the page just mapped at `middle`, ours alone.
            if unsafe { middle.as_ptr().read() } != 0 {
                return Err("the page mapped into the hole is not zeroed");
            }
            // SAFETY: as above.
            unsafe { middle.as_ptr().write(1) };
            Ok(())
        };
        // SAFETY: the child makes system calls only, and waits on no lock.
        let ended = unsafe { in_child(child) };
        assert_eq!(ended, Ok(Ended::Returned(Ok(()))));
    }

    #[test]
    fn mincore_tells_mapped_pages_from_holes() {
        // In a child of its own: a hole in the address space is anyone's to take, and another
        // test thread here once mapped into it between the munmap and the check.
        let child = || {
            let page = page_size();
            let Ok(start) = mmap_anonymous(3 * page) else {
                return Err("three pages could not be mapped");
            };
            let addr = start.as_ptr() as usize;
            if !any_page_mapped(addr, 3 * page) {
                return Err("the three pages mapped are not seen as mapped");
            }
            let middle = NonNull::new((addr + page) as *mut u8).unwrap();
            // SAFETY: the middle page of the mapping made above; nothing refers to it.
            if unsafe { munmap(middle, page) }.is_err() {
                return Err("the middle page could not be unmapped");
            }
            let checks = [
                !any_page_mapped(addr + page, page),
                // An address inside the hole.
                !any_page_mapped(addr + page + 1, 10),
                any_page_mapped(addr, 3 * page),
                any_page_mapped(addr + 2 * page, 1),
            ];
            let said = [
                "the hole is seen as mapped",
                "an address inside the hole is seen as mapped",
                "the mapping around the hole is not seen as mapped",
                "the last page is not seen as mapped",
            ];
            if let Some(failed) = checks.iter().position(|held| !held) {
                return Err(said[failed]);
            }
            // SAFETY: the two pages left of the mapping made above; nothing refers to them.
            let first = unsafe { munmap(start, page) };
            let last = NonNull::new((addr + 2 * page) as *mut u8).unwrap();
            // SAFETY: as above.
            let last = unsafe { munmap(last, page) };
            if first.is_err() || last.is_err() || any_page_mapped(addr, 3 * page) {
                return Err("the pages unmapped are still seen as mapped");
            }
            Ok(())
        };
        // SAFETY: the child makes system calls only, and waits on no lock.
        let ended = unsafe { in_child(child) };
        assert_eq!(ended, Ok(Ended::Returned(Ok(()))));
    }

    #[test]
    fn mmap_refuses_zero_length_with_einval() {
        assert_eq!(
            mmap_anonymous(0),
            Err(Error::Os {
                call: "mmap",
                errno: Errno(libc::EINVAL)
            })
        );
    }

    #[test]
    fn mmap_refuses_a_length_above_isize_max_without_a_call() {
        let huge = isize::MAX as usize + 1;
        assert_eq!(
            mmap_anonymous(huge),
            Err(Error::Overflow { requested: huge })
        );
    }

    #[test]
    fn sbrk_refuses_an_increment_above_isize_max_without_a_call() {
        // Were it passed on, usize::MAX would read as -1 and shrink the break by a byte. Only the
        // check before the call returns `Overflow`; `tests/live_layout.rs` also shows, in a
        // process of its own, that the break stays put.
        let before = program_break();
        assert_eq!(
            sbrk(usize::MAX),
            Err(Error::Overflow {
                requested: usize::MAX
            })
        );
        assert_eq!(
            sbrk_from(before, isize::MAX as usize + 1),
            Err(BreakError::Failed(Error::Overflow {
                requested: isize::MAX as usize + 1
            }))
        );
    }

    #[test]
    fn sbrk_from_refuses_when_the_break_is_elsewhere() {
        // The break is never at address 16, so this must be refused before any change.
        let wrong = 16 as *mut u8;
        match sbrk_from(wrong, 4096) {
            Err(BreakError::Moved { expected: 16, .. }) => {}
            other => panic!("expected BreakMoved, got {other:?}"),
        }
        // SAFETY: the call is refused before it could shrink anything (the break is not at 16).
        let shrink = unsafe { sbrk_shrink(wrong, 8) };
        assert!(matches!(shrink, Err(BreakError::Moved { .. })));
    }
}
