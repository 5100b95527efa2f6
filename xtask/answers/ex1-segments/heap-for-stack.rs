//! expect: failed in address_of_a_local: the local lies in [stack]
//! A typical mistake: the address of a heap value where a local's is asked.

use std::sync::atomic::AtomicU64;

use ex1_segments::Parts;

pub const PARTS: Parts = Parts {
    address_of_a_local,
    a_small_heap_value,
    a_large_allocation,
    address_of_an_initialised_global,
    address_of_a_zeroed_global,
    address_of_a_string_literal,
    address_of_a_function,
};

pub fn address_of_a_local() -> usize {
    let local = Box::new(1u64);
    &*local as *const u64 as usize
}

pub fn a_small_heap_value() -> Box<u64> {
    Box::new(7)
}

pub fn a_large_allocation(len: usize) -> Vec<u8> {
    vec![0; len]
}

pub fn address_of_an_initialised_global() -> usize {
    static G: AtomicU64 = AtomicU64::new(9);
    &G as *const AtomicU64 as usize
}

pub fn address_of_a_zeroed_global() -> usize {
    static Z: AtomicU64 = AtomicU64::new(0);
    &Z as *const AtomicU64 as usize
}

pub fn address_of_a_string_literal() -> usize {
    "text".as_ptr() as usize
}

pub fn address_of_a_function() -> usize {
    address_of_a_function as fn() -> usize as usize
}
