//! The page: one frame of one step at a time, large, with back and forward (buttons and the
//! arrow keys), a strip of every step and frame to jump to, and the frame's address in the URL
//! (`#s5-f2`: step 5, frame 2). A frame is a moment the step recorded, or the step's end. Each
//! frame shows its close-up ([`closeup`]) beside the overview of the whole
//! address space ([`overview`]).
//!
//! The page is one self-contained file that works offline: its CSS and its little script are
//! inline, every frame is drawn in it already, and the script only shows one at a time.

use std::fmt::Write as _;

use lesson::events::heading;

use super::bands::Kind;
use super::changes::{Changes, changes, describe};
use super::closeup::{self, CloseUp};
use super::compare::Difference;
use super::model::{Run, Snapshot};
use super::overview;
use super::svg::{escape, render};

/// The colours: the Okabe–Ito palette, which people with the common colour blindnesses tell
/// apart, one per kind the lessons touch; greys for the kinds they do not. A change is drawn
/// as a hatch with a thick dashed black outline, so that it is seen without telling hues.
const STYLE: &str = r#"
body { font-family: "DejaVu Sans", "Liberation Sans", sans-serif; margin: 10px 16px; color: #222; background: #fff; }
h1 { font-size: 19px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 6px 0 2px; }
p { margin: 3px 0; font-size: 14px; }
nav { display: flex; align-items: center; gap: 10px; margin: 4px 0; font-size: 14px; }
nav button { font-size: 14px; padding: 3px 10px; }
ol.strip { list-style: none; padding: 0; margin: 4px 0; display: flex; flex-wrap: wrap; gap: 4px; }
ol.strip button { font: 12px "DejaVu Sans Mono", monospace; padding: 2px 6px; border: 1px solid #888; background: #f4f4f4; cursor: pointer; }
ol.strip button[aria-current="true"] { background: #000; color: #fff; border-color: #000; }
ol.strip li.step-start { margin-left: 8px; }
ol.strip li.step-start:first-child { margin-left: 0; }
div.views { display: flex; gap: 16px; align-items: flex-start; }
p.nothing { font-weight: bold; }
ul.legend { list-style: none; padding: 0; margin: 6px 0; display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12px; }
ul.legend li { display: flex; align-items: center; gap: 5px; }
ul.legend span.swatch { display: inline-block; width: 18px; height: 12px; border: 1px solid #555; }
svg text { font-family: "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; dominant-baseline: central; fill: #222; }
svg text.changed { font-weight: bold; }
svg text.focus-label { font-weight: bold; }
rect.segment, rect.row { stroke: #333; stroke-width: 1; }
rect.changed { stroke: #000; stroke-width: 3; stroke-dasharray: 7 3; }
rect.focus { stroke: #000; stroke-width: 3; }
rect.changed-hatch { fill: url(#changed-hatch); pointer-events: none; }
line.address { stroke: #000; stroke-width: 1.5; }
polyline.leader { fill: none; stroke: #777; stroke-width: 1; }
.unmapped { fill: #fff; background: #fff; }
.hole { fill: #fff; background: #fff; }
.untouched { fill: #e8e8e8; background: #e8e8e8; }
.text { fill: #0072B2; background: #0072B2; }
.rodata { fill: #56B4E9; background: #56B4E9; }
.data { fill: #E69F00; background: #E69F00; }
.bss { fill: #F0E442; background: #F0E442; }
.heap { fill: #009E73; background: #009E73; }
.anon { fill: #CC79A7; background: #CC79A7; }
.file { fill: #D55E00; background: #D55E00; }
.lib { fill: #999999; background: #999999; }
.stack { fill: #bbbbbb; background: #bbbbbb; }
.kernel { fill: #dddddd; background: #dddddd; }
.other { fill: #777777; background: #777777; }
span.changed { border: 3px dashed #000; background: repeating-linear-gradient(45deg, #999 0 2px, #fff 2px 6px); }
div.differs { border: 3px double #000; background: #fff3d6; padding: 2px 8px; margin: 4px 0; font-size: 14px; }
div.differs ul { margin: 2px 0; padding-left: 20px; }
details { margin-top: 8px; font-size: 13px; }
details div { overflow-x: auto; }
"#;

/// The script: shows one frame, moves with the buttons, the arrow keys and the strip, and keeps
/// the frame's id in the URL's fragment.
const SCRIPT: &str = r#"
const frames = [...document.querySelectorAll('section.frame')];
const strip = [...document.querySelectorAll('ol.strip button')];
const where = document.getElementById('where');
let at = 0;
function show(i) {
  at = Math.max(0, Math.min(frames.length - 1, i));
  frames.forEach((f, j) => { f.hidden = j !== at; });
  strip.forEach((b, j) => b.setAttribute('aria-current', j === at ? 'true' : 'false'));
  where.textContent = frames[at].dataset.where;
  document.getElementById('back').disabled = at === 0;
  document.getElementById('forward').disabled = at === frames.length - 1;
  if (location.hash !== '#' + frames[at].id) history.replaceState(null, '', '#' + frames[at].id);
}
function fromHash() {
  const i = frames.findIndex(f => '#' + f.id === location.hash);
  show(i < 0 ? 0 : i);
}
document.getElementById('back').addEventListener('click', () => show(at - 1));
document.getElementById('forward').addEventListener('click', () => show(at + 1));
strip.forEach((b, j) => b.addEventListener('click', () => show(j)));
document.addEventListener('keydown', e => {
  if (e.key === 'ArrowRight' || e.key === 'ArrowDown') { show(at + 1); e.preventDefault(); }
  if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') { show(at - 1); e.preventDefault(); }
  if (e.key === 'Home') show(0);
  if (e.key === 'End') show(frames.length - 1);
});
window.addEventListener('hashchange', fromHash);
fromHash();
"#;

/// The hatch that marks a change, defined once for every frame's SVG, outside the frames that
/// are hidden (a pattern inside a hidden element draws nothing).
const DEFS: &str = r##"<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs><pattern id="changed-hatch" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="8" stroke="#000" stroke-width="2" stroke-opacity="0.4"/></pattern></defs></svg>"##;

/// One frame: a snapshot, what changed since the frame before, and its close-up.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    /// The snapshot.
    pub snapshot: &'a Snapshot,
    /// Its number within its step, from 1.
    pub number: usize,
    /// How many frames its step has.
    pub of: usize,
    /// What changed since the frame before.
    pub changes: Changes,
    /// The close-up of what changed; `None` when nothing did.
    pub close_up: Option<CloseUp>,
    /// When nothing changed in a run that moves the break: where the break stayed.
    pub still: Option<CloseUp>,
}

impl Frame<'_> {
    /// Its id, which is the URL's fragment: `s5-f2`.
    pub fn id(&self) -> String {
        format!("s{}-f{}", self.snapshot.step, self.number)
    }
}

/// The frames of `run`, in order.
pub fn frames(run: &Run) -> Vec<Frame<'_>> {
    let mut frames: Vec<Frame> = Vec::new();
    let moves_break = run
        .steps
        .windows(2)
        .any(|w| w[0].program_break != w[1].program_break);
    for (i, snapshot) in run.steps.iter().enumerate() {
        let of = run.steps.iter().filter(|s| s.step == snapshot.step).count();
        let number = run.steps[..i]
            .iter()
            .filter(|s| s.step == snapshot.step)
            .count()
            + 1;
        // A child's moment is another address space: each frame is compared with the last one
        // of this process before it (a child's, with its parent's at the fork).
        let before = run.steps[..i].iter().rev().find(|s| !s.in_child);
        let (changes, close_up) = match before {
            Some(before) => {
                let found = changes(before, snapshot);
                let close_up = closeup::close_up(before, snapshot, &found);
                (found, close_up)
            }
            None => (Changes::default(), closeup::still(snapshot, true)),
        };
        let still = match close_up {
            None if moves_break => closeup::still(snapshot, false),
            _ => None,
        };
        frames.push(Frame {
            snapshot,
            number,
            of,
            changes,
            close_up,
            still,
        });
    }
    frames
}

/// The legend: a swatch per kind, then the change, the hole and what the run never touches.
fn legend() -> String {
    let mut items: Vec<(String, &str)> = Kind::ALL
        .iter()
        .map(|k| (k.class().to_owned(), k.name()))
        .collect();
    items.push(("changed".to_owned(), "changed in this frame"));
    items.push(("hole".to_owned(), "unmapped (a hole when hatched)"));
    items.push(("untouched".to_owned(), "mappings the run never touches"));
    let lis: String = items
        .iter()
        .map(|(class, name)| format!(r#"<li><span class="swatch {class}"></span>{name}</li>"#))
        .collect();
    format!(r#"<ul class="legend">{lis}</ul>"#)
}

/// The strip: a button per frame, the first of each step set apart.
fn strip(frames: &[Frame], differences: &[Difference]) -> String {
    let mut out = String::from(r#"<ol class="strip">"#);
    for frame in frames {
        let s = frame.snapshot;
        let mark = if frame.number == frame.of && differences.iter().any(|d| d.step == s.step) {
            "≠"
        } else {
            ""
        };
        let text = if frame.of == 1 {
            format!("{}{mark}", s.step)
        } else {
            format!("{}·{}{mark}", s.step, frame.number)
        };
        let title = match &s.moment {
            Some(moment) => format!("{}: {moment}", heading(s.step, &s.title)),
            None => heading(s.step, &s.title),
        };
        let _ = write!(
            out,
            r#"<li{}><button type="button" data-frame="{}" title="{}">{text}</button></li>"#,
            if frame.number == 1 {
                r#" class="step-start""#
            } else {
                ""
            },
            frame.id(),
            escape(&title)
        );
    }
    out.push_str("</ol>");
    out
}

/// Where the learner's run differs from the reference's at the end of this frame's step.
fn differing(frame: &Frame, differences: &[Difference]) -> String {
    if frame.number != frame.of {
        return String::new();
    }
    let lines: String = differences
        .iter()
        .filter(|d| d.step == frame.snapshot.step)
        .map(|d| {
            format!(
                "<li>{}: yours is {}; the reference's is {}.</li>",
                escape(&d.what),
                escape(&d.yours),
                escape(&d.reference)
            )
        })
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    format!(
        r#"<div class="differs"><strong>≠ Your run differs from the reference's here:</strong><ul>{lines}</ul></div>"#
    )
}

/// The page's line on the learner's run against the reference's.
fn summary(differences: &[Difference]) -> String {
    if differences.is_empty() {
        return "<p class=\"same\">In every step your run ended, it matches the reference's where the lesson looks: the break, the mappings left, and the region of every address the steps name.</p>".to_owned();
    }
    let mut steps: Vec<String> = differences.iter().map(|d| d.step.to_string()).collect();
    steps.dedup();
    format!(
        r#"<div class="differs"><strong>≠ Your run differs from the reference's in step {}</strong> (marked ≠ in the strip; the step's last frame says how).</div>"#,
        steps.join(", ")
    )
}

/// One frame's section: its heading, what happened, its close-up and its overview.
fn section(frame: &Frame, touched: &[(u64, u64)], first: bool, differs: &str) -> String {
    let s = frame.snapshot;
    let at = if frame.of == 1 {
        format!("Step {}", s.step)
    } else {
        format!("Step {}, frame {} of {}", s.step, frame.number, frame.of)
    };
    let moment = match (&s.moment, frame.of) {
        (Some(moment), _) => format!("<p class=\"moment\">{}: {}.</p>", at, escape(moment)),
        (None, 1) => String::new(),
        (None, _) => format!("<p class=\"moment\">{at}: the end of the step.</p>"),
    };
    let child = if s.in_child {
        "<p class=\"child\">This frame is the child process's own address space, copied from this one at the fork; the frame after is this process's again.</p>"
    } else {
        ""
    };
    let what = match &frame.close_up {
        Some(close_up) => {
            let mut said = vec![close_up.caption.clone()];
            // The caption says how the break moved; the rest says what was mapped and unmapped.
            said.extend(
                describe(&frame.changes)
                    .iter()
                    .filter(|l| !l.starts_with("the break"))
                    .map(|l| format!("{l}.")),
            );
            format!("<p class=\"change\">{}</p>", escape(&said.join(" ")))
        }
        None if frame.of == 1 => {
            "<p class=\"nothing\">This step changes nothing in the address space.</p>".to_owned()
        }
        None => "<p class=\"nothing\">Nothing changed since the frame before.</p>".to_owned(),
    };
    let close_up = frame
        .close_up
        .as_ref()
        .or(frame.still.as_ref())
        .map(closeup::render)
        .unwrap_or_default();
    let rows = overview::rows(s, &frame.changes, touched);
    let focus = frame.close_up.as_ref().or(frame.still.as_ref());
    let overview = overview::render(&rows, focus.map(CloseUp::range));
    format!(
        r#"<section class="frame" id="{id}" data-where="{where_}"{hidden}>
<h2>Step {step}. {title}</h2>
{moment}{child}{what}{differs}
<div class="views">{close_up}{overview}</div>
</section>
"#,
        id = frame.id(),
        where_ = escape(&at),
        hidden = if first { "" } else { " hidden" },
        step = s.step,
        title = escape(&s.title),
    )
}

/// The page for `run`, and the ids of its frames, in order. For a learner's run,
/// `differences` says where it differs from the reference's.
pub fn page(run: &Run, differences: Option<&[Difference]>) -> (String, Vec<String>) {
    let name = escape(&run.name);
    let frames = frames(run);
    let changes: Vec<Changes> = frames.iter().map(|f| f.changes.clone()).collect();
    let touched = overview::touched(&run.steps, &changes);
    let stopped = run
        .stopped
        .as_deref()
        .map(|s| format!("<p><strong>{}</strong></p>", escape(s)))
        .unwrap_or_default();
    let sections: String = frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            section(
                f,
                &touched,
                i == 0,
                &differing(f, differences.unwrap_or_default()),
            )
        })
        .collect();
    let compared = differences.map(summary).unwrap_or_default();
    let body = if frames.is_empty() {
        "<p>No step ended, so there is nothing to draw yet.</p>".to_owned()
    } else {
        let ends = Run {
            name: run.name.clone(),
            steps: run
                .steps
                .iter()
                .filter(|s| s.moment.is_none())
                .cloned()
                .collect(),
            stopped: None,
        };
        format!(
            r#"<nav><button type="button" id="back">◀ back</button><button type="button" id="forward">forward ▶</button><span id="where"></span><span>(or the arrow keys)</span></nav>
{compared}{strip}
{sections}{legend}
<details><summary>Every step side by side, to scale</summary><div>{columns}</div></details>
<script>{SCRIPT}</script>"#,
            strip = strip(&frames, differences.unwrap_or_default()),
            legend = legend(),
            columns = render(&ends).text,
        )
    };
    let ids = frames.iter().map(Frame::id).collect();
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{name}: the address space, one step at a time</title>
<style>{STYLE}</style>
</head>
<body>
<h1>{name}: the address space, one step at a time</h1>
<p>Left: what the frame changed, close up, in bytes (heights grow with size, not to scale). Right: the whole address space, one row per mapping, high addresses at the top.</p>
{DEFS}{stopped}{body}
</body>
</html>
"#
    );
    (html, ids)
}
