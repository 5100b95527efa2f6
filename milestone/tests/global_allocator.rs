//! Proof that the allocator built on `mem_chunk` can carry a whole program: from the start of
//! each test on, every allocation of this test binary, the test harness's included, is served
//! by the contract's allocator on this crate's `mem_chunk` (`milestone::contract::on_chunks`),
//! in 256 KiB chunks and chunks of their own for large blocks, each chunk given back with
//! `release_chunk` once its last block is freed, while several threads build, sort and drop
//! large collections and check their results.

use std::alloc::Layout;
use std::collections::BTreeMap;

use milestone::Source;
use milestone::contract::on_chunks::{self, Settings};
use milestone::contract::{CountingAllocator, library};
use milestone::find_chunk;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const SETTINGS: Settings = Settings {
    chunk: 256 * 1024,
    release: true,
};

/// Turns the allocator on (once for both tests, which run at the same time).
fn on_chunks() {
    on_chunks::start(library(), SETTINGS);
}

/// How many chunks the allocator holds now.
fn chunks_held() -> usize {
    let mut held = 0;
    on_chunks::for_each_chunk(|_, _| held += 1);
    held
}

const STRINGS: usize = 200_000;

fn workload(thread: usize) -> Result<(), String> {
    // Build in scrambled order, sort, and check the order and every value.
    let mut strings: Vec<String> = (0..STRINGS)
        .map(|i| format!("{:08}-thread-{thread}", (i * 7_919) % STRINGS))
        .collect();
    strings.sort();
    for (i, s) in strings.iter().enumerate() {
        if *s != format!("{i:08}-thread-{thread}") {
            return Err(format!("thread {thread}: position {i} holds {s}"));
        }
    }
    let map: BTreeMap<String, usize> = strings
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), i))
        .collect();
    drop(strings);
    for i in (0..STRINGS).step_by(101) {
        let key = format!("{i:08}-thread-{thread}");
        if map.get(&key) != Some(&i) {
            return Err(format!("thread {thread}: the map lost {key}"));
        }
    }
    if map.len() != STRINGS {
        return Err(format!("thread {thread}: {} entries", map.len()));
    }
    Ok(())
}

#[test]
fn several_threads_build_sort_and_drop_collections_on_mem_chunk() {
    on_chunks();
    let threads: Vec<_> = (0..4)
        .map(|t| std::thread::spawn(move || workload(t)))
        .collect();
    for t in threads {
        t.join().expect("a worker panicked").unwrap();
    }
    let seen = on_chunks::seen();
    assert_eq!(seen.refused, 0, "release_chunk refused a chunk: {seen:?}");
    assert!(
        !seen.reentered,
        "mem_chunk called the global allocator: {seen:?}"
    );
    assert!(!seen.full, "{seen:?}");
    // Chunks came and went by the score, each one taken is held or given back, and the
    // workers' memory went back with their collections.
    let held = chunks_held();
    assert!(seen.taken > 50, "{seen:?}");
    assert_eq!(seen.taken, seen.released + held, "{seen:?}");
    assert!(held < 16, "{held} chunks still held: {seen:?}");
    // A block between a quarter of a chunk and the library's mmap threshold has a chunk of
    // its own, from the break.
    let block: Vec<u8> = Vec::with_capacity(100_000);
    let chunk = find_chunk(block.as_ptr()).expect("the block is in a chunk");
    assert_eq!(chunk.source(), Source::Sbrk, "{chunk:?}");
}

#[test]
fn over_aligned_allocations_are_aligned_and_freed() {
    on_chunks();
    for align in [32, 64, 4096, 1 << 16, 1 << 21] {
        for size in [1, 100, 5000, 300_000] {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: the layout has a non-zero size.
            let p = unsafe { std::alloc::alloc(layout) };
            assert!(!p.is_null());
            assert_eq!(p as usize % align, 0, "size {size} align {align}");
            // SAFETY: `p` holds `size` bytes.
            unsafe { p.write_bytes(0xab, size) };
            let chunk = find_chunk(p).expect("inside a chunk");
            assert!(chunk.contains(p.wrapping_add(size - 1)));
            // SAFETY: allocated above with this layout.
            unsafe { std::alloc::dealloc(p, layout) };
            if size + align > SETTINGS.chunk / 4 {
                // A block of its own chunk: the chunk went back with it.
                assert_ne!(find_chunk(p).map(|c| c.start()), Some(chunk.start()));
            }
        }
    }
    assert_eq!(on_chunks::seen().refused, 0);
}
