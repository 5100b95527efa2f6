//! expect: done
//! intent: correct: uses ptr::addr_of!/&raw and module-level statics instead of casting references, and fills the Vec via resize
//! expect-judge: all seven parts fine; statics at module level are still globals, AtomicU64 makes the data one writable
//! My answers for exercise 1. I put the globals at the top so I can see them.

use std::hint::black_box;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};

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

// initialised -> .data
static COUNTER: AtomicU64 = AtomicU64::new(0xC0FFEE);
// zero -> .bss
static ZEROED: AtomicU64 = AtomicU64::new(0);

/// Step 1: address of a local of this frame.
#[inline(never)]
pub fn address_of_a_local() -> usize {
    let mut local: [u64; 2] = [1, 2];
    // black_box so the compiler really keeps it in the frame
    let p = ptr::addr_of_mut!(local);
    black_box(p);
    p as usize
}

/// Step 2: a Box<u64>.
pub fn a_small_heap_value() -> Box<u64> {
    let b = Box::new(u64::MAX / 3);
    black_box(b)
}

/// Step 3: exactly `len` bytes.
pub fn a_large_allocation(len: usize) -> Vec<u8> {
    let mut v = Vec::new();
    v.resize(len, 0u8);
    v
}

/// Step 4: initialised, writable global.
pub fn address_of_an_initialised_global() -> usize {
    // touch it so it is obviously written to at runtime
    COUNTER.fetch_add(1, Ordering::Relaxed);
    ptr::addr_of!(COUNTER) as usize
}

/// Step 5: zeroed, writable global.
pub fn address_of_a_zeroed_global() -> usize {
    &raw const ZEROED as usize
}

/// Step 6: first byte of a string literal.
pub fn address_of_a_string_literal() -> usize {
    let s: &'static str = "where does this string live?";
    s.as_ptr().addr()
}

/// Step 7: the code of this function.
pub fn address_of_a_function() -> usize {
    let me: fn() -> usize = address_of_a_function;
    me as usize
}
