//! The HTML page around the picture: a title, how to read it, the legend, the picture. It is
//! one self-contained file: its CSS is inline, it loads nothing and runs no script.

use super::bands::Kind;
use super::model::Run;
use super::svg::{Svg, escape, render};

/// The colours, one per kind, and how changes, markers and gaps are drawn.
const STYLE: &str = r#"
body { font-family: "DejaVu Sans", "Liberation Sans", sans-serif; margin: 16px; color: #222; background: #fff; }
h1 { font-size: 20px; margin: 0 0 6px; }
p { margin: 4px 0; max-width: 70em; font-size: 14px; }
ul.legend { list-style: none; padding: 0; margin: 10px 0; display: flex; flex-wrap: wrap; gap: 6px 16px; font-size: 13px; }
ul.legend li { display: flex; align-items: center; gap: 6px; }
ul.legend span.swatch { display: inline-block; width: 18px; height: 12px; border: 1px solid #555; }
svg.picture { display: block; }
svg.picture text { font-family: "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; dominant-baseline: central; fill: #222; }
svg.picture text.step-number { font-weight: bold; }
svg.picture text.change { fill: #8a4b00; }
svg.picture text.gap, svg.picture text.user-top { fill: #555; font-style: italic; }
svg.picture text.count { fill: #fff; font-weight: bold; pointer-events: none; }
rect.band { stroke: #333; stroke-width: 0.5; }
rect.band:hover { stroke: #000; stroke-width: 2; }
rect.unmapped { fill: #f3f3f3; }
rect.gap { fill: none; stroke: #bbb; stroke-dasharray: 6 4; }
line.user-top { stroke: #888; stroke-dasharray: 2 3; }
rect.added { fill: #f1c40f; fill-opacity: 0.4; stroke: #d4a50a; stroke-width: 2.5; }
rect.removed { fill: url(#hatch); fill-opacity: 0.55; stroke: #c0392b; stroke-width: 1.5; stroke-dasharray: 4 2; }
rect.protected { fill: none; stroke: #2471a3; stroke-width: 2.5; stroke-dasharray: 3 2; }
g.marker line.tick { stroke: #000; stroke-width: 2; }
g.marker polyline.leader { fill: none; stroke: #555; stroke-width: 1; }
.text { fill: #4e79a7; background: #4e79a7; }
.rodata { fill: #a0cbe8; background: #a0cbe8; }
.data { fill: #f28e2b; background: #f28e2b; }
.bss { fill: #ffbe7d; background: #ffbe7d; }
.heap { fill: #59a14f; background: #59a14f; }
.anon { fill: #b07aa1; background: #b07aa1; }
.file { fill: #edc948; background: #edc948; }
.lib { fill: #9c755f; background: #9c755f; }
.stack { fill: #e15759; background: #e15759; }
.kernel { fill: #bab0ac; background: #bab0ac; }
.other { fill: #79706e; background: #79706e; }
span.added { border: 2px solid #d4a50a; background: #f7dc6f; }
span.removed { border: 2px dashed #c0392b; background: repeating-linear-gradient(45deg, #e6a199 0 2px, #fff 2px 6px); }
span.protected { border: 2px dashed #2471a3; background: none; }
"#;

/// The legend: a swatch per kind, then the three kinds of change.
fn legend() -> String {
    let mut items: Vec<(String, &str)> = Kind::ALL
        .iter()
        .map(|k| (k.class().to_owned(), k.name()))
        .collect();
    items.push(("added".to_owned(), "mapped since the step before"));
    items.push((
        "removed".to_owned(),
        "unmapped since the step before (the hole left)",
    ));
    items.push(("protected".to_owned(), "new permissions"));
    let lis: String = items
        .iter()
        .map(|(class, name)| format!(r#"<li><span class="swatch {class}"></span>{name}</li>"#))
        .collect();
    format!(r#"<ul class="legend">{lis}</ul>"#)
}

/// The page for `run`, and its picture's size (no picture when no step ended).
pub fn page(run: &Run) -> (String, Option<Svg>) {
    let name = escape(&run.name);
    let svg = (!run.steps.is_empty()).then(|| render(run));
    let stopped = run
        .stopped
        .as_deref()
        .map(|s| format!("<p><strong>{}</strong></p>", escape(s)))
        .unwrap_or_default();
    let body = match &svg {
        Some(svg) => svg.text.clone(),
        None => "<p>No step ended, so there is nothing to draw yet.</p>".to_owned(),
    };
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{name}: the address space, step by step</title>
<style>{STYLE}</style>
</head>
<body>
<h1>{name}: the address space, step by step</h1>
<p>One column per step, as the step left the address space: low addresses at the bottom. Each band is a mapping of <code>/proc/self/maps</code>, coloured by kind; hover over one to see its line. Bands are to scale within each island; a page is drawn at least 3 pixels tall. Large unmapped gaps are drawn compressed, labelled with their true size. Long runs of mappings of one kind are merged into one band, with their count.</p>
{stopped}{legend}
{body}
</body>
</html>
"#,
        legend = legend()
    );
    (html, svg)
}
