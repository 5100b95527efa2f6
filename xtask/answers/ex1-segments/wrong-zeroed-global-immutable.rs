//! expect: failed in address_of_a_zeroed_global: it lies in the executable's writable memory
//! intent: wrong: step 5 (address_of_a_zeroed_global): I used a plain `static ZERO: u64 = 0` since zero-initialised globals go in the bss anyway
//! expect-judge: step 5 is wrong: an immutable `static` of a plain type (no interior mutability, not `static mut`) is never written, so the compiler puts it in read-only data, not in the bss: the address lies in a read-only mapping, not in writable memory between edata and end, and the program cannot change it as asked; it needs e.g. AtomicU64::new(0); the other steps are right
//! Your parts of exercise 1, memory segments (ex1-segments).

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

/// Step 1: the address of a local variable of this very function.
#[inline(never)]
pub fn address_of_a_local() -> usize {
    let n = 3u64;
    let addr = &n as *const u64 as usize;
    black_box(&n);
    addr
}

/// Step 2: a small value on the heap: a `Box<u64>` holding anything.
pub fn a_small_heap_value() -> Box<u64> {
    Box::new(99)
}

/// Step 3: a large allocation: a `Vec<u8>` of exactly `len` bytes (zeros will do).
pub fn a_large_allocation(len: usize) -> Vec<u8> {
    vec![0u8; len]
}

/// Step 4: the address of a global with a non-zero initial value, which the program can change.
pub fn address_of_an_initialised_global() -> usize {
    static DATA: AtomicU64 = AtomicU64::new(5);
    &DATA as *const AtomicU64 as usize
}

/// Step 5: the address of a global that starts as zero, which the program can change.
pub fn address_of_a_zeroed_global() -> usize {
    // starts at 0, so the linker puts it in .bss (it only needs the atomic when it's non-zero)
    static ZERO: u64 = 0;
    &ZERO as *const u64 as usize
}

/// Step 6: the address of the first byte of a string literal.
pub fn address_of_a_string_literal() -> usize {
    let text: &str = "bss vs data";
    text.as_ptr() as usize
}

/// Step 7: the address of a function's machine code: this very function's will do.
pub fn address_of_a_function() -> usize {
    address_of_a_function as *const () as usize
}
