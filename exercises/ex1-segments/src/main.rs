//! Exercise 1: where a program's stack, heap, data, bss and code live.
//!
//! Each kind of variable is placed somewhere different by the compiler, the linker, the loader
//! or the allocator. We print the address of one of each, find the region of
//! `/proc/self/maps` that holds it, and cross-check the executable's own segments against the
//! linker's `etext`, `edata` and `end`.

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;
use lesson::{Lesson, LessonInfo, varying_bytes};
use memcore::linker::segment_bounds;
use memcore::{MemoryMap, Region, RegionKind, sys};

/// An initialised, writable global: the linker puts it in the data segment, and the loader
/// copies its initial value from the file. (An immutable `static` may go to read-only data.)
static INITIALISED_GLOBAL: AtomicU64 = AtomicU64::new(0x1e55_0001);

/// A zero-initialised global: it goes to the bss, which takes no room in the file; the loader
/// just maps zeroed memory for it.
static ZEROED_GLOBAL: AtomicU64 = AtomicU64::new(0);

/// A string literal: read-only data.
const GREETING: &str = "hello from read-only data";

const LARGE: usize = 256 * 1024;

const INFO: LessonInfo = LessonInfo {
    name: "ex1-segments",
    title: "where a program's stack, heap, data, bss and code live",
    about: "Prints the address of a local variable, a small and a large heap allocation, an \
            initialised and a zeroed global, a string literal and a function; finds the region \
            of /proc/self/maps that holds each; cross-checks the executable's segments against \
            the linker symbols etext, edata and end (man 3 end); and draws the lesson's layout \
            diagram with this run's real addresses.",
};

fn main() -> ExitCode {
    let mut lesson = Lesson::start(INFO);
    match run(&mut lesson) {
        Ok(()) => lesson.finish(),
        Err(error) => lesson.abort(error),
    }
}

/// Returns the address of a local in a frame below the caller's. `inline(never)` keeps the
/// frame: an inlined call would share its caller's frame.
#[inline(never)]
fn address_of_a_deeper_local() -> usize {
    let deeper = black_box(2u64);
    black_box(&raw const deeper as usize)
}

#[inline(never)]
fn a_function() -> u64 {
    black_box(42)
}

/// Where each observed thing lies, for the diagram at the end.
struct Placed {
    label: &'static str,
    addr: usize,
}

fn run(lesson: &mut Lesson) -> Result<()> {
    let bounds = segment_bounds();
    let mut placed: Vec<Placed> = Vec::new();

    lesson.step("A local variable lives on the stack");
    lesson.say(
        "Each function call gets a frame on the stack for its local variables; the frame is \
         given back when the call returns.\n\
         The main thread's stack is the region the kernel calls [stack], near the top of the \
         address space.",
    );
    let local = black_box(1u64);
    let local_addr = &raw const local as usize;
    let region = lesson.observe("a local variable (main)", local_addr)?;
    let in_stack = region.as_ref().is_some_and(|r| r.kind == RegionKind::Stack);
    lesson.check("the local lies in [stack]", in_stack, describe(&region));
    let deeper = address_of_a_deeper_local();
    lesson.observe("a local one call deeper", deeper)?;
    lesson.check(
        "the stack grows down: the deeper call's local is lower",
        deeper < local_addr,
        format!("{deeper:#x} is not below {local_addr:#x}"),
    );
    placed.push(Placed {
        label: "a local variable",
        addr: local_addr,
    });

    lesson.step("A small allocation lives in the heap");
    lesson.say(
        "Box::new asks the global allocator, here glibc's malloc, for 8 bytes.\n\
         malloc serves small requests from the heap, which it grows by moving the program \
         break with sbrk; the kernel calls that region [heap].",
    );
    let small = black_box(Box::new(7u64));
    let small_addr = &raw const *small as usize;
    let region = lesson.observe("a Box<u64>", small_addr)?;
    let in_heap = region.as_ref().is_some_and(|r| r.kind == RegionKind::Heap);
    lesson.check("the Box lies in [heap]", in_heap, describe(&region));
    placed.push(Placed {
        label: "a Box<u64>",
        addr: small_addr,
    });

    lesson.step("A large allocation gets a mapping of its own");
    lesson.say(
        "A Vec of 256 KiB also comes from malloc, but not from the heap: glibc serves requests \
         of 128 KiB or more (its mmap threshold) with a fresh anonymous mmap, so that freeing \
         it gives the memory straight back to the OS.\n\
         The threshold moves up after the first such block is freed, which is why this is \
         done early, in a fresh process.",
    );
    let large = black_box(vec![0u8; LARGE]);
    let large_addr = large.as_ptr() as usize;
    let region = lesson.observe("a Vec of 262144 bytes (256 KiB)", large_addr)?;
    let anonymous = region
        .as_ref()
        .is_some_and(|r| r.kind == RegionKind::Anonymous);
    lesson.check(
        "the large Vec lies in an anonymous mapping, not in [heap]",
        anonymous,
        describe(&region),
    );
    placed.push(Placed {
        label: "a Vec of 256 KiB",
        addr: large_addr,
    });

    lesson.step("An initialised global lives in the data segment");
    lesson.say(
        "A global with a non-zero initial value is stored in the executable file; the loader \
         maps that part of the file read-write (rw-p).\n\
         The linker marks the end of the code with etext and the end of initialised data with \
         edata, so data lies between the two.",
    );
    INITIALISED_GLOBAL.fetch_add(1, Ordering::Relaxed);
    let data_addr = &raw const INITIALISED_GLOBAL as usize;
    let region = lesson.observe("an initialised global", data_addr)?;
    let in_data = region.as_ref().is_some_and(|r| r.kind == RegionKind::Data);
    lesson.check(
        "it lies in the executable's rw-p mapping",
        in_data,
        describe(&region),
    );
    lesson.check(
        "the linker agrees: etext <= it < edata",
        bounds.etext <= data_addr && data_addr < bounds.edata,
        format!(
            "{data_addr:#x} is not in [{:#x}, {:#x})",
            bounds.etext, bounds.edata
        ),
    );
    placed.push(Placed {
        label: "an initialised global",
        addr: data_addr,
    });

    lesson.step("A zeroed global lives in the bss");
    lesson.say(
        "A global that starts as zero takes no room in the file: the linker only records how \
         much zeroed memory the bss needs, and the loader provides it after the data.\n\
         Here bss and data can share a page of the same rw-p mapping, so only the linker's \
         edata and end tell them apart: bss lies between the two.",
    );
    ZEROED_GLOBAL.fetch_add(1, Ordering::Relaxed);
    let bss_addr = &raw const ZEROED_GLOBAL as usize;
    let region = lesson.observe("a zeroed global", bss_addr)?;
    let in_rw = region
        .as_ref()
        .is_some_and(|r| matches!(r.kind, RegionKind::Data | RegionKind::Bss));
    lesson.check(
        "it lies in the executable's writable memory",
        in_rw,
        describe(&region),
    );
    lesson.check(
        "the linker agrees: edata <= it < end",
        bounds.edata <= bss_addr && bss_addr < bounds.end,
        format!(
            "{bss_addr:#x} is not in [{:#x}, {:#x})",
            bounds.edata, bounds.end
        ),
    );
    placed.push(Placed {
        label: "a zeroed global",
        addr: bss_addr,
    });

    lesson.step("A string literal lives in read-only data");
    lesson.say(
        "String literals and constants are part of the file and never change, so the loader \
         maps them read-only (r--p); writing there would fault.\n\
         The lesson's picture does not show read-only data: where it goes is the linker's \
         choice.",
    );
    let literal_addr = GREETING.as_ptr() as usize;
    let region = lesson.observe("a string literal", literal_addr)?;
    let read_only = region
        .as_ref()
        .is_some_and(|r| r.kind == RegionKind::ReadOnlyData && !r.perms.write);
    lesson.check(
        "it lies in a read-only mapping of the executable",
        read_only,
        describe(&region),
    );
    let map = lesson.map()?;
    if let Some(text) = map.first(RegionKind::Text) {
        let side = if literal_addr < text.start {
            "below the code: this linker (Rust's default, rust-lld) puts read-only data first, \
             unlike the classic GNU ld layout"
        } else {
            "above the code, as in the classic GNU ld layout"
        };
        lesson.fact("read-only data lies", side);
    }

    lesson.step("A function's code lives in the text segment");
    lesson.say(
        "Machine code is mapped from the file read-and-execute (r-xp); the linker's etext marks \
         its end.",
    );
    let function_addr = a_function as fn() -> u64 as usize;
    let region = lesson.observe("the function a_function", function_addr)?;
    let in_text = region.as_ref().is_some_and(|r| r.kind == RegionKind::Text);
    lesson.check(
        "it lies in the executable's r-xp mapping",
        in_text,
        describe(&region),
    );
    lesson.check(
        "the linker agrees: it lies below etext",
        function_addr < bounds.etext,
        format!("{function_addr:#x} is not below {:#x}", bounds.etext),
    );
    placed.push(Placed {
        label: "the function a_function",
        addr: function_addr,
    });

    lesson.step("The heap grows up");
    lesson.say(
        "When malloc's heap is full it asks for more with sbrk, which moves the program break \
         up. Blocks of 16 KiB are allocated, and kept, until the break moves.",
    );
    let before = sys::program_break() as usize;
    let mut kept: Vec<Box<[u8; 16 * 1024]>> = Vec::with_capacity(64);
    while kept.len() < 64 && sys::program_break() as usize == before {
        kept.push(black_box(Box::new([1u8; 16 * 1024])));
    }
    let after = sys::program_break() as usize;
    let newest = kept.last().map_or(0, |b| b.as_ptr() as usize);
    let newest_end = newest + 16 * 1024;
    let map = lesson.map()?;
    lesson.say(
        "The break is the first address past the heap, so no region holds the new break itself.",
    );
    lesson.observe_in(&map, "the program break before", before);
    lesson.observe_in(&map, "the program break after", after);
    lesson.observe_in(&map, "the block that did not fit", newest);
    lesson.fact(
        "blocks allocated until the break moved",
        format!("~{}", kept.len()),
    );
    lesson.check(
        "the break moved up",
        after > before,
        format!("{after:#x} is not above {before:#x}"),
    );
    lesson.check(
        "the block that did not fit reaches above the old break, into the new memory",
        newest < before && newest_end > before && newest_end <= after,
        format!("{newest:#x}-{newest_end:#x} does not cross {before:#x} below {after:#x}"),
    );
    drop(kept);

    lesson.step("The whole picture, with this run's addresses");
    let map = lesson.map()?;
    diagram(lesson, &map, &placed)?;
    drop((small, large));
    Ok(())
}

fn describe(region: &Option<Region>) -> String {
    match region {
        Some(r) => format!("it lies in {r} ({:#x}-{:#x})", r.start, r.end),
        None => "no mapped region holds it".to_owned(),
    }
}

/// Draws the lesson's diagram, high addresses first, with the real regions, the gaps between
/// them, and where each variable landed; then checks the lesson's order.
fn diagram(lesson: &mut Lesson, map: &MemoryMap, placed: &[Placed]) -> Result<()> {
    let find = |label: &str| placed.iter().find(|p| p.label == label);
    // The rows of the lesson's picture, bottom to top, each with the things that lie in it.
    let rows: [(&str, &[&str]); 5] = [
        ("text", &["the function a_function"]),
        ("data + bss", &["an initialised global", "a zeroed global"]),
        ("heap", &["a Box<u64>"]),
        ("mmap area", &["a Vec of 256 KiB"]),
        ("stack", &["a local variable"]),
    ];
    let mut drawn: Vec<(&str, &Region, Vec<&Placed>)> = Vec::new();
    for (name, labels) in rows {
        let things: Vec<&Placed> = labels.iter().filter_map(|l| find(l)).collect();
        let Some(region) = things.iter().find_map(|p| map.region_of(p.addr)) else {
            anyhow::bail!("no region holds the {name} row's variables");
        };
        drawn.push((name, region, things));
    }
    // Only a left border: a right one would have to be padded to the width of numbers that
    // change from run to run. Each region shows its start and size rather than both ends: with
    // ASLR off the heap starts exactly where the data ends, and one address would stand for two.
    let border = format!("  +{}", "-".repeat(64));
    lesson.line("  high addresses");
    for (i, (name, region, things)) in drawn.iter().enumerate().rev() {
        lesson.line(border.clone());
        lesson.line(format!(
            "  | {name:<11} {region} from {:#x}, {}",
            region.start,
            varying_bytes(region.len() as u64)
        ));
        for thing in things {
            lesson.line(format!("  |   {:<25} {:#x}", thing.label, thing.addr));
        }
        lesson.line(border.clone());
        if let Some((_, below, _)) = i.checked_sub(1).map(|j| &drawn[j]) {
            let gap = region.start.saturating_sub(below.end) as u64;
            let between = map
                .regions()
                .iter()
                .filter(|r| r.start >= below.end && r.end <= region.start)
                .count();
            lesson.line(format!(
                "  :   ~{between} other regions and unmapped space, {}",
                varying_bytes(gap)
            ));
        }
    }
    lesson.line("  low addresses");

    let order: Vec<(&str, usize)> = drawn
        .iter()
        .map(|(name, _, things)| (*name, things[0].addr))
        .collect();
    for pair in order.windows(2) {
        let ((low, a), (high, b)) = (pair[0], pair[1]);
        lesson.check(
            &format!("{low} lies below {high}"),
            a < b,
            format!("{a:#x} is not below {b:#x}"),
        );
    }
    let data = find("an initialised global").map_or(0, |p| p.addr);
    let bss = find("a zeroed global").map_or(0, |p| p.addr);
    lesson.check(
        "data lies below bss",
        data < bss,
        format!("{data:#x} is not below {bss:#x}"),
    );
    Ok(())
}
