//! `cargo xtask learn`: builds and runs the learner's parts of each exercise, in the lesson's
//! order, with the lesson's own driver, and judges each run by its claims. Also `hint`,
//! `run`, `--reset`, `templates`, `--watch` and `--verify`.
//!
//! Its modules, one job each:
//! - `status`: how an exercise stands, as data;
//! - `build`: the learner's binaries built, in one cargo call, with the compiler's messages;
//! - `runs`: a learner's binary and its reference's run, and what they did judged;
//! - `judge`: how one run stands, as data (each failure, the claims not reached, each part's
//!   standing), read from its events and the reference's;
//! - `verdict`: the records the judge returns;
//! - `ending`: the judge's words for a run that ended early, and where a fault struck;
//! - `render`: those records in words, for the learner;
//! - `progress`: the parts done, and the claims a part just finished meets;
//! - `files`: the learner's files: hints, templates written from the references, resets;
//! - `verify`: the maintainers' check of all of that, run by CI;
//! - `isolation`: the proof, part of `verify`, that a learner's broken file breaks no other command;
//! - `commands`: `list` and `run`; `watch`: `learn --watch`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Result;

use crate::catalogue::{Exercise, exercises};
use crate::run;

mod build;
mod commands;
mod ending;
mod files;
mod isolation;
mod judge;
mod outcome;
mod progress;
mod render;
mod runs;
mod status;
mod verdict;
mod verify;
mod watch;

pub use build::{learner_and_reference, learner_binary, reference_run};
pub use commands::{list, run, run_command};
pub(crate) use files::ALLOW_HEADER;
pub use files::{Rung, fresh_template, hint, reset, templates, write_template};
pub use runs::{Cpus, build_and_judge, judged, judged_on};
pub use status::{Done, Judged, Place, Status};
pub use watch::watch;

use build::build_each;
pub use judge::{classify, judge};
pub use outcome::{Expected, LearnerFile, Outcome};
pub use progress::Progress;
pub use render::report;
use runs::{events_file, judged_as_built};
pub use verdict::{
    Claim, Consequence, Finding, Kind, NotReached, Standing, Verdict, claim_key, claims_of,
};
pub use verify::{verify, verify_answer};

/// How long one learner's run may take (and one mutant's claims test, in `cargo xtask mutants`).
pub const TIMEOUT: Duration = Duration::from_secs(30);

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

/// `cargo xtask learn`: checks every exercise in order and reports. Returns whether all are
/// done.
///
/// # Errors
/// When cargo or a binary cannot be started.
pub fn learn(workspace: &Workspace) -> Result<bool> {
    let mut results = Vec::new();
    let builds = build_each(workspace, exercises())?;
    for (exercise, built) in exercises().iter().zip(builds) {
        let Judged { status, parts } = judged_as_built(workspace, exercise, built, Cpus::All)?;
        files::remember_failed_part(workspace, exercise, status.failure());
        let progress = match &status {
            Status::DoesNotCompile(_) => None,
            _ => {
                let events = lesson::events::read_events(&events_file(workspace, exercise))
                    .unwrap_or_default();
                Some(progress::progress(workspace, exercise, parts, &events))
            }
        };
        results.push((exercise, status, progress));
    }
    Ok(report(&results))
}
