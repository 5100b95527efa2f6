//! The contract's proof that `mem_chunk` can be the foundation of an allocator, as the lesson
//! says: in a child process, the allocator built on the implementation's `mem_chunk`
//! ([`on_chunks`](super::on_chunks), which carves blocks from 1 MiB chunks) serves an ordinary
//! Rust workload (Vecs, Strings, a HashMap, boxes from a few threads), and every chunk it took
//! is then checked against the registry. It gives nothing back: `release_chunk` is the
//! optional last part, and the child ends soon. The child is forked from the one-threaded
//! contract.

use std::collections::HashMap;

use anyhow::Result;
use lesson::Lesson;
use memcore::child::Ended;

use super::on_chunks::{self, Settings};
use super::{Parts, in_a_child};

/// How much the allocator asks `mem_chunk` for at a time.
const CHUNK: usize = 1024 * 1024;

/// How the child's run ended, as the child returns it.
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
    /// More chunks were needed at once than the allocator can hold.
    TooManyChunks,
    /// The workload never reached the allocator.
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

/// The child: runs the workload on the allocator, then checks the chunks it took.
fn prove(parts: &Parts) -> Proof {
    let settings = Settings {
        chunk: CHUNK,
        release: false,
    };
    on_chunks::start(*parts, settings);
    let held = workload();
    on_chunks::stop();
    let seen = on_chunks::seen();
    if seen.reentered {
        return Proof::Reentered;
    }
    if !held {
        return Proof::WrongValues;
    }
    if seen.taken == 0 {
        return Proof::NothingTaken;
    }
    if seen.full {
        return Proof::TooManyChunks;
    }
    let listed = (parts.list_chunks)();
    let mut proof = Proof::Held;
    on_chunks::for_each_chunk(|start, size| {
        if proof != Proof::Held {
            return;
        }
        if !listed.iter().any(|c| c.start == start && c.len >= size) {
            proof = Proof::NotListed;
        } else if (parts.find_chunk)(start + size / 2).map(|c| c.start) != Some(start) {
            proof = Proof::NotFound;
        }
    });
    proof
}

/// The step: the proof, run in a child of its own.
///
/// # Errors
/// When the child cannot be forked.
pub(super) fn foundation(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    lesson.step("The foundation: an allocator on mem_chunk runs ordinary Rust code");
    lesson.say(
        "The next lessons build malloc on mem_chunk. Here a child process tries it.\n\
         In the child, an allocator built on mem_chunk is the global allocator. It takes 1 MiB \
         chunks from mem_chunk and hands out blocks from them.\n\
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
        (Some(Proof::TooManyChunks), _) => format!(
            "the allocator needed more than {} chunks at once",
            on_chunks::MOST
        ),
        (Some(Proof::NothingTaken), _) => "the workload never reached the allocator (the \
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
            "an ordinary Rust workload runs on an allocator built on mem_chunk, and the \
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
