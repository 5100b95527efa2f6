//! The lesson's diagram of the address space, in text (not `cargo xtask picture`'s page),
//! drawn with this run's real regions and addresses, in the order this run's layout has them,
//! and checked against that order.

use anyhow::Result;
use lesson::{Lesson, varying_bytes, varying_text};
use memcore::{MemoryMap, Region};

/// Where each observed thing lies, for the diagram at the end.
pub(crate) struct Placed {
    pub(crate) label: &'static str,
    pub(crate) addr: usize,
    /// Every claim its step made about it held.
    pub(crate) held: bool,
}

/// One row of the diagram: its name, the region it stands for, and what lies in it.
type Row<'a> = (&'static str, &'a Region, Vec<&'a Placed>);

/// Draws the lesson's diagram, high addresses first, with the real regions, the gaps between
/// them, and where each variable landed; then checks the lesson's order. Without a `heap`
/// (glibc's malloc tuned never to call sbrk), the Box is drawn in the mmap area, where it lies.
pub(crate) fn diagram(
    lesson: &mut Lesson,
    map: &MemoryMap,
    placed: &[Placed],
    heap: bool,
) -> Result<()> {
    let rows = order(lesson, map, placed, choose(heap));
    let drawn = regions_of(map, placed, rows)?;
    draw(lesson, map, &drawn);
    check_order(lesson, placed, &drawn);
    Ok(())
}

/// The rows of the diagram, bottom to top, each with the things that lie in it.
fn choose(heap: bool) -> Vec<(&'static str, &'static [&'static str])> {
    let mut rows: Vec<(&str, &[&str])> = vec![
        ("text", &["a function's code"]),
        ("data + bss", &["an initialised global", "a zeroed global"]),
        ("heap", &["a Box<u64>"]),
        ("mmap area", &["a page from mmap"]),
        ("stack", &["a local variable"]),
    ];
    if !heap {
        rows.remove(2);
        rows[2].1 = &["a page from mmap", "a Box<u64>"];
    }
    rows
}

fn find<'a>(placed: &'a [Placed], label: &str) -> Option<&'a Placed> {
    placed.iter().find(|p| p.label == label)
}

/// The rows in this run's order: the legacy layout puts the mmap area at a third of the
/// address space, below the program. Says which layout this is.
fn order(
    lesson: &mut Lesson,
    map: &MemoryMap,
    placed: &[Placed],
    mut rows: Vec<(&'static str, &'static [&'static str])>,
) -> Vec<(&'static str, &'static [&'static str])> {
    let text_start = find(placed, "a function's code")
        .and_then(|p| map.region_of(p.addr))
        .map_or(0, |r| r.start);
    let legacy = find(placed, "a page from mmap").is_some_and(|p| p.addr < text_start);
    let reasons = memcore::layout::legacy_mmap_reasons();
    let layout = if legacy {
        let mmap_row = rows.iter().position(|(name, _)| *name == "mmap area");
        let row = rows.remove(mmap_row.unwrap_or(0));
        rows.insert(0, row);
        format!(
            "legacy: the mmap area starts at a third of the address space, below the program \
             (this process has {})",
            if reasons.is_empty() {
                "none of the reasons this program knows".to_owned()
            } else {
                reasons.join(", ")
            }
        )
    } else {
        "top-down: the mmap area lies below the stack, above the heap (the default)".to_owned()
    };
    lesson.fact("the mmap layout", varying_text(&layout));
    rows
}

/// Each row with the region that holds its things.
fn regions_of<'a>(
    map: &'a MemoryMap,
    placed: &'a [Placed],
    rows: Vec<(&'static str, &'static [&'static str])>,
) -> Result<Vec<Row<'a>>> {
    let mut drawn = Vec::new();
    for (name, labels) in rows {
        let things: Vec<&Placed> = labels.iter().filter_map(|l| find(placed, l)).collect();
        let Some(region) = things.iter().find_map(|p| map.region_of(p.addr)) else {
            anyhow::bail!("no region holds the {name} row's variables");
        };
        drawn.push((name, region, things));
    }
    Ok(drawn)
}

/// Draws the rows, high addresses first, with the gaps between them.
fn draw(lesson: &mut Lesson, map: &MemoryMap, drawn: &[Row<'_>]) {
    // Only a left border: a right one would have to be padded to the width of numbers that
    // change from run to run. Each region shows its start and size rather than both ends: with
    // ASLR off the heap starts exactly where the data ends, and one address would stand for two.
    let border = format!("  +{}", "-".repeat(64));
    lesson.line("  high addresses");
    for (i, (name, region, things)) in drawn.iter().enumerate().rev() {
        lesson.line(border.clone());
        // Where a region starts is not the lesson (a neighbour may have merged into it).
        lesson.line(format!(
            "  | {name:<11} {region} from ~{:#x}, {}",
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
}

/// Checks the lesson's order: each row below the next, and data below bss.
fn check_order(lesson: &mut Lesson, placed: &[Placed], drawn: &[Row<'_>]) {
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
    let data = find(placed, "an initialised global").map_or(0, |p| p.addr);
    let bss = find(placed, "a zeroed global").map_or(0, |p| p.addr);
    lesson.check(
        "data lies below bss",
        data < bss,
        format!("{data:#x} is not below {bss:#x}"),
    );
}
