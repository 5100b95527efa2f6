//! expect: done
//! A correct answer written differently from the reference.

use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;

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

static SETTINGS: Mutex<u32> = Mutex::new(5);
static HITS: AtomicUsize = AtomicUsize::new(0);
const NAME: &str = "a literal of my own";

#[inline(never)]
pub fn address_of_a_local() -> usize {
    let bytes = std::hint::black_box([7u8; 16]);
    bytes.as_ptr() as usize
}

pub fn a_small_heap_value() -> Box<u64> {
    Box::new(u64::MAX)
}

pub fn a_large_allocation(len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    v.resize(len, 1);
    v
}

pub fn address_of_an_initialised_global() -> usize {
    std::ptr::addr_of!(SETTINGS) as usize
}

pub fn address_of_a_zeroed_global() -> usize {
    std::ptr::addr_of!(HITS) as usize
}

pub fn address_of_a_string_literal() -> usize {
    NAME.as_bytes().as_ptr() as usize
}

fn helper() -> u8 {
    std::hint::black_box(3)
}

pub fn address_of_a_function() -> usize {
    helper as fn() -> u8 as usize
}
