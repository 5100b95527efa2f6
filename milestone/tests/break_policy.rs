//! How `mem_chunk` uses the program break: steps, reuse, coalescing, trimming, giving
//! everything back, someone else moving the break, and falling back to `mmap`.
//!
//! This is a test binary of its own with `harness = false` (see Cargo.toml): its tests run one
//! after another on the main thread, because they move the program break, and glibc's `sbrk`
//! must not run on two threads at once. Each test uses a `ChunkManager` of its own and gives
//! back everything it took.

use std::ptr::NonNull;

use memcore::{MemoryMap, RegionKind, sys};
use milestone::{BREAK_STEP, Chunk, ChunkError, ChunkManager, Errno, Policy, Source};

mod common;
use common::{Failed, Outcome, Rng, ensure, ensure_break_at, fill, holds};

fn chunks_of(m: &ChunkManager) -> Vec<Chunk> {
    let mut all = Vec::new();
    m.for_each(|c| all.push(*c));
    all
}

/// Live chunks are in address order and never overlap.
fn disjoint(m: &ChunkManager) -> Outcome {
    let all = chunks_of(m);
    for pair in all.windows(2) {
        ensure(pair[0].end() <= pair[1].start().as_ptr() as usize, || {
            format!("{:x?} overlaps {:x?}", pair[0], pair[1])
        })?;
    }
    m.check_invariants().map_err(Failed::from)
}

fn release_all(m: &mut ChunkManager) -> Outcome {
    for chunk in chunks_of(m) {
        m.release(chunk.start()).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn small_chunks_share_one_break_step() -> Outcome {
    let start = sys::program_break() as usize;
    let mut m = ChunkManager::new(Policy::glibc());
    let mut ptrs = Vec::new();
    for k in 0..100 {
        let p = m.chunk(64).map_err(|e| e.to_string())?;
        fill(p, 64, k);
        ptrs.push(p);
    }
    let s = m.stats();
    ensure(s.brk_calls == 1, || {
        format!("{} brk calls for 100 chunks", s.brk_calls)
    })?;
    ensure(s.held_bytes == BREAK_STEP, || {
        format!("held {}", s.held_bytes)
    })?;
    ensure((s.sbrk_count, s.sbrk_bytes) == (100, 6400), || {
        format!("{s:?}")
    })?;
    for (k, p) in ptrs.iter().enumerate() {
        ensure((p.as_ptr() as usize).is_multiple_of(16), || {
            format!("{p:?} not 16-aligned")
        })?;
        ensure(holds(*p, 64, k as u64), || {
            format!("chunk {k} was overwritten")
        })?;
    }
    ensure(ptrs[0].as_ptr() as usize >= start, || {
        "below the old break".into()
    })?;
    let map = MemoryMap::read_self().map_err(|e| e.to_string())?;
    let region = map.region_of(ptrs[50].as_ptr() as usize).map(|r| r.kind);
    ensure(region == Some(RegionKind::Heap), || {
        format!("in {region:?}")
    })?;
    disjoint(&m)?;
    release_all(&mut m)?;
    ensure_break_at(start)?;
    ensure(m.stats().held_bytes == 0, || format!("{:?}", m.stats()))
}

fn the_threshold_splits_break_and_mmap() -> Outcome {
    let mut m = ChunkManager::new(Policy::glibc());
    let below = m
        .chunk(Policy::DEFAULT_MMAP_THRESHOLD - 1)
        .map_err(|e| e.to_string())?;
    let at = m
        .chunk(Policy::DEFAULT_MMAP_THRESHOLD)
        .map_err(|e| e.to_string())?;
    let source = |p: NonNull<u8>| m.find(p.as_ptr()).map(|c| c.source());
    ensure(source(below) == Some(Source::Sbrk), || {
        "below went elsewhere".into()
    })?;
    ensure(source(at) == Some(Source::Mmap), || {
        "at went elsewhere".into()
    })?;
    ensure(
        (at.as_ptr() as usize).is_multiple_of(sys::page_size()),
        || "not page aligned".into(),
    )?;
    let chunk = m.find(at.as_ptr()).ok_or("not found")?;
    ensure(chunk.len() == Policy::DEFAULT_MMAP_THRESHOLD, || {
        format!("{chunk:?}")
    })?;
    let map = MemoryMap::read_self().map_err(|e| e.to_string())?;
    let kind = map.region_of(at.as_ptr() as usize).map(|r| r.kind);
    ensure(kind == Some(RegionKind::Anonymous), || format!("{kind:?}"))?;
    let mut lower = ChunkManager::new(Policy::with_threshold(4096));
    let p = lower.chunk(4096).map_err(|e| e.to_string())?;
    ensure(
        lower.find(p.as_ptr()).map(|c| c.source()) == Some(Source::Mmap),
        || "threshold 4096 did not map 4096".into(),
    )?;
    release_all(&mut lower)?;
    let mut only = ChunkManager::new(Policy::mmap_only());
    let p = only.chunk(16).map_err(|e| e.to_string())?;
    ensure(
        only.find(p.as_ptr()).map(|c| c.source()) == Some(Source::Mmap),
        || "mmap_only used the break".into(),
    )?;
    ensure(only.stats().brk_calls == 0, || {
        "mmap_only called brk".into()
    })?;
    release_all(&mut only)?;
    m.release(at).map_err(|e| e.to_string())?;
    let map = MemoryMap::read_self().map_err(|e| e.to_string())?;
    ensure(map.region_of(at.as_ptr() as usize).is_none(), || {
        "still mapped".into()
    })?;
    release_all(&mut m)
}

fn released_memory_is_coalesced_and_reused() -> Outcome {
    let mut m = ChunkManager::new(Policy::glibc());
    let a = m.chunk(1000).map_err(|e| e.to_string())?;
    let b = m.chunk(1000).map_err(|e| e.to_string())?;
    let c = m.chunk(1000).map_err(|e| e.to_string())?;
    let keep = m.chunk(1000).map_err(|e| e.to_string())?;
    fill(keep, 1000, 9);
    m.release(a).map_err(|e| e.to_string())?;
    m.release(c).map_err(|e| e.to_string())?;
    m.release(b).map_err(|e| e.to_string())?;
    // a, b and c (1008 bytes each) are now one free extent of 3024 bytes.
    ensure(m.stats().free_bytes >= 3024, || format!("{:?}", m.stats()))?;
    let big = m.chunk(3000).map_err(|e| e.to_string())?;
    ensure(big == a, || {
        format!("3000 bytes at {big:?}, not in the freed {a:?}")
    })?;
    ensure(holds(keep, 1000, 9), || "the kept chunk changed".into())?;
    let s = m.stats();
    ensure(s.brk_calls == 1, || format!("{} brk calls", s.brk_calls))?;
    disjoint(&m)?;
    release_all(&mut m)
}

fn a_free_extent_is_split_and_the_rest_stays_free() -> Outcome {
    let mut m = ChunkManager::new(Policy::glibc());
    let a = m.chunk(4096).map_err(|e| e.to_string())?;
    let _keep = m.chunk(16).map_err(|e| e.to_string())?;
    m.release(a).map_err(|e| e.to_string())?;
    let first = m.chunk(100).map_err(|e| e.to_string())?;
    let second = m.chunk(100).map_err(|e| e.to_string())?;
    ensure(first == a, || "the first did not reuse".into())?;
    ensure(
        second.as_ptr() as usize == a.as_ptr() as usize + 112,
        || format!("{second:?} is not right after {first:?}"),
    )?;
    disjoint(&m)?;
    release_all(&mut m)
}

fn unused_top_memory_is_trimmed() -> Outcome {
    let start = sys::program_break() as usize;
    let mut m = ChunkManager::new(Policy::glibc());
    let mut ptrs = Vec::new();
    for _ in 0..20 {
        ptrs.push(m.chunk(100 * 1024).map_err(|e| e.to_string())?);
    }
    let peak = m.stats().held_bytes;
    ensure(peak >= 20 * 100 * 1024, || format!("held {peak}"))?;
    for p in ptrs.drain(1..).rev() {
        m.release(p).map_err(|e| e.to_string())?;
    }
    let s = m.stats();
    let brk = sys::program_break() as usize;
    // One chunk of 100 KiB stays, plus at most a trim threshold of unused top.
    ensure(
        s.held_bytes <= 100 * 1024 + milestone::TRIM_THRESHOLD + 4096,
        || format!("still holding {} bytes", s.held_bytes),
    )?;
    ensure(brk - start == s.held_bytes, || {
        format!("break grew by {}, held {}", brk - start, s.held_bytes)
    })?;
    release_all(&mut m)?;
    ensure_break_at(start)
}

fn a_foreign_sbrk_is_never_overlapped_or_shrunk() -> Outcome {
    let start = sys::program_break() as usize;
    let mut m = ChunkManager::new(Policy::glibc());
    let first = m.chunk(1000).map_err(|e| e.to_string())?;
    // Someone else grows the break above our segment and writes there.
    let foreign = sys::sbrk(4096 + 24).map_err(|e| e.to_string())? as usize;
    let foreign_end = foreign + 4096 + 24;
    let foreign_ptr = NonNull::new(foreign as *mut u8).ok_or("null")?;
    fill(foreign_ptr, 4096 + 24, 77);
    // Our segment's unused top is reused first, then the break must grow past theirs.
    let mut ptrs = vec![first];
    for _ in 0..40 {
        ptrs.push(m.chunk(8000).map_err(|e| e.to_string())?);
    }
    let s = m.stats();
    ensure(s.foreign_break_moves == 1, || format!("{s:?}"))?;
    for c in chunks_of(&m) {
        let (a, b) = (c.start().as_ptr() as usize, c.end());
        ensure(b <= foreign || a >= foreign_end, || {
            format!("{a:#x}-{b:#x} overlaps the foreign {foreign:#x}-{foreign_end:#x}")
        })?;
    }
    disjoint(&m)?;
    release_all(&mut m)?;
    ensure(holds(foreign_ptr, 4096 + 24, 77), || {
        "foreign memory changed".into()
    })?;
    // The break is back at the end of the foreign memory, not below it.
    ensure_break_at(foreign_end)?;
    // The first segment, below the foreign memory, cannot go back; it stays held, all free,
    // and is reused.
    let again = m.chunk(1000).map_err(|e| e.to_string())?;
    ensure(again == first, || {
        format!("{again:?} did not reuse {first:?}")
    })?;
    release_all(&mut m)?;
    // SAFETY: the foreign memory is this test's own, and the break is at its end.
    unsafe { sys::sbrk_shrink(foreign_end as *mut u8, 4096 + 24) }.map_err(|e| e.to_string())?;
    ensure(sys::program_break() as usize >= start, || {
        "below the start".into()
    })
}

fn errors_change_nothing() -> Outcome {
    let mut m = ChunkManager::new(Policy::glibc());
    let live = m.chunk(256).map_err(|e| e.to_string())?;
    let before = m.stats();
    type Expected = fn(&ChunkError) -> bool;
    let cases: [(usize, Expected); 4] = [
        (0, |e| *e == ChunkError::ZeroSize),
        (usize::MAX, |e| matches!(e, ChunkError::TooLarge { .. })),
        (isize::MAX as usize, |e| {
            matches!(e, ChunkError::TooLarge { .. })
        }),
        (1 << 46, |e| {
            matches!(
                e,
                ChunkError::Os {
                    call: "mmap",
                    errno: Errno::ENOMEM
                }
            )
        }),
    ];
    for (size, expected) in cases {
        let got = m.chunk(size);
        ensure(got.as_ref().is_err_and(expected), || {
            format!("{size}: {got:?}")
        })?;
        let after = m.stats();
        ensure(
            (after.count, after.bytes, after.held_bytes, after.brk_calls)
                == (
                    before.count,
                    before.bytes,
                    before.held_bytes,
                    before.brk_calls,
                ),
            || format!("{size} changed {before:?} to {after:?}"),
        )?;
    }
    let interior = NonNull::new(live.as_ptr().wrapping_add(16)).ok_or("null")?;
    let unknown = NonNull::new(0x1000 as *mut u8).ok_or("null")?;
    for p in [interior, unknown] {
        let got = m.release(p);
        ensure(
            got == Err(ChunkError::NotAChunk {
                addr: p.as_ptr() as usize,
            }),
            || format!("{p:?}: {got:?}"),
        )?;
    }
    m.release(live).map_err(|e| e.to_string())?;
    let twice = m.release(live);
    ensure(matches!(twice, Err(ChunkError::NotAChunk { .. })), || {
        format!("{twice:?}")
    })?;
    ensure(m.find(live.as_ptr()).is_none(), || {
        "a released chunk was found".into()
    })
}

fn a_refused_sbrk_falls_back_to_mmap() -> Outcome {
    // Block the break: map a page right above it, so the kernel cannot grow the heap.
    let page = sys::page_size();
    let brk = sys::program_break() as usize;
    let wall = brk.next_multiple_of(page) + page;
    // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping; the page is ours.
    let got = unsafe {
        libc::mmap(
            wall as *mut libc::c_void,
            page,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    ensure(got as usize == wall, || {
        format!("could not place the wall: {got:?}")
    })?;
    let mut m = ChunkManager::new(Policy::glibc());
    let p = m.chunk(64);
    let outcome = (|| {
        let p = p.map_err(|e| e.to_string())?;
        let chunk = m.find(p.as_ptr()).ok_or("not found")?;
        ensure(chunk.source() == Source::Mmap, || format!("{chunk:?}"))?;
        ensure(m.stats().sbrk_fallbacks == 1, || format!("{:?}", m.stats()))?;
        fill(p, 64, 3);
        ensure(holds(p, 64, 3), || "unwritable".into())?;
        release_all(&mut m)
    })();
    // SAFETY: the wall is the page mapped above, used by nothing.
    unsafe { libc::munmap(wall as *mut libc::c_void, page) };
    outcome
}

fn memory_held_stays_within_twice_the_peak_plus_1_mib_under_churn() -> Outcome {
    let start = sys::program_break() as usize;
    let mut m = ChunkManager::new(Policy::glibc());
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut live: Vec<(NonNull<u8>, usize)> = Vec::new();
    let (mut live_bytes, mut peak) = (0usize, 0usize);
    for step in 0..20_000 {
        if live.is_empty() || rng.below(100) < 55 {
            let size = rng.size();
            let p = m.chunk(size).map_err(|e| e.to_string())?;
            live.push((p, size));
            live_bytes += size;
            peak = peak.max(live_bytes);
        } else {
            let (p, size) = live.swap_remove(rng.below(live.len()));
            m.release(p).map_err(|e| e.to_string())?;
            live_bytes -= size;
        }
        let held = m.stats().held_bytes;
        ensure(held <= 2 * peak + (1 << 20), || {
            format!("step {step}: held {held} bytes, peak live {peak}")
        })?;
    }
    disjoint(&m)?;
    release_all(&mut m)?;
    ensure_break_at(start)
}

fn random_foreign_sbrk_calls_are_never_overlapped_or_shrunk() -> Outcome {
    let mut m = ChunkManager::new(Policy::glibc());
    let mut rng = Rng(0x5eed_f00d_dead_beef);
    let mut foreign: Vec<(NonNull<u8>, usize, u64)> = Vec::new();
    let mut live: Vec<(NonNull<u8>, usize, u64)> = Vec::new();
    let mut seed = 0u64;
    for step in 0..3_000 {
        seed += 1;
        match rng.below(10) {
            0 => {
                // Someone else grows the break, by any amount, and writes there.
                let len = 1 + rng.below(20_000);
                let at = sys::sbrk(len).map_err(|e| e.to_string())?;
                let p = NonNull::new(at).ok_or("null")?;
                fill(p, len, seed);
                foreign.push((p, len, seed));
            }
            1..=5 => {
                let size = 1 + rng.below(200_000);
                let p = m.chunk(size).map_err(|e| e.to_string())?;
                let len = m.find(p.as_ptr()).ok_or("not found")?.len();
                fill(p, len, seed);
                live.push((p, len, seed));
            }
            _ if !live.is_empty() => {
                let (p, len, s) = live.swap_remove(rng.below(live.len()));
                ensure(holds(p, len, s), || format!("step {step}: a chunk changed"))?;
                m.release(p).map_err(|e| e.to_string())?;
            }
            _ => {}
        }
        break_above(&foreign).map_err(|e| format!("step {step}: {e}"))?;
    }
    for c in chunks_of(&m) {
        let (a, b) = (c.start().as_ptr() as usize, c.end());
        for (p, len, _) in &foreign {
            let (fa, fb) = (p.as_ptr() as usize, p.as_ptr() as usize + len);
            ensure(b <= fa || a >= fb, || {
                format!("{a:#x}-{b:#x} overlaps foreign {fa:#x}-{fb:#x}")
            })?;
        }
    }
    disjoint(&m)?;
    ensure(m.stats().foreign_break_moves > 0, || {
        "no foreign move was noticed".into()
    })?;
    for (p, len, s) in live.drain(..) {
        ensure(holds(p, len, s), || "a chunk changed".into())?;
        m.release(p).map_err(|e| e.to_string())?;
    }
    for (p, len, s) in &foreign {
        ensure(holds(*p, *len, *s), || {
            format!("foreign memory at {p:?} changed")
        })?;
    }
    Ok(break_above(&foreign)?)
}

/// Fails if the program break lies below the end of any of the foreign memory.
fn break_above(foreign: &[(NonNull<u8>, usize, u64)]) -> Result<(), String> {
    let top = foreign
        .iter()
        .map(|(p, len, _)| p.as_ptr() as usize + len)
        .max();
    let brk = sys::program_break() as usize;
    match top {
        Some(top) if brk < top => Err(format!(
            "the break {brk:#x} fell below foreign memory ending at {top:#x}"
        )),
        _ => Ok(()),
    }
}

fn main() {
    let trials = trials![
        small_chunks_share_one_break_step,
        the_threshold_splits_break_and_mmap,
        released_memory_is_coalesced_and_reused,
        a_free_extent_is_split_and_the_rest_stays_free,
        unused_top_memory_is_trimmed,
        a_foreign_sbrk_is_never_overlapped_or_shrunk,
        errors_change_nothing,
        a_refused_sbrk_falls_back_to_mmap,
        memory_held_stays_within_twice_the_peak_plus_1_mib_under_churn,
        random_foreign_sbrk_calls_are_never_overlapped_or_shrunk,
    ];
    common::run(trials);
}
