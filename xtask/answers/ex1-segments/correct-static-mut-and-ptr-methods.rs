//! expect: done
//! intent: correct: statics declared inside each function, zeroed one as `static mut` taken with &raw mut, AtomicU64::as_ptr for the data one, vec! of non-zero bytes
//! expect-judge: correct; `static mut` read through &raw is fine in edition 2024, a Vec of 0xAA bytes is still exactly len bytes

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

#[inline(never)]
pub fn address_of_a_local() -> usize {
    let x: u32 = 7;
    let r = black_box(&x);
    std::ptr::from_ref(r).addr()
}

pub fn a_small_heap_value() -> Box<u64> {
    Box::<u64>::default()
}

pub fn a_large_allocation(len: usize) -> Vec<u8> {
    // not zeros, but the doc said zeros "will do", anything is fine
    vec![0xAA; len]
}

pub fn address_of_an_initialised_global() -> usize {
    static ANSWER: AtomicU64 = AtomicU64::new(42);
    ANSWER.as_ptr() as usize
}

pub fn address_of_a_zeroed_global() -> usize {
    static mut NOTHING_YET: u64 = 0;
    // &raw mut does not create a reference, so no static_mut_refs error
    (&raw mut NOTHING_YET).addr()
}

pub fn address_of_a_string_literal() -> usize {
    black_box("hello, segments").as_bytes().as_ptr() as usize
}

pub fn address_of_a_function() -> usize {
    (address_of_a_function as fn() -> usize) as *const () as usize
}
