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

/// Runs `measured` then `other`, `iters` times; returns the time of each, in that order.
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

/// The time of `iters` pairs of one kind in a row.
fn batch(iters: u64, pair: usize) -> Duration {
    let started = Instant::now();
    for _ in 0..iters {
        PAIRS_OF[pair]();
    }
    started.elapsed()
}

/// Pairs of each kind in one round of B1's side-by-side measures.
const ROUND: u64 = 2_000;
/// Rounds of each measure; B1 reports the median one.
const ROUNDS: usize = 7;

/// One round, interleaved: ROUND pairs of each kind, one of each in turn, each kind first in
/// half of them. Returns the mean of a chunk pair and of a raw pair, in nanoseconds.
fn interleaved_round() -> [f64; 2] {
    let (chunk_first, raw_second) = interleaved(ROUND / 2, CHUNK, RAW);
    let (raw_first, chunk_second) = interleaved(ROUND / 2, RAW, CHUNK);
    let mean = |total: Duration| total.as_nanos() as f64 / ROUND as f64;
    [
        mean(chunk_first + chunk_second),
        mean(raw_first + raw_second),
    ]
}

/// One round in batches: ROUND chunk pairs in a row and ROUND raw pairs in a row, the kind
/// that goes first alternating from round to round. Returns the two means, as above.
fn batches_round(round: usize) -> [f64; 2] {
    let mut means = [0.0; 2];
    for pair in [round % 2, 1 - round % 2] {
        means[pair] = batch(ROUND, pair).as_nanos() as f64 / ROUND as f64;
    }
    means
}

/// The round, of ROUNDS, whose ratio (chunk over raw) is the median. A round's two means are
/// measured within milliseconds of each other, so the machine's slower drift cancels in its
/// ratio, and the median sets aside the rounds that a burst of other work hit on one side.
fn median_round(mut round: impl FnMut(usize) -> [f64; 2]) -> [f64; 2] {
    let mut rounds: Vec<[f64; 2]> = (0..ROUNDS).map(&mut round).collect();
    rounds.sort_by(|a, b| (a[CHUNK] / a[RAW]).total_cmp(&(b[CHUNK] / b[RAW])));
    rounds[ROUNDS / 2]
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
    let [chunk, raw] = median_round(|_| interleaved_round());
    println!("paired: B1 {chunk:.1} {raw:.1}");
    let [chunk, raw] = median_round(batches_round);
    println!("paired: B1b {chunk:.1} {raw:.1}");
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

/// xorshift: the same addresses every run, no dependency.
fn addresses(live: &[(usize, usize)], n: usize) -> Vec<usize> {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
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
