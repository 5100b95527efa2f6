//! The contract's proof that `mem_chunk` can be the foundation of an allocator, as the lesson
//! says: in a child process, a small bump allocator on the implementation's `mem_chunk` becomes
//! the global allocator, an ordinary Rust workload runs on it (Vecs, Strings, a HashMap, boxes
//! from a few threads), and every chunk it took is then checked against the registry.
//!
//! The bump allocator hands out memory from the last chunk, and asks `mem_chunk` for another
//! (of [`CHUNK`] bytes, or more for a large request) when it runs out. It never gives memory
//! back: the child ends soon. [`CountingAllocator`](super::CountingAllocator) routes to it
//! while it is on.
//!
//! The arena is behind a spin lock; a block is carved from a chunk `mem_chunk` handed out,
//! which nothing else uses. The child is forked from the one-threaded contract.

use std::alloc::Layout;
use std::cell::Cell;
use std::collections::HashMap;
use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{
    AtomicBool, AtomicUsize, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};

use anyhow::Result;
use lesson::Lesson;
use memcore::child::Ended;

use super::{Parts, in_a_child};

/// How much the bump allocator asks `mem_chunk` for at a time.
const CHUNK: usize = 1024 * 1024;
/// How many chunks it can record.
const MOST: usize = 1024;

/// Whether the bump allocator is the global allocator now.
static ON: AtomicBool = AtomicBool::new(false);
/// The implementation's `mem_chunk`.
static MEM_CHUNK: OnceLock<fn(usize) -> io::Result<*mut u8>> = OnceLock::new();
/// The arena's lock.
static LOCKED: AtomicBool = AtomicBool::new(false);
/// The next free byte of the current chunk, and its end.
static NEXT: AtomicUsize = AtomicUsize::new(0);
static END: AtomicUsize = AtomicUsize::new(0);
/// Every chunk taken: its start and the size asked.
static STARTS: [AtomicUsize; MOST] = [const { AtomicUsize::new(0) }; MOST];
static SIZES: [AtomicUsize; MOST] = [const { AtomicUsize::new(0) }; MOST];
static TAKEN: AtomicUsize = AtomicUsize::new(0);
/// Set when `mem_chunk` called the global allocator from inside the bump allocator's call.
static REENTERED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Whether this thread is inside `mem_chunk`, called by the bump allocator.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// Holds the arena's lock.
struct Locked;

impl Locked {
    fn take() -> Locked {
        while LOCKED
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        Locked
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        LOCKED.store(false, Release);
    }
}

/// Asks the implementation's `mem_chunk` for `size` bytes and records the chunk.
fn new_chunk(size: usize) -> Option<usize> {
    let mem_chunk = MEM_CHUNK.get()?;
    INSIDE.with(|inside| inside.set(true));
    let chunk = mem_chunk(size);
    INSIDE.with(|inside| inside.set(false));
    let start = chunk.ok()? as usize;
    let i = TAKEN.fetch_add(1, Relaxed);
    if i >= MOST {
        return None;
    }
    STARTS[i].store(start, Relaxed);
    SIZES[i].store(size, Relaxed);
    Some(start)
}

/// A block for `layout` from the bump allocator, if it is on: `Some(null)` when `mem_chunk`
/// refused. `None` when it is off, or when `mem_chunk` itself is asking (the caller then uses
/// the system's allocator, and the contract reports it).
pub(super) fn alloc(layout: Layout) -> Option<*mut u8> {
    if !ON.load(Relaxed) {
        return None;
    }
    if INSIDE.with(Cell::get) {
        REENTERED.store(true, Relaxed);
        return None;
    }
    let _locked = Locked::take();
    let (size, align) = (layout.size().max(1), layout.align());
    if size + align > CHUNK / 4 {
        // A large block gets a chunk of its own.
        let start = new_chunk(size + align);
        return Some(start.map_or(std::ptr::null_mut(), |s| {
            s.next_multiple_of(align) as *mut u8
        }));
    }
    let mut at = NEXT.load(Relaxed).next_multiple_of(align);
    if NEXT.load(Relaxed) == 0 || at + size > END.load(Relaxed) {
        let Some(start) = new_chunk(CHUNK) else {
            return Some(std::ptr::null_mut());
        };
        END.store(start + CHUNK, Relaxed);
        at = start.next_multiple_of(align);
    }
    NEXT.store(at + size, Relaxed);
    Some(at as *mut u8)
}

/// Whether the bump allocator is the global allocator now.
pub(super) fn on() -> bool {
    ON.load(Relaxed)
}

/// Whether `ptr` is the bump allocator's: it is never freed.
pub(super) fn owns(ptr: *mut u8) -> bool {
    let ptr = ptr as usize;
    let taken = TAKEN.load(Relaxed).min(MOST);
    (0..taken).any(|i| {
        let start = STARTS[i].load(Relaxed);
        (start..start + SIZES[i].load(Relaxed)).contains(&ptr)
    })
}

/// How the child's run ended, as its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proof {
    /// The workload ran, and the registry knows every chunk it took.
    Held,
    /// The workload read back values it did not write.
    WrongValues,
    /// `mem_chunk` called the global allocator from inside the allocator's call.
    Reentered,
    /// A chunk taken is not listed, or listed shorter than asked.
    NotListed,
    /// An address inside a chunk taken does not find it.
    NotFound,
    /// More chunks were taken than the bump allocator can record.
    TooManyChunks,
    /// The workload never reached the bump allocator.
    NothingTaken,
}

/// An ordinary Rust workload; returns whether every value came back as it went in.
fn workload() -> bool {
    let numbers: Vec<u64> = (0..100_000).collect();
    let words: Vec<String> = (0..10_000).map(|i| format!("word {i}")).collect();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for (i, word) in words.iter().enumerate() {
        counts.insert(word.clone(), i);
    }
    let boxes: Vec<Vec<Box<u64>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4u64)
            .map(|t| scope.spawn(move || (0..1000).map(|i| Box::new(t * 1000 + i)).collect()))
            .collect();
        workers.into_iter().filter_map(|w| w.join().ok()).collect()
    });
    numbers.iter().sum::<u64>() == 4_999_950_000
        && counts.len() == 10_000
        && words
            .iter()
            .enumerate()
            .all(|(i, w)| counts.get(w) == Some(&i))
        && boxes.len() == 4
        && boxes.iter().flatten().map(|b| **b).sum::<u64>() == (0..4000).sum::<u64>()
}

/// The child: runs the workload on the bump allocator, then checks the chunks it took.
fn prove(parts: &Parts) -> Proof {
    let _ = MEM_CHUNK.set(parts.mem_chunk);
    ON.store(true, Relaxed);
    let held = workload();
    ON.store(false, Relaxed);
    if REENTERED.load(Relaxed) {
        return Proof::Reentered;
    }
    if !held {
        return Proof::WrongValues;
    }
    let taken = TAKEN.load(Relaxed);
    if taken == 0 {
        return Proof::NothingTaken;
    }
    if taken > MOST {
        return Proof::TooManyChunks;
    }
    let listed = (parts.list_chunks)();
    for i in 0..taken {
        let (start, size) = (STARTS[i].load(Relaxed), SIZES[i].load(Relaxed));
        if !listed.iter().any(|c| c.start == start && c.len >= size) {
            return Proof::NotListed;
        }
        if (parts.find_chunk)(start + size / 2).map(|c| c.start) != Some(start) {
            return Proof::NotFound;
        }
    }
    Proof::Held
}

/// The step: the proof, run in a child of its own.
///
/// # Errors
/// When the child cannot be forked.
pub(super) fn foundation(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    lesson.step("The foundation: an allocator on mem_chunk runs ordinary Rust code");
    lesson.say(
        "The next lessons build malloc on mem_chunk. Here a child process tries it.\n\
         In the child, a small bump allocator is the global allocator. It takes 1 MiB chunks \
         from mem_chunk and hands out blocks from them.\n\
         Vecs, Strings, a HashMap and boxes from four threads run on it. Then every chunk it \
         took must be listed, and found by an address inside it.",
    );
    let ended = in_a_child(|| prove(parts))?;
    let proof = ended.clone().returned();
    let detail = match (proof, &ended) {
        (Some(Proof::WrongValues), _) => "the workload read back values it did not write: \
             two blocks shared memory, so two chunks overlap"
            .to_owned(),
        (Some(Proof::Reentered), _) => "mem_chunk called the global allocator from inside \
             the allocator's call: it would call itself"
            .to_owned(),
        (Some(Proof::NotListed), _) => "a chunk the allocator took is not listed, or listed \
             shorter than asked"
            .to_owned(),
        (Some(Proof::NotFound), _) => {
            "an address inside a chunk the allocator took does not find it".to_owned()
        }
        (Some(Proof::TooManyChunks), _) => format!("the allocator took more than {MOST} chunks"),
        (Some(Proof::NothingTaken), _) => "the workload never reached the bump allocator (the \
             lesson's fault, not yours)"
            .to_owned(),
        (_, exit @ Ended::Signaled(libc::SIGABRT)) => format!(
            "the child was {exit}: mem_chunk refused a chunk, and the allocator had no memory \
             to give"
        ),
        (_, exit) => format!("the child {exit}"),
    };
    let claim = lesson
        .claim(
            "an ordinary Rust workload runs on a bump allocator built on mem_chunk, and the \
             registry knows every chunk it took",
        )
        .about("mem_chunk");
    // A mem_chunk that allocates fails here for that: the claim that says so comes first.
    let claim = if proof == Some(Proof::Reentered) {
        claim.because(
            "mem_chunk never called the global allocator",
            "the allocator calls mem_chunk from inside its own alloc",
        )
    } else {
        claim
    };
    claim.holds(proof == Some(Proof::Held), detail);
    Ok(())
}
