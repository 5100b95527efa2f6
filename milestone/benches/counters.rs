//! Counted figures for BENCHMARKS.md, from `chunk_stats()`; deterministic, so one run is enough.
//! Prints one `counter: ID VALUE GOAL` line each for `cargo xtask bench`.
//!
//! - B4 `brk` system calls per MiB of 64-byte chunks.
//! - B5 registry bytes per live chunk at 100,000 chunks.
//! - B6 memory held from the OS under random churn, against the peak of live bytes.
//! - B8 the registry's own bytes while at most 100 chunks are live.

use std::ptr::NonNull;

use milestone::{ChunkManager, Policy, chunk_stats, mem_chunk, release_chunk};

#[path = "../tests/common/mod.rs"]
mod common;

fn release(ptrs: impl IntoIterator<Item = NonNull<u8>>) {
    for p in ptrs {
        release_chunk(p).expect("release_chunk");
    }
}

/// B8: a registry of its own (the global one keeps the pages of its peak, which the figures
/// below raise), under random churn of at most 100 live chunks of sizes from 1 byte to 1 MiB,
/// sbrk and mmap alike; returns the most bytes it ever mapped for itself.
fn registry_bytes_with_100_live() -> usize {
    let mut manager = ChunkManager::new(Policy::glibc());
    let mut rng = common::Rng(0x9e37_79b9_7f4a_7c15);
    let mut live: Vec<NonNull<u8>> = Vec::new();
    let mut most = 0;
    for _ in 0..20_000 {
        if live.len() < 100 && (live.is_empty() || rng.below(100) < 55) {
            live.push(manager.chunk(rng.size()).expect("chunk"));
        } else {
            let p = live.swap_remove(rng.below(live.len()));
            manager.release(p).expect("release");
        }
        most = most.max(manager.stats().registry_bytes);
    }
    for p in live {
        manager.release(p).expect("release");
    }
    most
}

fn main() {
    // Criterion-style arguments (`--bench`) are ignored: this binary only counts.
    let b8 = registry_bytes_with_100_live();
    println!("counter: B8 {b8} registry bytes at most, with at most 100 live chunks");

    let before = chunk_stats();
    let mib: Vec<_> = (0..(1 << 20) / 64)
        .map(|_| mem_chunk(64).expect("mem_chunk"))
        .collect();
    let brk_per_mib = chunk_stats().brk_calls - before.brk_calls;
    release(mib);
    println!("counter: B4 {brk_per_mib} brk calls per MiB of 64-byte chunks");

    let many: Vec<_> = (0..100_000)
        .map(|_| mem_chunk(64).expect("mem_chunk"))
        .collect();
    let s = chunk_stats();
    let per_chunk = s.registry_bytes as f64 / s.count as f64;
    release(many);
    println!("counter: B5 {per_chunk:.2} registry bytes per live chunk at 100000 chunks");

    // Random churn: sizes log-uniform from 1 byte to 1 MiB; the number of live chunks wanders
    // between 0 and 2,000, so the live bytes rise and fall.
    let mut rng = common::Rng(0x2545_f491_4f6c_dd1d);
    let mut live: Vec<(NonNull<u8>, usize)> = Vec::new();
    let (mut live_bytes, mut peak) = (0usize, 0usize);
    let (mut worst_ratio, mut worst_held, mut within) = (0f64, 0usize, true);
    for step in 0..200_000u64 {
        // Drift up for 20,000 steps, then down, then up again.
        let up = (step / 20_000) % 2 == 0;
        let share = if up { 60 } else { 40 };
        let request = live.is_empty() || (live.len() < 2_000 && rng.below(100) < share);
        if request {
            let size = rng.size();
            live.push((mem_chunk(size).expect("mem_chunk"), size));
            live_bytes += size;
            peak = peak.max(live_bytes);
        } else {
            let (p, size) = live.swap_remove(rng.below(live.len()));
            release_chunk(p).expect("release_chunk");
            live_bytes -= size;
        }
        let held = chunk_stats().held_bytes;
        within &= held <= 2 * peak + (1 << 20);
        let ratio = held as f64 / peak as f64;
        if ratio > worst_ratio && peak >= 1 << 20 {
            worst_ratio = ratio;
            worst_held = held;
        }
    }
    release(live.into_iter().map(|(p, _)| p));
    println!(
        "counter: B6 {worst_ratio:.3} x peak live bytes at worst (held {worst_held} bytes; peak live {peak} bytes; within 2 x peak + 1 MiB at every step: {within})"
    );
}
