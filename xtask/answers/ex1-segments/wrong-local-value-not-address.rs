//! expect: failed in address_of_a_local: the local lies in [stack]
//! intent: wrong: step 1 (address_of_a_local): I made a pointer to my local and then returned *p as usize, thinking that gives the address
//! expect-judge: step 1 is wrong: it returns the value stored in the local (12345), not its address (`*p` dereferences the pointer; it should be `p as usize`), so the number lies in no mapped region, let alone [stack], and the deeper-call comparison is meaningless; the other steps are right
//! Your parts of exercise 1, memory segments (ex1-segments). Replace each `todo!()` below, in
//! order, with your code, then run `cargo xtask learn`: the lesson's own program runs your parts
//! and checks what they did.

#![allow(unused_variables, unused_imports, dead_code)]

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
    let x: u64 = 12345;
    let p: *const u64 = &x;
    black_box(p);
    // the pointer to x, as a number
    unsafe { *p as usize }
}

/// Step 2: a small value on the heap: a `Box<u64>` holding anything.
pub fn a_small_heap_value() -> Box<u64> {
    Box::new(42)
}

/// Step 3: a large allocation: a `Vec<u8>` of exactly `len` bytes (zeros will do).
pub fn a_large_allocation(len: usize) -> Vec<u8> {
    vec![0u8; len]
}

/// Step 4: the address of a global (a `static`) with a non-zero initial value.
pub fn address_of_an_initialised_global() -> usize {
    static COUNTER: AtomicU64 = AtomicU64::new(100);
    &COUNTER as *const AtomicU64 as usize
}

/// Step 5: the address of a global that starts as zero, which the program can change.
pub fn address_of_a_zeroed_global() -> usize {
    static ZERO: AtomicU64 = AtomicU64::new(0);
    &ZERO as *const AtomicU64 as usize
}

/// Step 6: the address of the first byte of a string literal.
pub fn address_of_a_string_literal() -> usize {
    "hello world".as_ptr() as usize
}

/// Step 7: the address of a function's machine code: this very function's will do.
pub fn address_of_a_function() -> usize {
    let f: fn() -> usize = address_of_a_function;
    f as usize
}
