//! The picture as SVG: the axis on the left, then one column per step, side by side. Every
//! label is an SVG `<text>` with the box it was laid out in (`data-box="x y w h"`); every band
//! and marker says what it stands for in `data-` attributes, which the tests read back.

use std::fmt::Write as _;

use super::bands::{Band, bands};
use super::changes::{Changes, changes, describe};
use super::labels::{cut, fits, spread, width, wrap};
use super::layout::{Axis, GAP_HEIGHT, RowKind, USER_TOP, axis};
use super::model::{Run, Snapshot};

const MARGIN: f64 = 12.0;
const AXIS_WIDTH: f64 = 180.0;
const COLUMN_WIDTH: f64 = 320.0;
/// The band's left edge and width, within its column.
const BAND_X: f64 = 12.0;
const BAND_WIDTH: f64 = 56.0;
/// The marker labels' left edge, within the column.
const LABEL_X: f64 = BAND_X + BAND_WIDTH + 22.0;
const LABEL_WIDTH: f64 = COLUMN_WIDTH - LABEL_X - 10.0;
/// Font sizes, and the height of one line of each.
const TITLE: f64 = 12.0;
const TEXT: f64 = 11.0;
const SMALL: f64 = 10.0;
const LINE: f64 = 14.0;
const SMALL_LINE: f64 = 13.0;
/// The most lines a step's title takes.
const TITLE_LINES: usize = 3;

/// The SVG document and its size in pixels.
#[derive(Debug, Clone)]
pub struct Svg {
    /// The `<svg>` element, whole.
    pub text: String,
    /// Its width.
    pub width: f64,
    /// Its height.
    pub height: f64,
}

/// Text made safe to put in an XML attribute or element.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An SVG document being written.
#[derive(Debug, Default)]
struct Canvas {
    out: String,
}

impl Canvas {
    /// A label: one line of text, left-aligned at `x`, centred on `y`, with its box and, if
    /// given, a hover text.
    fn label(&mut self, x: f64, y: f64, size: f64, class: &str, text: &str, hover: Option<&str>) {
        let (w, h) = (width(text, size), size * 1.2);
        let _ = write!(
            self.out,
            r#"<text class="label {class}" x="{x:.1}" y="{y:.1}" font-size="{size}" data-box="{:.1} {:.1} {w:.1} {h:.1}">{}"#,
            x,
            y - h / 2.0,
            escape(text)
        );
        if let Some(hover) = hover {
            let _ = write!(self.out, "<title>{}</title>", escape(hover));
        }
        self.out.push_str("</text>\n");
    }

    /// A rectangle from `top` down to `bottom`.
    fn rect(&mut self, x: f64, top: f64, w: f64, bottom: f64, attributes: &str) {
        let _ = writeln!(
            self.out,
            r#"<rect x="{x:.1}" y="{top:.2}" width="{w:.1}" height="{:.2}" {attributes}/>"#,
            (bottom - top).max(0.0)
        );
    }
}

/// A size in words, up to EiB (the kernel's half of the address space is 16 EiB).
fn size(bytes: u64) -> String {
    const EIB: u64 = 1 << 60;
    if bytes >= EIB {
        format!("{:.1} EiB", bytes as f64 / EIB as f64)
    } else {
        lesson::human(bytes)
    }
}

/// The header of one column: the step, its title and what changed since the step before.
fn header_lines(snapshot: &Snapshot, changed: Option<&Changes>) -> (Vec<String>, Vec<String>) {
    let chars = fits(COLUMN_WIDTH - 2.0 * BAND_X, TEXT);
    let title = wrap(&snapshot.title, chars, TITLE_LINES);
    let notes = match changed {
        None => vec!["the map as this step left it".to_owned()],
        Some(c) if c.is_empty() => vec!["no change since the step before".to_owned()],
        Some(c) => describe(c),
    };
    (title, notes)
}

/// The height of the tallest header.
fn header_height(headers: &[(Vec<String>, Vec<String>)]) -> f64 {
    headers
        .iter()
        .map(|(title, notes)| LINE + title.len() as f64 * LINE + notes.len() as f64 * SMALL_LINE)
        .fold(0.0, f64::max)
}

/// Draws a column's header at `x`.
fn header(canvas: &mut Canvas, x: f64, step: usize, lines: &(Vec<String>, Vec<String>)) {
    let mut y = MARGIN + LINE / 2.0;
    canvas.label(
        x + BAND_X,
        y,
        TITLE,
        "step-number",
        &format!("Step {step}"),
        None,
    );
    for line in &lines.0 {
        y += LINE;
        canvas.label(x + BAND_X, y, TEXT, "title", line, None);
    }
    y += (LINE + SMALL_LINE) / 2.0 - SMALL_LINE;
    for line in &lines.1 {
        y += SMALL_LINE;
        canvas.label(x + BAND_X, y, SMALL, "change", line, None);
    }
}

/// The axis's labels: each island's lowest and highest address, each gap's size, the top of
/// the user address space and address 0; and the compressed gaps across every column.
fn axis_labels(canvas: &mut Canvas, axis: &Axis, width: f64) {
    let x = MARGIN;
    for row in &axis.rows {
        let at = row.at;
        match row.kind {
            RowKind::Gap => {
                let what = if at.start >= USER_TOP {
                    format!("{}: the kernel's half", size(at.end - at.start))
                } else {
                    format!("{} unmapped", size(at.end - at.start))
                };
                let middle = (at.low + at.high) / 2.0;
                canvas.rect(
                    x + AXIS_WIDTH - 8.0,
                    at.high + 3.0,
                    width - AXIS_WIDTH - x,
                    at.low - 3.0,
                    r#"class="gap""#,
                );
                canvas.label(x, middle, SMALL, "gap", &what, None);
            }
            RowKind::Island => {
                let height = at.low - at.high;
                canvas.label(
                    x,
                    at.low - SMALL_LINE / 2.0,
                    SMALL,
                    "address",
                    &format!("{:#x}", at.start),
                    None,
                );
                if height >= 2.0 * SMALL_LINE + 4.0 {
                    canvas.label(
                        x,
                        at.high + SMALL_LINE / 2.0,
                        SMALL,
                        "address",
                        &format!("{:#x}", at.end),
                        None,
                    );
                }
            }
        }
    }
    let top = axis.y(USER_TOP);
    let _ = writeln!(
        canvas.out,
        r#"<line class="user-top" x1="{:.1}" y1="{top:.1}" x2="{width:.1}" y2="{top:.1}"/>"#,
        x + AXIS_WIDTH - 8.0
    );
    // Between the two gaps that meet there, or just below the top when nothing is above it.
    let y = if top - axis.top < GAP_HEIGHT / 2.0 {
        top + SMALL_LINE / 2.0
    } else {
        top
    };
    canvas.label(x, y, SMALL, "user-top", "128 TiB: top of user space", None);
    canvas.label(
        x,
        axis.bottom + SMALL_LINE / 2.0 + 2.0,
        SMALL,
        "address",
        "0x0",
        None,
    );
}

/// A band's hover text: its line of the maps file, or for a merged band, how many mappings it
/// holds and the first and last of their lines.
fn hover(snapshot: &Snapshot, band: &Band) -> String {
    let lines = &snapshot.lines[band.first..band.first + band.count];
    match lines {
        [one] => one.clone(),
        [first, .., last] => format!(
            "{} mappings of one kind ({}), merged:\n{first}\n…\n{last}",
            band.count,
            band.kind.name()
        ),
        [] => String::new(),
    }
}

/// Draws one column's bands, each to the axis's scale, with its maps line as hover text.
fn draw_bands(canvas: &mut Canvas, x: f64, axis: &Axis, snapshot: &Snapshot, bands: &[Band]) {
    for band in bands {
        let (top, bottom) = (axis.y(band.end), axis.y(band.start));
        let _ = write!(
            canvas.out,
            r#"<rect class="band {class}" x="{x:.1}" y="{top:.2}" width="{BAND_WIDTH}" height="{:.2}" data-kind="{class}" data-start="{:#x}" data-end="{:#x}" data-first="{}" data-count="{}"><title>{}</title></rect>"#,
            bottom - top,
            band.start,
            band.end,
            band.first,
            band.count,
            escape(&hover(snapshot, band)),
            class = band.kind.class(),
        );
        canvas.out.push('\n');
        if band.count > 1 {
            let label = format!("×{}", band.count);
            if bottom - top >= SMALL_LINE {
                canvas.label(x + 3.0, (top + bottom) / 2.0, SMALL, "count", &label, None);
            }
        }
    }
}

/// Ranges in pixels, `(top, bottom)`, each at least 2 pixels tall, overlapping ones joined.
fn pixel_ranges(axis: &Axis, ranges: &[(u64, u64)]) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for &(start, end) in ranges.iter().rev() {
        let (top, bottom) = (axis.y(end), axis.y(start));
        let bottom = bottom.max(top + 2.0);
        match out.last_mut() {
            Some(last) if top <= last.1 => last.1 = last.1.max(bottom),
            _ => out.push((top, bottom)),
        }
    }
    out
}

/// Highlights what changed since the step before: new memory outlined, the hole left by
/// memory given back hatched, new permissions dashed.
fn draw_changes(canvas: &mut Canvas, x: f64, axis: &Axis, changed: &Changes) {
    let kinds = [
        (&changed.added, "added", "mapped since the step before"),
        (
            &changed.removed,
            "removed",
            "unmapped since the step before",
        ),
        (
            &changed.protected,
            "protected",
            "new permissions since the step before",
        ),
    ];
    for (ranges, class, what) in kinds {
        for (top, bottom) in pixel_ranges(axis, ranges) {
            let _ = writeln!(
                canvas.out,
                r#"<rect class="{class}" x="{:.1}" y="{top:.2}" width="{:.1}" height="{:.2}"><title>{what}</title></rect>"#,
                x - 4.0,
                BAND_WIDTH + 8.0,
                bottom - top
            );
        }
    }
}

/// A labelled address in a column.
#[derive(Debug, Clone)]
struct Marker {
    label: String,
    address: u64,
}

/// The step's named addresses, and the program break unless the step names it already.
fn markers(snapshot: &Snapshot, break_moved: Option<i128>) -> Vec<Marker> {
    let mut markers: Vec<Marker> = snapshot
        .marks
        .iter()
        .map(|m| Marker {
            label: m.label.clone(),
            address: m.address,
        })
        .collect();
    let named = snapshot
        .marks
        .iter()
        .any(|m| m.address == snapshot.program_break && m.label.contains("break"));
    if !named {
        let label = match break_moved.map(i128::signum) {
            Some(1) => "the program break (moved up)",
            Some(-1) => "the program break (moved back)",
            _ => "the program break",
        };
        markers.push(Marker {
            label: label.to_owned(),
            address: snapshot.program_break,
        });
    }
    markers
}

/// The index of the region of `snapshot` that holds `address`, if one does.
fn region_of(snapshot: &Snapshot, address: u64) -> Option<usize> {
    let after = snapshot
        .regions
        .partition_point(|r| r.start as u64 <= address);
    let i = after.checked_sub(1)?;
    (address < snapshot.regions[i].end as u64).then_some(i)
}

/// Draws the markers: a tick across the band at the address, and a label beside it, joined by
/// a leader; the labels spread so that none overlaps another.
fn draw_markers(canvas: &mut Canvas, x: f64, axis: &Axis, snapshot: &Snapshot, markers: &[Marker]) {
    let wanted: Vec<f64> = markers.iter().map(|m| axis.y(m.address)).collect();
    let centres = spread(&wanted, SMALL_LINE, axis.top, axis.bottom);
    let chars = fits(LABEL_WIDTH, SMALL);
    for ((marker, &y), &centre) in markers.iter().zip(&wanted).zip(&centres) {
        let region = region_of(snapshot, marker.address)
            .map_or_else(|| "none".to_owned(), |i| i.to_string());
        let (left, right) = (x - 3.0, x + BAND_WIDTH + 3.0);
        let _ = writeln!(
            canvas.out,
            r#"<g class="marker" data-address="{:#x}" data-region="{region}" data-y="{y:.2}"><line class="tick" x1="{left:.1}" y1="{y:.2}" x2="{right:.1}" y2="{y:.2}"/><polyline class="leader" points="{right:.1},{y:.2} {:.1},{y:.2} {:.1},{centre:.2} {:.1},{centre:.2}"/></g>"#,
            marker.address,
            right + 6.0,
            x + LABEL_X - BAND_X - 8.0,
            x + LABEL_X - BAND_X - 3.0,
        );
        let hover = format!("{}: {:#x}", marker.label, marker.address);
        let text = cut(&marker.label, chars);
        canvas.label(
            x + LABEL_X - BAND_X,
            centre,
            SMALL,
            "mark",
            &text,
            Some(&hover),
        );
    }
}

/// Draws one step's column at `x`.
fn column(
    canvas: &mut Canvas,
    x: f64,
    axis: &Axis,
    snapshot: &Snapshot,
    bands: &[Band],
    changed: Option<&Changes>,
) {
    let _ = writeln!(
        canvas.out,
        r#"<g class="step" data-step="{}">"#,
        snapshot.step
    );
    for row in axis.rows.iter().filter(|r| r.kind == RowKind::Island) {
        canvas.rect(
            x + BAND_X,
            row.at.high,
            BAND_WIDTH,
            row.at.low,
            r#"class="unmapped""#,
        );
    }
    draw_bands(canvas, x + BAND_X, axis, snapshot, bands);
    if let Some(changed) = changed {
        draw_changes(canvas, x + BAND_X, axis, changed);
    }
    let markers = markers(snapshot, changed.map(|c| c.break_moved));
    draw_markers(canvas, x + BAND_X, axis, snapshot, &markers);
    canvas.out.push_str("</g>\n");
}

/// The picture of `run`: one column per step.
pub fn render(run: &Run) -> Svg {
    let columns: Vec<Vec<Band>> = run.steps.iter().map(|s| bands(&s.regions)).collect();
    let changed: Vec<Option<Changes>> = run
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| i.checked_sub(1).map(|p| changes(&run.steps[p], s)))
        .collect();
    let headers: Vec<_> = run
        .steps
        .iter()
        .zip(&changed)
        .map(|(s, c)| header_lines(s, c.as_ref()))
        .collect();
    let axis = axis(&columns, MARGIN + header_height(&headers) + LINE);
    let width = MARGIN + AXIS_WIDTH + COLUMN_WIDTH * run.steps.len() as f64 + MARGIN;
    let height = axis.bottom + SMALL_LINE + 2.0 + MARGIN;
    let mut canvas = Canvas::default();
    axis_labels(&mut canvas, &axis, width);
    for (i, snapshot) in run.steps.iter().enumerate() {
        let x = MARGIN + AXIS_WIDTH + COLUMN_WIDTH * i as f64;
        header(&mut canvas, x, snapshot.step, &headers[i]);
        column(
            &mut canvas,
            x,
            &axis,
            snapshot,
            &columns[i],
            changed[i].as_ref(),
        );
    }
    let text = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="picture" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" data-steps="{}">
<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="2" height="6" fill="#c0392b"/></pattern></defs>
{}</svg>"##,
        run.steps.len(),
        canvas.out
    );
    Svg {
        text,
        width: width.ceil(),
        height: height.ceil(),
    }
}
