//! Bad input: `release_chunk` and `find_chunk` with pointers that are not chunks (unknown,
//! interior, released, unaligned, kernel addresses, a page that faults if read) never
//! dereference them, answer right, and change nothing. A dereference of the kernel address or
//! the inaccessible page would kill this process with SIGSEGV.
//!
//! `harness = false`: the test takes chunks from the break, on one thread.

mod common;

use std::ptr::NonNull;

use common::Outcome;
use memcore::sys::{self, Protection};
use milestone::{ChunkError, chunk_stats, find_chunk, mem_chunk, release_chunk};

static A_STATIC: u64 = 7;

fn pointers_that_are_not_chunks_are_refused_without_being_read() -> Outcome {
    let small = mem_chunk(100)?;
    let large = mem_chunk(300_000)?;
    let gone = mem_chunk(64)?;
    release_chunk(gone)?;
    // A page that faults on any access.
    let page = sys::page_size();
    let guard = sys::mmap_anonymous(page)?;
    // SAFETY: the page is ours and nothing refers to it.
    unsafe { sys::mprotect(guard, page, Protection::None) }?;
    let local = 0u8;
    let boxed = Box::new(0u64);
    let cases: [(&str, usize); 11] = [
        ("a local variable", &raw const local as usize),
        ("a Box from malloc", &raw const *boxed as usize),
        ("a static", &raw const A_STATIC as usize),
        ("inside a small chunk", small.as_ptr() as usize + 16),
        (
            "unaligned, one past a chunk's start",
            small.as_ptr() as usize + 1,
        ),
        ("inside a large chunk", large.as_ptr() as usize + 4096),
        ("a released chunk", gone.as_ptr() as usize),
        ("a kernel address", 0xffff_8000_0000_0000),
        ("the vsyscall page", 0xffff_ffff_ff60_0000),
        ("the highest address", usize::MAX),
        ("a page that faults if read", guard.as_ptr() as usize),
    ];
    let before = chunk_stats();
    for (what, addr) in cases {
        let p = NonNull::new(addr as *mut u8).ok_or("null")?;
        let got = release_chunk(p);
        assert!(
            got == Err(ChunkError::NotAChunk { addr }),
            "{what}: {got:?}"
        );
        let found = find_chunk(addr as *const u8);
        let inside = what.starts_with("inside") || what.starts_with("unaligned");
        let right = match found {
            Some(c) => inside && (c.start() == small || c.start() == large),
            None => !inside,
        };
        assert!(right, "find_chunk of {what}: {found:?}");
    }
    assert!(find_chunk(std::ptr::null()).is_none(), "null was found");
    assert!(chunk_stats() == before, "a refusal changed the stats");
    release_chunk(small)?;
    release_chunk(large)?;
    // SAFETY: the guard page is ours and unused.
    unsafe { sys::munmap(guard, page) }?;
    Ok(())
}

fn main() {
    common::run(trials![
        pointers_that_are_not_chunks_are_refused_without_being_read
    ]);
}
