//! The overview: the whole address space of a frame, small, one row per band (not to scale),
//! high addresses at the top. Each run of neighbouring mappings that the run never touches (no
//! frame changed them, no step looked at them) is one row, labelled with its count; the row the
//! close-up shows is outlined and pointed at.

use std::fmt::Write as _;

use super::bands::{Kind, bands};
use super::changes::Changes;
use super::labels::{cut, fits};
use super::model::Snapshot;
use super::svg::escape;

/// The overview's size in pixels.
pub const WIDTH: f64 = 360.0;
/// Its height.
pub const HEIGHT: f64 = 560.0;
const BAR_X: f64 = 8.0;
const BAR_WIDTH: f64 = 250.0;
const FONT: f64 = 11.0;
/// The tallest a row is drawn.
const ROW: f64 = 28.0;
const SPACE: f64 = 4.0;

/// What one row of the overview stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Its lowest address.
    pub start: u64,
    /// The first address above it.
    pub end: u64,
    /// Its colour's class: a kind's, `untouched` or `hole`.
    pub class: &'static str,
    /// What it says.
    pub label: String,
    /// Whether this frame changed it.
    pub changed: bool,
}

/// Whether `start..end` overlaps any of `ranges`.
fn overlaps(ranges: &[(u64, u64)], start: u64, end: u64) -> bool {
    ranges.iter().any(|&(s, e)| s < end && start < e)
}

/// Every address range the run touches: what each frame changed, where the break was, what
/// the steps looked at and named.
pub fn touched(frames: &[Snapshot], changes: &[Changes]) -> Vec<(u64, u64)> {
    let mut ranges = Vec::new();
    for change in changes {
        ranges.extend(&change.added);
        ranges.extend(&change.removed);
        ranges.extend(&change.protected);
    }
    for frame in frames {
        let at = frame.program_break;
        ranges.push((at.saturating_sub(1), at + 1));
        ranges.extend(frame.marks.iter().map(|m| (m.address, m.address + 1)));
        ranges.extend(
            frame
                .spans
                .iter()
                .map(|s| (s.start, s.start + s.len.max(1))),
        );
    }
    ranges
}

/// The rows of `snapshot`'s overview, low addresses first: its bands, the holes `changes` left,
/// and each run of untouched bands as one.
pub fn rows(snapshot: &Snapshot, changes: &Changes, touched: &[(u64, u64)]) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    let mut untouched = 0usize;
    for band in bands(&snapshot.regions) {
        if !overlaps(touched, band.start, band.end) {
            match rows.last_mut() {
                Some(last) if last.class == "untouched" => {
                    last.end = band.end;
                    untouched += band.count;
                }
                _ => {
                    untouched = band.count;
                    rows.push(Row {
                        start: band.start,
                        end: band.end,
                        class: "untouched",
                        label: String::new(),
                        changed: false,
                    });
                }
            }
            if let Some(last) = rows.last_mut() {
                last.label = match untouched {
                    1 => "1 mapping the run never touches".to_owned(),
                    n => format!("{n} mappings the run never touches"),
                };
            }
            continue;
        }
        let region = &snapshot.regions[band.first];
        let name = match band.kind {
            Kind::Heap => "[heap]".to_owned(),
            Kind::Stack => "[stack]".to_owned(),
            kind if band.count > 1 => format!("{} ×{}", kind.name(), band.count),
            Kind::MappedFile | Kind::Library => region
                .path
                .rsplit('/')
                .next()
                .unwrap_or(&region.path)
                .to_owned(),
            kind => kind.name().to_owned(),
        };
        rows.push(Row {
            start: band.start,
            end: band.end,
            class: band.kind.class(),
            label: format!("{name}, {}", lesson::human(band.end - band.start)),
            changed: overlaps(&changes.added, band.start, band.end)
                || overlaps(&changes.protected, band.start, band.end),
        });
    }
    for &(start, end) in &changes.removed {
        let at = rows.partition_point(|r| r.start < start);
        rows.insert(
            at,
            Row {
                start,
                end,
                class: "hole",
                label: format!("the hole, {}", lesson::human(end - start)),
                changed: true,
            },
        );
    }
    rows
}

/// The overview as SVG, the rows that overlap `focus` (the close-up's range) marked.
pub fn render(rows: &[Row], focus: Option<(u64, u64)>) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="overview" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">"#
    );
    let room = HEIGHT - 8.0;
    let row = (room / rows.len().max(1) as f64 - SPACE).clamp(2.0, ROW);
    let chars = fits(BAR_WIDTH - 8.0, FONT);
    let mut marked = false;
    for (i, r) in rows.iter().enumerate() {
        let top = 4.0 + (rows.len() - 1 - i) as f64 * (row + SPACE);
        let focused = focus.is_some_and(|(s, e)| r.start < e.max(s + 1) && s < r.end);
        let _ = write!(
            out,
            r#"<rect class="row {}{}{}" x="{BAR_X}" y="{top:.1}" width="{BAR_WIDTH}" height="{row:.1}" data-start="{:#x}" data-end="{:#x}"/>"#,
            r.class,
            if r.changed { " changed" } else { "" },
            if focused { " focus" } else { "" },
            r.start,
            r.end
        );
        if r.changed {
            let _ = write!(
                out,
                r#"<rect class="changed-hatch" x="{BAR_X}" y="{top:.1}" width="{BAR_WIDTH}" height="{row:.1}"/>"#
            );
        }
        let mid = top + row / 2.0;
        if row >= FONT + 2.0 {
            let label = cut(&r.label, chars);
            let w = super::labels::width(&label, FONT);
            let _ = write!(
                out,
                r#"<text class="row-label" x="{:.1}" y="{mid:.1}" font-size="{FONT}" data-box="{:.1} {:.1} {w:.1} {:.1}"><title>{}</title>{}</text>"#,
                BAR_X + 4.0,
                BAR_X + 4.0,
                mid - row / 2.0,
                row,
                escape(&r.label),
                escape(&label)
            );
        }
        if focused && !marked {
            marked = true;
            let x = BAR_X + BAR_WIDTH + 6.0;
            let label = "◀ close-up";
            let w = super::labels::width(label, FONT + 1.0);
            let _ = write!(
                out,
                r#"<text class="focus-label" x="{x:.1}" y="{mid:.1}" font-size="{}" data-box="{x:.1} {:.1} {w:.1} {:.1}">{label}</text>"#,
                FONT + 1.0,
                mid - row / 2.0,
                row
            );
        }
    }
    out.push_str("</svg>");
    out
}
