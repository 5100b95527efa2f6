//! The reference answer to exercise 2: the calls the lesson asks for, and nothing else. The
//! driver (`src/lib.rs`) calls them step by step and checks what they did.

use std::io;

use ex2_sbrk::{MESSAGE, Parts, pattern};

// What this file uses from the lesson, a line each:
// - `MESSAGE: &[u8]`: the bytes `write` puts first (`MESSAGE.len()` of them);
// - `pattern(offset: usize) -> u8`: the byte `write` puts at each later offset;
// - `Parts`: the struct of function pointers below, through which the lesson calls your parts.

// What your parts call, a line each: the C library through the `libc` crate (a dependency
// already; write `libc::` and nothing to import). Each call into C is `unsafe`.
// - `libc::sbrk(increment: libc::intptr_t) -> *mut libc::c_void`: `intptr_t` is `isize`;
//   moves the break by `increment` bytes (0 moves nothing) and returns where it was; on failure
//   returns `(void *) -1`, which in Rust is `usize::MAX as *mut c_void`, and sets `errno`;
// - `std::io::Error::last_os_error() -> io::Error`: `errno` as an error; call it right after
//   the call that failed;
// - `ptr.cast::<u8>()` turns a `*mut c_void` into a `*mut u8`; `ptr as usize` makes a number;
// - `std::slice::from_raw_parts_mut(ptr: *mut u8, len: usize) -> &mut [u8]` (`unsafe`), and
//   `from_raw_parts` for a `&[u8]`: the bytes at `ptr` as a slice.

/// The parts, in the lesson's order, for the driver.
pub const PARTS: Parts = Parts {
    current_break,
    request,
    write,
    read_back,
    give_back,
};

/// Step 1: returns the current program break, the first address past the heap, without moving
/// it: `sbrk(0)`.
///
/// See `man 2 sbrk`.
pub fn current_break() -> *mut u8 {
    // ANCHOR: current_break
    // IDEA: The break is one address the kernel keeps for each process: the end of the heap.
    // IDEA: `libc::sbrk(0)` asks where it is without moving it, and so cannot fail: there is no
    // IDEA: (void *) -1 to check here. See man 2 sbrk.
    // SHAPE: One `unsafe` call and one cast: call sbrk with 0, turn the `*mut c_void` it returns
    // SHAPE: into a `*mut u8`, return it. No error check: sbrk(0) moves nothing, so it cannot fail.
    // HINT: `libc::sbrk(0)` returns the break as a `*mut c_void`; `.cast()` turns it into a
    // HINT: `*mut u8`. Calling C is `unsafe`: say in a `// SAFETY:` comment why this call is
    // HINT: harmless (it moves nothing).
    // SAFETY: sbrk(0) moves nothing; it only returns the current break.
    unsafe { libc::sbrk(0) }.cast()
    // ANCHOR_END: current_break
}

/// Step 2: grows the break by `n` bytes with `sbrk(n)` and returns the start of the new memory,
/// which is the old break.
///
/// sbrk's argument is an `intptr_t` (`isize`): refuse an `n` above `isize::MAX` with
/// `io::ErrorKind::InvalidInput` before calling, or it would be read as a negative number and
/// shrink the break. When sbrk fails it returns `(void *) -1` and sets `errno`: return
/// `io::Error::last_os_error()`.
///
/// See `man 2 sbrk`.
pub fn request(n: usize) -> io::Result<*mut u8> {
    // ANCHOR: request
    // IDEA: sbrk(n) moves the break up by n and returns where it was: the start of the new memory.
    // IDEA: It takes an intptr_t, and fails with (void *) -1. See man 2 sbrk.
    // SHAPE: 1. Convert `n` to `isize`; if it does not fit, return InvalidInput, before any call.
    // SHAPE: 2. Call sbrk with it. 3. If what it returns, as a `usize`, is `usize::MAX`, return
    // SHAPE: `last_os_error()`. 4. Otherwise return it, the old break, as a `*mut u8`.
    // HINT: `isize::try_from(n)` refuses what does not fit. `libc::sbrk(increment)` returns the
    // HINT: old break, or `usize::MAX as *mut c_void` (that is, (void *) -1) on failure, when
    // HINT: `io::Error::last_os_error()` holds errno.
    // WHEN: sbrk's failure value
    // CAUSE: sbrk's result went back unchecked. On failure it returns (void *) -1, an address
    // CAUSE: no memory is at: compare it, as a `usize`, with `usize::MAX` before you return it,
    // CAUSE: and return `Err(io::Error::last_os_error())` when they are equal.
    // WHEN: than the old break
    // CAUSE: The pointer returned is not the old break. sbrk(n) returns where the break was
    // CAUSE: before it moved, which is where the new memory starts; do not add `n` to it, and do
    // CAUSE: not ask sbrk(0) again afterwards.
    let increment = isize::try_from(n).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: growing the break hands out new memory past the old break; it cannot touch memory
    // anyone holds.
    let old = unsafe { libc::sbrk(increment) };
    if old as usize == usize::MAX {
        return Err(io::Error::last_os_error());
    }
    Ok(old.cast())
    // ANCHOR_END: request
}

/// Step 3: writes [`MESSAGE`] at `memory`, then `pattern(offset)` at every later offset up to
/// `len`.
///
/// # Safety
/// `memory` must be valid for writes of `len` bytes, and `len` at least `MESSAGE.len()`.
pub unsafe fn write(memory: *mut u8, len: usize) {
    // ANCHOR: write
    // IDEA: Make a slice of the `len` bytes the caller promises, then fill it: the message first,
    // IDEA: then the pattern by each byte's own offset.
    // SHAPE: 1. Make a `&mut [u8]` of the `len` bytes at `memory`. 2. Copy MESSAGE into its first
    // SHAPE: `MESSAGE.len()` bytes. 3. For every later offset, store `pattern(offset)`: the offset
    // SHAPE: counts from `memory`, not from the message's end.
    // HINT: `std::slice::from_raw_parts_mut(memory, len)` makes a `&mut [u8]` of the memory
    // HINT: (this is where the caller's promise is used: say so in the SAFETY comment). Then
    // HINT: `copy_from_slice` the message, and loop over the rest with `enumerate`.
    // SAFETY: the caller promises `len` writable bytes at `memory`, used by nothing else.
    let bytes = unsafe { std::slice::from_raw_parts_mut(memory, len) };
    bytes[..MESSAGE.len()].copy_from_slice(MESSAGE);
    for (offset, byte) in bytes.iter_mut().enumerate().skip(MESSAGE.len()) {
        *byte = pattern(offset);
    }
    // ANCHOR_END: write
}

/// Step 4: reads back, in this other function, the `len` bytes at `memory` and returns how
/// many differ from what [`write`] put there.
///
/// # Safety
/// `memory` must be valid for reads of `len` bytes, and `len` at least `MESSAGE.len()`.
pub unsafe fn read_back(memory: *const u8, len: usize) -> usize {
    // ANCHOR: read_back
    // IDEA: Make a read-only slice of the bytes, and count those that differ from what write put
    // IDEA: there. Read only: change nothing.
    // SHAPE: 1. Make a `&[u8]` of the `len` bytes. 2. Count the first `MESSAGE.len()` bytes that
    // SHAPE: differ from MESSAGE. 3. Count the later bytes that differ from `pattern(offset)`. 4.
    // SHAPE: Return the sum. Write nothing.
    // HINT: `std::slice::from_raw_parts(memory, len)` gives a `&[u8]`. Count the message's
    // HINT: bytes that differ, and the pattern's, with `filter` and `count`.
    // SAFETY: the caller promises `len` readable bytes at `memory`, written by nobody meanwhile.
    let bytes = unsafe { std::slice::from_raw_parts(memory, len) };
    let message = bytes.iter().zip(MESSAGE).filter(|(a, b)| a != b).count();
    let rest = bytes
        .iter()
        .enumerate()
        .skip(MESSAGE.len())
        .filter(|&(offset, &byte)| byte != pattern(offset))
        .count();
    message + rest
    // ANCHOR_END: read_back
}

/// Step 5: gives the `len` bytes at `start` back with `sbrk(-len)`, but only if the break is
/// still at `start + len`; otherwise someone else has grown it since, the memory below the
/// break is theirs, and nothing may change: return an error.
///
/// # Safety
/// Nothing may use the `len` bytes at `start` any more: the kernel unmaps their pages.
pub unsafe fn give_back(start: *mut u8, len: usize) -> io::Result<()> {
    // ANCHOR: give_back
    // IDEA: The break may go down only if it is still where your memory ends: compare first.
    // IDEA: sbrk(-len) then shrinks it. See man 2 sbrk.
    // SHAPE: 1. Ask sbrk(0) where the break is. 2. If it is not `start + len`, return an error,
    // SHAPE: having changed nothing. 3. Convert `len` to `isize` (InvalidInput if it does not fit).
    // SHAPE: 4. Call sbrk with its negation. 5. `usize::MAX` back means failure: `last_os_error()`;
    // SHAPE: otherwise `Ok(())`.
    // HINT: Compare `libc::sbrk(0)` with `start.wrapping_add(len)` first, and return
    // HINT: `Err(io::Error::other("..."))` when they differ. `len` must fit an `isize` to be
    // HINT: negated; `libc::sbrk(-(len as isize))` fails like `sbrk` in step 2.
    // WHEN: it accepted
    // CAUSE: give_back shrank the break without looking where it is. Someone else's memory
    // CAUSE: may lie above yours: call sbrk(0) first, and when it is not `start + len`, return
    // CAUSE: an error before any sbrk with a negative increment.
    // WHEN: our memory was on top
    // CAUSE: give_back compared the break with the wrong address. The break is where your
    // CAUSE: memory ends, `start.wrapping_add(len)`, not `start`, when nobody has moved it.
    // SAFETY: sbrk(0) moves nothing.
    let now = unsafe { libc::sbrk(0) }.cast::<u8>();
    if now != start.wrapping_add(len) {
        return Err(io::Error::other(format!(
            "the break is at {now:p}, not at the end of our memory, {:p}",
            start.wrapping_add(len)
        )));
    }
    let decrement =
        isize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: the break is at the end of our `len` bytes, and the caller promises nothing uses
    // them, so shrinking takes memory from nobody.
    if unsafe { libc::sbrk(-decrement) } as usize == usize::MAX {
        return Err(io::Error::last_os_error());
    }
    Ok(())
    // ANCHOR_END: give_back
}
