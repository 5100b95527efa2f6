//! Every lesson binary's picture, and the picture of every learner's build, seen in a real
//! browser: headless Chromium takes a screenshot of each page, which must not be blank, and
//! lays each page out, and no two labels' boxes, as the browser drew them, may overlap.
//!
//! It needs Chromium (Debian's `chromium`), which `.ci/run` installs, and runs every lesson
//! binary, so `cargo test` leaves it out: `.ci/run` runs it with
//! `cargo test -p xtask --test browser -- --ignored`.

use std::path::Path;

use xtask::lessons::{exercises, lessons};
use xtask::picture::browser::{Box4, measure, screenshot};
use xtask::picture::labels::overlapping;
use xtask::picture::{self, Page};

/// The share of a screenshot's pixels that are not the page's white, and how many colours it
/// holds.
fn ink(png: &Path) -> (f64, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let channels = info.color_type.samples();
    let pixels = &pixels[..info.buffer_size()];
    let mut colours = std::collections::HashSet::new();
    let mut inked = 0usize;
    for pixel in pixels.chunks_exact(channels) {
        let rgb = [
            pixel[0],
            pixel[1.min(channels - 1)],
            pixel[2.min(channels - 1)],
        ];
        if rgb.iter().any(|&c| c < 245) {
            inked += 1;
        }
        colours.insert(rgb);
    }
    let total = pixels.len() / channels;
    (inked as f64 / total as f64, colours.len())
}

fn inside(outer: Box4, inner: Box4) -> bool {
    let slack = 1.0;
    inner[0] >= outer[0] - slack
        && inner[1] >= outer[1] - slack
        && inner[0] + inner[2] <= outer[0] + outer[2] + slack
        && inner[1] + inner[3] <= outer[1] + outer[3] + slack
}

/// Looks at one page in the browser; returns what is wrong with it.
fn look(page: &Page) -> Vec<String> {
    let name = page.path.display();
    let Some((width, height)) = page.size else {
        return vec![format!("{name}: no step ended, so there is no picture")];
    };
    let (width, height) = (width as u32 + 40, height as u32 + 220);
    let png = page.path.with_extension("png");
    let mut wrong = Vec::new();
    screenshot(&page.path, &png, width, height).unwrap();
    let (inked, colours) = ink(&png);
    if inked < 0.02 || colours < 8 {
        wrong.push(format!(
            "{}: the screenshot looks blank ({:.1}% of it drawn, {colours} colours)",
            png.display(),
            inked * 100.0
        ));
    }
    let measured = measure(&page.path, width).unwrap();
    if measured.picture[2] < 100.0 || measured.labels.is_empty() {
        wrong.push(format!("{name}: the browser drew no picture"));
    }
    for (text, b) in &measured.labels {
        if !inside(measured.picture, *b) {
            wrong.push(format!(
                "{name}: the label {text:?} leaves the picture: {b:?}"
            ));
        }
    }
    let boxes: Vec<Box4> = measured.labels.iter().map(|(_, b)| *b).collect();
    for (i, j) in overlapping(&boxes) {
        let (a, b) = (&measured.labels[i], &measured.labels[j]);
        wrong.push(format!(
            "{name}: the labels {:?} {:?} and {:?} {:?} overlap",
            a.0, a.1, b.0, b.1
        ));
    }
    println!(
        "{name}: {:.0}% drawn, {colours} colours, {} labels",
        inked * 100.0,
        boxes.len()
    );
    wrong
}

#[test]
#[ignore = "needs chromium and runs every lesson binary; .ci/run runs it"]
fn every_page_is_drawn_and_no_two_labels_overlap_in_a_real_browser() {
    picture::browser::chromium().unwrap();
    let mut pages = picture::lessons(lessons()).unwrap();
    pages.extend(picture::learners(exercises()).unwrap());
    assert_eq!(pages.len(), lessons().len() + exercises().len());
    let wrong: Vec<String> = pages.iter().flat_map(look).collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
