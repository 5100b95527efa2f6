//! Proof that the chunk layer never calls the global allocator: an allocator calls
//! `mem_chunk` from inside its own `alloc`, where a nested allocation would recurse or
//! deadlock.
//!
//! The contract's own counting allocator is this test's `#[global_allocator]`; it must count no
//! call while the chunk functions run: requests on both paths, leaf splits in the registry,
//! errors, lookups, iteration, stats and releases. `harness = false` and one thread: these
//! calls move the program break, and no other thread may allocate meanwhile.

use std::ptr::NonNull;

use libtest_mimic::{Arguments, Failed, Trial};
use milestone::contract::{CountingAllocator, calls_during};
use milestone::{
    Policy, chunk_stats, find_chunk, for_each_chunk, mem_chunk, release_chunk, set_policy,
};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Runs the chunk functions through every path, with no allocation of its own: the pointers go
/// into a fixed array on the stack.
fn exercise_every_path() -> usize {
    const N: usize = 2_000;
    let mut ptrs: [Option<NonNull<u8>>; N] = [None; N];
    let mut errors = 0;
    for (i, slot) in ptrs.iter_mut().enumerate() {
        // Mostly small chunks, every 97th large; 2,000 records split several registry leaves.
        let size = if i % 97 == 0 { 300_000 } else { 1 + i % 700 };
        *slot = mem_chunk(size).ok();
    }
    errors += usize::from(mem_chunk(0).is_ok()) + usize::from(mem_chunk(usize::MAX).is_ok());
    let mut seen = 0;
    for_each_chunk(|c| seen += c.len().min(1));
    for p in ptrs.iter().flatten() {
        let inside = p.as_ptr().wrapping_add(1);
        errors += usize::from(find_chunk(inside).is_none_or(|c| c.start() != *p));
    }
    let stats = chunk_stats();
    errors += usize::from(stats.count < N);
    // Release every other one, then the rest, so that free extents merge.
    for p in ptrs.iter().step_by(2).flatten() {
        errors += usize::from(release_chunk(*p).is_err());
    }
    for p in ptrs.iter().skip(1).step_by(2).flatten() {
        errors += usize::from(release_chunk(*p).is_err());
    }
    errors += usize::from(release_chunk(ptrs[0].unwrap_or(NonNull::dangling())).is_ok());
    errors + usize::from(seen < N)
}

fn check(policy: Policy) -> Result<(), Failed> {
    set_policy(policy);
    let (errors, calls) = calls_during(exercise_every_path);
    let calls = calls.ok_or("the counting allocator is not this test's global allocator")?;
    if errors > 0 {
        return Err(format!("{errors} calls gave the wrong answer").into());
    }
    if calls > 0 {
        return Err(format!("the chunk layer made {calls} allocations").into());
    }
    let left = chunk_stats();
    if left.count != 0 || left.mmap_bytes != 0 {
        return Err(format!("chunks left behind: {left:?}").into());
    }
    Ok(())
}

fn main() {
    let mut args = Arguments::from_args();
    args.test_threads = Some(1);
    let trials = vec![
        Trial::test("the_default_policy_allocates_nothing", || {
            check(Policy::glibc())
        }),
        Trial::test("the_mmap_only_policy_allocates_nothing", || {
            check(Policy::mmap_only())
        }),
    ];
    libtest_mimic::run(&args, trials).exit();
}
