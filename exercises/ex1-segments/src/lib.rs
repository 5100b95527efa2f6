//! Exercise 1's driver: where a program's stack, heap, data, bss and code live.
//!
//! Each kind of variable is placed somewhere different by the compiler, the linker, the loader
//! or the allocator. The parts (`src/parts.rs`, or the learner's `learn/parts.rs`) give the
//! address of one of each; this driver finds the region of `/proc/self/maps` that holds it, and
//! cross-checks the executable's own segments against the linker's `etext`, `edata` and `end`.

use std::hint::black_box;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use lesson::glibc::GlibcMalloc;
use lesson::{CommonFlags, Lesson, LessonInfo, Marks, varying_text};
use memcore::linker::segment_bounds;
use memcore::{Mapping, Region, RegionKind, sys};

/// The default size of the large allocation: well above glibc's mmap threshold.
pub const LARGE: usize = 256 * 1024;

/// The learner's parts, in the lesson's order (see `src/parts.rs` for what each must do).
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    /// The address of a local variable of the part itself.
    pub address_of_a_local: fn() -> usize,
    /// A small value on the heap.
    pub a_small_heap_value: fn() -> Box<u64>,
    /// A large allocation of `len` bytes.
    pub a_large_allocation: fn(usize) -> Vec<u8>,
    /// The address of an initialised, writable global.
    pub address_of_an_initialised_global: fn() -> usize,
    /// The address of a zero-initialised global.
    pub address_of_a_zeroed_global: fn() -> usize,
    /// The address of a string literal.
    pub address_of_a_string_literal: fn() -> usize,
    /// The address of a function's code.
    pub address_of_a_function: fn() -> usize,
}

mod diagram;
mod heap;

use diagram::{Placed, diagram};
use heap::{heap_grows, large_allocation, small_heap_value};

const INFO: LessonInfo = lesson::info!(
    "Prints the address of a local variable, a small and a large heap allocation, an \
     initialised and a zeroed global, a string literal and a function. Finds the region \
     of /proc/self/maps that holds each. Cross-checks the executable's segments against \
     the linker symbols etext, edata and end (man 3 end). Draws the lesson's layout \
     diagram with this run's real addresses."
);

/// ex1's flags.
#[derive(Debug, Parser)]
struct Flags {
    #[command(flatten)]
    common: CommonFlags,
    /// The size of the large allocation
    #[arg(long, value_name = "BYTES", default_value_t = LARGE as u64,
          value_parser = clap::value_parser!(u64).range(1..=1 << 30))]
    large: u64,
}

/// Runs the lesson with `parts`; the exit status says how it went (see the `lesson` crate).
pub fn main(parts: &Parts) -> ExitCode {
    let (lesson, flags) = Lesson::start_with::<Flags>(INFO);
    lesson.run(|lesson| run(lesson, parts, flags.large as usize))
}

/// Calls `address_of_a_local` one frame deeper than the caller. `inline(never)` keeps the frame,
/// since an inlined call would share its caller's frame.
#[inline(never)]
fn one_call_deeper(parts: &Parts) -> usize {
    let here = black_box(0u64);
    black_box(&raw const here);
    black_box(parts.address_of_a_local)()
}

/// The lesson's own global of each kind, for the diagram where a learner's did not hold.
static OWN_DATA: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
static OWN_BSS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// What a step placed, for the diagram: the learner's thing where its claims held, or else the
/// lesson's own of the same kind, so that the diagram judges the layout and not the part again.
fn placed_or_own(
    lesson: &mut Lesson,
    placed: Option<Placed>,
    label: &'static str,
    own: usize,
) -> Placed {
    match placed {
        Some(placed) if placed.held => placed,
        _ => {
            lesson.line(format!(
                "  (the picture shows the lesson's own {label}: yours did not hold)"
            ));
            Placed {
                label,
                addr: own,
                held: true,
            }
        }
    }
}

/// Runs the steps. A step that fails its claims lets the run go on; one that cannot go on
/// stops alone, and the diagram uses the lesson's own things where a step gave none.
fn run(lesson: &mut Lesson, parts: &Parts, large: usize) -> Result<()> {
    let malloc = GlibcMalloc::read()?;
    let stack = lesson.attempt(|lesson| stack(lesson, parts))?;
    let small = lesson.attempt(|lesson| small_heap_value(lesson, parts, &malloc))?;
    let mmap_page = Mapping::anonymous(sys::page_size()).context("mmap refused a page")?;
    let large =
        lesson.attempt(|lesson| large_allocation(lesson, parts, large, &mmap_page, &malloc))?;
    let data = lesson.attempt(|lesson| initialised_global(lesson, parts))?;
    let bss = lesson.attempt(|lesson| zeroed_global(lesson, parts))?;
    lesson.attempt(|lesson| string_literal(lesson, parts))?;
    let code = lesson.attempt(|lesson| function(lesson, parts))?;
    lesson.attempt(|lesson| heap_grows(lesson, &malloc))?;
    lesson.step("The whole picture, with this run's addresses");
    let own_local = black_box(0u64);
    let own_box = Box::new(0u64);
    let (small, small_placed) = small.unzip();
    let (large, page_placed) = large.unzip();
    let placed = [
        placed_or_own(
            lesson,
            stack,
            "a local variable",
            &raw const own_local as usize,
        ),
        placed_or_own(
            lesson,
            small_placed,
            "a Box<u64>",
            &raw const *own_box as usize,
        ),
        placed_or_own(
            lesson,
            page_placed,
            "a page from mmap",
            mmap_page.as_ptr() as usize,
        ),
        placed_or_own(
            lesson,
            data,
            "an initialised global",
            OWN_DATA.as_ptr() as usize,
        ),
        placed_or_own(lesson, bss, "a zeroed global", OWN_BSS.as_ptr() as usize),
        placed_or_own(lesson, code, "a function's code", run as *const () as usize),
    ];
    let map = lesson.map()?;
    diagram(lesson, &map, &placed, malloc.no_heap().is_none())?;
    drop((small, large, own_box, mmap_page));
    Ok(())
}

fn stack(lesson: &mut Lesson, parts: &Parts) -> Result<Placed> {
    lesson.step("A local variable lives on the stack");
    lesson.say(
        "Each function call gets a frame on the stack for its local variables. The frame is \
         given back when the call returns.\n\
         The kernel calls the main thread's stack [stack]. It lies near the top of the address \
         space.",
    );
    let local_addr = lesson.part("address_of_a_local", parts.address_of_a_local)?;
    let region = lesson.observe("a local variable (main)", local_addr)?;
    const ON_STACK: &str = "the local lies in [stack]";
    let held = lies_in(lesson, &region, local_addr, RegionKind::Stack, ON_STACK);
    let deeper = lesson.part("address_of_a_local", || one_call_deeper(parts))?;
    lesson.observe("a local one call deeper", deeper)?;
    let claim = lesson.claim("the stack grows down: the deeper call's local is lower");
    let claim = if held {
        claim
    } else {
        claim.because(
            ON_STACK,
            "an address that is not on the stack cannot show it growing",
        )
    };
    let grows = claim.holds(
        deeper < local_addr,
        format!("{deeper:#x} is not below {local_addr:#x}"),
    );
    Ok(Placed {
        label: "a local variable",
        addr: local_addr,
        held: held && grows,
    })
}

fn initialised_global(lesson: &mut Lesson, parts: &Parts) -> Result<Placed> {
    let bounds = segment_bounds();
    lesson.step("An initialised global lives in the data segment");
    lesson.say(
        "A global with a non-zero initial value is stored in the executable file. The loader \
         maps that part of the file read-write (rw-p).\n\
         The linker marks the end of the code with etext, and the end of initialised data with \
         edata. Data lies between the two.",
    );
    let data_addr = lesson.part(
        "address_of_an_initialised_global",
        parts.address_of_an_initialised_global,
    )?;
    let region = lesson.observe("an initialised global", data_addr)?;
    const IN_DATA: &str = "it lies in the executable's rw-p mapping";
    let in_data = lesson.check(
        IN_DATA,
        region.as_ref().is_some_and(|r| r.kind == RegionKind::Data),
        describe_global(&region, data_addr),
    );
    let linker = linker_agrees(
        lesson,
        "the linker agrees: etext <= it < edata",
        in_data,
        IN_DATA,
    )
    .holds(
        bounds.etext <= data_addr && data_addr < bounds.edata,
        format!(
            "{data_addr:#x} is not in [{:#x}, {:#x})",
            bounds.etext, bounds.edata
        ),
    );
    Ok(Placed {
        label: "an initialised global",
        addr: data_addr,
        held: in_data && linker,
    })
}

fn zeroed_global(lesson: &mut Lesson, parts: &Parts) -> Result<Placed> {
    let bounds = segment_bounds();
    lesson.step("A zeroed global lives in the bss");
    lesson.say(
        "A global that starts as zero takes no room in the file. The linker only records how \
         much zeroed memory the bss needs. The loader provides that memory after the data.\n\
         The bss shares the data's last page, and so its rw-p mapping, as far as it fits there. \
         The rest of the bss is an anonymous mapping just above.\n\
         Which one holds this global changes with the size of the program. So only the \
         linker's edata and end tell data and bss apart. The bss lies between the two.",
    );
    let bss_addr = lesson.part(
        "address_of_a_zeroed_global",
        parts.address_of_a_zeroed_global,
    )?;
    let map = lesson.map()?;
    let region = lesson.observe_with(&map, "a zeroed global", bss_addr, Marks::REGION);
    let in_rw = region
        .as_ref()
        .is_some_and(|r| matches!(r.kind, RegionKind::Data | RegionKind::Bss));
    const WRITABLE: &str = "it lies in the executable's writable memory";
    let in_rw = lesson.check(WRITABLE, in_rw, describe_global(&region, bss_addr));
    let linker = linker_agrees(
        lesson,
        "the linker agrees: edata <= it < end",
        in_rw,
        WRITABLE,
    )
    .holds(
        bounds.edata <= bss_addr && bss_addr < bounds.end,
        format!(
            "{bss_addr:#x} is not in [{:#x}, {:#x})",
            bounds.edata, bounds.end
        ),
    );
    Ok(Placed {
        label: "a zeroed global",
        addr: bss_addr,
        held: in_rw && linker,
    })
}

fn string_literal(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    lesson.step("A string literal lives in read-only data");
    lesson.say(
        "String literals and constants are part of the file, and never change. So the loader \
         maps them without write permission, and writing there would fault.\n\
         Where read-only data goes is the linker's choice, so the lesson's picture does not \
         show it. Its place among the other addresses, and its region, depend on the build. \
         The README lists what each linker does.",
    );
    let literal_addr = lesson.part(
        "address_of_a_string_literal",
        parts.address_of_a_string_literal,
    )?;
    let map = lesson.map()?;
    let marks = Marks::BOTH;
    let region = lesson.observe_with(&map, "a string literal", literal_addr, marks);
    let read_only = region.as_ref().is_some_and(|r| {
        matches!(r.kind, RegionKind::ReadOnlyData | RegionKind::Text) && !r.perms.write
    });
    lesson.check(
        "it lies in a mapping of the executable that cannot be written",
        read_only,
        describe(&region, literal_addr),
    );
    // Which linker laid this build out is read from a literal of the lesson's own: the
    // learner's address may be wrong.
    let own = "a literal of the lesson's own".as_ptr() as usize;
    if let (Some(text), Some(region)) = (map.first(RegionKind::Text), map.region_of(own)) {
        let side = if region.kind == RegionKind::Text {
            "inside the code's r-xp mapping (gold, or GNU ld without separate code)"
        } else if own < text.start {
            "in a mapping of its own below the code (rust-lld)"
        } else {
            "in a mapping of its own above the code (GNU ld with separate code)"
        };
        lesson.fact("in this build, read-only data lies", varying_text(side));
    }
    Ok(())
}

fn function(lesson: &mut Lesson, parts: &Parts) -> Result<Placed> {
    let bounds = segment_bounds();
    lesson.step("A function's code lives in the text segment");
    lesson.say(
        "Machine code is mapped from the file read-and-execute (r-xp). The linker's etext marks \
         its end.",
    );
    let function_addr = lesson.part("address_of_a_function", parts.address_of_a_function)?;
    let region = lesson.observe("a function's code", function_addr)?;
    const IN_TEXT: &str = "it lies in the executable's r-xp mapping";
    let in_text = if region.is_none() {
        lesson.check(
            IN_TEXT,
            false,
            format!(
                "no mapping holds {function_addr:#x}, so it is not code: `f as usize` is the \
                 address of f's code, while &f is a reference to a value of no size"
            ),
        )
    } else {
        lies_in(lesson, &region, function_addr, RegionKind::Text, IN_TEXT)
    };
    // The executable's lowest mapping: code lies between it and etext.
    let map = lesson.map()?;
    let exe_start = map
        .regions()
        .iter()
        .find(|r| {
            matches!(
                r.kind,
                RegionKind::Text | RegionKind::ReadOnlyData | RegionKind::Data
            )
        })
        .map_or(0, |r| r.start);
    let claim = "the linker agrees: it lies in the executable, below etext";
    let linker = linker_agrees(lesson, claim, in_text, IN_TEXT).holds(
        exe_start <= function_addr && function_addr < bounds.etext,
        format!(
            "{function_addr:#x} is not between the executable's start, {exe_start:#x}, and \
             etext, {:#x}",
            bounds.etext
        ),
    );
    Ok(Placed {
        label: "a function's code",
        addr: function_addr,
        held: in_text && linker,
    })
}

/// Checks that `region`, where `addr` lies, is of `kind`: the lesson's `claim`. Returns whether
/// it held.
fn lies_in(
    lesson: &mut Lesson,
    region: &Option<Region>,
    addr: usize,
    kind: RegionKind,
    claim: &str,
) -> bool {
    let holds = region.as_ref().is_some_and(|r| r.kind == kind);
    lesson.check(claim, holds, describe(region, addr))
}

/// The linker's claim `claim` about an address whose region was checked by `region_claim`
/// (`in_region`: it held): an address in the wrong region is outside the linker's bounds too,
/// so that failure follows from the first.
fn linker_agrees<'a>(
    lesson: &'a mut Lesson,
    claim: &str,
    in_region: bool,
    region_claim: &str,
) -> lesson::Claim<'a> {
    let claim = lesson.claim(claim);
    if in_region {
        claim
    } else {
        claim.because(
            region_claim,
            "an address outside the region lies outside the linker's bounds too",
        )
    }
}

/// Where a global at `addr` lies, for a failed claim; a global in read-only memory gets why.
fn describe_global(region: &Option<Region>, addr: usize) -> String {
    let where_ = describe(region, addr);
    match region {
        Some(r) if matches!(r.kind, RegionKind::ReadOnlyData | RegionKind::Text) => format!(
            "{where_}: a `static` that can never change is read-only, so the linker puts it with \
             the read-only data, zero or not. A global the program can change, such as an \
             AtomicU64, lives in writable memory"
        ),
        _ => where_,
    }
}

/// Where `addr` lies, for a failed claim.
fn describe(region: &Option<Region>, addr: usize) -> String {
    match region {
        Some(r) => format!("it lies in {r} ({:#x}-{:#x})", r.start, r.end),
        // The kernel maps nothing below vm.mmap_min_addr (64 KiB by default).
        None if addr < 0x10000 => format!(
            "no mapped region holds {addr:#x}, and nothing is ever mapped that low: it looks like \
             a value, not an address. The address of x is `&raw const x as usize`"
        ),
        None => "no mapped region holds it".to_owned(),
    }
}
