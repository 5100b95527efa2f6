//! Timed figures for BENCHMARKS.md, each beside its baseline in the same criterion group, so
//! that the report shows them side by side and `cargo xtask bench` can take their ratio.
//!
//! - B1 `mem_chunk(1 MiB)` + `release_chunk` against a raw `mmap` + `munmap` of 1 MiB, measured
//!   two ways: one pair of each in turn, and in alternating batches of 2,000 of each (B1b).
//! - B2 a stream of 100,000 `mem_chunk(64)` in a fresh process against 100,000 glibc
//!   `malloc(64)` without free in a fresh process. Each sample runs the stream in a new child
//!   process (this binary, run again with `BENCH_STREAM` set), which times itself.
//! - B3 `find_chunk` of a random interior address with 100,000 live chunks against 100.
//! - B7 small-chunk throughput (`mem_chunk(64)` + `release_chunk`) with two threads both
//!   calling against one thread.

use std::hint::black_box;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use memcore::sys;
use milestone::{find_chunk, mem_chunk, release_chunk};

const STREAM: usize = 100_000;
const STREAM_VAR: &str = "BENCH_STREAM";

/// In the child: one stream of STREAM requests of 64 bytes, timed; prints nanoseconds.
fn stream_child(kind: &str) {
    let started = Instant::now();
    for _ in 0..STREAM {
        match kind {
            "mem_chunk" => {
                black_box(mem_chunk(64).expect("mem_chunk(64)"));
            }
            _ => {
                // SAFETY: malloc has no preconditions; the blocks are never freed, on purpose.
                black_box(unsafe { libc::malloc(64) });
            }
        }
    }
    println!("{}", started.elapsed().as_nanos());
}

fn stream_in_new_processes(kind: &str, iters: u64) -> Duration {
    let exe = std::env::current_exe().expect("current_exe");
    (0..iters)
        .map(|_| {
            let out = Command::new(&exe)
                .env(STREAM_VAR, kind)
                .output()
                .expect("run the stream child");
            let ns: u64 = String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("the child prints nanoseconds");
            Duration::from_nanos(ns)
        })
        .sum()
}

fn chunk_pair() {
    let p = mem_chunk(1 << 20).expect("mem_chunk");
    release_chunk(black_box(p)).expect("release_chunk");
}

fn raw_pair() {
    let p = sys::mmap_anonymous(1 << 20).expect("mmap");
    // SAFETY: the mapping was made just above and is used by nothing else.
    unsafe { sys::munmap(black_box(p), 1 << 20) }.expect("munmap");
}

const CHUNK: usize = 0;
const RAW: usize = 1;
const PAIRS_OF: [fn(); 2] = [chunk_pair, raw_pair];

/// xorshift64: the same sequence every run, no dependency.
struct Xorshift(u64);

impl Xorshift {
    fn new() -> Xorshift {
        Xorshift(0x9e37_79b9_7f4a_7c15)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Runs `measured` then `other`, `iters` times; returns the time of each, in that order.
/// (criterion's view of B1; the table's figures come from [`b1_rounds`].)
fn interleaved(iters: u64, measured: usize, other: usize) -> (Duration, Duration) {
    let (mut mine, mut theirs) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..iters {
        let started = Instant::now();
        PAIRS_OF[measured]();
        let middle = Instant::now();
        PAIRS_OF[other]();
        mine += middle - started;
        theirs += middle.elapsed();
    }
    (mine, theirs)
}

/// Pairs of each kind in one round of B1's side-by-side measures.
const ROUND: usize = 2_000;
/// Rounds of each measure; B1 reports the median one.
const ROUNDS: usize = 7;
/// A pair slower than this many times its kind's median pair in the round was interrupted.
const INTERRUPTED: u64 = 10;

/// Each pair's time in one round, in nanoseconds, by kind.
type PairTimes = [Vec<u64>; 2];

/// One pair of the kind `pair`, timed.
fn time_pair(pair: usize) -> u64 {
    let started = Instant::now();
    PAIRS_OF[pair]();
    started.elapsed().as_nanos() as u64
}

/// One round, interleaved: ROUND pairs of each kind, one of each in turn, the kind that goes
/// first drawn at random each time. Drawn, not alternated: in a fixed order, a slow path of
/// the kernel's (about 1,200 ns, in 10 to 15% of pairs) kept striking one kind for a whole
/// run, whichever it first fell on, and moved the ratio by 5% either way.
fn interleaved_round(times: &mut PairTimes, coin: &mut Xorshift) {
    for _ in 0..ROUND {
        let first = (coin.next() & 1) as usize;
        for pair in [first, 1 - first] {
            times[pair].push(time_pair(pair));
        }
    }
}

/// One round in batches: ROUND chunk pairs in a row and ROUND raw pairs in a row, the kind
/// that goes first alternating from round to round.
fn batches_round(times: &mut PairTimes, round: usize) {
    for pair in [round % 2, 1 - round % 2] {
        for _ in 0..ROUND {
            times[pair].push(time_pair(pair));
        }
    }
}

/// The mean pair, in nanoseconds, and how many pairs were set aside as interrupted: those
/// over [`INTERRUPTED`] times the median. No path of either kind takes that long: the
/// slowest is one more system call, about a microsecond. An interrupt or a preemption takes
/// 20 us to 2 ms, and about 1 pair in 800 of each kind meets one: one such pair moved a
/// round's mean by up to 30%.
fn mean_uninterrupted(times: &mut [u64]) -> (f64, usize) {
    times.sort_unstable();
    let limit = times[times.len() / 2] * INTERRUPTED;
    let kept = times.partition_point(|&t| t <= limit);
    let sum: u64 = times[..kept].iter().sum();
    (sum as f64 / kept as f64, times.len() - kept)
}

/// What one of B1's side-by-side measures found, by kind.
struct Measured {
    /// The mean pairs of the round whose ratio (chunk over raw) is the median.
    means: [f64; 2],
    /// The pairs set aside as interrupted, in all rounds.
    set_aside: [usize; 2],
}

/// B1's two side-by-side measures: ROUNDS rounds of `round`. A round's two means are
/// measured within milliseconds of each other, so the machine's slower drift cancels in its
/// ratio.
fn b1_rounds(mut round: impl FnMut(&mut PairTimes, usize)) -> Measured {
    let mut times: PairTimes = [Vec::with_capacity(ROUND), Vec::with_capacity(ROUND)];
    let mut set_aside = [0; 2];
    let mut rounds: Vec<[f64; 2]> = (0..ROUNDS)
        .map(|r| {
            round(&mut times, r);
            [CHUNK, RAW].map(|pair| {
                let (mean, interrupted) = mean_uninterrupted(&mut times[pair]);
                set_aside[pair] += interrupted;
                times[pair].clear();
                mean
            })
        })
        .collect();
    rounds.sort_by(|a, b| (a[CHUNK] / a[RAW]).total_cmp(&(b[CHUNK] / b[RAW])));
    Measured {
        means: rounds[ROUNDS / 2],
        set_aside,
    }
}

/// B1 in criterion's report (each iteration one pair of each kind, so that the machine's
/// drift cancels: the same pair took 5.6 us one minute and 7.4 us the next here), then the two
/// side-by-side measures the table reports, as `paired:` lines.
///
/// The two measures see different things. Interleaved, each pair follows a pair of the other
/// kind, so both find the caches and the branch predictors as the other left them. In
/// batches, each kind follows itself, as in a program that maps and unmaps in a loop.
/// BENCHMARKS.md says what each showed.
fn b1_one_mib(c: &mut Criterion) {
    let mut group = c.benchmark_group("B1 1 MiB chunk");
    group.bench_function("mem_chunk+release_chunk", |b| {
        b.iter_custom(|iters| interleaved(iters, CHUNK, RAW).0);
    });
    group.bench_function("raw mmap+munmap", |b| {
        b.iter_custom(|iters| interleaved(iters, RAW, CHUNK).0);
    });
    group.finish();
    let mut coin = Xorshift::new();
    let measures = [
        (
            "B1",
            b1_rounds(|times, _| interleaved_round(times, &mut coin)),
        ),
        ("B1b", b1_rounds(batches_round)),
    ];
    for (id, measured) in measures {
        let ([chunk, raw], [chunk_aside, raw_aside]) = (measured.means, measured.set_aside);
        println!("paired: {id} {chunk:.1} {raw:.1}");
        println!(
            "{id}: of {ROUNDS} rounds of {ROUND} pairs of each kind, set aside as interrupted: {chunk_aside} chunk pairs, {raw_aside} raw pairs"
        );
    }
}

fn b2_stream(c: &mut Criterion) {
    let mut group = c.benchmark_group("B2 stream of 100000 64-byte requests, new process");
    group
        .sample_size(20)
        .throughput(Throughput::Elements(STREAM as u64));
    group.bench_function("mem_chunk(64)", |b| {
        b.iter_custom(|iters| stream_in_new_processes("mem_chunk", iters));
    });
    group.bench_function("glibc malloc(64) without free", |b| {
        b.iter_custom(|iters| stream_in_new_processes("malloc", iters));
    });
    group.finish();
}

/// `n` addresses inside chunks of `live`, the same every run.
fn addresses(live: &[(usize, usize)], n: usize) -> Vec<usize> {
    let mut random = Xorshift::new();
    (0..n)
        .map(|_| {
            let seed = random.next();
            let (start, len) = live[seed as usize % live.len()];
            start + (seed >> 32) as usize % len
        })
        .collect()
}

fn b3_find(c: &mut Criterion) {
    let mut group = c.benchmark_group("B3 find_chunk of a random interior address");
    for count in [100_000usize, 100] {
        let live: Vec<(usize, usize)> = (0..count)
            .map(|_| (mem_chunk(64).expect("mem_chunk").as_ptr() as usize, 64))
            .collect();
        let probes = addresses(&live, 4096);
        group.bench_function(format!("{count} live chunks"), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % probes.len();
                black_box(find_chunk(probes[i] as *const u8))
            });
        });
        for (start, _) in live {
            let p = std::ptr::NonNull::new(start as *mut u8).expect("non-null");
            release_chunk(p).expect("release_chunk");
        }
    }
    group.finish();
}

const PAIRS: u64 = 20_000;

/// `threads` threads each make `PAIRS / threads` pairs of mem_chunk(64) + release_chunk;
/// returns the time until all are done.
fn churn(threads: u64) -> Duration {
    let start = Arc::new(Barrier::new(threads as usize + 1));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                // Keep a few live so that releases free real neighbours, not only the top.
                let mut keep = [None; 8];
                start.wait();
                for i in 0..PAIRS / threads {
                    let p = mem_chunk(64).expect("mem_chunk");
                    if let Some(old) = keep[i as usize % 8].replace(p) {
                        release_chunk(old).expect("release_chunk");
                    }
                }
                for p in keep.into_iter().flatten() {
                    release_chunk(p).expect("release_chunk");
                }
            })
        })
        .collect();
    start.wait();
    let started = Instant::now();
    for w in workers {
        w.join().expect("a worker panicked");
    }
    started.elapsed()
}

fn b7_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("B7 small-chunk throughput");
    group.throughput(Throughput::Elements(PAIRS));
    for threads in [2u64, 1] {
        group.bench_function(format!("{threads} threads"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| churn(threads)).sum());
        });
    }
    group.finish();
}

fn main() {
    if let Ok(kind) = std::env::var(STREAM_VAR) {
        stream_child(&kind);
        return;
    }
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    b1_one_mib(&mut c);
    b2_stream(&mut c);
    b3_find(&mut c);
    b7_threads(&mut c);
    c.final_summary();
}
