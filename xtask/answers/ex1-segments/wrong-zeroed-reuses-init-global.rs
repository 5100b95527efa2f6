//! expect: failed in address_of_a_zeroed_global: the linker agrees: edata <= it < end
//! intent: wrong: address_of_a_zeroed_global: I reuse step 4's global and store 0 into it, so it "is zero", but it lives in .data, not .bss (and the part changes state)
//! expect-judge: the zeroed global is the initialised one set to zero at run time: same address as step 4, in the data segment, not bss
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

static INIT: AtomicU64 = AtomicU64::new(99);

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
    vec![0u8; len]
}

/// Step 4: an initialised, writable global.
pub fn address_of_an_initialised_global() -> usize {
    &INIT as *const AtomicU64 as usize
}

/// Step 5: a zeroed, writable global.
pub fn address_of_a_zeroed_global() -> usize {
    // a global that is zero: just zero the one from step 4
    INIT.store(0, std::sync::atomic::Ordering::Relaxed);
    &INIT as *const AtomicU64 as usize
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
