//! Stress: several threads, tens of thousands of random operations each, through the global
//! `mem_chunk` API, while the main thread checks the registry between rounds.
//!
//! Every live chunk holds a pattern unique to it, verified before release; live chunks never
//! overlap; `chunk_stats()` equals the threads' own bookkeeping at every round; at the end no
//! mmap chunk is left and the program break is back where it started. This is a process of
//! its own (`harness = false`): nothing else moves the break, and the main thread only waits
//! and checks while the workers run (glibc gives the workers arenas of their own, which it maps
//! instead of growing the break).

mod common;

use std::ptr::NonNull;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use common::{Outcome, Rng, ensure, fill, holds};
use memcore::sys;
use milestone::{Source, chunk_stats, find_chunk, for_each_chunk, mem_chunk, release_chunk};

const THREADS: usize = 4;
const ROUNDS: usize = 20;
const OPS_PER_ROUND: usize = 1_500;

/// What the threads hold, summed over all of them (exact at each barrier).
static LIVE_COUNT: AtomicUsize = AtomicUsize::new(0);
static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static LIVE_MMAP: AtomicUsize = AtomicUsize::new(0);
static FAILED: AtomicBool = AtomicBool::new(false);

struct Live {
    ptr: NonNull<u8>,
    len: usize,
    seed: u64,
    source: Source,
}

// SAFETY: a Live is a record of a chunk that only the thread holding it uses.
unsafe impl Send for Live {}

fn fail(what: String) {
    eprintln!("stress: {what}");
    FAILED.store(true, Ordering::SeqCst);
}

fn release(l: Live) {
    if !holds(l.ptr, l.len, l.seed) {
        fail(format!("chunk {:?} lost its pattern", l.ptr));
    }
    if let Err(e) = release_chunk(l.ptr) {
        fail(format!("release_chunk({:?}): {e}", l.ptr));
    }
    LIVE_COUNT.fetch_sub(1, Ordering::SeqCst);
    LIVE_BYTES.fetch_sub(l.len, Ordering::SeqCst);
    if l.source == Source::Mmap {
        LIVE_MMAP.fetch_sub(1, Ordering::SeqCst);
    }
}

fn worker(id: usize, round_done: &Barrier, checked: &Barrier) {
    let mut rng = Rng(0x1234_5678_9abc_def1 ^ ((id as u64 + 1) * 0x9e37_79b9));
    let mut live: Vec<Live> = Vec::with_capacity(4_096);
    let mut seed = (id as u64) << 48;
    // Start together, once the main thread has noted where the break is.
    round_done.wait();
    for round in 0..ROUNDS {
        for _ in 0..OPS_PER_ROUND {
            match rng.below(10) {
                0..=4 if live.len() < 3_000 => {
                    let size = rng.size();
                    let ptr = match mem_chunk(size) {
                        Ok(p) => p,
                        Err(e) => {
                            // Keep going: the barriers need every worker to reach them.
                            fail(format!("mem_chunk({size}): {e}"));
                            continue;
                        }
                    };
                    let Some(chunk) = find_chunk(ptr.as_ptr()) else {
                        fail(format!("a new chunk {ptr:?} is not registered"));
                        continue;
                    };
                    seed += 1;
                    fill(ptr, chunk.len(), seed);
                    LIVE_COUNT.fetch_add(1, Ordering::SeqCst);
                    LIVE_BYTES.fetch_add(chunk.len(), Ordering::SeqCst);
                    if chunk.source() == Source::Mmap {
                        LIVE_MMAP.fetch_add(1, Ordering::SeqCst);
                    }
                    live.push(Live {
                        ptr,
                        len: chunk.len(),
                        seed,
                        source: chunk.source(),
                    });
                }
                0..=7 if !live.is_empty() => {
                    let at = rng.below(live.len());
                    release(live.swap_remove(at));
                }
                _ if !live.is_empty() => {
                    let l = &live[rng.below(live.len())];
                    let inside = l.ptr.as_ptr().wrapping_add(rng.below(l.len));
                    match find_chunk(inside) {
                        Some(c) if c.start() == l.ptr && c.len() == l.len => {}
                        other => fail(format!("find_chunk({inside:?}) gave {other:?}")),
                    }
                }
                _ => {}
            }
        }
        round_done.wait(); // the main thread checks now
        checked.wait();
        if round + 1 == ROUNDS {
            for l in live.drain(..) {
                release(l);
            }
        }
    }
    round_done.wait();
    checked.wait();
}

/// Checked by the main thread while the workers wait: no overlap, and stats as booked.
fn check_round(round: usize) -> Outcome {
    let mut previous_end = 0usize;
    let (mut count, mut overlaps) = (0usize, 0usize);
    for_each_chunk(|c| {
        let start = c.start().as_ptr() as usize;
        overlaps += usize::from(start < previous_end);
        previous_end = c.end();
        count += 1;
    });
    let s = chunk_stats();
    ensure(overlaps == 0, || {
        format!("round {round}: {overlaps} overlapping chunks")
    })?;
    let booked = (
        LIVE_COUNT.load(Ordering::SeqCst),
        LIVE_BYTES.load(Ordering::SeqCst),
        LIVE_MMAP.load(Ordering::SeqCst),
    );
    ensure(
        (count, s.count, s.bytes, s.mmap_count) == (booked.0, booked.0, booked.1, booked.2),
        || format!("round {round}: listed {count}, stats {s:?}, booked {booked:?}"),
    )
}

fn many_threads_churn_without_losing_a_byte() -> Outcome {
    let round_done = Barrier::new(THREADS + 1);
    let checked = Barrier::new(THREADS + 1);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for id in 0..THREADS {
            let (round_done, checked) = (&round_done, &checked);
            scope.spawn(move || worker(id, round_done, checked));
        }
        // The threads exist and wait; from here on only the chunk layer moves the break.
        let start_break = sys::program_break() as usize;
        round_done.wait();
        let mut outcome = Ok(());
        for round in 0..=ROUNDS {
            round_done.wait();
            if outcome.is_ok() {
                outcome = check_round(round);
            }
            if round == ROUNDS && outcome.is_ok() {
                let s = chunk_stats();
                let end_break = sys::program_break() as usize;
                outcome = ensure(
                    s.count == 0 && s.mmap_count == 0 && s.mmap_bytes == 0,
                    || format!("left behind: {s:?}"),
                )
                .and_then(|()| {
                    ensure(end_break == start_break, || {
                        format!("the break is at {end_break:#x}, it started at {start_break:#x}")
                    })
                });
            }
            checked.wait();
        }
        outcome
    })?;
    ensure(!FAILED.load(Ordering::SeqCst), || {
        "a worker failed (see above)".into()
    })?;
    eprintln!(
        "stress: {} threads x {} operations in {:.1?}",
        THREADS,
        ROUNDS * OPS_PER_ROUND,
        started.elapsed()
    );
    Ok(())
}

fn main() {
    common::settle_glibc_heap();
    common::run(trials![many_threads_churn_without_losing_a_byte]);
}
