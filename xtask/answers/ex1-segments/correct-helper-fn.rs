//! expect: done
//! intent: right: all parts: I wrote one little helper addr_of(&T) -> usize and used it for every address, with module-level statics, a const &str and a collected Vec
//! expect-judge: correct
//! Your parts of exercise 1, memory segments (ex1-segments).

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

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

// globals used by steps 4 and 5
static RUN_COUNT: AtomicU64 = AtomicU64::new(42);
static HITS: AtomicU32 = AtomicU32::new(0);

// the string's bytes are in the binary, the const is only the (ptr, len) pair
const GREETING: &str = "hello from read-only data";

/// where something is in memory, as a number (works for str too)
fn addr_of<T: ?Sized>(thing: &T) -> usize {
    (thing as *const T).cast::<u8>() as usize
}

/// Step 1: the address of a local variable of this very function.
#[inline(never)]
pub fn address_of_a_local() -> usize {
    let buffer = [7u8; 32];
    let a = addr_of(&buffer);
    black_box(&buffer);
    a
}

/// Step 2: a small value on the heap: a `Box<u64>` holding anything.
pub fn a_small_heap_value() -> Box<u64> {
    let b: Box<u64> = 2024.into();
    b
}

/// Step 3: a large allocation: a `Vec<u8>` of exactly `len` bytes (zeros will do).
pub fn a_large_allocation(len: usize) -> Vec<u8> {
    std::iter::repeat_n(0u8, len).collect()
}

/// Step 4: the address of a global with a non-zero initial value, which the program can change.
pub fn address_of_an_initialised_global() -> usize {
    RUN_COUNT.fetch_add(1, Ordering::Relaxed);
    addr_of(&RUN_COUNT)
}

/// Step 5: the address of a global that starts as zero, which the program can change.
pub fn address_of_a_zeroed_global() -> usize {
    addr_of(&HITS)
}

/// Step 6: the address of the first byte of a string literal.
pub fn address_of_a_string_literal() -> usize {
    addr_of(GREETING)
}

/// Step 7: the address of a function's machine code: this very function's will do.
pub fn address_of_a_function() -> usize {
    let me: fn() -> usize = address_of_a_function;
    me as usize
}
