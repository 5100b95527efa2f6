//! expect: failed in a_large_allocation: a_large_allocation returned a Vec of exactly 262144 bytes (256 KiB)
//! intent: wrong: a_large_allocation: Vec::with_capacity(len) reserves len bytes but its length is 0, not len
//! expect-judge: the Vec has capacity len but len() == 0; the part asks for exactly len bytes
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
    let local = 5u64;
    black_box(&local) as *const u64 as usize
}

/// Step 2: a small value on the heap.
pub fn a_small_heap_value() -> Box<u64> {
    Box::new(1234)
}

/// Step 3: a Vec<u8> of exactly `len` bytes.
pub fn a_large_allocation(len: usize) -> Vec<u8> {
    // reserve len bytes in one go
    Vec::with_capacity(len)
}

/// Step 4: an initialised, writable global.
pub fn address_of_an_initialised_global() -> usize {
    static INIT: AtomicU64 = AtomicU64::new(99);
    &INIT as *const AtomicU64 as usize
}

/// Step 5: a zeroed, writable global.
pub fn address_of_a_zeroed_global() -> usize {
    static ZERO: AtomicU64 = AtomicU64::new(0);
    &ZERO as *const AtomicU64 as usize
}

/// Step 6: the first byte of a string literal.
pub fn address_of_a_string_literal() -> usize {
    let s = "hello world";
    s.as_ptr() as usize
}

/// Step 7: this function's machine code.
pub fn address_of_a_function() -> usize {
    address_of_a_function as fn() -> usize as usize
}
