//! `cargo xtask learn`: builds and runs the learner's parts of each exercise, in the lesson's
//! order, with the lesson's own driver, and compares the output with the same snapshot as the
//! reference's. Also `hint`, `--reset`, `templates`, `--watch` and `--verify`.
//!
//! - [`judge`]: how one run stands (done, to do, failed), from its exit status and output;
//! - [`files`]: the learner's files: hints, templates written from the references, resets;
//! - [`verify`]: the maintainers' check of all of that, run by CI.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::lessons::{Exercise, exercises};
use crate::run;

mod files;
mod judge;
mod verify;

pub use files::{fresh_template, hint, reset, templates, write_template};
pub use judge::{EXIT_OPTIONAL_TO_DO, EXIT_TO_DO, Expected, classify, parse_to_do};
pub use verify::verify;

/// How long one learner's run may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A workspace to build and run learner binaries in: this one, or a copy under `target/`.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Its root folder.
    pub root: PathBuf,
    /// Its target folder.
    pub target: PathBuf,
}

impl Workspace {
    /// This workspace.
    pub fn here() -> Workspace {
        Workspace {
            root: run::root(),
            target: run::target_dir(),
        }
    }

    fn cargo(&self) -> Command {
        let mut command = Command::new(run::cargo());
        command
            .current_dir(&self.root)
            .env("CARGO_TARGET_DIR", &self.target);
        command
    }

    /// The learner's file of `exercise` here.
    pub fn template(&self, exercise: &Exercise) -> PathBuf {
        self.root.join(&exercise.template)
    }
}

/// Where a part still to do is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The part's name.
    pub part: String,
    /// The file, relative to the workspace root.
    pub file: String,
    /// The line of its `todo!()`.
    pub line: u32,
}

/// How an exercise stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Every required part holds; `Some` names an optional part still to do.
    Done(Option<Place>),
    /// A part is still `todo!()`.
    ToDo(Place),
    /// It does not build, crashed, a check failed, or its output differs from the snapshot:
    /// the lines say how, in the program's own words first.
    Failed(Vec<String>),
}

impl Status {
    /// Whether the exercise counts as done.
    pub fn is_done(&self) -> bool {
        matches!(self, Status::Done(_))
    }
}

/// Builds the learner's binary of `exercise`; `Err` holds the compiler's first errors.
fn build(workspace: &Workspace, exercise: &Exercise) -> Result<Result<PathBuf, Vec<String>>> {
    let out = workspace
        .cargo()
        .args(["build", "--quiet", "--message-format", "short"])
        .args(["-p", &exercise.name, "--bin", &exercise.binary])
        .output()
        .with_context(|| format!("failed to run `{} build`", run::cargo()))?;
    if out.status.success() {
        return Ok(Ok(workspace.target.join("debug").join(&exercise.binary)));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut lines = vec![format!("{} does not compile:", &exercise.template)];
    lines.extend(
        stderr
            .lines()
            .filter(|l| l.contains("error") || l.contains("warning"))
            .take(12)
            .map(|l| format!("  {l}")),
    );
    Ok(Err(lines))
}

/// Builds, runs and judges the learner's parts of `exercise` in `workspace`.
///
/// # Errors
/// When cargo or the binary cannot be started, or the snapshot cannot be read.
pub fn check(workspace: &Workspace, exercise: &Exercise) -> Result<Status> {
    let binary = match build(workspace, exercise)? {
        Ok(binary) => binary,
        Err(errors) => return Ok(Status::Failed(errors)),
    };
    let run = run::run(&binary, &[], TIMEOUT)?;
    let expected = Expected::snapshot(&exercise.snapshot)?;
    // The learner's binary is a file of another name; everything else is the exercise's.
    let stdout = run.stdout.replace(&exercise.binary, &exercise.name);
    Ok(classify(&stdout, &run.stderr, &run.ending, &expected))
}

/// Prints how each exercise stands, what to do next and `learn: D of N done`; returns whether
/// all are done.
pub fn report(results: &[(&Exercise, Status)]) -> bool {
    println!("learn: your parts, run and checked by the lesson's own programs");
    let width = results.iter().map(|(e, _)| e.name.len()).max().unwrap_or(0);
    for (exercise, status) in results {
        let name = exercise.name.as_str();
        match status {
            Status::Done(None) => println!(
                "  {name:<width$}  done (compare with the reference, {})",
                &exercise.reference
            ),
            Status::Done(Some(place)) => println!(
                "  {name:<width$}  done; the optional part `{}` is still to do, at {}:{} \
                 (compare with the reference, {})",
                place.part, place.file, place.line, &exercise.reference
            ),
            Status::ToDo(place) => println!(
                "  {name:<width$}  to do: `{}`, {}:{}",
                place.part, place.file, place.line
            ),
            Status::Failed(why) => {
                println!("  {name:<width$}  failed:");
                for line in why {
                    println!("  {:width$}    {line}", "");
                }
            }
        }
    }
    let next = results.iter().find(|(_, s)| !s.is_done());
    match next {
        Some((exercise, Status::ToDo(place))) => println!(
            "Next: open {}:{} and write `{}`; for a hint, run `cargo xtask hint {}`.",
            place.file, place.line, place.part, &exercise.name
        ),
        Some((exercise, _)) => println!(
            "Next: open {} and mend what the failure above names; for a hint, run \
             `cargo xtask hint {} --all`.",
            &exercise.template, &exercise.name
        ),
        None => println!(
            "Next: every exercise is done. Compare your parts with the references named above, \
             then go on to lesson 2."
        ),
    }
    let done = results.iter().filter(|(_, s)| s.is_done()).count();
    println!("learn: {done} of {} done", results.len());
    next.is_none()
}

/// `cargo xtask learn`: checks every exercise in order and reports. Returns whether all are
/// done.
///
/// # Errors
/// When cargo or a binary cannot be started.
pub fn learn(workspace: &Workspace) -> Result<bool> {
    let mut results = Vec::new();
    for exercise in exercises() {
        results.push((exercise, check(workspace, exercise)?));
    }
    Ok(report(&results))
}

/// `cargo xtask learn --watch`: checks, then checks again whenever a learner's file is saved.
///
/// # Errors
/// When the files cannot be watched.
pub fn watch(workspace: &Workspace) -> Result<bool> {
    use notify::{RecursiveMode, Watcher};
    let (tx, rx) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(tx).context("cannot watch files")?;
    for exercise in exercises() {
        let folder = workspace.template(exercise);
        let folder = folder.parent().context("a template has no folder")?;
        watcher
            .watch(folder, RecursiveMode::NonRecursive)
            .with_context(|| format!("cannot watch {}", folder.display()))?;
    }
    loop {
        learn(workspace)?;
        println!("learn: watching your files; save one to check again (Ctrl-C stops)");
        loop {
            let event = rx.recv().context("the file watcher stopped")?;
            let saved_rust = event.is_ok_and(|e| {
                !e.kind.is_access()
                    && e.paths
                        .iter()
                        .any(|p| p.extension().is_some_and(|x| x == "rs"))
            });
            if saved_rust {
                break;
            }
        }
        // An editor's save is often several events: let them settle.
        std::thread::sleep(Duration::from_millis(300));
        while rx.try_recv().is_ok() {}
        println!();
    }
}
