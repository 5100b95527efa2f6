//! Your parts of exercise 1, memory segments (ex1-segments). Replace each `todo!()` below, in
//! order, with your code, then run `cargo xtask learn`: the lesson's own program runs your parts
//! and checks what they did.
//!
//! Each part's doc comment says what it must do. `cargo xtask hint ex1-segments` gives a hint for
//! the next one. `cargo xtask learn --reset ex1-segments` brings this file back as it was (keeping
//! a copy of yours). When the exercise is done, compare with the reference,
//! `exercises/ex1-segments/src/parts.rs`, from which `cargo xtask templates` wrote this file.

// Until every part is written, their arguments, and the names they will use, are unused:
// this keeps the compiler quiet meanwhile. Delete it when you are done.
#![allow(unused_variables, unused_imports, dead_code)]

use std::hint::black_box;
use std::sync::atomic::AtomicU64;

use ex1_segments::Parts;

// What this file uses from the lesson, a line each:
// - `Parts`: the struct of function pointers below, through which the lesson calls your parts;
// - every other type is Rust's own; an address is a `usize`.

// What your parts use from Rust, a line each (no system call: the driver reads the maps):
// - `&raw const x` gives `x`'s address as a `*const T`, without making a reference to it;
//   `as usize` turns that pointer into a number. A function's name becomes a pointer by a cast
//   to its pointer type (here `fn() -> usize`); cast straight to `usize`, it warns;
// - `std::hint::black_box(value: T) -> T` hands `value` back untouched, but the optimiser
//   may not assume what becomes of it: the local of step 1 stays a real variable on the stack,
//   with an address, instead of being folded into a constant. Optional, and harmless;
// - `std::sync::atomic::AtomicU64::new(v: u64)` (a `const fn`): a `u64` that a `static` may
//   change, which keeps the `static` out of read-only data.

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
    todo!()
}

/// Step 2: a small value on the heap: a `Box<u64>` holding anything. The driver looks at where
/// it points.
pub fn a_small_heap_value() -> Box<u64> {
    todo!()
}

/// Step 3: a large allocation: a `Vec<u8>` of exactly `len` bytes (zeros will do).
pub fn a_large_allocation(len: usize) -> Vec<u8> {
    todo!()
}

/// Step 4: the address of a global (a `static`) with a non-zero initial value, which the
/// program can change.
///
/// An immutable `static` of a plain type may be put in read-only data, like a constant: give
/// it interior mutability (`AtomicU64`) so that it must be writable. A `static` may be declared
/// inside the function: it is still a global.
pub fn address_of_an_initialised_global() -> usize {
    todo!()
}

/// Step 5: the address of a global that starts as zero, which the program can change.
pub fn address_of_a_zeroed_global() -> usize {
    todo!()
}

/// Step 6: the address of the first byte of a string literal.
pub fn address_of_a_string_literal() -> usize {
    todo!()
}

/// Step 7: the address of a function's machine code: this very function's will do.
pub fn address_of_a_function() -> usize {
    todo!()
}
