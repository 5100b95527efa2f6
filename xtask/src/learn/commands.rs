//! `cargo xtask list` and `cargo xtask run NAME`: the learner's own programs, listed and run.

use std::process::ExitCode;

use anyhow::{Context, Result};

use super::Workspace;
use super::build::learner_binary;
use super::files::find;
use crate::catalogue::{Exercise, exercises};
use crate::run;

/// The command a learner types to run their own program, every line of it: `cargo xtask run
/// NAME`.
pub fn run_command(exercise: &Exercise) -> String {
    format!("cargo xtask run {}", &exercise.name)
}

/// `cargo xtask list`: the lesson binaries, what each shows, and the learner's own programs with
/// the command that runs each.
pub fn list() {
    for l in crate::catalogue::snapshot_runs() {
        println!("{:<28} {}", &l.name, &l.shows);
    }
    println!();
    println!("your own programs, your learn/parts.rs run by the lesson's driver:");
    for exercise in exercises() {
        println!("{:<28} {}", &exercise.name, run_command(exercise));
    }
}

/// `cargo xtask run NAME [ARGS]`: builds the learner's program of exercise `name` and runs it
/// with `args`, its output straight to the terminal. Returns its exit status.
///
/// # Errors
/// When the exercise is unknown or cargo cannot be started.
pub fn run(workspace: &Workspace, name: &str, args: &[String]) -> Result<ExitCode> {
    let exercise = find(name)?;
    let status = workspace
        .cargo()
        .args(["run", "--quiet"])
        .args(learner_binary(exercise))
        .arg("--")
        .args(args)
        .status()
        .with_context(|| format!("failed to run `{} run`", run::cargo()))?;
    Ok(ExitCode::from(run::exit_code_of(status)))
}
