//! Running a learner's binary, with its reference's beside it, and judging what it did: the
//! events each run records, the claims the reference makes on this machine, and the status the
//! judge gives.

use std::path::PathBuf;

use anyhow::Result;

use super::build::{Built, build, reference_run};
use super::{
    ALLOW_HEADER, Claim, Done, Expected, Judged, LearnerFile, Outcome, Status, TIMEOUT, Workspace,
    claims_of, classify, files, judge,
};
use crate::catalogue::Exercise;
use crate::run;

/// Where the learner's run of `exercise` writes its events.
pub(super) fn events_file(workspace: &Workspace, exercise: &Exercise) -> PathBuf {
    workspace
        .target
        .join("learn")
        .join(format!("{}.events", &exercise.name))
}

/// Runs `binary` with `args`, its events written to `file`, and reads them back with what it
/// printed and how it ended. No file: the run ended before it could write one; the judge then
/// finds no events.
fn run_recorded(
    binary: &std::path::Path,
    args: &[&str],
    file: &std::path::Path,
) -> Result<(run::Run, Vec<lesson::events::Event>)> {
    run::run_recorded(binary, args, TIMEOUT, &[], file)
}

/// The claims the reference's run makes on this machine, run now beside the learner's; `None`
/// when it cannot be run.
fn reference_claims(workspace: &Workspace, exercise: &Exercise) -> Option<Vec<Claim>> {
    let reference = reference_run(exercise)?;
    let binary = workspace.target.join("debug").join(&reference.binary);
    let file = workspace
        .target
        .join("learn")
        .join(format!("{}.reference-events", &exercise.name));
    let (_, events) = run_recorded(&binary, &reference.arg_strs(), &file).ok()?;
    Some(claims_of(&events)).filter(|claims| !claims.is_empty())
}

/// Builds, runs and judges the learner's parts of `exercise` in `workspace`.
///
/// # Errors
/// When cargo or the binary cannot be started, or the snapshot cannot be read.
pub fn build_and_judge(workspace: &Workspace, exercise: &Exercise) -> Result<Status> {
    Ok(judged(workspace, exercise)?.status)
}

/// As [`build_and_judge`], with each part's standing.
///
/// # Errors
/// As [`build_and_judge`].
pub fn judged(workspace: &Workspace, exercise: &Exercise) -> Result<Judged> {
    judged_on(workspace, exercise, Cpus::All)
}

/// Which CPUs a learner's run may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cpus {
    /// Every CPU this process may use.
    All,
    /// The first alone (`taskset -c 0`), as on a machine with one CPU: a race must be caught
    /// there too.
    One,
}

/// As [`judged`], with the learner's run on `cpus`.
///
/// # Errors
/// As [`build_and_judge`].
pub fn judged_on(workspace: &Workspace, exercise: &Exercise, cpus: Cpus) -> Result<Judged> {
    judged_as_built(workspace, exercise, build(workspace, exercise)?, cpus)
}

/// As [`judged_on`], with the learner's binary built already (by [`build_each`]).
pub(super) fn judged_as_built(
    workspace: &Workspace,
    exercise: &Exercise,
    built: Result<Built, Vec<String>>,
    cpus: Cpus,
) -> Result<Judged> {
    let built = match built {
        Ok(built) => built,
        Err(errors) => {
            return Ok(Judged {
                status: Status::DoesNotCompile(errors),
                parts: Vec::new(),
            });
        }
    };
    let events_file = events_file(workspace, exercise);
    let (run, events) = match cpus {
        Cpus::All => run_recorded(&built.binary, &[], &events_file)?,
        Cpus::One => {
            let binary = built.binary.to_string_lossy().into_owned();
            let taskset = std::path::Path::new("taskset");
            run_recorded(taskset, &["-c", "0", &binary], &events_file)?
        }
    };
    let expected = Expected::snapshot(
        &exercise.snapshot,
        reference_claims(workspace, exercise),
        lesson::events::differs_by_design(&events).is_some(),
    )?;
    // The learner's binary is a file of another name; everything else is the exercise's.
    let stdout = run.stdout.replace(&exercise.binary, &exercise.name);
    let fault_maps = std::fs::read_to_string(lesson::events::maps_path(&events_file)).ok();
    let text = files::read(&workspace.template(exercise))?;
    let outcome = Outcome {
        file: LearnerFile {
            path: &exercise.template,
            text: &text,
        },
        stdout: &stdout,
        stderr: &run.stderr,
        events: &events,
        ending: &run.ending,
        fault_maps: fault_maps.as_deref().filter(|t| !t.is_empty()),
    };
    let reference = files::read(&workspace.root.join(&exercise.reference))?;
    let parts: Vec<String> = crate::template::parts(&reference)?
        .into_iter()
        .map(|p| p.name)
        .collect();
    let verdict = judge(&outcome, &expected, &parts);
    let standings = verdict.parts.clone();
    let status = match classify(&outcome, &expected, verdict) {
        Status::Done(done) => Status::Done(Done {
            warnings: built.warnings,
            allow_header_left: text.contains(ALLOW_HEADER),
            ..done
        }),
        status => status,
    };
    Ok(Judged {
        status,
        parts: standings,
    })
}
