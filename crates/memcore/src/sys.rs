//! One thin wrapper per system call, named after it. Each is safe where the call cannot break
//! memory safety and `unsafe` exactly where it can (shrinking the break, unmapping, changing
//! protection, forking).
//!
//! Every size is checked before the call: a value above `isize::MAX` is refused with
//! [`Error::Overflow`] and never reaches the kernel as a negative number.
//!
//! # Safety
//! This is where memcore calls the C library: each `unsafe` block is one call, and its comment
//! says why that call cannot break memory safety, or which promise of the caller makes it safe.

#![allow(unsafe_code)]

use std::ptr::{self, NonNull};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{BreakError, Errno, Error};

/// `sysconf(_SC_PAGESIZE)`—The size of a page, in bytes; read once and cached.
///
/// # References
/// - <https://man7.org/linux/man-pages/man3/sysconf.3.html>
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
pub fn round_up_to_page(len: usize) -> Option<usize> {
    let page = page_size();
    len.checked_add(page - 1)
        .map(|l| l & !(page - 1))
        .filter(|&l| l <= isize::MAX as usize)
}

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

/// The C convention for a call that returns 0 on success and -1 with `errno` on failure.
fn zero_or_errno(call: &'static str, returned: libc::c_int) -> Result<(), Error> {
    if returned == 0 {
        Ok(())
    } else {
        Err(Error::last_os(call))
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
    let found = raw_sbrk(0)?;
    if found != expected {
        return Err(BreakError::Moved {
            expected: expected as usize,
            found: found as usize,
        });
    }
    Ok(raw_sbrk(increment)?)
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
/// `isize::MAX` or than `expected` itself; [`Error::Os`] if the kernel refuses.
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
    let found = raw_sbrk(0)?;
    if found != expected {
        return Err(BreakError::Moved {
            expected: expected as usize,
            found: found as usize,
        });
    }
    raw_sbrk(-decrement)?;
    Ok(expected.wrapping_sub(decrement as usize))
}

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

/// How a child process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildExit {
    /// It called `_exit(code)`.
    Exited(i32),
    /// A signal killed it.
    Signaled(i32),
}

impl ChildExit {
    /// The signal's name (`"SIGSEGV"`) if a signal killed the child.
    pub fn signal_name(self) -> Option<&'static str> {
        match self {
            ChildExit::Signaled(signal) => Some(signal_name(signal)),
            ChildExit::Exited(_) => None,
        }
    }
}

/// The conventional name of a signal number (`SIGSEGV`), or `"an unknown signal"`.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGTERM => "SIGTERM",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGINT => "SIGINT",
        _ => "an unknown signal",
    }
}

/// `fork()` then `waitpid(pid, …)`—Runs `child` in a copy of this process and waits for it.
///
/// The child sees the same virtual addresses as the parent, backed by copy-on-write pages: what
/// it writes, the parent never sees. It ends with `_exit(code)` where `code` is what `child`
/// returns (101 if it panics), so no destructor or buffered output of the parent runs twice.
/// It runs with a core-file size limit of 0, so a child that is meant to crash leaves no core.
///
/// # Safety
/// The child has only the calling thread. If the parent has other threads, `child` must not
/// wait for anything they might hold at the moment of the fork (a lock, including the global
/// allocator's); keep it to reads and writes of memory and system calls.
///
/// # Errors
/// [`Error::Os`] if `fork` or `waitpid` fails (`EAGAIN`: too many processes).
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/fork.2.html>
/// - <https://man7.org/linux/man-pages/man2/waitpid.2.html>
pub unsafe fn fork_and_wait(child: impl FnOnce() -> i32) -> Result<ChildExit, Error> {
    // SAFETY: fork has no memory-safety preconditions of its own; what the child may do is the
    // caller's promise above.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::last_os("fork"));
    }
    if pid == 0 {
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit reads the struct we pass; failure only means a core may be written.
        unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) };
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(101);
        // SAFETY: _exit ends this child at once, without running the parent's atexit handlers
        // or destructors a second time.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes the status into our local variable.
        let done = unsafe { libc::waitpid(pid, &mut status, 0) };
        if done == pid {
            break;
        }
        if Errno::last().0 != libc::EINTR {
            return Err(Error::last_os("waitpid"));
        }
    }
    if libc::WIFSIGNALED(status) {
        Ok(ChildExit::Signaled(libc::WTERMSIG(status)))
    } else {
        Ok(ChildExit::Exited(libc::WEXITSTATUS(status)))
    }
}

/// `personality(0xffffffff)`—This process's personality flags (`ADDR_COMPAT_LAYOUT`,
/// `ADDR_NO_RANDOMIZE`, …), read without changing them.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/personality.2.html>
pub fn personality() -> u32 {
    // SAFETY: 0xffffffff only queries the personality; nothing changes.
    let flags = unsafe { libc::personality(0xffff_ffff) };
    u32::try_from(flags).unwrap_or(0)
}

/// `getrlimit(RLIMIT_STACK)`—The soft limit of the main thread's stack in bytes, `None` when
/// unlimited.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/getrlimit.2.html>
pub fn stack_limit() -> Option<u64> {
    limit(libc::RLIMIT_STACK)
}

/// `mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)`—Maps `len`
/// bytes of zero-filled memory that a child made by `fork` shares with this process, instead
/// of getting a copy. [`crate::shared::SharedCells`] is the safe way to use it.
///
/// # Errors
/// [`Error::Overflow`] above `isize::MAX`; [`Error::Os`] if the kernel refuses.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/mmap.2.html>
pub fn mmap_shared_anonymous(len: usize) -> Result<NonNull<u8>, Error> {
    mmap_anon(len, libc::MAP_SHARED)
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

/// `getrlimit(RLIMIT_DATA)`—The soft limit of the data segment (the break's heap and private
/// writable mappings) in bytes, `None` when unlimited.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/getrlimit.2.html>
pub fn data_limit() -> Option<u64> {
    limit(libc::RLIMIT_DATA)
}

fn limit(resource: libc::__rlimit_resource_t) -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the limit into our local struct.
    let done = unsafe { libc::getrlimit(resource, &mut limit) };
    (done == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

/// What [`sbrk_race`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    // SAFETY: sbrk(0) moves nothing.
    let start = unsafe { libc::sbrk(0) } as usize;
    let mut all: Vec<usize> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(move || {
                    let mut got = Vec::with_capacity(calls);
                    for _ in 0..calls {
                        // SAFETY: growing the break touches no memory anyone holds; nothing
                        // else in this process uses the break (the caller's promise).
                        got.push(unsafe { libc::sbrk(step) } as usize);
                    }
                    got
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
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

/// `read(0, buf, 1)` until a newline or the end of input—Waits for the user to press Enter.
///
/// It reads standard input one byte at a time into a buffer on the stack, so that waiting
/// allocates nothing (std's `stdin()` allocates its buffer at first use) and cannot move the
/// program break under a lesson that is watching it. It never reopens the input, which would
/// block forever on a pipe whose writer has gone.
///
/// # References
/// - <https://man7.org/linux/man-pages/man2/read.2.html>
pub fn wait_for_line() {
    let mut byte = 0u8;
    loop {
        // SAFETY: read writes at most one byte into `byte`, which lives on this stack frame.
        let got = unsafe { libc::read(0, (&raw mut byte).cast(), 1) };
        let interrupted = got < 0 && Errno::last().0 == libc::EINTR;
        if !interrupted && (got != 1 || byte == b'\n') {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // check before the call returns `Overflow`; `tests/program_break.rs` also shows, in a
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

    #[test]
    fn fork_and_wait_reports_the_exit_code_and_the_copy_on_write() {
        let mut value = 7u32;
        let value_ptr = &raw mut value;
        let child = || {
            // SAFETY: value_ptr points to the child's own copy of `value`, which lives on.
            unsafe { value_ptr.write_volatile(99) };
            // SAFETY: as above.
            unsafe { value_ptr.read_volatile() as i32 }
        };
        // SAFETY: the child only writes and reads a local of its own; it waits on no lock.
        let exit = unsafe { fork_and_wait(child) };
        assert_eq!(exit, Ok(ChildExit::Exited(99)));
        assert_eq!(value, 7, "the child's write must not reach the parent");
    }
}
