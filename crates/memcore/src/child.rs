//! A closure run in a child process, and what it brought back: the one way this workspace
//! forks.
//!
//! [`in_child`] forks, runs the closure in the child and waits. The child's value comes back
//! through a page shared with the parent (an anonymous `MAP_SHARED` mapping, the one part of
//! the address space that `fork` does not copy), so it may be any `Copy` value, not only the 0
//! to 255 an exit status carries. A panic comes back with its message, and a signal or an exit
//! of the child's own as such ([`Ended`]).
//!
//! # Safety
//! The unsafe code writes the child's value and message into the shared page, which is mapped
//! for exactly one `Slot`, zeroed, and read by the parent only after the child has exited,
//! and only as far as the slot's state says the child wrote.
//!
//! # References
//! - <https://man7.org/linux/man-pages/man2/fork.2.html>
//! - <https://man7.org/linux/man-pages/man2/mmap.2.html> (`MAP_SHARED`)

#![allow(unsafe_code)]

use std::fmt;
use std::mem::MaybeUninit;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::error::Error;
use crate::sys::{self, ChildExit};

/// How many bytes of a [`Message`] are kept.
pub const MESSAGE_BYTES: usize = 480;

/// A short text that can travel out of a child: a fixed array, `Copy`, made without allocating.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Message {
    bytes: [u8; MESSAGE_BYTES],
    len: usize,
}

impl Message {
    /// `text`, cut at a character boundary to at most [`MESSAGE_BYTES`] bytes.
    pub fn new(text: &str) -> Message {
        let mut len = text.len().min(MESSAGE_BYTES);
        while !text.is_char_boundary(len) {
            len -= 1;
        }
        let mut bytes = [0; MESSAGE_BYTES];
        bytes[..len].copy_from_slice(&text.as_bytes()[..len]);
        Message { bytes, len }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // `new` copied whole characters of a str, so the bytes are UTF-8; never "" by mistake.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a child run by [`in_child`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended<T> {
    /// The closure returned this value.
    Returned(T),
    /// The closure panicked, with this message (cut to [`MESSAGE_BYTES`]).
    Panicked(String),
    /// The child ended by an exit of its own (`std::process::exit(code)`) before the closure
    /// returned.
    Exited(i32),
    /// A signal killed it.
    Signaled(i32),
}

impl<T> Ended<T> {
    /// The value, if the closure returned one.
    pub fn returned(self) -> Option<T> {
        match self {
            Ended::Returned(value) => Some(value),
            _ => None,
        }
    }

    /// The signal's name (`"SIGSEGV"`), if a signal killed the child.
    pub fn signal_name(&self) -> Option<&'static str> {
        match *self {
            Ended::Signaled(signal) => Some(sys::signal_name(signal)),
            _ => None,
        }
    }
}

impl<T> fmt::Display for Ended<T> {
    /// `returned`, `panicked: …`, `exited with status 3`, or `killed by SIGSEGV`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ended::Returned(_) => f.write_str("returned"),
            Ended::Panicked(message) => write!(f, "panicked: {message}"),
            Ended::Exited(code) => ChildExit::Exited(*code).fmt(f),
            Ended::Signaled(signal) => ChildExit::Signaled(*signal).fmt(f),
        }
    }
}

/// What the child writes, in the shared page.
#[repr(C)]
struct Slot<T> {
    /// 0 while the child runs (the page is zeroed), then [`RETURNED`] or [`PANICKED`], stored
    /// after the value or the message.
    state: AtomicU8,
    value: MaybeUninit<T>,
    message: MaybeUninit<Message>,
}

const RETURNED: u8 = 1;
const PANICKED: u8 = 2;

/// The shared page, unmapped when dropped.
struct SharedPage {
    start: NonNull<u8>,
    len: usize,
}

impl Drop for SharedPage {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours, made in `in_child`, and nothing refers to it any more.
        // An error would leave a page behind, which nothing can mend; it is ignored.
        let _ = unsafe { sys::munmap(self.start, self.len) };
    }
}

/// `fork()`, `child()` in the child, `waitpid()`—Runs `child` in a copy of this process and
/// brings back what it returned, or how it ended otherwise.
///
/// The child sees the parent's addresses, backed by copy-on-write pages: what it writes there,
/// the parent never sees; only its return value comes back. It ends with `_exit`, so no
/// destructor or buffered output of the parent runs twice, and with a core-file limit of 0, so
/// a child meant to crash leaves no core. Nothing is allocated, in the parent or the child,
/// unless the child panics.
///
/// # Safety
/// - The child has only the calling thread. If this process has other threads, `child` must
///   not wait for anything they might hold at the fork (a lock, the global allocator's
///   included): keep it to reads and writes of memory and system calls, and return a value
///   rather than panic.
/// - `T` must hold no reference to memory the child made after the fork (a leaked `Box`):
///   the parent reads the value in its own address space.
///
/// # Errors
/// [`Error::Os`] if the shared page cannot be mapped, or `fork` or `waitpid` fails.
pub unsafe fn in_child<T: Copy + 'static>(child: impl FnOnce() -> T) -> Result<Ended<T>, Error> {
    let len = size_of::<Slot<T>>();
    let page = SharedPage {
        start: sys::mmap_shared_anonymous(len)?,
        len,
    };
    let slot = page.start.cast::<Slot<T>>().as_ptr();
    // SAFETY: the page is mapped for one Slot<T>, page-aligned (more than any T needs), and
    // lives until `page` drops; this and the next two point into that slot.
    let value = unsafe { &raw mut (*slot).value };
    // SAFETY: as above.
    let message = unsafe { &raw mut (*slot).message };
    // SAFETY: as above; the page is zeroed, so the state is a valid AtomicU8 holding 0.
    let state = unsafe { &(*slot).state };
    let run = || match std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)) {
        Ok(returned) => {
            // SAFETY: the value's field of the slot, in the mapping, written only here.
            unsafe { value.write(MaybeUninit::new(returned)) };
            state.store(RETURNED, Ordering::SeqCst);
            0
        }
        Err(payload) => {
            let text = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("a panic with no message");
            // SAFETY: the message's field of the slot, in the mapping, written only here.
            unsafe { message.write(MaybeUninit::new(Message::new(text))) };
            state.store(PANICKED, Ordering::SeqCst);
            // Freeing could wait for a lock another thread held at the fork; the child ends.
            std::mem::forget(payload);
            101
        }
    };
    // SAFETY: what the child may do is the caller's promise above.
    let exit = unsafe { sys::fork_and_wait(run) }?;
    // SAFETY: the child has exited, so nothing writes the field any more; a MaybeUninit may
    // hold anything.
    let value = unsafe { value.read() };
    // SAFETY: as above.
    let message = unsafe { message.read() };
    Ok(match (state.load(Ordering::SeqCst), exit) {
        // SAFETY: the child wrote a whole T before it stored RETURNED.
        (RETURNED, _) => Ended::Returned(unsafe { value.assume_init() }),
        // SAFETY: the child wrote a whole Message before it stored PANICKED.
        (PANICKED, _) => Ended::Panicked(unsafe { message.assume_init() }.to_string()),
        (_, ChildExit::Signaled(signal)) => Ended::Signaled(signal),
        (_, ChildExit::Exited(code)) => Ended::Exited(code),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_child_s_value_comes_back_and_its_writes_do_not() {
        let mut value = 7u32;
        let value_ptr = &raw mut value;
        let child = || {
            // SAFETY: value_ptr points to the child's own copy of `value`, which lives on.
            unsafe { value_ptr.write_volatile(99) };
            // SAFETY: as above.
            (
                unsafe { value_ptr.read_volatile() },
                300u64,
                "a word from the child",
            )
        };
        // SAFETY: the child writes and reads a local of its own; it waits on no lock.
        let ended = unsafe { in_child(child) }.unwrap();
        assert_eq!(ended, Ended::Returned((99, 300, "a word from the child")));
        assert_eq!(value, 7, "the child's write must not reach the parent");
    }

    #[test]
    fn a_signal_and_an_exit_of_the_child_s_own_are_told_apart() {
        // SAFETY: raise has no preconditions; it kills the child.
        let raise = || unsafe { libc::raise(libc::SIGKILL) };
        // SAFETY: the child only raises a signal.
        let killed = unsafe { in_child(raise) }.unwrap();
        assert_eq!(killed, Ended::Signaled(libc::SIGKILL));
        assert_eq!(killed.signal_name(), Some("SIGKILL"));
        assert_eq!(killed.to_string(), "killed by SIGKILL");
        // SAFETY: the child only exits; `_exit` runs no destructor or handler of the parent's.
        let exit = || unsafe { libc::_exit(3) };
        // SAFETY: the child only exits.
        let exited = unsafe { in_child(exit) }.unwrap();
        assert_eq!(exited, Ended::<()>::Exited(3));
        assert_eq!(exited.to_string(), "exited with status 3");
    }

    #[test]
    fn a_panic_comes_back_with_its_message() {
        let child = || -> u8 { std::panic::panic_any("the child gave up") };
        // SAFETY: the panic allocates its payload and prints to this test's own captured
        // output; glibc's fork leaves malloc's locks free in the child.
        let ended = unsafe { in_child(child) }.unwrap();
        assert_eq!(ended, Ended::Panicked("the child gave up".to_owned()));
        assert_eq!(ended.to_string(), "panicked: the child gave up");
    }

    #[test]
    fn a_message_is_cut_at_a_character_boundary() {
        let long = "é".repeat(MESSAGE_BYTES);
        let message = Message::new(&long);
        assert_eq!(message.as_str().len(), MESSAGE_BYTES);
        assert!(message.as_str().chars().all(|c| c == 'é'));
        let odd = format!("a{long}");
        assert_eq!(Message::new(&odd).as_str().len(), MESSAGE_BYTES - 1);
        assert_eq!(Message::new("short").to_string(), "short");
    }
}
