//! Building the learner's binaries: the cargo arguments that select one (and its reference's),
//! one cargo call for every exercise, and the compiler's messages on each learner's file.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::Workspace;
use crate::catalogue::{Exercise, SnapshotRun};
use crate::run;

/// The cargo arguments that select the learner's binary of `exercise`: the one binary of a
/// package of the same name (the exercise's `learn/Cargo.toml`), built only with that package's
/// `learn` feature (`required-features`), so that every other build leaves the learner's file
/// alone. The feature is the learner's package's, not the exercise's: the exercise's library
/// is then the very build the reference's run made, not compiled again.
pub fn learner_binary(exercise: &Exercise) -> Vec<String> {
    let binary = &exercise.binary;
    ["-p", binary, "--bin", binary, "--features"]
        .map(str::to_owned)
        .into_iter()
        .chain([format!("{binary}/learn")])
        .collect()
}

/// The cargo arguments that build the learner's binary of `exercise` and its reference's, in
/// one call: the reference's run says which claims the lesson makes on this machine.
pub fn learner_and_reference(exercise: &Exercise) -> Vec<String> {
    let mut args = learner_binary(exercise);
    if let Some(reference) = reference_run(exercise) {
        args.extend(["-p", &exercise.name, "--bin", &reference.binary].map(str::to_owned));
    }
    args
}

/// The run of the reference whose snapshot the learner's run is compared with.
pub fn reference_run(exercise: &Exercise) -> Option<&'static SnapshotRun> {
    crate::catalogue::snapshot_runs()
        .iter()
        .find(|l| l.snapshot == exercise.snapshot)
}

/// The compiler's messages of a `--message-format json` build at `level` ("error",
/// "warning") on the target called `target` (`None`: on any target), each as rustc renders it,
/// in order. Only messages with a place in the code are kept ("aborting due to …" only repeats
/// the count).
fn compiler_messages(json_lines: &str, level: &str, target: Option<&str>) -> Vec<String> {
    json_lines
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|doc| doc["reason"] == "compiler-message")
        .filter(|doc| target.is_none_or(|name| doc["target"]["name"] == name))
        .map(|doc| doc["message"].clone())
        .filter(|message| {
            message["level"] == level && message["spans"].as_array().is_some_and(|s| !s.is_empty())
        })
        .filter_map(|message| message["rendered"].as_str().map(str::to_owned))
        .collect()
}

/// Whether a `--message-format json` build wrote the executable of the target `target`.
fn built_executable(json_lines: &str, target: &str) -> bool {
    json_lines
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .any(|doc| {
            doc["reason"] == "compiler-artifact"
                && doc["target"]["name"] == target
                && doc["executable"].is_string()
        })
}

/// The first of `messages` whole, then how many more there are, as `kind` ("error").
fn first_and_count(messages: &[String], kind: &str) -> Vec<String> {
    let Some(first) = messages.first() else {
        return Vec::new();
    };
    let mut lines: Vec<String> = first.trim_end().lines().map(str::to_owned).collect();
    match messages.len() - 1 {
        0 => {}
        1 => lines.push(format!("(and 1 more {kind})")),
        more => lines.push(format!("(and {more} more {kind}s)")),
    }
    lines
}

/// What a build that failed says of `exercise`: the first error on the learner's binary whole,
/// as rustc renders it, and how many more there are; else the first error on any target; cargo's
/// own words if the compiler gave none (a broken Cargo.toml).
fn does_not_compile(stdout: &str, stderr: &str, exercise: &Exercise) -> Vec<String> {
    let mut errors = compiler_messages(stdout, "error", Some(&exercise.binary));
    if errors.is_empty() {
        errors = compiler_messages(stdout, "error", None);
    }
    if errors.is_empty() {
        return stderr.lines().take(12).map(str::to_owned).collect();
    }
    first_and_count(&errors, "error")
}

/// A learner's binary, built, and the compiler's warnings on the learner's file.
pub(super) struct Built {
    pub(super) binary: PathBuf,
    pub(super) warnings: Vec<String>,
}

/// Builds the learner's binary of `exercise`; `Err` holds the compiler's first error, whole.
pub(super) fn build(
    workspace: &Workspace,
    exercise: &Exercise,
) -> Result<Result<Built, Vec<String>>> {
    let mut built = build_each(workspace, std::slice::from_ref(exercise))?;
    built.pop().context("the build gave no outcome")
}

/// Builds the learner's and the reference's binaries of every one of `exercises` in one cargo
/// call, so that cargo compiles them side by side on every core and a save costs one start of
/// cargo, not one per exercise; `--keep-going`, so that one file that does not compile stops
/// no other. Each outcome, in the order of `exercises`, holds the compiler's warnings on that
/// learner's file, or its first error, whole.
pub(super) fn build_each(
    workspace: &Workspace,
    exercises: &[Exercise],
) -> Result<Vec<Result<Built, Vec<String>>>> {
    let out = workspace
        .cargo()
        .args([
            "build",
            "--quiet",
            "--keep-going",
            "--message-format",
            "json",
        ])
        .args(exercises.iter().flat_map(learner_and_reference))
        .output()
        .with_context(|| format!("failed to run `{} build`", run::cargo()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    Ok(exercises
        .iter()
        .map(|exercise| {
            // Cargo replays the warnings of a build it did not need to redo, so they are
            // always here.
            // Both binaries, or none: the reference's run says which claims the lesson makes.
            let reference_built = reference_run(exercise)
                .is_none_or(|reference| built_executable(&stdout, &reference.binary));
            if out.status.success()
                || (built_executable(&stdout, &exercise.binary) && reference_built)
            {
                let warnings = compiler_messages(&stdout, "warning", Some(&exercise.binary));
                Ok(Built {
                    binary: workspace.target.join("debug").join(&exercise.binary),
                    warnings: first_and_count(&warnings, "warning"),
                })
            } else {
                Err(does_not_compile(&stdout, &stderr, exercise))
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `--message-format json` build of two learners' binaries, `a-learn` and `b-learn`, in
    /// one call: a library built, `a-learn`'s warning and two errors and the summary rustc adds
    /// (which has no span), `b-learn` built with its own warning.
    const BUILD: &str = concat!(
        r#"{"reason":"compiler-artifact","target":{"name":"lesson"},"executable":null}"#,
        "\n",
        r#"{"reason":"compiler-message","target":{"name":"a-learn"},"message":{"level":"warning","spans":[{}],"rendered":"warning: unused variable: `n`\n"}}"#,
        "\n",
        r#"{"reason":"compiler-message","target":{"name":"a-learn"},"message":{"level":"error","spans":[{}],"rendered":"error: expected `;`, found `x`\n --> learn/parts.rs:3:14\n"}}"#,
        "\n",
        r#"{"reason":"compiler-message","target":{"name":"b-learn"},"message":{"level":"warning","spans":[{}],"rendered":"warning: unused import\n"}}"#,
        "\n",
        r#"{"reason":"compiler-artifact","target":{"name":"b-learn"},"executable":"/t/debug/b-learn"}"#,
        "\n",
        r#"{"reason":"compiler-message","target":{"name":"a-learn"},"message":{"level":"error","spans":[{}],"rendered":"error[E0308]: mismatched types\n"}}"#,
        "\n",
        r#"{"reason":"compiler-message","target":{"name":"a-learn"},"message":{"level":"error","spans":[],"rendered":"error: aborting due to 2 previous errors\n"}}"#,
        "\n",
    );

    fn exercise(binary: &str) -> Exercise {
        Exercise {
            name: binary.trim_end_matches("-learn").to_owned(),
            title: String::new(),
            binary: binary.to_owned(),
            reference: String::new(),
            template: String::new(),
            snapshot: String::new(),
        }
    }

    #[test]
    fn a_build_that_fails_shows_the_first_error_whole_and_counts_the_rest() {
        assert_eq!(
            does_not_compile(BUILD, "cargo's own words", &exercise("a-learn")),
            [
                "error: expected `;`, found `x`",
                " --> learn/parts.rs:3:14",
                "(and 1 more error)"
            ]
        );
        // No compiler message at all (a broken Cargo.toml): cargo's words.
        assert_eq!(
            does_not_compile("", "error: failed to parse manifest", &exercise("a-learn")),
            ["error: failed to parse manifest"]
        );
    }

    #[test]
    fn in_one_build_of_many_each_learner_has_its_own_messages() {
        assert!(!built_executable(BUILD, "a-learn"));
        assert!(built_executable(BUILD, "b-learn"));
        assert!(
            !built_executable(BUILD, "lesson"),
            "a library is no executable"
        );
        assert_eq!(
            compiler_messages(BUILD, "warning", Some("b-learn")),
            ["warning: unused import\n"]
        );
        assert_eq!(
            compiler_messages(BUILD, "error", Some("b-learn")),
            Vec::<String>::new()
        );
        assert_eq!(compiler_messages(BUILD, "error", Some("a-learn")).len(), 2);
    }
}
