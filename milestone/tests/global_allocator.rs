//! Proof that `mem_chunk` can carry a whole program: every allocation of this test binary,
//! the test harness's included, is served by `mem_chunk` and given back with `release_chunk`,
//! while several threads build, sort and drop large collections and check their results.

use std::alloc::{GlobalAlloc, Layout};
use std::collections::BTreeMap;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicUsize, Ordering};

use milestone::{chunk_stats, find_chunk, mem_chunk, release_chunk};

/// A global allocator with one chunk per allocation.
struct ChunkAllocator;

/// Frees that `release_chunk` refused: must stay 0.
static BAD_FREES: AtomicUsize = AtomicUsize::new(0);

/// Chunks are 16-byte aligned; a larger alignment is served from a chunk `align` bytes larger,
/// and freeing finds the chunk's start from the pointer inside it.
const CHUNK_ALIGN: usize = 16;

// SAFETY: `alloc` returns null or a pointer to at least `size` bytes aligned to `align`, inside
// a live chunk that nothing else uses; `dealloc` gives back exactly that chunk.
unsafe impl GlobalAlloc for ChunkAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let size = layout.size().max(1);
        if layout.align() <= CHUNK_ALIGN {
            return mem_chunk(size).map_or(ptr::null_mut(), NonNull::as_ptr);
        }
        let Some(padded) = size.checked_add(layout.align()) else {
            return ptr::null_mut();
        };
        match mem_chunk(padded) {
            Ok(p) => {
                let offset = p.as_ptr().align_offset(layout.align());
                p.as_ptr().wrapping_add(offset)
            }
            Err(_) => ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let start = if layout.align() <= CHUNK_ALIGN {
            NonNull::new(ptr)
        } else {
            find_chunk(ptr).map(|c| c.start())
        };
        let released = start.map(release_chunk);
        if !matches!(released, Some(Ok(()))) {
            BAD_FREES.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[global_allocator]
static CHUNKS: ChunkAllocator = ChunkAllocator;

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
    let before = chunk_stats();
    let threads: Vec<_> = (0..4)
        .map(|t| std::thread::spawn(move || workload(t)))
        .collect();
    for t in threads {
        t.join().expect("a worker panicked").unwrap();
    }
    let after = chunk_stats();
    assert_eq!(BAD_FREES.load(Ordering::SeqCst), 0);
    // Every allocation went through mem_chunk: millions of chunks came and went.
    assert!(after.sbrk_count < before.sbrk_count + 1_000, "{after:?}");
    assert!(
        after.brk_calls > before.brk_calls,
        "the break was used: {after:?}"
    );
}

#[test]
fn over_aligned_allocations_are_aligned_and_freed() {
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
            assert_ne!(find_chunk(p).map(|c| c.start()), Some(chunk.start()));
        }
    }
    assert_eq!(BAD_FREES.load(Ordering::SeqCst), 0);
}
