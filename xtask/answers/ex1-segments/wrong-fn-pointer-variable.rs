//! expect: failed in address_of_a_function: it lies in the executable's r-xp mapping
//! intent: wrong: step 7 (address_of_a_function): I stored the function in a fn pointer variable and returned the address of that variable
//! expect-judge: step 7 is wrong: `&f` is the address of the local variable holding the function pointer, which is on the stack, not the function's code in the r-xp text mapping below etext; it should return the pointer's value, `f as usize`; the other steps are right
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

static INIT_GLOBAL: AtomicU64 = AtomicU64::new(11);
static ZERO_GLOBAL: AtomicU64 = AtomicU64::new(0);

/// Step 1: the address of a local variable of this very function.
#[inline(never)]
pub fn address_of_a_local() -> usize {
    let v = 10usize;
    let p = black_box(&v as *const usize);
    p as usize
}

/// Step 2: a small value on the heap: a `Box<u64>` holding anything.
pub fn a_small_heap_value() -> Box<u64> {
    Box::new(123)
}

/// Step 3: a large allocation: a `Vec<u8>` of exactly `len` bytes (zeros will do).
pub fn a_large_allocation(len: usize) -> Vec<u8> {
    vec![0; len]
}

/// Step 4: the address of a global with a non-zero initial value, which the program can change.
pub fn address_of_an_initialised_global() -> usize {
    &INIT_GLOBAL as *const AtomicU64 as usize
}

/// Step 5: the address of a global that starts as zero, which the program can change.
pub fn address_of_a_zeroed_global() -> usize {
    &ZERO_GLOBAL as *const AtomicU64 as usize
}

/// Step 6: the address of the first byte of a string literal.
pub fn address_of_a_string_literal() -> usize {
    "text segment?".as_ptr() as usize
}

/// Step 7: the address of a function's machine code: this very function's will do.
pub fn address_of_a_function() -> usize {
    // a function pointer to myself
    let f: fn() -> usize = address_of_a_function;
    let p = &f as *const fn() -> usize;
    black_box(p);
    p as usize
}
