//! The heap's steps: a small value from glibc's malloc in `[heap]`, a large one in a mapping
//! of its own, and the heap growing by `sbrk` when it runs out.

use std::hint::black_box;
use std::mem::MaybeUninit;

use anyhow::Result;
use lesson::glibc::{GlibcMalloc, MIN_CHUNK};
use lesson::{Lesson, Marks, bytes, human, varying_text};
use memcore::{Mapping, RegionKind, sys};

use super::{Parts, describe, lies_in};
use crate::diagram::Placed;

/// The size of the blocks the heap step allocates until the heap grows, unless glibc's mmap threshold
/// is lower.
const BLOCK: usize = 16 * 1024;

/// How many blocks the heap step allocates when glibc's malloc never calls sbrk.
const NEVER_GROWS_BLOCKS: usize = 64;

pub(crate) fn small_heap_value(
    lesson: &mut Lesson,
    parts: &Parts,
    malloc: &GlibcMalloc,
) -> Result<(Box<u64>, Placed)> {
    lesson.step("A small allocation lives in the heap");
    lesson.say(
        "Box::new asks the global allocator, here glibc's malloc, for 8 bytes.\n\
         malloc serves small requests from the heap. It grows the heap by moving the program \
         break with sbrk.\n\
         The kernel calls that region [heap].",
    );
    let small = lesson.part("a_small_heap_value", parts.a_small_heap_value)?;
    let small_addr = &raw const *small as usize;
    let region = lesson.observe("a Box<u64>", small_addr)?;
    let held = match malloc.no_heap() {
        None => lies_in(
            lesson,
            &region,
            small_addr,
            RegionKind::Heap,
            "the Box lies in [heap]",
        ),
        Some(why) => {
            lesson.fact("not in this run", why);
            let claim = "the Box lies in an anonymous mapping that malloc made";
            lies_in(lesson, &region, small_addr, RegionKind::Anonymous, claim)
        }
    };
    let placed = Placed {
        label: "a Box<u64>",
        addr: small_addr,
        held,
    };
    Ok((small, placed))
}

pub(crate) fn large_allocation(
    lesson: &mut Lesson,
    parts: &Parts,
    len: usize,
    mmap_page: &Mapping,
    malloc: &GlibcMalloc,
) -> Result<(Vec<u8>, Placed)> {
    lesson.step("A large allocation, and glibc's mmap threshold");
    lesson.say(&format!(
        "A Vec of {} also comes from malloc. But a large request gets an anonymous mmap of \
         its own, so that freeing it gives the memory straight back to the OS.\n\
         A request is large when its chunk reaches the mmap threshold. The chunk is the \
         request plus an 8-byte header, rounded up to 16.\n\
         The threshold is 128 KiB unless it is tuned (GLIBC_TUNABLES, mallopt).\n\
         Smaller requests come from the heap. So does a large one when free heap memory \
         already fits it.\n\
         (--large BYTES picks another size.)",
        bytes(len as u64)
    ));
    let (threshold, source) = malloc.mmap_threshold();
    lesson.fact(
        "glibc's mmap threshold here",
        varying_text(&format!("{} ({source})", bytes(threshold as u64))),
    );
    let before = sys::program_break() as usize;
    let large = lesson.part("a_large_allocation", || (parts.a_large_allocation)(len))?;
    let after = sys::program_break() as usize;
    let large_addr = large.as_ptr() as usize;
    let map = lesson.map()?;
    // Where it lies depends on the threshold, so its place among the others is not the lesson.
    let marks = Marks::BOTH;
    let region = lesson.observe_with(
        &map,
        &format!("a Vec of {}", bytes(len as u64)),
        large_addr,
        marks,
    );
    length_asked(lesson, &large, len);
    let kind = region.as_ref().map(|r| r.kind);
    let placement = malloc.placement(len, kind == Some(RegionKind::Heap) && after == before);
    lesson.check(
        &format!(
            "it lies where glibc's threshold sends it, {}",
            varying_text(placement.says())
        ),
        kind == Some(placement.region()),
        describe(&region, large_addr),
    );
    let placed = a_page_from_mmap(lesson, &map, mmap_page);
    Ok((large, placed))
}

/// Checks that the Vec `a_large_allocation` returned holds exactly `len` bytes.
fn length_asked(lesson: &mut Lesson, large: &Vec<u8>, len: usize) {
    lesson.check(
        &format!(
            "a_large_allocation returned a Vec of exactly {}",
            bytes(len as u64)
        ),
        large.len() == len,
        if large.len() < len && large.capacity() >= len {
            format!(
                "its length is {}, though it has room for {len}: Vec::with_capacity(n) only \
                 reserves room; vec![0; n], or resize, makes the bytes",
                large.len()
            )
        } else {
            format!("its length is {}, not {len}", large.len())
        },
    );
}

/// The page this program maps itself, for the picture's mmap area.
fn a_page_from_mmap(lesson: &mut Lesson, map: &memcore::MemoryMap, mmap_page: &Mapping) -> Placed {
    lesson.say(
        "This program also maps one page itself, with mmap, for the picture's mmap area. \
         Anonymous mappings are made there whatever the threshold.",
    );
    let page_addr = mmap_page.as_ptr() as usize;
    let region = lesson.observe_in(map, "a page from mmap", page_addr);
    let held = lies_in(
        lesson,
        &region,
        page_addr,
        RegionKind::Anonymous,
        "the page lies in an anonymous mapping",
    );
    Placed {
        label: "a page from mmap",
        addr: page_addr,
        held,
    }
}

pub(crate) fn heap_grows(lesson: &mut Lesson, malloc: &GlibcMalloc) -> Result<()> {
    lesson.step("The heap grows up");
    if let Some(why) = malloc.no_heap() {
        return heap_never_grows(lesson, why);
    }
    // Each block must come from the heap: below the mmap threshold, header included.
    let block = malloc.largest_heap_request(BLOCK);
    lesson.say(&format!(
        "When its heap is full, malloc asks for more with sbrk. That moves the program break \
         up.\n\
         Blocks of {} are allocated, and kept, until the break moves. A block does not fit \
         unless the room left after it could still hold glibc's smallest chunk, {MIN_CHUNK} \
         bytes.",
        if block.is_multiple_of(1024) {
            human(block as u64)
        } else {
            bytes(block as u64)
        }
    ));
    lesson.fact(
        "glibc's malloc grows the heap",
        varying_text(&malloc.growth()),
    );
    // Enough blocks to use up the room glibc keeps, and then some; left uninitialised, so that
    // only their headers are ever touched.
    let room = malloc
        .growth_room()
        .saturating_mul(2)
        .saturating_add(64 << 20);
    let most = (room / block).min(1 << 20);
    let mut kept: Vec<Box<[MaybeUninit<u8>]>> = Vec::with_capacity(most);
    let before = sys::program_break() as usize;
    while kept.len() < most && sys::program_break() as usize == before {
        kept.push(black_box(Box::new_uninit_slice(block)));
    }
    let moved = sys::program_break() as usize;
    let newest = kept.last().map_or(0, |b| b.as_ptr() as usize);
    let newest_end = newest + block;
    // The break shown is the one of the map's moment. The heap has just run out of room, so
    // reading the maps may move the break again (it does when glibc is tuned with top_pad=0).
    let (map, after) = lesson.map_and_break()?;
    lesson.say(
        "The break is the first address past the heap. The region [heap] ends at the break \
         rounded up to a whole page.\n\
         So a break on a page boundary, as glibc's malloc leaves it, lies in no region.",
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
        moved > before,
        format!(
            "{moved:#x} is not above {before:#x}, after {} blocks",
            kept.len()
        ),
    );
    lesson.check(
        &format!(
            "the block that did not fit, and {MIN_CHUNK} bytes after it, reach above the old \
             break, into the new memory"
        ),
        newest < before && newest_end + MIN_CHUNK > before && newest_end <= moved,
        format!(
            "{newest:#x}-{newest_end:#x} and {MIN_CHUNK} bytes do not cross {before:#x} below \
             {moved:#x}"
        ),
    );
    Ok(())
}

/// The heap step when glibc's malloc is tuned never to call sbrk: it allocates as much, and the break
/// stays where it is.
fn heap_never_grows(lesson: &mut Lesson, why: String) -> Result<()> {
    lesson.say(&format!(
        "When its heap is full, malloc asks for more with sbrk. That moves the program break \
         up.\n\
         Not in this run: {why}.\n\
         So {} blocks of {} are allocated, and kept, and the break must not move. ex2-sbrk \
         moves the break itself.",
        NEVER_GROWS_BLOCKS,
        human(BLOCK as u64)
    ));
    let before = sys::program_break() as usize;
    let kept: Vec<Box<[MaybeUninit<u8>]>> = (0..NEVER_GROWS_BLOCKS)
        .map(|_| black_box(Box::new_uninit_slice(BLOCK)))
        .collect();
    let (map, after) = lesson.map_and_break()?;
    lesson.observe_in(&map, "the program break before", before);
    lesson.observe_in(&map, "the program break after", after);
    let newest = kept.last().map_or(0, |b| b.as_ptr() as usize);
    lesson.observe_in(&map, "the last block", newest);
    lesson.check(
        "the break did not move, and no [heap] exists",
        after == before && map.heap().is_none(),
        format!("the break went from {before:#x} to {after:#x}"),
    );
    Ok(())
}
