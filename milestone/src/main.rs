//! The milestone demo: what the library does beyond the lesson's contract. Its policy, chunks
//! from `mem_chunk` and where they lie, the registry in address order, released break memory
//! reused, and the break trimmed back. What any `mem_chunk` must do (each chunk listed once, an
//! interior address found, bad input refused) is the contract's to check, `contract library`
//! on this crate.
//!
//! `cargo run -p milestone` uses a few small and large sizes; `cargo run -p milestone -- 100
//! 200000 4096` uses the sizes given. `cargo run -p milestone -- contract` checks the lesson's
//! reference answer (`src/parts.rs`) against the lesson's contract instead. `contract
//! library` checks this crate's `mem_chunk`. The learner's own runs as `milestone-learn`.

mod parts;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use lesson::{CommonFlags, Lesson, LessonInfo, bytes, varying_bytes};
use memcore::sys;
use milestone::contract::pattern;
use milestone::{
    BREAK_STEP, Chunk, ChunkStats, Source, chunk_stats, find_chunk, for_each_chunk, mem_chunk,
    policy, release_chunk,
};

/// The system's allocator, with the calls `mem_chunk`'s parts make counted when the contract
/// runs: they must make none.
#[global_allocator]
static ALLOCATOR: milestone::contract::CountingAllocator = milestone::contract::CountingAllocator;

/// Sizes used when none are given: small ones carved from the break, large ones mapped.
const DEFAULT_SIZES: [usize; 6] = [24, 100, 4096, 200_000, 1_048_576, 64];

const INFO: LessonInfo = lesson::info!(
    "Takes chunks with mem_chunk, of the sizes given or a default mix of small and \
     large, and writes and verifies each. Prints the registry as a table, with the \
     /proc/self/maps region of each chunk. Releases every other one, shows the stats \
     before and after, and shows released break memory reused. Gives everything back, \
     and the break returns to where it was. Sizes are in bytes, from 1 up to isize::MAX \
     rounded down to a page."
);

/// A size from the command line: a whole number of bytes that a chunk can have.
fn parse_size(text: &str) -> Result<usize, String> {
    if text.starts_with('-') {
        return Err("a size cannot be negative".into());
    }
    let size: u128 = text
        .parse()
        .map_err(|_| "not a whole number of bytes".to_owned())?;
    if size == 0 {
        return Err("a size must be at least 1 byte".into());
    }
    // The largest size that still rounds up to a whole page within isize::MAX.
    let largest = isize::MAX as usize & !(sys::page_size() - 1);
    usize::try_from(size)
        .ok()
        .filter(|&s| s <= largest)
        .ok_or_else(|| format!("too large: a chunk holds at most {largest} bytes"))
}

/// Whose `mem_chunk` the contract checks.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Whose {
    /// The lesson's short reference answer, `src/parts.rs`
    Lesson,
    /// This crate's, the production version the next lessons build on
    Library,
}

/// What the binary runs.
#[derive(Debug, clap::Subcommand)]
enum Mode {
    /// Check a mem_chunk against the lesson's contract, instead of the demo
    Contract {
        /// Whose mem_chunk
        #[arg(value_enum, default_value = "lesson")]
        whose: Whose,
    },
}

/// The demo's flags.
#[derive(Debug, Parser)]
#[command(subcommand_precedence_over_arg = true)]
struct Flags {
    #[command(flatten)]
    common: CommonFlags,
    #[command(subcommand)]
    mode: Option<Mode>,
    /// Chunk sizes in bytes (default: 24 100 4096 200000 1048576 64)
    #[arg(value_name = "SIZE", allow_negative_numbers = true, value_parser = parse_size)]
    sizes: Vec<usize>,
}

fn main() -> ExitCode {
    let (flags, common) = lesson::parse::<Flags>(INFO);
    if flags.mode.is_some() && !flags.sizes.is_empty() {
        eprintln!(
            "milestone: sizes are the demo's, not the contract's; usage: milestone [SIZE]... | milestone contract [lesson|library] (--help explains)"
        );
        return ExitCode::from(2);
    }
    if let Some(Mode::Contract { whose }) = flags.mode {
        let parts = match whose {
            Whose::Lesson => parts::PARTS,
            Whose::Library => milestone::contract::library(),
        };
        return milestone::contract::main_with(&parts, common);
    }
    let sizes = if flags.sizes.is_empty() {
        DEFAULT_SIZES.to_vec()
    } else {
        flags.sizes
    };
    Lesson::start_with_flags(INFO, common).run(|lesson| run(lesson, &sizes))
}

fn stats_facts(lesson: &mut Lesson, s: &ChunkStats) {
    lesson.fact(
        "live chunks",
        format!(
            "{} ({} from sbrk, {} from mmap)",
            s.count, s.sbrk_count, s.mmap_count
        ),
    );
    // Mapped chunks are rounded up to whole pages, whose size is the machine's: these vary.
    lesson.fact("usable bytes in them", varying_bytes(s.bytes as u64));
    lesson.fact(
        "held from the OS for chunks",
        varying_bytes(s.held_bytes as u64),
    );
    lesson.fact(
        "free break memory kept for reuse",
        bytes(s.free_bytes as u64),
    );
    lesson.fact(
        "system calls for chunks so far",
        format!(
            "brk {}, mmap {}, munmap {}",
            s.brk_calls, s.mmap_calls, s.munmap_calls
        ),
    );
    lesson.fact(
        "the registry's own pages",
        format!(
            "{}, from {} mmap calls",
            varying_bytes(s.registry_bytes as u64),
            s.registry_mmap_calls
        ),
    );
}

fn all_chunks() -> Vec<Chunk> {
    let mut all = Vec::new();
    for_each_chunk(|c| all.push(*c));
    all
}

fn run(lesson: &mut Lesson, sizes: &[usize]) -> Result<()> {
    let start_break = the_policy(lesson)?;
    let taken = take(lesson, sizes)?;
    registry(lesson)?;
    release_every_other(lesson, &taken)?;
    give_everything_back(lesson, start_break)
}

/// `the_policy`, the first step; returns the break before any chunk.
fn the_policy(lesson: &mut Lesson) -> Result<usize> {
    let policy = policy();
    lesson.step("The policy, and the registry before any chunk");
    lesson.say(
        "mem_chunk takes its threshold from glibc's malloc: 128 KiB, glibc's default \
         M_MMAP_THRESHOLD.\n\
         A request below it is carved from memory got by moving the program break with sbrk. \
         A request at or above it gets an anonymous mapping of its own.\n\
         The rest is mem_chunk's own design.\n\
         The break grows in steps of at least 64 KiB, so that small chunks cost no system call \
         each. Released break memory is reused.\n\
         Every chunk is recorded in a registry. It never calls the global allocator, which \
         may itself be built on mem_chunk.\n\
         Most records live in pages mapped for the registry alone, which it keeps for reuse.\n\
         The first 16 mapped chunks live in a small table beside them, which is cheaper to \
         search.\n\
         This program itself allocates with glibc's malloc, to read /proc/self/maps and to \
         print.\n\
         So first, malloc gets 64 KiB of room at the top of its heap, from a block allocated \
         and freed. Then this program's allocations never move the break under our chunks.",
    );
    lesson.give_malloc_room();
    let start_break = sys::program_break() as usize;
    lesson.fact("mmap threshold", bytes(policy.mmap_threshold() as u64));
    lesson.fact("break step", bytes(BREAK_STEP as u64));
    let before = chunk_stats();
    stats_facts(lesson, &before);
    lesson.check(
        "the registry starts empty",
        before.count == 0 && before.held_bytes == 0,
        format!("{before:?}"),
    );
    Ok(start_break)
}

/// `take`; returns each chunk with its number.
fn take(lesson: &mut Lesson, sizes: &[usize]) -> Result<Vec<(usize, Chunk)>> {
    let policy = policy();
    lesson.step(format!(
        "Take the chunks ({}), write and verify each",
        sizes.len()
    ));
    lesson.say(
        "Each chunk is filled with a pattern of its own, to its last usable byte, then read \
         back.",
    );
    let mut taken: Vec<(usize, Chunk)> = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let fallbacks = chunk_stats().sbrk_fallbacks;
        let ptr = mem_chunk(size).with_context(|| format!("mem_chunk({size}) failed"))?;
        let fell_back = chunk_stats().sbrk_fallbacks > fallbacks;
        let chunk = find_chunk(ptr.as_ptr()).context("a new chunk is not in the registry")?;
        // SAFETY: mem_chunk returned this chunk of `chunk.len()` usable bytes to us alone.
        let memory = unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), chunk.len()) };
        for (offset, byte) in memory.iter_mut().enumerate() {
            *byte = pattern(i, offset);
        }
        let intact = memory
            .iter()
            .enumerate()
            .all(|(offset, &b)| b == pattern(i, offset));
        let label = format!("chunk {} ({} asked)", i + 1, bytes(size as u64));
        lesson.observe(&label, ptr.as_ptr() as usize)?;
        lesson.span(
            &format!("chunk {}, asked", i + 1),
            ptr.as_ptr() as usize,
            size,
        );
        lesson.moment(&format!(
            "chunk {}: mem_chunk({size}) took it from {}",
            i + 1,
            chunk.source()
        ));
        if fell_back {
            lesson.say(
                "The break could not grow, so this small chunk was mapped instead.\n\
                 A limit, or valgrind's 8 MiB cap, made sbrk refuse.",
            );
        }
        let expected = if size < policy.mmap_threshold() && policy.uses_break() && !fell_back {
            Source::Sbrk
        } else {
            Source::Mmap
        };
        let (align, aligned_to) = if chunk.source() == Source::Mmap {
            (sys::page_size(), "a page")
        } else {
            (16, "16 bytes")
        };
        lesson.check(
            &format!(
                "it came from {expected}, holds at least {size} bytes, is aligned to \
                 {aligned_to} and reads back its pattern"
            ),
            chunk.source() == expected
                && chunk.len() >= size
                && (ptr.as_ptr() as usize).is_multiple_of(align)
                && intact,
            format!("{chunk:?}, pattern intact: {intact}"),
        );
        taken.push((i, chunk));
    }
    Ok(taken)
}

fn registry(lesson: &mut Lesson) -> Result<()> {
    lesson.step("The registry");
    lesson.say(
        "for_each_chunk visits every live chunk in address order.\n\
         Chunks from sbrk lie in [heap], the break's region. Each mmap chunk is an anonymous \
         mapping. The kernel may merge neighbouring ones into one region.",
    );
    let (map, brk) = lesson.map_and_break()?;
    lesson.line(format!(
        "  {:<16} {:<28} {:<6} region",
        "address", "usable size", "source"
    ));
    let listed = all_chunks();
    for chunk in &listed {
        let addr = chunk.start().as_ptr() as usize;
        let region = map
            .region_of(addr)
            .map_or_else(|| "no region".to_owned(), |r| r.to_string());
        lesson.line(format!(
            "  {addr:<#16x} {:<28} {:<6} {region}",
            match chunk.source() {
                // Rounded up to whole pages, whose size is the machine's.
                Source::Mmap => varying_bytes(chunk.len() as u64),
                Source::Sbrk => bytes(chunk.len() as u64),
            },
            chunk.source().name()
        ));
    }
    // The check asks for the region that holds the last byte below the break. That region is
    // [heap], except under valgrind: it emulates the break with an anonymous mapping of its own.
    let break_region = map.region_of(brk.wrapping_sub(1));
    let regions_right = listed.iter().all(|c| {
        let region = map.region_of(c.start().as_ptr() as usize);
        match c.source() {
            Source::Sbrk => region.is_some() && region == break_region,
            Source::Mmap => region.is_some_and(|r| r.kind == memcore::RegionKind::Anonymous),
        }
    });
    lesson.check(
        "sbrk chunks lie in the program break's region, mmap chunks in anonymous mappings",
        regions_right,
        "a chunk lies elsewhere (see the table)",
    );
    Ok(())
}

/// `release_every_other`: the library keeps break memory for reuse.
fn release_every_other(lesson: &mut Lesson, taken: &[(usize, Chunk)]) -> Result<()> {
    lesson.step("Release every other chunk");
    lesson.say(
        "release_chunk unmaps an mmap chunk at once.\n\
         Break memory is kept, merged with free neighbours, and reused by later requests that \
         fit. It goes back to the OS only from the top of the break.",
    );
    let released: Vec<Chunk> = taken.iter().step_by(2).map(|(_, c)| *c).collect();
    for chunk in &released {
        release_chunk(chunk.start())
            .with_context(|| format!("release_chunk({:?}) failed", chunk.start()))?;
        lesson.moment(&format!(
            "a chunk of {} from {} released",
            bytes(chunk.len() as u64),
            chunk.source()
        ));
    }
    let after = chunk_stats();
    stats_facts(lesson, &after);
    let lowest_free = released
        .iter()
        .filter(|c| c.source() == Source::Sbrk)
        .min_by_key(|c| c.start());
    match lowest_free {
        Some(freed) if after.sbrk_count > 0 => {
            let again = mem_chunk(freed.len()).context("mem_chunk failed")?;
            lesson.observe("a new chunk of the same size", again.as_ptr() as usize)?;
            lesson.check(
                "it reuses the lowest released break memory",
                again == freed.start(),
                format!("{again:?} is not {:?}", freed.start()),
            );
            release_chunk(again).context("release_chunk failed")?;
        }
        _ => lesson.say("No break chunk is left live, so its memory went back to the OS."),
    }
    Ok(())
}

fn give_everything_back(lesson: &mut Lesson, start_break: usize) -> Result<()> {
    lesson.step("Give everything back");
    for chunk in all_chunks() {
        release_chunk(chunk.start()).context("release_chunk failed")?;
    }
    let end = chunk_stats();
    stats_facts(lesson, &end);
    let end_break = sys::program_break() as usize;
    lesson.observe("the program break now", end_break)?;
    lesson.check(
        "no chunk is live and nothing is held from the OS for chunks (the registry keeps its pages)",
        end.count == 0 && end.held_bytes == 0,
        format!("{end:?}"),
    );
    lesson.check(
        "the break is back where it was before the first chunk",
        end_break == start_break,
        format!("{end_break:#x}, was {start_break:#x}"),
    );
    Ok(())
}
