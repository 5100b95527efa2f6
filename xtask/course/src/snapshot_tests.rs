//! The insta tests that write the snapshots under `xtask/snapshots/`: one per run of the lesson
//! catalogue, in `tests/snapshots.rs`. `check-all --bless` runs them to write a `.snap`, and a
//! plain `check-all` that finds a difference runs them to leave a `.snap.new` for `cargo insta
//! review`. (The snapshots are read in `xtask::snapshot`.)

use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use xtask::catalogue::SnapshotRun;
use xtask::run::{self, root};

/// What insta's test does with a pattern that differs from the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Writes the `.snap` itself (`--bless`).
    Snapshot,
    /// Writes a `.snap.new` beside it, for `cargo insta review`.
    ForReview,
}

/// The name of the insta test of `lesson` in `tests/snapshots.rs`.
pub fn test_name(lesson: &SnapshotRun) -> String {
    format!("snapshot_of_{}", lesson.name.replace('-', "_"))
}

/// The command that `lesson`'s insta test says made its snapshot.
pub fn command_of(lesson: &SnapshotRun) -> String {
    let mut command = format!("cargo run -p {}", &lesson.binary);
    if !lesson.args.is_empty() {
        command = format!("{command} -- {}", lesson.args.join(" "));
    }
    command
}

/// Runs the insta tests of `lessons`, which run the binaries again and let insta write their
/// snapshots as `how` says. (Under CI insta writes nothing; `check-all` does not ask it to.)
///
/// # Errors
/// When cargo cannot be run, or insta did not write the snapshots asked for.
pub fn write_with_insta(lessons: &[&SnapshotRun], how: Write) -> Result<()> {
    let update = match how {
        Write::Snapshot => "always",
        Write::ForReview => "new",
    };
    // One cargo call per test: the harness (libtest-mimic) takes one filter, not a list.
    for lesson in lessons {
        let status = Command::new(run::cargo())
            .current_dir(root())
            .args([
                "test",
                "--quiet",
                "-p",
                "xtask-course",
                "--test",
                "snapshots",
                "--",
                "--exact",
            ])
            .arg(test_name(lesson))
            .env("INSTA_UPDATE", update)
            // check-all has decided this is no CI run (`CI` unset, empty, `0` or `false`);
            // insta, which takes any `CI` for one and then writes nothing, must not decide
            // otherwise.
            .env_remove("CI")
            .env("INSTA_OUTPUT", "none")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context(
                "failed to run the insta tests (cargo test -p xtask-course --test snapshots)",
            )?;
        if how == Write::Snapshot && !status.success() {
            bail!(
                "insta did not write the snapshot of {} ({status})",
                &lesson.name
            );
        }
    }
    Ok(())
}
