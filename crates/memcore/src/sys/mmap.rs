//! Mappings: `mmap` of anonymous memory, private or shared, `munmap`, `mprotect`, `madvise`.
//!
//! # Safety
//! Each `unsafe` block is one call; mapping with a null hint and no `MAP_FIXED` cannot touch
//! existing memory, and unmapping or protecting is `unsafe` for the caller, whose promise is
//! restated where it is used.

#![allow(unsafe_code)]

use std::ptr::{self, NonNull};

use super::zero_or_errno;
use crate::error::{Errno, Error};

/// `mmap` of `len` bytes of anonymous read-write memory, private unless `flags` says
/// `MAP_SHARED`; `flags` adds to `MAP_ANONYMOUS`.
fn mmap_anon(len: usize, flags: libc::c_int) -> Result<NonNull<u8>, Error> {
    if len > isize::MAX as usize {
        return Err(Error::Overflow { requested: len });
    }
    // SAFETY: with a null hint and without MAP_FIXED the kernel picks addresses that no existing
    // mapping uses, so the call cannot disturb memory anyone owns; no file descriptor is used.
    let addr = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_ANONYMOUS | flags,
            -1,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(Error::last_os("mmap"));
    }
    // mmap never returns null on success when no hint was given (page 0 is never chosen).
    NonNull::new(addr.cast()).ok_or(Error::Os {
        call: "mmap",
        errno: Errno(libc::EFAULT),
    })
}

/// `mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)`—Maps `len`
/// bytes of fresh, zero-filled, private memory at an address the kernel chooses.
///
/// The result is page aligned; the kernel maps whole pages, so up to `round_up_to_page(len)`
/// bytes are usable. Release it with [`munmap`].
///
/// A `len` of 0 is passed on, and the kernel refuses it with `EINVAL`.
///
/// # Errors
/// [`Error::Overflow`] if `len > isize::MAX`; [`Error::Os`] with `EINVAL` (a length of 0) or
/// `ENOMEM` (no room, or over a limit such as `RLIMIT_AS`).
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/mmap.2.html>
pub fn mmap_anonymous(len: usize) -> Result<NonNull<u8>, Error> {
    mmap_anon(len, libc::MAP_PRIVATE)
}

/// `mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)`
/// —As [`mmap_anonymous`], but asks the kernel not to reserve swap space for it, so that under
/// the default overcommit policy it may be larger than RAM and swap together.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/mmap.2.html>
/// - <https://docs.kernel.org/mm/overcommit-accounting.html>
pub fn mmap_anonymous_noreserve(len: usize) -> Result<NonNull<u8>, Error> {
    mmap_anon(len, libc::MAP_PRIVATE | libc::MAP_NORESERVE)
}

/// `mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0)`
/// —As [`mmap_anonymous`], but the kernel maps every page at once, instead of one page fault
/// at a time on first touch: cheaper for memory that will all be used soon.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/mmap.2.html>
pub fn mmap_anonymous_populated(len: usize) -> Result<NonNull<u8>, Error> {
    mmap_anon(len, libc::MAP_PRIVATE | libc::MAP_POPULATE)
}

/// `mmap(addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
/// -1, 0)`—Maps `len` bytes of fresh, zero-filled, private memory at exactly `addr`, or
/// nowhere.
///
/// Unlike `MAP_FIXED`, it never replaces a mapping: if any page of the range is mapped already,
/// the kernel refuses with `EEXIST`, so the call cannot disturb memory anyone owns. A kernel
/// older than 4.17 takes the flag for a mere hint; a mapping it puts elsewhere is unmapped and
/// refused the same way.
///
/// # Errors
/// [`Error::Overflow`] if `len > isize::MAX`; [`Error::Os`] with `EEXIST` (the range is
/// taken), `EINVAL` (`addr` not page aligned, or a length of 0) or `ENOMEM`.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/mmap.2.html>
pub fn mmap_anonymous_at(addr: NonNull<u8>, len: usize) -> Result<NonNull<u8>, Error> {
    if len > isize::MAX as usize {
        return Err(Error::Overflow { requested: len });
    }
    // SAFETY: MAP_FIXED_NOREPLACE maps only where nothing is mapped, so the call cannot disturb
    // memory anyone owns; no file descriptor is used.
    let got = unsafe {
        libc::mmap(
            addr.as_ptr().cast(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    if got == libc::MAP_FAILED {
        return Err(Error::last_os("mmap"));
    }
    if got != addr.as_ptr().cast() {
        // SAFETY: the kernel mapped this elsewhere just now, for us alone.
        let _ = unsafe { libc::munmap(got, len) };
        return Err(Error::Os {
            call: "mmap",
            errno: Errno(libc::EEXIST),
        });
    }
    Ok(addr)
}

/// `munmap(addr, len)`—Removes the mappings of the pages in `[addr, addr + len)`.
///
/// # Safety
/// Nothing may use that memory any more: after the call an access faults. The range must belong
/// to the caller (for example an [`mmap_anonymous`] result and its length), never memory that
/// Rust, glibc's malloc or another owner still uses.
///
/// # Errors
/// [`Error::Os`] with `EINVAL` if `addr` is not page aligned or `len` is 0.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/munmap.2.html>
pub unsafe fn munmap(addr: NonNull<u8>, len: usize) -> Result<(), Error> {
    // SAFETY: the caller promises the range is theirs and unused from now on.
    zero_or_errno("munmap", unsafe { libc::munmap(addr.as_ptr().cast(), len) })
}

/// `madvise(addr, len, MADV_NOHUGEPAGE)`—Asks the kernel to back the range with ordinary pages
/// only, never transparent huge pages, so that touching one byte makes one page resident.
///
/// Advice changes no memory's contents or access, so the call is safe.
///
/// # Errors
/// [`Error::Os`] with `EINVAL` (not page aligned, or the kernel has no huge pages) or `ENOMEM`
/// (not mapped).
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/madvise.2.html>
pub fn madvise_no_huge_pages(addr: NonNull<u8>, len: usize) -> Result<(), Error> {
    // SAFETY: MADV_NOHUGEPAGE only changes how future faults are served; it neither frees
    // nor changes memory, so any range is safe to advise.
    zero_or_errno("madvise", unsafe {
        libc::madvise(addr.as_ptr().cast(), len, libc::MADV_NOHUGEPAGE)
    })
}

/// `mincore(addr, page, …)` as a question—Whether any page of `[start, start + len)` is still
/// mapped: the kernel answers `ENOMEM` for a page no mapping holds. Unlike reading
/// `/proc/self/maps` it allocates nothing, so it answers for this very moment.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/mincore.2.html>
pub fn any_page_mapped(start: usize, len: usize) -> bool {
    first_page_mapped(start, len).is_some()
}

/// `mincore(addr, page, …)`, page by page—The first page of `[start, start + len)` that is still
/// mapped, as [`any_page_mapped`] asks, or `None`.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/mincore.2.html>
pub fn first_page_mapped(start: usize, len: usize) -> Option<usize> {
    let page = super::page_size();
    let first = start / page * page;
    (first..start.saturating_add(len))
        .step_by(page)
        .find(|&addr| {
            let mut resident = 0u8;
            // SAFETY: mincore reads no memory of ours, whatever the address; it writes one byte per
            // page of the range into the vector, and the range is one page, the vector one byte.
            let result = unsafe { libc::mincore(addr as *mut libc::c_void, page, &mut resident) };
            result == 0 || Errno::last().0 != libc::ENOMEM
        })
}

/// `mincore(addr, page, …)`, page by page—How many bytes of the pages that `[start, start +
/// len)` touches are still mapped, as [`any_page_mapped`] asks: a whole number of pages.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/mincore.2.html>
pub fn bytes_mapped(start: usize, len: usize) -> usize {
    let page = super::page_size();
    let first = start / page * page;
    (first..start.saturating_add(len))
        .step_by(page)
        .filter(|&addr| first_page_mapped(addr, 1).is_some())
        .count()
        * page
}

/// Access allowed to a range of pages, for [`mprotect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// `PROT_NONE`: any access faults.
    None,
    /// `PROT_READ`: reads work, writes fault.
    Read,
    /// `PROT_READ | PROT_WRITE`.
    ReadWrite,
}

/// `mprotect(addr, len, prot)`—Sets the access allowed to the pages in `[addr, addr + len)`.
///
/// # Safety
/// The range must be the caller's own mapping, and nothing may access it in a way the new
/// protection forbids (Rust assumes a `&mut` it holds can be written).
///
/// # Errors
/// [`Error::Os`] with `EINVAL` (not page aligned) or `ENOMEM` (not mapped).
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/mprotect.2.html>
pub unsafe fn mprotect(addr: NonNull<u8>, len: usize, prot: Protection) -> Result<(), Error> {
    let prot = match prot {
        Protection::None => libc::PROT_NONE,
        Protection::Read => libc::PROT_READ,
        Protection::ReadWrite => libc::PROT_READ | libc::PROT_WRITE,
    };
    // SAFETY: the caller promises the range is theirs and that no access breaks the protection.
    zero_or_errno("mprotect", unsafe {
        libc::mprotect(addr.as_ptr().cast(), len, prot)
    })
}

/// `mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)`—Maps `len`
/// bytes of zero-filled memory that a child made by `fork` shares with this process, instead
/// of getting a copy. [`crate::child::in_child`] is the safe way to use it.
///
/// # Errors
/// [`Error::Overflow`] above `isize::MAX`; [`Error::Os`] if the kernel refuses.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/mmap.2.html>
pub fn mmap_shared_anonymous(len: usize) -> Result<NonNull<u8>, Error> {
    mmap_anon(len, libc::MAP_SHARED)
}
