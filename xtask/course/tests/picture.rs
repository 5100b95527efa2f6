//! The picture is true to the snapshots it is drawn from. Each test draws recorded runs (real
//! events, captured into `tests/fixtures/picture/`) and reads the SVG back with an XML parser:
//! every region of every snapshot appears once, in address order, low addresses lowest; every
//! marker lies inside the band of its region; no two labels' boxes overlap.

use std::path::Path;

use lesson::events::{AddressSpace, Event, Mark, read_events};
use roxmltree::{Document, Node};
use xtask_course::picture::model::{self, Run, Snapshot};
use xtask_course::picture::svg::render;

const FIXTURES: &str = "tests/fixtures/picture";

fn recorded(name: &str) -> Run {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(FIXTURES)
        .join(format!("{name}.events"));
    let events = read_events(&path).unwrap();
    model::read(name, &events).unwrap()
}

fn number(node: Node, attribute: &str) -> f64 {
    let text = node
        .attribute(attribute)
        .unwrap_or_else(|| panic!("no {attribute}"));
    text.parse()
        .unwrap_or_else(|_| panic!("{attribute}={text:?}"))
}

fn address(node: Node, attribute: &str) -> u64 {
    let text = node
        .attribute(attribute)
        .unwrap_or_else(|| panic!("no {attribute}"));
    u64::from_str_radix(text.trim_start_matches("0x"), 16).unwrap()
}

fn has_class(node: &Node, class: &str) -> bool {
    node.attribute("class")
        .is_some_and(|c| c.split(' ').any(|c| c == class))
}

/// A band as drawn: its addresses, its regions and its place in pixels.
#[derive(Debug)]
struct Drawn {
    start: u64,
    end: u64,
    first: usize,
    count: usize,
    top: f64,
    bottom: f64,
}

/// Every region once, in address order: the bands cover the regions one after another, each
/// band from its first region's start to its last one's end, drawn higher up the higher it is.
fn check_bands(name: &str, snapshot: &Snapshot, bands: &[Drawn]) {
    let step = snapshot.step;
    let mut next = 0;
    for (i, band) in bands.iter().enumerate() {
        assert_eq!(
            band.first, next,
            "{name} step {step}: band {i} does not follow on"
        );
        let regions = &snapshot.regions[band.first..band.first + band.count];
        assert_eq!(
            band.start, regions[0].start as u64,
            "{name} step {step} band {i}"
        );
        assert_eq!(
            band.end,
            regions[regions.len() - 1].end as u64,
            "{name} step {step} band {i}"
        );
        assert!(
            band.bottom - band.top >= 1.0,
            "{name} step {step}: band {i} is too thin to see"
        );
        if let Some(below) = i.checked_sub(1).map(|j| &bands[j]) {
            assert!(
                below.end <= band.start,
                "{name} step {step}: bands {} and {i} out of order",
                i - 1
            );
            assert!(
                band.bottom <= below.top + 0.02,
                "{name} step {step}: band {i} is not above band {}",
                i - 1
            );
        }
        next += band.count;
    }
    assert_eq!(
        next,
        snapshot.regions.len(),
        "{name} step {step}: not every region is drawn"
    );
}

/// Every marker lies inside its region's band: the one that holds its address, found here from
/// the snapshot itself. A marker in no region (an address already unmapped) lies in no band.
fn check_markers(name: &str, snapshot: &Snapshot, bands: &[Drawn], column: Node) {
    let markers: Vec<Node> = column
        .descendants()
        .filter(|n| has_class(n, "marker"))
        .collect();
    let named = snapshot.marks.len();
    assert!(
        markers.len() == named || markers.len() == named + 1,
        "{name}: markers lost"
    );
    for marker in markers {
        let at = address(marker, "data-address");
        let y = number(marker, "data-y");
        let region = snapshot
            .regions
            .iter()
            .position(|r| r.start as u64 <= at && at < r.end as u64);
        match region {
            Some(r) => {
                let band = bands
                    .iter()
                    .find(|b| b.first <= r && r < b.first + b.count)
                    .unwrap();
                assert!(
                    band.top - 0.02 <= y && y <= band.bottom + 0.02,
                    "{name} step {}: {at:#x} outside its band",
                    snapshot.step
                );
                assert_eq!(
                    marker.attribute("data-region"),
                    Some(r.to_string().as_str())
                );
            }
            None => {
                let inside = bands
                    .iter()
                    .filter(|b| b.count == 1)
                    .any(|b| b.top + 0.02 < y && y < b.bottom - 0.02);
                assert!(
                    !inside,
                    "{name} step {}: {at:#x} is unmapped but drawn in a band",
                    snapshot.step
                );
                assert_eq!(marker.attribute("data-region"), Some("none"));
            }
        }
    }
}

/// No two labels' boxes overlap, and each lies inside the picture.
fn check_labels(name: &str, svg: Node) {
    let (width, height) = (number(svg, "width"), number(svg, "height"));
    let boxes: Vec<(String, [f64; 4])> = svg
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| {
            let b: Vec<f64> = n
                .attribute("data-box")
                .unwrap()
                .split(' ')
                .map(|v| v.parse().unwrap())
                .collect();
            (
                n.text().unwrap_or_default().to_owned(),
                [b[0], b[1], b[2], b[3]],
            )
        })
        .collect();
    for (text, b) in &boxes {
        assert!(
            b[0] >= 0.0 && b[1] >= 0.0 && b[0] + b[2] <= width && b[1] + b[3] <= height,
            "{name}: {text:?} leaves the picture"
        );
    }
    let pairs = xtask_course::picture::labels::overlapping(
        &boxes.iter().map(|(_, b)| *b).collect::<Vec<_>>(),
    );
    let named: Vec<_> = pairs
        .iter()
        .map(|&(i, j)| (&boxes[i].0, &boxes[j].0))
        .collect();
    assert!(named.is_empty(), "{name}: labels overlap: {named:?}");
}

/// Draws `run` and checks every column of it.
fn check(run: &Run) -> String {
    let svg = render(run).text;
    let doc = Document::parse(&svg).unwrap();
    let root = doc.root_element();
    let columns: Vec<Node> = root
        .descendants()
        .filter(|n| has_class(n, "step"))
        .collect();
    assert_eq!(
        columns.len(),
        run.steps.len(),
        "{}: one column per step",
        run.name
    );
    for (column, snapshot) in columns.into_iter().zip(&run.steps) {
        assert_eq!(
            column.attribute("data-step"),
            Some(snapshot.step.to_string().as_str())
        );
        let bands: Vec<Drawn> = column
            .children()
            .filter(|n| has_class(n, "band"))
            .map(|n| Drawn {
                start: address(n, "data-start"),
                end: address(n, "data-end"),
                first: number(n, "data-first") as usize,
                count: number(n, "data-count") as usize,
                top: number(n, "y"),
                bottom: number(n, "y") + number(n, "height"),
            })
            .collect();
        check_bands(&run.name, snapshot, &bands);
        check_markers(&run.name, snapshot, &bands, column);
    }
    check_labels(&run.name, root);
    svg
}

/// The runs recorded as fixtures, learners' runs (`-learn`) aside: every `.events` file there.
fn recorded_lesson_runs() -> Vec<String> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURES);
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().ok()?;
            let name = name.strip_suffix(".events")?;
            (!name.ends_with("-learn")).then(|| name.to_owned())
        })
        .collect();
    names.sort();
    names
}

#[test]
fn every_recorded_run_is_drawn_true_to_its_snapshots() {
    let names = recorded_lesson_runs();
    assert!(!names.is_empty(), "no fixtures in {FIXTURES}");
    for name in &names {
        let run = recorded(name);
        assert!(
            run.steps.len() >= 4,
            "{name}: the fixture has its snapshots"
        );
        check(&run);
    }
}

#[test]
fn a_learner_run_that_stopped_at_a_todo_draws_the_steps_before_and_says_why() {
    let run = recorded("ex2-sbrk-learn");
    assert_eq!(
        run.stopped.as_deref(),
        Some("The run stopped in step 1: the part `current_break` is still `todo!()`.")
    );
    check(&run);
    let (html, _) = xtask_course::picture::page::page(&run, None);
    assert!(html.contains("is still `todo!()`"));
    // One self-contained file: nothing is loaded from anywhere.
    assert!(
        !html.contains(" src=") && !html.contains("href="),
        "the page loads nothing"
    );
}

#[test]
fn sbrk_growth_is_highlighted_and_the_break_moving_back_is_said() {
    let svg = check(&recorded("ex2-sbrk"));
    let doc = Document::parse(&svg).unwrap();
    let column = |step: &str| {
        doc.descendants()
            .find(|n| has_class(n, "step") && n.attribute("data-step") == Some(step))
            .unwrap()
    };
    assert!(
        column("2").children().any(|n| has_class(&n, "added")),
        "step 2's growth is highlighted"
    );
    assert!(
        column("5").children().any(|n| has_class(&n, "removed")),
        "step 5's hole is highlighted"
    );
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    assert!(texts.contains(&"the break moved up 9.8 KiB"), "{texts:?}");
    assert!(texts.contains(&"the break moved back 9.8 KiB"), "{texts:?}");
    assert!(
        texts.iter().any(|t| t.ends_with(" TiB unmapped")),
        "gaps say their size"
    );
}

/// The milestone's second step with thousands of chunks from mmap, each a page with a page of
/// hole above it, as a registry of many chunks leaves the map.
fn many_chunks() -> Run {
    let run = recorded("milestone");
    let snapshot = &run.steps[1];
    let lowest = snapshot
        .regions
        .iter()
        .filter(|r| r.path.is_empty() && r.start > 0x7000_0000_0000)
        .map(|r| r.start as u64)
        .min()
        .unwrap();
    let base = lowest - 0x1000_0000;
    let chunks: String = (0..4000u64)
        .map(|i| {
            let start = base + i * 0x2000;
            format!("{start:x}-{:x} rw-p 00000000 00:00 0 \n", start + 0x1000)
        })
        .collect();
    let at = snapshot
        .lines
        .iter()
        .position(|l| l.starts_with(&format!("{lowest:x}-")))
        .unwrap();
    let mut lines = snapshot.lines.clone();
    lines.insert(at, chunks.trim_end().to_owned());
    let events = [
        Event::Step {
            number: 2,
            title: snapshot.title.clone(),
        },
        Event::AddressSpace(AddressSpace {
            step: 2,
            moment: None,
            in_child: false,
            maps: lines.join("\n") + "\n",
            exe: snapshot
                .regions
                .iter()
                .find(|r| r.kind == memcore::maps::RegionKind::Text)
                .unwrap()
                .path
                .clone(),
            program_break: snapshot.program_break,
            marks: vec![Mark {
                label: "chunk 1234".to_owned(),
                address: base + 1234 * 0x2000 + 16,
            }],
            spans: Vec::new(),
        }),
    ];
    model::read("many chunks", &events).unwrap()
}

#[test]
fn thousands_of_mappings_merge_into_one_band_with_a_count() {
    let run = many_chunks();
    assert!(run.steps[0].regions.len() > 4000);
    let svg = check(&run);
    let doc = Document::parse(&svg).unwrap();
    let bands: Vec<Node> = doc.descendants().filter(|n| has_class(n, "band")).collect();
    assert!(bands.len() < 60, "{} bands", bands.len());
    assert!(
        bands
            .iter()
            .any(|b| b.attribute("data-count") == Some("4000"))
    );
    assert!(
        doc.descendants().any(|n| n.text() == Some("×4000")),
        "the merged band shows its count"
    );
    assert!(
        number(doc.root_element(), "height") < 1500.0,
        "the picture stays a screen or two tall"
    );
}
