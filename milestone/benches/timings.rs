//! Timed figures for BENCHMARKS.md, each beside its baseline in the same criterion group, so
//! that the report shows them side by side and `cargo xtask bench` can take their ratio.
//!
//! - B1 `mem_chunk(1 MiB)` + `release_chunk` against a raw `mmap` + `munmap` of 1 MiB.
//! - B2 a stream of 100,000 `mem_chunk(64)` in a fresh process against 100,000 glibc
//!   `malloc(64)` without free in a fresh process. Each sample runs the stream in a new child
//!   process (this binary, run again with `BENCH_STREAM` set), which times itself.
//! - B3 `find_chunk` of a random interior address with 100,000 live chunks against 100.
//! - B7 small-chunk throughput (`mem_chunk(64)` + `release_chunk`) with two threads both
//!   calling against one thread.

use std::hint::black_box;
use std::process::Command;
use std::sync::{Arc, Barrier, Mutex};
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

/// Both pairs' total times and counts, over every iteration of both B1 benchmarks: each
/// iteration runs one pair of each, so this ratio is measured side by side, call for call.
static PAIRED: Mutex<[(Duration, u64); 2]> = Mutex::new([(Duration::ZERO, 0); 2]);
const CHUNK: usize = 0;
const RAW: usize = 1;

/// Times `measured`, then `other`, once per iteration; returns the time of `measured` for
/// criterion and adds both to PAIRED. Both benchmarks then see the same mix of calls, so the
/// machine's drift (the same pair took 5.6 us one minute and 7.4 us the next here) cancels in
/// the paired ratio.
fn interleaved(iters: u64, measured: usize, other: usize) -> Duration {
    let pairs = [chunk_pair as fn(), raw_pair as fn()];
    let (mut mine, mut theirs) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..iters {
        let started = Instant::now();
        pairs[measured]();
        let middle = Instant::now();
        pairs[other]();
        mine += middle - started;
        theirs += middle.elapsed();
    }
    let mut paired = PAIRED.lock().expect("PAIRED");
    paired[measured].0 += mine;
    paired[measured].1 += iters;
    paired[other].0 += theirs;
    paired[other].1 += iters;
    mine
}

fn b1_one_mib(c: &mut Criterion) {
    let mut group = c.benchmark_group("B1 1 MiB chunk");
    group.bench_function("mem_chunk+release_chunk", |b| {
        b.iter_custom(|iters| interleaved(iters, CHUNK, RAW));
    });
    group.bench_function("raw mmap+munmap", |b| {
        b.iter_custom(|iters| interleaved(iters, RAW, CHUNK));
    });
    group.finish();
    let paired = *PAIRED.lock().expect("PAIRED");
    let mean = |(total, count): (Duration, u64)| total.as_nanos() as f64 / count.max(1) as f64;
    println!(
        "paired: B1 {:.1} {:.1}",
        mean(paired[CHUNK]),
        mean(paired[RAW])
    );
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
