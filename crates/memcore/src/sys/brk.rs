//! The program break: `sbrk` (one wrapper, serialised), `brk`, and the demonstrations the
//! lessons make of it (the raw system call's refusal, the race of an unlocked `sbrk`).
//!
//! # Safety
//! Each `unsafe` block is one call to glibc's `sbrk` or `brk` or the raw system call; its
//! comment says why it cannot take memory anyone holds, or which promise of the caller makes
//! it safe.

#![allow(unsafe_code)]

use std::ptr;
use std::sync::Mutex;

use super::zero_or_errno;
use crate::error::{BreakError, Errno, Error};

/// Serialises every `sbrk` call made through this module.
///
/// glibc's `sbrk` keeps the current break in a global (`__curbrk`) that it reads and updates
/// without a lock, so two threads calling it at once can both get the same memory. This lock
/// makes memcore's own callers take turns. It cannot stop glibc's malloc, which calls `sbrk`
/// under its own arena lock: a program that lets glibc's malloc grow its main heap on another
/// thread at the same time must not move the break at all, and should use `mmap` instead.
static BREAK_LOCK: Mutex<()> = Mutex::new(());

fn lock_break() -> std::sync::MutexGuard<'static, ()> {
    // The lock guards no data, only the order of calls, so a poisoned lock is still usable.
    BREAK_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The one place that calls glibc's `sbrk`. Callers hold [`BREAK_LOCK`].
fn raw_sbrk(increment: isize) -> Result<*mut u8, Error> {
    // SAFETY: sbrk only moves the end of the data segment. Growing (or asking with 0) cannot
    // invalidate memory anyone uses; the only caller that shrinks, `sbrk_shrink`, is `unsafe`
    // and makes its caller promise that the memory given back is unused.
    let old = unsafe { libc::sbrk(increment) };
    if old as isize == -1 {
        Err(Error::last_os("sbrk"))
    } else {
        Ok(old.cast())
    }
}

fn increment_as_isize(bytes: usize) -> Result<isize, Error> {
    isize::try_from(bytes).map_err(|_| Error::Overflow { requested: bytes })
}

/// `sbrk(0)`—The current program break: the first address past the end of the data segment.
///
/// glibc answers this from its cached value without a system call.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/sbrk.2.html>
pub fn program_break() -> *mut u8 {
    let _turn = lock_break();
    // sbrk(0) cannot fail: it returns glibc's cached break.
    raw_sbrk(0).unwrap_or(ptr::null_mut())
}

/// `sbrk(increment)`—Grows the data segment by `increment` bytes; returns the old break, which
/// is the start of the new memory.
///
/// The new memory reads as zeros the first time the kernel hands out each page, but memory that
/// was given back with a shrink and taken again within the same page keeps its old contents.
///
/// # Hazard
/// glibc's `sbrk` is not thread-safe: it updates a cached break without a lock. This wrapper
/// serialises memcore's callers, but glibc's own malloc also moves the break (under its own
/// lock), so the break may be somewhere unexpected at any time; use [`sbrk_from`] to grow only
/// when it is still where you left it. Never move it with the raw `brk` syscall: glibc's cache
/// would go stale and its next `sbrk` would shrink the break under live memory.
///
/// # Errors
/// [`Error::Overflow`] if `increment > isize::MAX` (refused without a call);
/// [`Error::Os`] with `ENOMEM` if the kernel refuses (a limit, or no room before the next mapping).
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/sbrk.2.html>
pub fn sbrk(increment: usize) -> Result<*mut u8, Error> {
    let increment = increment_as_isize(increment)?;
    let _turn = lock_break();
    raw_sbrk(increment)
}

/// `sbrk(increment)`, but only if the break is still at `expected`: the memory just above
/// `expected` then continues memory the caller already owns.
///
/// # Errors
/// [`BreakError::Moved`] if someone else moved the break (no call is made);
/// otherwise as [`sbrk`].
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/sbrk.2.html>
pub fn sbrk_from(expected: *mut u8, increment: usize) -> Result<*mut u8, BreakError> {
    let increment = increment_as_isize(increment)?;
    let _turn = lock_break();
    break_is_at(expected)?;
    Ok(raw_sbrk(increment)?)
}

/// `Ok` if the break is at `expected`; the caller holds [`BREAK_LOCK`].
fn break_is_at(expected: *mut u8) -> Result<(), BreakError> {
    let found = raw_sbrk(0)?;
    if found != expected {
        return Err(BreakError::Moved {
            expected: expected as usize,
            found: found as usize,
        });
    }
    Ok(())
}

/// `sbrk(-decrement)`—Shrinks the data segment by `decrement` bytes, but only if the break is
/// still at `expected`; returns the new break.
///
/// # Safety
/// Nobody may use the memory between `expected - decrement` and `expected` any more: the kernel
/// unmaps those pages and a later access faults (or, once the break grows again, sees other
/// data). In particular the memory must not be glibc's malloc's.
///
/// # Errors
/// [`BreakError::Moved`] if the break is not at `expected` (nothing is changed: the memory below
/// it may now be someone else's); [`Error::Overflow`] if `decrement` is larger than
/// `isize::MAX` or than `expected` itself; [`Error::Os`] with `ENOMEM` if the kernel refuses
/// (it must split a mapping in three, past `vm.max_map_count`), though glibc's `sbrk` says
/// nothing of that.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/sbrk.2.html>
pub unsafe fn sbrk_shrink(expected: *mut u8, decrement: usize) -> Result<*mut u8, BreakError> {
    let decrement = increment_as_isize(decrement)?;
    if decrement as usize > expected as usize {
        return Err(Error::Overflow {
            requested: decrement as usize,
        }
        .into());
    }
    let _turn = lock_break();
    break_is_at(expected)?;
    raw_sbrk(-decrement)?;
    // glibc's sbrk reports a shrink the kernel refused as done: its wrapper sees a refusal only
    // when the kernel's answer lies below the address asked for, and a refused shrink answers
    // with the old break, above it. The answer is in glibc's record of the break, so ask it.
    let wanted = expected.wrapping_sub(decrement as usize);
    if raw_sbrk(0)? != wanted {
        return Err(Error::Os {
            call: "sbrk",
            errno: Errno(libc::ENOMEM),
        }
        .into());
    }
    Ok(wanted)
}

/// `brk(addr)`, glibc's—Sets the program break to `addr`; glibc's record of the break, which
/// [`sbrk`] reads, follows.
///
/// glibc's wrapper returns 0 or -1 with `ENOMEM`: it sees a refusal when the kernel's answer is
/// below `addr`. (So a request *below* the start of the heap, which the kernel also refuses,
/// looks like a success to it.)
///
/// # Safety
/// Nothing may use the memory between `addr` and the current break if `addr` is lower: the
/// kernel unmaps it. In particular it must not be glibc's malloc's.
///
/// # Errors
/// [`Error::Os`] with `ENOMEM` if the kernel refused.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/brk.2.html>
pub unsafe fn brk(addr: *mut u8) -> Result<(), Error> {
    let _turn = lock_break();
    // SAFETY: the caller promises that memory given back by a lower break is unused.
    zero_or_errno("brk", unsafe { libc::brk(addr.cast()) })
}

/// The raw `brk` system call, asked to grow the break by `increment` bytes *that it will
/// refuse*—Returns what the kernel returns: on a refusal, the current break, never an error
/// code (man 2 brk, "C library/kernel differences").
///
/// It never moves the break: if the kernel would grant the growth, it is not asked (`None`).
/// Moving the break with the raw call in a glibc process would leave glibc's record of the
/// break stale, and its next `sbrk` would shrink the break under live memory.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/brk.2.html>
pub fn kernel_brk_refusal(increment: usize) -> Option<usize> {
    let on_the_stack = 0u8;
    let stack = &raw const on_the_stack as usize;
    let _turn = lock_break();
    // SAFETY: brk(0) asks for an address below the heap's start, which the kernel refuses:
    // it returns the current break and moves nothing.
    let current = unsafe { libc::syscall(libc::SYS_brk, 0usize) } as usize;
    let wanted = current.checked_add(increment)?;
    // The kernel grants a growth that fits RLIMIT_DATA and meets no other mapping; only ask
    // for one whose range holds this very stack, which it must refuse.
    if wanted <= stack || current > stack {
        return None;
    }
    // SAFETY: the range up to `wanted` holds the stack, another mapping, so the kernel refuses
    // and returns the current break; nothing moves, and glibc's record stays right.
    let answer = unsafe { libc::syscall(libc::SYS_brk, wanted) } as usize;
    Some(answer)
}

/// What [`sbrk_race`] saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SbrkRace {
    /// Calls made, in all threads.
    pub calls: usize,
    /// Pointers that more than one call got.
    pub duplicates: usize,
    /// How far the break moved, in all.
    pub grown: usize,
    /// Pointers whose 16 bytes reach above where the break ended: another thread's stale
    /// write took the memory back after it was handed out.
    pub taken_back: usize,
}

/// `threads` threads each call glibc's `sbrk(increment)` `calls` times at once, *without* the
/// lock every other caller here takes: a demonstration that glibc's `sbrk` has none.
///
/// # Safety
/// Call it only in a process where nothing else uses the break and that ends right after (a
/// forked child): the break moves by an amount nobody can predict, and no memory it hands out
/// is ever used.
pub unsafe fn sbrk_race(threads: usize, calls: usize, increment: usize) -> SbrkRace {
    let Ok(step) = isize::try_from(increment) else {
        return SbrkRace {
            calls: 0,
            duplicates: 0,
            grown: 0,
            taken_back: 0,
        };
    };
    // Nothing may call glibc's malloc while the threads race: a malloc that grows the main
    // heap calls sbrk too, and racing it corrupts the heap (the hazard this shows). So every
    // buffer is made before, and read only after every thread has finished.
    let mut got: Vec<Vec<usize>> = (0..threads).map(|_| Vec::with_capacity(calls)).collect();
    // SAFETY: sbrk(0) moves nothing.
    let start = unsafe { libc::sbrk(0) } as usize;
    std::thread::scope(|scope| {
        for buffer in &mut got {
            scope.spawn(move || {
                for _ in 0..calls {
                    // SAFETY: growing the break touches no memory anyone holds; nothing else in
                    // this process uses the break meanwhile (the caller's promise, and the
                    // buffer has room: push allocates nothing).
                    buffer.push(unsafe { libc::sbrk(step) } as usize);
                }
            });
        }
    });
    let mut all: Vec<usize> = got.concat();
    // SAFETY: sbrk(0) moves nothing.
    let end = unsafe { libc::sbrk(0) } as usize;
    let made = all.len();
    let taken_back = all
        .iter()
        .filter(|&&p| p.saturating_add(increment) > end)
        .count();
    all.sort_unstable();
    all.dedup();
    SbrkRace {
        calls: made,
        duplicates: made - all.len(),
        grown: end.saturating_sub(start),
        taken_back,
    }
}
