//! Model-based: random sequences of operations applied to a `ChunkManager` and to a plain
//! model (a sorted map of live chunks); after every step they agree, errors included.
//!
//! proptest generates the sequences and shrinks a failing one to a minimal case. This is a
//! process of its own with one thread (`harness = false`): the manager moves the break.

mod common;

use std::collections::BTreeMap;
use std::ptr::NonNull;

use common::Outcome;
use memcore::sys;
use milestone::{Chunk, ChunkError, ChunkManager, Policy, Source};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

#[derive(Debug, Clone)]
enum Op {
    /// mem_chunk(size)
    Take(usize),
    /// release_chunk of the n-th live chunk (modulo)
    Release(usize),
    /// release_chunk of a pointer inside the n-th live chunk, not its start
    ReleaseInterior(usize),
    /// release_chunk of the n-th chunk already released (modulo), if it is not live again
    ReleaseAgain(usize),
    /// find_chunk of an address inside the n-th live chunk, at an offset
    Find(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop_oneof![
            Just(0usize),
            1usize..256,
            256usize..8192,
            8192usize..200_000,
            Just(usize::MAX),
        ]
        .prop_map(Op::Take),
        3 => any::<usize>().prop_map(Op::Release),
        1 => any::<usize>().prop_map(Op::ReleaseInterior),
        1 => any::<usize>().prop_map(Op::ReleaseAgain),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Find(a, b)),
    ]
}

/// The model: live chunks by start; released starts.
#[derive(Default)]
struct Model {
    live: BTreeMap<usize, Chunk>,
    released: Vec<usize>,
}

fn nth<T: Copy>(items: impl ExactSizeIterator<Item = T>, n: usize) -> Option<T> {
    let len = items.len();
    let mut items = items;
    (len > 0).then(|| items.nth(n % len)).flatten()
}

fn step(m: &mut ChunkManager, model: &mut Model, op: &Op) -> Result<(), TestCaseError> {
    match *op {
        Op::Take(size) => {
            let before = m.stats();
            match m.chunk(size) {
                Ok(p) => {
                    prop_assert!(size > 0 && size != usize::MAX);
                    let c = m
                        .find(p.as_ptr())
                        .ok_or_else(|| TestCaseError::fail("not found"))?;
                    prop_assert_eq!(c.start(), p);
                    prop_assert!(c.len() >= size);
                    let want = if size < Policy::DEFAULT_MMAP_THRESHOLD {
                        Source::Sbrk
                    } else {
                        Source::Mmap
                    };
                    prop_assert_eq!(c.source(), want);
                    let align = if want == Source::Mmap {
                        sys::page_size()
                    } else {
                        16
                    };
                    prop_assert_eq!(p.as_ptr() as usize % align, 0);
                    let start = p.as_ptr() as usize;
                    prop_assert!(
                        model
                            .live
                            .range(..start)
                            .next_back()
                            .is_none_or(|(_, b)| b.end() <= start)
                    );
                    prop_assert!(
                        model
                            .live
                            .range(start..)
                            .next()
                            .is_none_or(|(&a, _)| c.end() <= a)
                    );
                    model.released.retain(|&r| r != start);
                    model.live.insert(start, c);
                }
                Err(e) => {
                    let expected = if size == 0 {
                        ChunkError::ZeroSize
                    } else {
                        ChunkError::TooLarge { requested: size }
                    };
                    prop_assert_eq!(e, expected);
                    prop_assert_eq!(m.stats(), before, "a refused request changed the stats");
                }
            }
        }
        Op::Release(n) => {
            if let Some(start) = nth(model.live.keys().copied(), n) {
                let p = NonNull::new(start as *mut u8).expect("non-null");
                prop_assert_eq!(m.release(p), Ok(()));
                model.live.remove(&start);
                model.released.push(start);
            }
        }
        Op::ReleaseInterior(n) => {
            if let Some(c) = nth(model.live.values().copied(), n) {
                let inside = c
                    .start()
                    .as_ptr()
                    .wrapping_add(1 + n % (c.len() - 1).max(1));
                let inside = NonNull::new(inside).expect("non-null");
                let before = m.stats();
                prop_assert_eq!(
                    m.release(inside),
                    Err(ChunkError::NotAChunk {
                        addr: inside.as_ptr() as usize
                    })
                );
                prop_assert_eq!(m.stats(), before);
            }
        }
        Op::ReleaseAgain(n) => {
            if let Some(start) = nth(model.released.iter().copied(), n)
                && !model.live.contains_key(&start)
            {
                let p = NonNull::new(start as *mut u8).expect("non-null");
                prop_assert_eq!(m.release(p), Err(ChunkError::NotAChunk { addr: start }));
            }
        }
        Op::Find(n, offset) => {
            if let Some(c) = nth(model.live.values().copied(), n) {
                let inside = c.start().as_ptr().wrapping_add(offset % c.len());
                prop_assert_eq!(m.find(inside), Some(c));
            }
        }
    }
    // After every step: the registry lists exactly the model's chunks, in order, and counts them.
    let mut listed = Vec::new();
    m.for_each(|c| listed.push(*c));
    let want: Vec<Chunk> = model.live.values().copied().collect();
    prop_assert_eq!(&listed, &want);
    let s = m.stats();
    prop_assert_eq!(s.count, want.len());
    prop_assert_eq!(s.bytes, want.iter().map(Chunk::len).sum::<usize>());
    m.check_invariants().map_err(TestCaseError::fail)?;
    Ok(())
}

fn the_registry_agrees_with_a_plain_model_after_every_step() -> Outcome {
    let start_break = sys::program_break() as usize;
    let mut runner = TestRunner::new(Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&proptest::collection::vec(op(), 1..300), |ops| {
        let mut m = ChunkManager::new(Policy::glibc());
        let mut model = Model::default();
        let outcome = ops.iter().try_for_each(|op| step(&mut m, &mut model, op));
        // Give everything back whatever happened, so the next case starts clean.
        for start in model.live.keys() {
            let _ = m.release(NonNull::new(*start as *mut u8).expect("non-null"));
        }
        outcome?;
        prop_assert_eq!(m.stats().held_bytes, 0);
        Ok(())
    });
    assert!(result.is_ok(), "{result:?}");
    common::ensure_break_at(start_break)
}

fn main() {
    common::settle_glibc_heap();
    common::run(trials![
        the_registry_agrees_with_a_plain_model_after_every_step
    ]);
}
