//! `cargo xtask picture`: runs a lesson binary and draws its address space at every moment it
//! recorded, one step at a time, as one self-contained HTML page under `target/picture/`.
//!
//! - [`model`]: the run's snapshots, read from its events;
//! - [`closeup`]: what a frame changed, close up, in bytes;
//! - [`compare`]: the learner's run against the reference's, in what the lesson cares about;
//! - [`overview`]: the whole address space, small, what the run never touches collapsed;
//! - [`bands`]: each snapshot's mappings as bands, long runs of one kind merged;
//! - [`layout`]: the vertical axis every column shares: islands to scale, gaps compressed;
//! - [`changes`]: what changed from one step to the next;
//! - [`labels`]: text widths, and labels spread so that none overlaps another;
//! - [`svg`]: every step side by side, to scale, one column each;
//! - [`page`]: the page, one frame at a time, and its script;
//! - [`browser`]: headless Chromium, for screenshots and the test that looks at each page;
//! - [`readme_picture`]: the top README's picture of a real run, and the check that it is current.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use xtask::catalogue::{Exercise, SnapshotRun};
use xtask::learn::{learner_and_reference, reference_run};
use xtask::run::{self, Profile};

pub mod bands;
pub mod browser;
pub mod changes;
pub mod closeup;
pub mod compare;
pub mod labels;
pub mod layout;
pub mod model;
pub mod overview;
pub mod page;
pub mod readme_picture;
pub mod svg;

/// How long one run may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The size of the screen the page is made for: every frame fits on it.
pub const SCREEN: (u32, u32) = (1600, 1000);

/// A page written, and its frames.
#[derive(Debug, Clone)]
pub struct Page {
    /// The HTML file.
    pub path: PathBuf,
    /// Its frames' ids (`s5-f2`), in order; none when no step ended.
    pub frames: Vec<String>,
}

/// The folder the pages go in: `target/picture/`.
pub fn folder() -> PathBuf {
    run::target_dir().join("picture")
}

/// Runs `binary` with `args`, its events written to `stem.events` with its address spaces,
/// and reads the run called `name` from them.
fn record(name: &str, stem: &str, binary: &Path, args: &[&str]) -> Result<model::Run> {
    let events_file = folder().join(format!("{stem}.events"));
    let spaces = [(lesson::events::ADDRESS_SPACES_VAR, "1")];
    let (ran, events) = run::run_recorded(binary, args, TIMEOUT, &spaces, &events_file)?;
    // A run that stopped early (a part still `todo!()`) still drew the steps before; a run that
    // wrote no events at all has nothing to draw, and says why.
    if events.is_empty() {
        bail!(
            "{name} wrote no events ({}): {}",
            ran.failure().unwrap_or_default(),
            ran.stderr.trim()
        );
    }
    model::read(name, &events)
}

/// Draws the page `stem.html` of `run`, with where it differs from its reference's run.
fn write(
    stem: &str,
    run: &model::Run,
    differences: Option<&[compare::Difference]>,
) -> Result<Page> {
    let (html, frames) = page::page(run, differences);
    let path = folder().join(format!("{stem}.html"));
    std::fs::write(&path, html).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Page { path, frames })
}

/// Runs `binary` with `args` and draws the page `stem.html` of the run called `name`.
fn draw(name: &str, stem: &str, binary: &Path, args: &[&str]) -> Result<Page> {
    write(stem, &record(name, stem, binary, args)?, None)
}

/// Builds the workspace's binaries and draws the page of each of `lessons`.
///
/// # Errors
/// When the build fails, or a binary cannot be run or wrote no events.
pub fn lessons(lessons: &[SnapshotRun]) -> Result<Vec<Page>> {
    let binaries = run::build(Profile::Debug)?;
    lessons
        .iter()
        .map(|lesson| {
            draw(
                &lesson.name,
                &lesson.name,
                &binaries.join(&lesson.binary),
                &lesson.arg_strs(),
            )
        })
        .collect()
}

/// Builds the learner's binary of each of `exercises` and draws its page, `NAME-learn.html`,
/// with where its run differs from the reference's.
///
/// # Errors
/// When a learner's file does not compile (`cargo xtask learn` shows why), or a binary cannot
/// be run or wrote no events.
pub fn learners(exercises: &[Exercise]) -> Result<Vec<Page>> {
    let target = run::target_dir();
    let mut pages = Vec::new();
    for exercise in exercises {
        let cargo = run::cargo();
        let status = Command::new(&cargo)
            .current_dir(run::root())
            .args(["build", "--quiet"])
            .args(learner_and_reference(exercise))
            .status()
            .with_context(|| format!("failed to run `{cargo} build`"))?;
        if !status.success() {
            bail!(
                "your {} does not compile; `cargo xtask learn` shows the compiler's error",
                exercise.template
            );
        }
        let name = format!("{} (your parts)", exercise.name);
        let binary = target.join("debug").join(&exercise.binary);
        let stem = format!("{}-learn", exercise.name);
        let yours = record(&name, &stem, &binary, &[])?;
        let differences = match reference_run(exercise) {
            Some(reference) => {
                let theirs = record(
                    &reference.name,
                    &format!("{stem}-reference"),
                    &target.join("debug").join(&reference.binary),
                    &reference.arg_strs(),
                )?;
                Some(compare::differences(&yours, &theirs))
            }
            None => None,
        };
        pages.push(write(&stem, &yours, differences.as_deref())?);
    }
    Ok(pages)
}
