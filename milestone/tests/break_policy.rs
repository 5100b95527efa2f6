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
use common::{Failed, Outcome, Rng, ensure_break_at, fill, holds};

fn chunks_of(m: &ChunkManager) -> Vec<Chunk> {
    let mut all = Vec::new();
    m.for_each(|c| all.push(*c));
    all
}

/// Live chunks are in address order and never overlap.
fn disjoint(m: &ChunkManager) -> Outcome {
    let all = chunks_of(m);
    for pair in all.windows(2) {
        assert!(
            pair[0].end() <= pair[1].start().as_ptr() as usize,
            "{:x?} overlaps {:x?}",
            pair[0],
            pair[1]
        );
    }
    m.check_invariants().map_err(Failed::from)
}

fn release_all(m: &mut ChunkManager) -> Outcome {
    for chunk in chunks_of(m) {
        m.release(chunk.start())?;
    }
    Ok(())
}

fn small_chunks_share_one_break_step() -> Outcome {
    let start = sys::program_break() as usize;
    let mut m = ChunkManager::new(Policy::glibc());
    let mut ptrs = Vec::new();
    for k in 0..100 {
        let p = m.chunk(64)?;
        fill(p, 64, k);
        ptrs.push(p);
    }
    let s = m.stats();
    assert!(s.brk_calls == 1, "{} brk calls for 100 chunks", s.brk_calls);
    assert!(s.held_bytes == BREAK_STEP, "held {}", s.held_bytes);
    assert!((s.sbrk_count, s.sbrk_bytes) == (100, 6400), "{s:?}");
    for (k, p) in ptrs.iter().enumerate() {
        assert!(
            (p.as_ptr() as usize).is_multiple_of(16),
            "{p:?} not 16-aligned"
        );
        assert!(holds(*p, 64, k as u64), "chunk {k} was overwritten");
    }
    assert!(ptrs[0].as_ptr() as usize >= start, "below the old break");
    let map = MemoryMap::read_self()?;
    let region = map.region_of(ptrs[50].as_ptr() as usize).map(|r| r.kind);
    assert!(region == Some(RegionKind::Heap), "in {region:?}");
    disjoint(&m)?;
    release_all(&mut m)?;
    ensure_break_at(start)?;
    assert!(m.stats().held_bytes == 0, "{:?}", m.stats());
    Ok(())
}

fn the_threshold_splits_break_and_mmap() -> Outcome {
    let mut m = ChunkManager::new(Policy::glibc());
    let below = m.chunk(Policy::DEFAULT_MMAP_THRESHOLD - 1)?;
    let at = m.chunk(Policy::DEFAULT_MMAP_THRESHOLD)?;
    let source = |p: NonNull<u8>| m.find(p.as_ptr()).map(|c| c.source());
    assert!(source(below) == Some(Source::Sbrk), "below went elsewhere");
    assert!(source(at) == Some(Source::Mmap), "at went elsewhere");
    assert!(
        (at.as_ptr() as usize).is_multiple_of(sys::page_size()),
        "not page aligned"
    );
    let chunk = m.find(at.as_ptr()).ok_or("not found")?;
    assert!(chunk.len() == Policy::DEFAULT_MMAP_THRESHOLD, "{chunk:?}");
    let map = MemoryMap::read_self()?;
    let kind = map.region_of(at.as_ptr() as usize).map(|r| r.kind);
    assert!(kind == Some(RegionKind::Anonymous), "{kind:?}");
    let mut lower = ChunkManager::new(Policy::with_threshold(4096));
    let p = lower.chunk(4096)?;
    assert!(
        lower.find(p.as_ptr()).map(|c| c.source()) == Some(Source::Mmap),
        "threshold 4096 did not map 4096"
    );
    release_all(&mut lower)?;
    let mut only = ChunkManager::new(Policy::mmap_only());
    let p = only.chunk(16)?;
    assert!(
        only.find(p.as_ptr()).map(|c| c.source()) == Some(Source::Mmap),
        "mmap_only used the break"
    );
    assert!(only.stats().brk_calls == 0, "mmap_only called brk");
    release_all(&mut only)?;
    m.release(at)?;
    let map = MemoryMap::read_self()?;
    assert!(
        map.region_of(at.as_ptr() as usize).is_none(),
        "still mapped"
    );
    release_all(&mut m)
}

fn released_memory_is_coalesced_and_reused() -> Outcome {
    let mut m = ChunkManager::new(Policy::glibc());
    let a = m.chunk(1000)?;
    let b = m.chunk(1000)?;
    let c = m.chunk(1000)?;
    let keep = m.chunk(1000)?;
    fill(keep, 1000, 9);
    m.release(a)?;
    m.release(c)?;
    m.release(b)?;
    // a, b and c (1008 bytes each) are now one free extent of 3024 bytes.
    assert!(m.stats().free_bytes >= 3024, "{:?}", m.stats());
    let big = m.chunk(3000)?;
    assert!(big == a, "3000 bytes at {big:?}, not in the freed {a:?}");
    assert!(holds(keep, 1000, 9), "the kept chunk changed");
    let s = m.stats();
    assert!(s.brk_calls == 1, "{} brk calls", s.brk_calls);
    disjoint(&m)?;
    release_all(&mut m)
}

fn a_free_extent_is_split_and_the_rest_stays_free() -> Outcome {
    let mut m = ChunkManager::new(Policy::glibc());
    let a = m.chunk(4096)?;
    let _keep = m.chunk(16)?;
    m.release(a)?;
    let first = m.chunk(100)?;
    let second = m.chunk(100)?;
    assert!(first == a, "the first did not reuse");
    assert!(
        second.as_ptr() as usize == a.as_ptr() as usize + 112,
        "{second:?} is not right after {first:?}"
    );
    disjoint(&m)?;
    release_all(&mut m)
}

fn unused_top_memory_is_trimmed() -> Outcome {
    let start = sys::program_break() as usize;
    let mut m = ChunkManager::new(Policy::glibc());
    let mut ptrs = Vec::new();
    for _ in 0..20 {
        ptrs.push(m.chunk(100 * 1024)?);
    }
    let peak = m.stats().held_bytes;
    assert!(peak >= 20 * 100 * 1024, "held {peak}");
    for p in ptrs.drain(1..).rev() {
        m.release(p)?;
    }
    let s = m.stats();
    let brk = sys::program_break() as usize;
    // One chunk of 100 KiB stays, plus at most a trim threshold of unused top.
    assert!(
        s.held_bytes <= 100 * 1024 + milestone::TRIM_THRESHOLD + 4096,
        "still holding {} bytes",
        s.held_bytes
    );
    assert!(
        brk - start == s.held_bytes,
        "break grew by {}, held {}",
        brk - start,
        s.held_bytes
    );
    release_all(&mut m)?;
    ensure_break_at(start)
}

fn a_foreign_sbrk_is_never_overlapped_or_shrunk() -> Outcome {
    let start = sys::program_break() as usize;
    let mut m = ChunkManager::new(Policy::glibc());
    let first = m.chunk(1000)?;
    // Someone else grows the break above our break span and writes there.
    let foreign = sys::sbrk(4096 + 24)? as usize;
    let foreign_end = foreign + 4096 + 24;
    let foreign_ptr = NonNull::new(foreign as *mut u8).ok_or("null")?;
    fill(foreign_ptr, 4096 + 24, 77);
    // Our break span's unused top is reused first, then the break must grow past theirs.
    let mut ptrs = vec![first];
    for _ in 0..40 {
        ptrs.push(m.chunk(8000)?);
    }
    let s = m.stats();
    assert!(s.foreign_break_moves == 1, "{s:?}");
    for c in chunks_of(&m) {
        let (a, b) = (c.start().as_ptr() as usize, c.end());
        assert!(
            b <= foreign || a >= foreign_end,
            "{a:#x}-{b:#x} overlaps the foreign {foreign:#x}-{foreign_end:#x}"
        );
    }
    disjoint(&m)?;
    release_all(&mut m)?;
    assert!(holds(foreign_ptr, 4096 + 24, 77), "foreign memory changed");
    // The break is back at the end of the foreign memory, not below it.
    ensure_break_at(foreign_end)?;
    // The first break span, below the foreign memory, cannot go back; it stays held, all free,
    // and is reused.
    let again = m.chunk(1000)?;
    assert!(again == first, "{again:?} did not reuse {first:?}");
    release_all(&mut m)?;
    // SAFETY: the foreign memory is this test's own, and the break is at its end.
    unsafe { sys::sbrk_shrink(foreign_end as *mut u8, 4096 + 24) }?;
    assert!(sys::program_break() as usize >= start, "below the start");
    Ok(())
}

fn errors_change_nothing() -> Outcome {
    let mut m = ChunkManager::new(Policy::glibc());
    let live = m.chunk(256)?;
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
        assert!(got.as_ref().is_err_and(expected), "{size}: {got:?}");
        let after = m.stats();
        assert!(
            (after.count, after.bytes, after.held_bytes, after.brk_calls)
                == (
                    before.count,
                    before.bytes,
                    before.held_bytes,
                    before.brk_calls,
                ),
            "{size} changed {before:?} to {after:?}"
        );
    }
    let interior = NonNull::new(live.as_ptr().wrapping_add(16)).ok_or("null")?;
    let unknown = NonNull::new(0x1000 as *mut u8).ok_or("null")?;
    for p in [interior, unknown] {
        let got = m.release(p);
        assert!(
            got == Err(ChunkError::NotAChunk {
                addr: p.as_ptr() as usize,
            }),
            "{p:?}: {got:?}"
        );
    }
    m.release(live)?;
    let twice = m.release(live);
    assert!(
        matches!(twice, Err(ChunkError::NotAChunk { .. })),
        "{twice:?}"
    );
    assert!(
        m.find(live.as_ptr()).is_none(),
        "a released chunk was found"
    );
    Ok(())
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
    assert!(got as usize == wall, "could not place the wall: {got:?}");
    let mut m = ChunkManager::new(Policy::glibc());
    let p = m.chunk(64);
    let outcome = (|| {
        let p = p?;
        let chunk = m.find(p.as_ptr()).ok_or("not found")?;
        assert!(chunk.source() == Source::Mmap, "{chunk:?}");
        assert!(m.stats().sbrk_fallbacks == 1, "{:?}", m.stats());
        fill(p, 64, 3);
        assert!(holds(p, 64, 3), "unwritable");
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
            let p = m.chunk(size)?;
            live.push((p, size));
            live_bytes += size;
            peak = peak.max(live_bytes);
        } else {
            let (p, size) = live.swap_remove(rng.below(live.len()));
            m.release(p)?;
            live_bytes -= size;
        }
        let held = m.stats().held_bytes;
        assert!(
            held <= 2 * peak + (1 << 20),
            "step {step}: held {held} bytes, peak live {peak}"
        );
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
                let at = sys::sbrk(len)?;
                let p = NonNull::new(at).ok_or("null")?;
                fill(p, len, seed);
                foreign.push((p, len, seed));
            }
            1..=5 => {
                let size = 1 + rng.below(200_000);
                let p = m.chunk(size)?;
                let len = m.find(p.as_ptr()).ok_or("not found")?.len();
                fill(p, len, seed);
                live.push((p, len, seed));
            }
            _ if !live.is_empty() => {
                let (p, len, s) = live.swap_remove(rng.below(live.len()));
                assert!(holds(p, len, s), "step {step}: a chunk changed");
                m.release(p)?;
            }
            _ => {}
        }
        break_above(&foreign).map_err(|e| format!("step {step}: {e}"))?;
    }
    for c in chunks_of(&m) {
        let (a, b) = (c.start().as_ptr() as usize, c.end());
        for (p, len, _) in &foreign {
            let (fa, fb) = (p.as_ptr() as usize, p.as_ptr() as usize + len);
            assert!(
                b <= fa || a >= fb,
                "{a:#x}-{b:#x} overlaps foreign {fa:#x}-{fb:#x}"
            );
        }
    }
    disjoint(&m)?;
    assert!(
        m.stats().foreign_break_moves > 0,
        "no foreign move was noticed"
    );
    for (p, len, s) in live.drain(..) {
        assert!(holds(p, len, s), "a chunk changed");
        m.release(p)?;
    }
    for (p, len, s) in &foreign {
        assert!(holds(*p, *len, *s), "foreign memory at {p:?} changed");
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
