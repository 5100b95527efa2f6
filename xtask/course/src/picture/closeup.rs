//! The close-up: the few pages a frame changed, drawn large and labelled in bytes. For the
//! break, the old and the new break, the page boundary above and the slack between; for a new
//! mapping, its start, the length asked and its length in whole pages; for a hole, the hole and
//! what is left of the mapping around it.
//!
//! ```text
//!  page boundary 0x…3000 ─┬──────────┐
//!                         │  slack   │ 2288 bytes mapped, past the break
//!  new break     0x…2710 ─┼──────────┤
//!                         │ the new  │ 10000 bytes (9.8 KiB)
//!  old break     0x…0000 ─┴──────────┘
//! ```

use std::fmt::Write as _;

use memcore::maps::Region;

use super::bands::Kind;
use super::changes::Changes;
use super::labels::{spread, width};
use super::model::Snapshot;
use super::svg::escape;

/// What fills a stretch of the close-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// A mapping of this kind.
    Mapped(Kind),
    /// Nothing is mapped there.
    Unmapped,
    /// Mapped before this frame, not now: the hole.
    Hole,
}

/// A stretch of addresses, `start..end`, and what the lesson calls it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Its lowest address.
    pub start: u64,
    /// The first address above it.
    pub end: u64,
    /// What is there.
    pub fill: Fill,
    /// Whether this frame made it so.
    pub changed: bool,
    /// What it is, in the lesson's terms, with its length (`the new memory: 10000 bytes`).
    pub label: String,
}

/// An address the close-up names (`the new break`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The address.
    pub address: u64,
    /// What it is.
    pub label: String,
}

/// What one frame's close-up shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseUp {
    /// What the close-up is of, in one line (`the break moved up 10000 bytes`).
    pub caption: String,
    /// The stretches, low addresses first, each ending where the next starts.
    pub segments: Vec<Segment>,
    /// The addresses named, low first.
    pub lines: Vec<Line>,
}

impl CloseUp {
    /// The addresses it spans.
    pub fn range(&self) -> (u64, u64) {
        (
            self.segments.first().map_or(0, |s| s.start),
            self.segments.last().map_or(0, |s| s.end),
        )
    }
}

/// Bytes as the lesson says them: `10000 bytes (9.8 KiB)`.
fn bytes(n: u64) -> String {
    lesson::bytes(n)
}

/// The page size, which the snapshots do not record: the run drawn ran on this machine.
fn page() -> u64 {
    memcore::sys::page_size() as u64
}

fn page_down(address: u64, page: u64) -> u64 {
    address / page * page
}

fn page_up(address: u64, page: u64) -> u64 {
    address.div_ceil(page) * page
}

/// Whether `start..end` overlaps any of `ranges`.
fn overlaps(ranges: &[(u64, u64)], start: u64, end: u64) -> bool {
    ranges.iter().any(|&(s, e)| s < end && start < e)
}

/// The region of `regions` holding `address`.
fn holding(regions: &[Region], address: u64) -> Option<&Region> {
    regions
        .iter()
        .find(|r| r.start as u64 <= address && address < r.end as u64)
}

/// What fills `start..` in `after`, given what `changes` says went.
fn fill(after: &Snapshot, changes: &Changes, start: u64, end: u64) -> Fill {
    match holding(&after.regions, start) {
        Some(region) => Fill::Mapped(Kind::of(region.kind)),
        None if overlaps(&changes.removed, start, end) => Fill::Hole,
        None => Fill::Unmapped,
    }
}

/// Cuts `start..end` at `points` into segments, each named by `name(start, end, fill)`.
fn segments(
    after: &Snapshot,
    changes: &Changes,
    points: &[u64],
    name: impl Fn(u64, u64, Fill) -> String,
) -> Vec<Segment> {
    let mut points = points.to_vec();
    points.sort_unstable();
    points.dedup();
    points
        .windows(2)
        .map(|w| {
            let (start, end) = (w[0], w[1]);
            let fill = fill(after, changes, start, end);
            // A byte range the step named holds this stretch: its name is the lesson's.
            let named = after
                .spans
                .iter()
                .rev()
                .find(|s| s.start <= start && end <= s.start + s.len && fill != Fill::Hole);
            Segment {
                start,
                end,
                fill,
                changed: overlaps(&changes.added, start, end)
                    || overlaps(&changes.removed, start, end)
                    || overlaps(&changes.protected, start, end),
                label: match named {
                    Some(span) => format!("{}: {}", span.label, bytes(end - start)),
                    None => name(start, end, fill),
                },
            }
        })
        .collect()
}

/// The close-up of the break moving from `old` to `new`.
fn break_moved(after: &Snapshot, changes: &Changes, old: u64, new: u64, page: u64) -> CloseUp {
    let (low, high) = (old.min(new), old.max(new));
    let heap_start = holding(&after.regions, low.saturating_sub(1))
        .or_else(|| holding(&after.regions, low))
        .map_or(low, |r| r.start as u64);
    // A page below, for what the break moved from.
    let from = page_down(low.saturating_sub(1), page).max(heap_start.min(low));
    let boundary = page_up(high, page);
    let mut points = vec![from, low, high, boundary];
    // A page given back above the break: the hole reaches to where the mapping used to end.
    let top = changes
        .removed
        .iter()
        .filter(|&&(s, _)| s >= low && s <= boundary)
        .map(|&(_, e)| e)
        .max()
        .unwrap_or(boundary);
    points.push(top);
    points.extend(span_points(after, from, top));
    let grew = new > old;
    let name = |start: u64, end: u64, fill: Fill| {
        let n = bytes(end - start);
        match fill {
            Fill::Hole if start >= low && end <= high => format!("given back, unmapped now: {n}"),
            Fill::Hole => format!("the rest of its page, unmapped with it: {n}"),
            Fill::Unmapped => format!("unmapped: {n}"),
            Fill::Mapped(_) if end <= low => format!("below the break before: {n}"),
            Fill::Mapped(_) if start >= low && end <= high && grew => {
                format!("the new memory: {n}")
            }
            Fill::Mapped(_) if start >= low && end <= high => {
                format!("given back, still mapped: {n}")
            }
            Fill::Mapped(_) => format!("slack, mapped but past the break: {n}"),
        }
    };
    let mut lines = vec![
        Line {
            address: old,
            label: format!("the old break {old:#x}"),
        },
        Line {
            address: new,
            label: format!("the new break {new:#x}"),
        },
    ];
    if boundary != high {
        lines.push(Line {
            address: boundary,
            label: format!("the page boundary above {boundary:#x}"),
        });
    }
    if from < low {
        lines.push(Line {
            address: from,
            label: format!("a page boundary {from:#x}"),
        });
    }
    lines.sort_by_key(|l| l.address);
    let moved = bytes(high - low);
    CloseUp {
        caption: if grew {
            format!("The break moved up {moved}.")
        } else {
            format!("The break moved down {moved}.")
        },
        segments: segments(after, changes, &points, name),
        lines,
    }
}

/// The ends of the spans the step named, where they fall inside `from..to`.
fn span_points(after: &Snapshot, from: u64, to: u64) -> Vec<u64> {
    after
        .spans
        .iter()
        .flat_map(|s| [s.start, s.start + s.len])
        .filter(|&p| from < p && p < to)
        .collect()
}

/// The close-up of a new mapping `start..end`, with the length a call asked for if the step
/// named it.
fn mapped(after: &Snapshot, changes: &Changes, start: u64, end: u64) -> CloseUp {
    let pages = (end - start).div_ceil(page());
    let asked = after
        .spans
        .iter()
        .rev()
        .find(|s| s.start == start && s.len <= end - start);
    let mut points = vec![start, end];
    if let Some(span) = asked {
        points.push(start + span.len);
    }
    let name = |from: u64, to: u64, _: Fill| match asked {
        Some(span) if from == start => format!("{}: {}", span.label, bytes(span.len)),
        Some(_) => format!("the rest of the last page: {}", bytes(to - from)),
        None => format!("the new mapping: {}", bytes(to - from)),
    };
    let plural = if pages == 1 { "page" } else { "pages" };
    CloseUp {
        caption: format!(
            "A new mapping: {} in whole pages ({pages} {plural}).",
            bytes(end - start)
        ),
        segments: segments(after, changes, &points, name),
        lines: vec![
            Line {
                address: start,
                label: format!("its start {start:#x}"),
            },
            Line {
                address: end,
                label: format!("its end {end:#x}, {pages} {plural} up"),
            },
        ],
    }
}

/// The close-up of the hole `start..end` and what is left of the mapping around it.
fn unmapped(
    before: &Snapshot,
    after: &Snapshot,
    changes: &Changes,
    start: u64,
    end: u64,
) -> CloseUp {
    let around = |address: u64| holding(&before.regions, address).cloned();
    let low = around(start)
        .map(|r| r.start as u64)
        .filter(|&s| holding(&after.regions, s).is_some())
        .unwrap_or(start);
    let high = around(end.saturating_sub(1))
        .map(|r| r.end as u64)
        .filter(|&e| holding(&after.regions, e - 1).is_some())
        .unwrap_or(end);
    let name = |from: u64, to: u64, fill: Fill| match fill {
        Fill::Hole | Fill::Unmapped => format!("the hole: {}", bytes(to - from)),
        Fill::Mapped(_) => format!("what is left: {}", bytes(to - from)),
    };
    CloseUp {
        caption: format!("Unmapped: a hole of {}.", bytes(end - start)),
        segments: segments(after, changes, &[low, start, end, high], name),
        lines: vec![
            Line {
                address: start,
                label: format!("the hole starts {start:#x}"),
            },
            Line {
                address: end,
                label: format!("the hole ends {end:#x}"),
            },
        ],
    }
}

/// The close-up of the frame `after`, which follows `before` with `changes`; `None` when the
/// frame changed nothing.
pub fn close_up(before: &Snapshot, after: &Snapshot, changes: &Changes) -> Option<CloseUp> {
    let largest = |ranges: &[(u64, u64)]| ranges.iter().copied().max_by_key(|(s, e)| e - s);
    if changes.break_moved != 0 {
        return Some(break_moved(
            after,
            changes,
            before.program_break,
            after.program_break,
            page(),
        ));
    }
    if let Some((start, end)) = largest(&changes.added) {
        return Some(mapped(after, changes, start, end));
    }
    if let Some((start, end)) = largest(&changes.removed) {
        return Some(unmapped(before, after, changes, start, end));
    }
    let (start, end) = largest(&changes.protected)?;
    let name = |from: u64, to: u64, _: Fill| format!("new permissions: {}", bytes(to - from));
    Some(CloseUp {
        caption: format!("New permissions on {}.", bytes(end - start)),
        segments: segments(after, changes, &[start, end], name),
        lines: Vec::new(),
    })
}

/// The close-up of a frame that moved nothing: where the break is, in its page, and the byte
/// ranges the step named below it. `first` for the run's first frame.
pub fn still(after: &Snapshot, first: bool) -> Option<CloseUp> {
    let at = after.program_break;
    let heap = holding(&after.regions, at.saturating_sub(1))?;
    let page = page();
    let lowest = after
        .spans
        .iter()
        .map(|s| s.start)
        .filter(|&s| s >= heap.start as u64 && s < at)
        .min()
        .unwrap_or(at.saturating_sub(1));
    let from = page_down(lowest, page).max(heap.start as u64);
    let boundary = page_up(at, page);
    let mut points = vec![from, at, boundary];
    points.extend(span_points(after, from, boundary));
    // Bytes between two of the step's spans (a chunk's size rounded up, say) are a gap; the
    // rest below the break is simply below it.
    let between = |start: u64, end: u64| {
        let spans = &after.spans;
        spans.iter().any(|s| s.start + s.len <= start) && spans.iter().any(|s| s.start >= end)
    };
    let name = |start: u64, end: u64, _: Fill| {
        if end <= at && between(start, end) {
            format!("a gap: {}", bytes(end - start))
        } else if end <= at {
            format!("below the break: {}", bytes(end - start))
        } else {
            format!("slack, mapped but past the break: {}", bytes(end - start))
        }
    };
    let mut lines = vec![Line {
        address: at,
        label: if first {
            format!("the initial break {at:#x}")
        } else {
            format!("the break {at:#x}")
        },
    }];
    if boundary != at {
        lines.push(Line {
            address: boundary,
            label: format!("the page boundary above {boundary:#x}"),
        });
    }
    Some(CloseUp {
        caption: if first {
            "Where the break starts, in its page.".to_owned()
        } else {
            "The break did not move.".to_owned()
        },
        segments: segments(after, &Changes::default(), &points, name),
        lines,
    })
}

/// The close-up's size in pixels.
pub const WIDTH: f64 = 1020.0;
/// Its height.
pub const HEIGHT: f64 = 560.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = HEIGHT - 16.0;
/// Where the bar is, across.
const BAR_X: f64 = 380.0;
const BAR_WIDTH: f64 = 140.0;
/// The smallest a segment is drawn, in pixels.
const LEAST: f64 = 40.0;
const FONT: f64 = 13.0;
const LABEL_HEIGHT: f64 = 20.0;

/// Each segment's top and bottom in pixels: heights grow with the square root of the bytes,
/// at least [`LEAST`], so that 16 bytes and 4 KiB can both be seen and labelled.
fn heights(segments: &[Segment]) -> Vec<(f64, f64)> {
    let weights: Vec<f64> = segments
        .iter()
        .map(|s| ((s.end - s.start) as f64).sqrt())
        .collect();
    let total: f64 = weights.iter().sum::<f64>().max(1.0);
    let room = (BOTTOM - TOP) - LEAST * segments.len() as f64;
    let mut y = BOTTOM;
    weights
        .iter()
        .map(|w| {
            let h = LEAST + room.max(0.0) * w / total;
            let bottom = y;
            y -= h;
            (y, bottom)
        })
        .collect()
}

fn class(fill: Fill) -> &'static str {
    match fill {
        Fill::Mapped(kind) => kind.class(),
        Fill::Unmapped => "unmapped",
        Fill::Hole => "hole",
    }
}

/// A `<text>` with the box it was laid out in.
fn text(out: &mut String, class: &str, x: f64, y: f64, anchor_end: bool, label: &str) {
    let w = width(label, FONT);
    let left = if anchor_end { x - w } else { x };
    let anchor = if anchor_end { "end" } else { "start" };
    let _ = write!(
        out,
        r#"<text class="{class}" x="{x:.1}" y="{y:.1}" font-size="{FONT}" text-anchor="{anchor}" data-box="{left:.1} {:.1} {w:.1} {LABEL_HEIGHT}">{}</text>"#,
        y - LABEL_HEIGHT / 2.0,
        escape(label)
    );
}

/// The close-up as SVG. Low addresses at the bottom, as in the overview.
pub fn render(close_up: &CloseUp) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="closeup" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">"#
    );
    let places = heights(&close_up.segments);
    let y_of = |address: u64| {
        close_up
            .segments
            .iter()
            .zip(&places)
            .find(|(s, _)| s.start <= address && address <= s.end)
            .map_or(BOTTOM, |(s, &(top, bottom))| {
                let share = (address - s.start) as f64 / (s.end - s.start).max(1) as f64;
                bottom - share * (bottom - top)
            })
    };
    let mut wanted = Vec::new();
    for (segment, &(top, bottom)) in close_up.segments.iter().zip(&places) {
        let _ = write!(
            out,
            r#"<rect class="segment {}{}" x="{BAR_X}" y="{top:.1}" width="{BAR_WIDTH}" height="{:.1}" data-start="{:#x}" data-end="{:#x}"/>"#,
            class(segment.fill),
            if segment.changed { " changed" } else { "" },
            bottom - top,
            segment.start,
            segment.end
        );
        if segment.changed {
            let _ = write!(
                out,
                r#"<rect class="changed-hatch" x="{BAR_X}" y="{top:.1}" width="{BAR_WIDTH}" height="{:.1}"/>"#,
                bottom - top
            );
        }
        wanted.push((top + bottom) / 2.0);
    }
    let centres = spread(&wanted, LABEL_HEIGHT, TOP, BOTTOM);
    let right = BAR_X + BAR_WIDTH;
    for ((segment, &(top, bottom)), y) in close_up.segments.iter().zip(&places).zip(centres) {
        let mid = (top + bottom) / 2.0;
        let _ = write!(
            out,
            r#"<polyline class="leader" points="{right:.1},{mid:.1} {:.1},{mid:.1} {:.1},{y:.1}"/>"#,
            right + 10.0,
            right + 22.0
        );
        let class = if segment.changed {
            "label changed"
        } else {
            "label"
        };
        text(&mut out, class, right + 28.0, y, false, &segment.label);
    }
    let wanted: Vec<f64> = close_up.lines.iter().map(|l| y_of(l.address)).collect();
    let centres = spread(
        &wanted,
        LABEL_HEIGHT,
        TOP - LABEL_HEIGHT / 2.0,
        BOTTOM + LABEL_HEIGHT / 2.0,
    );
    for ((line, &at), y) in close_up.lines.iter().zip(&wanted).zip(centres) {
        let _ = write!(
            out,
            r#"<line class="address" x1="{:.1}" y1="{at:.1}" x2="{right:.1}" y2="{at:.1}" data-address="{:#x}"/><polyline class="leader" points="{:.1},{y:.1} {:.1},{at:.1}"/>"#,
            BAR_X - 24.0,
            line.address,
            BAR_X - 40.0,
            BAR_X - 24.0
        );
        text(&mut out, "address", BAR_X - 44.0, y, true, &line.label);
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::picture::changes::changes;
    use crate::picture::model::Span;

    fn snapshot(maps: &str, program_break: u64) -> Snapshot {
        Snapshot::of_maps(2, maps, program_break)
    }

    fn heap(start: u64, end: u64) -> String {
        format!("{start:x}-{end:x} rw-p 00000000 00:00 0 [heap]\n")
    }

    #[test]
    fn the_break_growing_by_10000_bytes_shows_the_new_memory_and_the_slack_to_the_page_above() {
        let p = page();
        let (start, old) = (0x1000_0000, 0x1000_0000 + 16 * p);
        let new = old + 10_000;
        let boundary = page_up(new, p);
        let before = snapshot(&heap(start, old), old);
        let after = snapshot(&heap(start, boundary), new);
        let found = changes(&before, &after);
        let close = close_up(&before, &after, &found).unwrap();
        assert_eq!(close.caption, "The break moved up 10000 bytes (9.8 KiB).");
        let ranges: Vec<(u64, u64)> = close.segments.iter().map(|s| (s.start, s.end)).collect();
        assert_eq!(ranges, [(old - p, old), (old, new), (new, boundary)]);
        assert!(
            close.segments[1]
                .label
                .starts_with("the new memory: 10000 bytes")
        );
        assert!(
            close.segments[2]
                .label
                .starts_with("slack, mapped but past the break")
        );
        assert!(close.segments[1].changed && !close.segments[0].changed);
        let lines: Vec<u64> = close.lines.iter().map(|l| l.address).collect();
        assert_eq!(lines, [old - p, old, new, boundary]);
    }

    #[test]
    fn a_frame_that_moved_nothing_names_the_gap_between_two_chunks_as_a_gap() {
        let p = page();
        let (start, at) = (0x1000_0000, 0x1000_0000 + 4 * p);
        let mut after = snapshot(&heap(start, at), at);
        let span = |label: &str, start: u64, len: u64| Span {
            label: label.to_owned(),
            start,
            len,
        };
        // Chunk 1 asked for 24 bytes and was given 32; chunk 2 starts after them.
        after.spans = vec![
            span("chunk 1", at - p, 24),
            span("chunk 2", at - p + 32, 100),
        ];
        let close = still(&after, false).unwrap();
        let labels: Vec<&str> = close.segments.iter().map(|s| s.label.as_str()).collect();
        assert!(labels[1].starts_with("a gap: 8 bytes"), "{labels:?}");
        assert!(labels[3].starts_with("below the break:"), "{labels:?}");
    }

    #[test]
    fn a_mapping_shows_the_length_asked_and_a_munmap_the_hole_and_what_is_left() {
        let p = page();
        let at = 0x7000_0000_0000;
        let before = snapshot("", 0);
        let mut after = snapshot(
            &format!("{at:x}-{:x} rw-p 00000000 00:00 0\n", at + 3 * p),
            0,
        );
        after.spans.push(Span {
            label: "the length asked".to_owned(),
            start: at,
            len: 2 * p + 100,
        });
        let close = close_up(&before, &after, &changes(&before, &after)).unwrap();
        assert!(close.caption.contains("(3 pages)"), "{}", close.caption);
        assert!(close.segments[0].label.starts_with("the length asked: "));
        assert!(
            close.segments[1]
                .label
                .starts_with("the rest of the last page: ")
        );
        let holed = snapshot(
            &format!(
                "{at:x}-{:x} rw-p 00000000 00:00 0\n{:x}-{:x} rw-p 00000000 00:00 0\n",
                at + p,
                at + 2 * p,
                at + 3 * p
            ),
            0,
        );
        let close = close_up(&after, &holed, &changes(&after, &holed)).unwrap();
        let labels: Vec<&str> = close.segments.iter().map(|s| s.label.as_str()).collect();
        assert!(labels[0].starts_with("what is left: "), "{labels:?}");
        assert!(labels[1].starts_with("the hole: "), "{labels:?}");
        assert!(labels[2].starts_with("what is left: "), "{labels:?}");
    }
}
