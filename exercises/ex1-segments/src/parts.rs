//! The reference answer to exercise 1: one thing of each kind, and where it lives. The driver
//! (`src/lib.rs`) finds the region of `/proc/self/maps` that holds each address.

use std::hint::black_box;
use std::sync::atomic::AtomicU64;

use ex1_segments::Parts;

// What this file uses from the lesson, a line each:
// - `Parts`: the struct of function pointers below, through which the lesson calls your parts;
// - every other type is Rust's own; an address is a `usize`.

// What your parts use from Rust, a line each (no system call: the driver reads the maps):
// - `&raw const x` gives `x`'s address as a `*const T`, without making a reference to it;
//   `as usize` turns that pointer into a number. A function's name becomes a pointer by a cast
//   to its pointer type (here `fn() -> usize`); cast straight to `usize`, it warns;
// - `std::hint::black_box(value: T) -> T` hands `value` back untouched, but the optimiser
//   may not assume what becomes of it: the local of step 1 stays a real variable on the stack,
//   with an address, instead of being folded into a constant. Optional, and harmless;
// - `std::sync::atomic::AtomicU64::new(v: u64)` (a `const fn`): a `u64` that a `static` may
//   change, which keeps the `static` out of read-only data.

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
///
/// `#[inline(never)]` keeps the call a call: inlined, its locals would live in the caller's
/// frame.
#[inline(never)]
pub fn address_of_a_local() -> usize {
    // ANCHOR: address_of_a_local
    // IDEA: A local variable lives in the function's stack frame: take its address, and turn the
    // IDEA: pointer into a number. See the lesson's picture: the stack is at the top.
    // SHAPE: Two lines, no `unsafe`: make a local; take its address with `&raw const` (its address,
    // SHAPE: not its value); make the pointer a `usize` and return it.
    // HINT: `let local = 1u64;` then `&raw const local as usize` (or `&local as *const u64 as
    // HINT: usize`). `std::hint::black_box` around the value keeps the optimiser from folding
    // HINT: it away.
    let local = black_box(1u64);
    black_box(&raw const local) as usize
    // ANCHOR_END: address_of_a_local
}

/// Step 2: a small value on the heap: a `Box<u64>` holding anything. The driver looks at where
/// it points.
pub fn a_small_heap_value() -> Box<u64> {
    // ANCHOR: a_small_heap_value
    // IDEA: Anything you put in a Box comes from the global allocator, which is glibc's malloc
    // IDEA: here: a small one lands in [heap].
    // SHAPE: One expression: make the Box and return it. The driver reads the pointer inside it,
    // SHAPE: and drops it.
    // HINT: `Box::new(7)`: the global allocator, glibc's malloc here, finds it 8 bytes.
    Box::new(7)
    // ANCHOR_END: a_small_heap_value
}

/// Step 3: a large allocation: a `Vec<u8>` of exactly `len` bytes (zeros will do).
pub fn a_large_allocation(len: usize) -> Vec<u8> {
    // ANCHOR: a_large_allocation
    // IDEA: A Vec of `len` bytes asks malloc for them all at once. Its length must be `len`, not
    // IDEA: only its room. See man 3 mallopt, M_MMAP_THRESHOLD.
    // SHAPE: One expression: a Vec whose `len()` is `len` from the start (not `Vec::with_capacity`,
    // SHAPE: whose length is 0); return it.
    // HINT: `vec![0u8; len]` asks malloc for `len` bytes at once.
    vec![0u8; len]
    // ANCHOR_END: a_large_allocation
}

/// Step 4: the address of a global (a `static`) with a non-zero initial value, which the
/// program can change.
///
/// An immutable `static` of a plain type may be put in read-only data, like a constant: give
/// it interior mutability (`AtomicU64`) so that it must be writable. A `static` may be declared
/// inside the function: it is still a global.
pub fn address_of_an_initialised_global() -> usize {
    // ANCHOR: address_of_an_initialised_global
    // IDEA: A `static` with a non-zero value is stored in the executable and loaded into the data
    // IDEA: segment. It must be writable (an atomic or a Mutex), or the compiler may put it in
    // IDEA: read-only data.
    // SHAPE: Inside the function, declare a `static` of type `AtomicU64` with a non-zero value
    // SHAPE: (zero would put it in bss); then return its address, made a `usize`.
    // HINT: `static INITIALISED: AtomicU64 = AtomicU64::new(0x1e55_0001);` then
    // HINT: `&raw const INITIALISED as usize`.
    static INITIALISED: AtomicU64 = AtomicU64::new(0x1e55_0001);
    &raw const INITIALISED as usize
    // ANCHOR_END: address_of_an_initialised_global
}

/// Step 5: the address of a global that starts as zero, which the program can change.
pub fn address_of_a_zeroed_global() -> usize {
    // ANCHOR: address_of_a_zeroed_global
    // IDEA: A `static` whose value is all zeros takes no room in the file: the loader gives the bss
    // IDEA: zeroed pages. See man 3 end.
    // SHAPE: The same two lines as step 4, for a `static` of its own (a new name) whose value is 0.
    // HINT: As step 4, with `AtomicU64::new(0)`: all zeros, so it takes no room in the file.
    static ZEROED: AtomicU64 = AtomicU64::new(0);
    &raw const ZEROED as usize
    // ANCHOR_END: address_of_a_zeroed_global
}

/// Step 6: the address of the first byte of a string literal.
pub fn address_of_a_string_literal() -> usize {
    // ANCHOR: address_of_a_string_literal
    // IDEA: A string literal's bytes are stored in the executable, in read-only data. Its address
    // IDEA: is where the bytes are, not where the `&str` sits.
    // SHAPE: Take a literal, ask it for the pointer to its bytes, make that a number. Not
    // SHAPE: `&literal`: that is where the reference itself sits.
    // HINT: A `&str` knows where its bytes are: `"hello".as_ptr() as usize`.
    "hello from read-only data".as_ptr() as usize
    // ANCHOR_END: address_of_a_string_literal
}

/// Step 7: the address of a function's machine code: this very function's will do.
pub fn address_of_a_function() -> usize {
    // ANCHOR: address_of_a_function
    // IDEA: A function's code is mapped from the executable, read and execute. Its address is the
    // IDEA: function as a pointer, made a number.
    // SHAPE: Name the function without calling it (no parentheses), cast it to its function-pointer
    // SHAPE: type, `fn() -> usize`, then cast that to `usize`.
    // HINT: A function's name is a value: cast it to a function pointer, then to a number,
    // HINT: `address_of_a_function as fn() -> usize as usize`.
    address_of_a_function as fn() -> usize as usize
    // ANCHOR_END: address_of_a_function
}
