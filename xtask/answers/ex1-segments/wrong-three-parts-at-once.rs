//! expect: failed in a_large_allocation: a_large_allocation returned a Vec of exactly 262144 bytes (256 KiB)
//! expect: failed in address_of_a_zeroed_global: it lies in the executable's writable memory
//! expect: failed in address_of_a_function: it lies in the executable's r-xp mapping
//! intent: wrong, three parts at once: Vec::with_capacity for the large allocation, a plain immutable static for the zeroed global, and a reference to the function item instead of its code
//! Your parts of exercise 1, memory segments (ex1-segments). Replace each `todo!()` below, in
//! order, with your code, then run `cargo xtask learn`: the lesson's own program runs your parts
//! and checks what they did.
//!
//! Each part's doc comment says what it must do. `cargo xtask hint ex1-segments` gives a hint for
//! the next one. `cargo xtask learn --reset ex1-segments` brings this file back as it was (keeping
//! a copy of yours). When the exercise is done, compare with the reference,
//! `exercises/ex1-segments/src/parts.rs`, from which `cargo xtask templates` wrote this file.

use std::hint::black_box;
use std::sync::atomic::AtomicU64;

use ex1_segments::Parts;

// What this file uses from the lesson, a line each:
// - `Parts`: the struct of function pointers below, through which the lesson calls your parts;
// - every other type is Rust's own; an address is a `usize`.

/// The parts, in the lesson's order, for the driver.
pub const PARTS: Parts = Parts {
    address_of_a_local,
    a_small_heap_value,
    a_large_allocation,
    address_of_an_initialised_global,
    address_of_a_zeroed_global,
    address_of_a_string_literal,
    address_of_a_function,
};

/// Step 1: the address of a local variable of this very function, which lives in this call's
/// stack frame. (The driver calls it twice, once from one frame deeper.)
///
/// `#[inline(never)]` keeps the call a call: inlined, its locals would live in the caller's
/// frame.
#[inline(never)]
pub fn address_of_a_local() -> usize {
    let local = black_box(1u64);
    black_box(&raw const local) as usize
}

/// Step 2: a small value on the heap: a `Box<u64>` holding anything. The driver looks at where
/// it points.
pub fn a_small_heap_value() -> Box<u64> {
    Box::new(7)
}

/// Step 3: a large allocation: a `Vec<u8>` of exactly `len` bytes (zeros will do).
pub fn a_large_allocation(len: usize) -> Vec<u8> {
    Vec::with_capacity(len)
}

/// Step 4: the address of a global (a `static`) with a non-zero initial value, which the
/// program can change.
///
/// An immutable `static` of a plain type may be put in read-only data, like a constant: give
/// it interior mutability (`AtomicU64`) so that it must be writable. A `static` may be declared
/// inside the function: it is still a global.
pub fn address_of_an_initialised_global() -> usize {
    static INITIALISED: AtomicU64 = AtomicU64::new(0x1e55_0001);
    &raw const INITIALISED as usize
}

/// Step 5: the address of a global that starts as zero, which the program can change.
pub fn address_of_a_zeroed_global() -> usize {
    static ZEROED: u64 = 0;
    &raw const ZEROED as usize
}

/// Step 6: the address of the first byte of a string literal.
pub fn address_of_a_string_literal() -> usize {
    "hello from read-only data".as_ptr() as usize
}

/// Step 7: the address of a function's machine code: this very function's will do.
pub fn address_of_a_function() -> usize {
    &address_of_a_function as *const _ as usize
}
