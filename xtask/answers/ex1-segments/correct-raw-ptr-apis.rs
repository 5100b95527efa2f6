//! expect: done
//! intent: right: all parts: I used the raw-pointer APIs everywhere (&raw const, .addr(), AtomicU64::as_ptr, a static mut read through &raw mut) instead of casting references
//! expect-judge: correct
//! Your parts of exercise 1, memory segments (ex1-segments). Replace each `todo!()` below, in
//! order, with your code, then run `cargo xtask learn`: the lesson's own program runs your parts
//! and checks what they did.

use std::hint::black_box;
use std::sync::atomic::AtomicU64;

use ex1_segments::Parts;

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
#[inline(never)]
pub fn address_of_a_local() -> usize {
    let local: u64 = 0xC0FFEE;
    // &raw const makes the pointer directly, no reference in between
    let p = &raw const local;
    // make sure the compiler really keeps `local` in memory
    black_box(p);
    p.addr()
}

/// Step 2: a small value on the heap: a `Box<u64>` holding anything.
pub fn a_small_heap_value() -> Box<u64> {
    // Default for Box<u64> is a Box::new(0), still an 8 byte allocation
    Box::<u64>::default()
}

/// Step 3: a large allocation: a `Vec<u8>` of exactly `len` bytes (zeros will do).
pub fn a_large_allocation(len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    // with_capacity only reserves, resize actually makes the len bytes
    v.resize(len, 0u8);
    v
}

/// Step 4: the address of a global (a `static`) with a non-zero initial value, which the
/// program can change.
pub fn address_of_an_initialised_global() -> usize {
    static CALLS: AtomicU64 = AtomicU64::new(1);
    // as_ptr gives a *mut u64 to the atomic's value, which is at the start of the static
    CALLS.as_ptr().addr()
}

/// Step 5: the address of a global that starts as zero, which the program can change.
pub fn address_of_a_zeroed_global() -> usize {
    static mut ZEROED: u64 = 0;
    // no reference to a static mut (not allowed in 2024), just a raw pointer
    (&raw mut ZEROED).addr()
}

/// Step 6: the address of the first byte of a string literal.
pub fn address_of_a_string_literal() -> usize {
    let s: &'static str = "where do string literals live?";
    s.as_bytes().as_ptr().addr()
}

/// Step 7: the address of a function's machine code: this very function's will do.
pub fn address_of_a_function() -> usize {
    let f: fn() -> usize = address_of_a_function;
    (f as *const ()).addr()
}
