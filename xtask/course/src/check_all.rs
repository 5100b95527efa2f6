//! `cargo xtask check-all` and `cargo xtask check NAME`: run each lesson binary, turn its output
//! into an address pattern, and compare it with the committed snapshot.

use std::time::Duration;

use anyhow::{Context, Result};

use crate::{readme_output, snapshot_tests};
use lesson::normalize::normalize;
use xtask::catalogue::SnapshotRun;
use xtask::run::{self, Profile, root};
use xtask::snapshot::{self, Comparison, Snapshot};

/// How to check.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Rewrite the snapshots (and the READMEs' patterns) instead of comparing.
    pub bless: bool,
    /// Debug or release binaries.
    pub profile: Profile,
    /// How long one binary may run.
    pub timeout: Duration,
}

/// Whether snapshots may be written: never under CI.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Builds once, then checks each lesson in turn, even after one fails. Returns whether all
/// passed.
pub fn check_all(lessons: &[SnapshotRun], options: Options) -> Result<bool> {
    let bin_dir = run::build(options.profile)?;
    let bless = options.bless && !in_ci();
    if options.bless && !bless {
        println!("check-all: CI is set, so --bless writes nothing; comparing instead");
    }
    let (mut passed, mut failed) = (0, 0);
    let mut to_write = Vec::new();
    let mut blessings = Vec::new();
    for lesson in lessons {
        let outcome = check_one(lesson, &bin_dir, options, bless)?;
        if outcome.write {
            to_write.push(lesson);
        }
        match outcome.blessing {
            // Counted once insta has written it.
            Some(blessing) => blessings.push((lesson, blessing)),
            None if outcome.passed => passed += 1,
            None => failed += 1,
        }
    }
    if bless {
        snapshot_tests::write_with_insta(&to_write, snapshot_tests::Write::Snapshot)?;
        for (lesson, blessing) in blessings {
            if finish_blessing(lesson, &blessing)? {
                passed += 1;
            } else {
                failed += 1;
            }
        }
    } else if !in_ci() {
        // Left beside the snapshots for `cargo insta review`.
        snapshot_tests::write_with_insta(&to_write, snapshot_tests::Write::ForReview)?;
    }
    println!("check-all: {passed} passed, {failed} failed");
    if failed > 0 && !bless {
        let update = if in_ci() {
            "cargo xtask check-all --bless (on a developer machine, not under CI)"
        } else {
            "cargo xtask check-all --bless, or review with cargo insta review"
        };
        println!("If the new output is intended, update the snapshots with: {update}");
    }
    Ok(failed == 0)
}

/// How one check went: whether it passed, whether insta should write its snapshot, and with
/// `--bless`, what the snapshot and the README must then hold.
struct Outcome {
    passed: bool,
    write: bool,
    blessing: Option<Blessing>,
}

impl Outcome {
    const PASSED: Outcome = Outcome::new(true, false);
    const FAILED: Outcome = Outcome::new(false, false);
    const DIFFERS: Outcome = Outcome::new(false, true);

    const fn new(passed: bool, write: bool) -> Outcome {
        Outcome {
            passed,
            write,
            blessing: None,
        }
    }
}

/// A run to bless: the pattern its snapshot must hold once insta has written it, and the output
/// its README shows.
struct Blessing {
    pattern: String,
    stdout: String,
}

/// After insta's run: the snapshot holds the pattern (or the bless fails, saying why), and only
/// then the README is rewritten. Returns whether both were written.
fn finish_blessing(lesson: &SnapshotRun, blessing: &Blessing) -> Result<bool> {
    let name = lesson.name.as_str();
    let file = snapshot::shown(&snapshot::path(&lesson.snapshot));
    let written = match Snapshot::load(&lesson.snapshot)? {
        None => Err(format!(
            "insta wrote no {file}: its test {} in xtask/course/tests/snapshots.rs did not run",
            snapshot_tests::test_name(lesson)
        )),
        Some(written) if !written.holds(&blessing.pattern) => Err(format!(
            "{file} does not hold this run's pattern: the output changed between two runs \
             (cargo xtask matrix --quick shows where)"
        )),
        Some(written) => Ok(written),
    };
    let snapshot = match written {
        Ok(snapshot) => snapshot,
        Err(why) => {
            println!("{name} ... FAILED: {why}; its README is left as it was");
            return Ok(false);
        }
    };
    let mut written = file;
    if let Some(readme_file) = lesson.readme.as_deref() {
        let (readme_path, readme_text) = read_readme(readme_file)?;
        // A sample run that still has the pattern stays: the README changes only when the
        // lesson's output does.
        let sample = readme_output::extract(&readme_text)
            .map(|shown| shown.sample)
            .filter(|sample| snapshot.compare(sample) == Comparison::Matches)
            .unwrap_or_else(|| blessing.stdout.clone());
        std::fs::write(
            &readme_path,
            readme_output::replace(&readme_text, &sample, &blessing.pattern),
        )
        .with_context(|| format!("cannot write {readme_file}"))?;
        written = format!("{written} and {readme_file}");
    }
    println!("{name} ... blessed ({written})");
    Ok(true)
}

/// A README of the workspace, `file` relative to its root: its path and its text.
fn read_readme(file: &str) -> Result<(std::path::PathBuf, String)> {
    let path = root().join(file);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {file}"))?;
    Ok((path, text))
}

fn check_one(
    lesson: &SnapshotRun,
    bin_dir: &std::path::Path,
    options: Options,
    bless: bool,
) -> Result<Outcome> {
    let name = lesson.name.as_str();
    let events_file = run::target_dir()
        .join("check")
        .join(format!("{name}.events"));
    let (run, events) = run::run_recorded(
        &bin_dir.join(&lesson.binary),
        &lesson.arg_strs(),
        options.timeout,
        &[],
        &events_file,
    )?;
    if let Some(failure) = run.failure() {
        println!("{name} ... FAILED: {failure}");
        for line in run.stderr.lines() {
            println!("    stderr: {line}");
        }
        return Ok(Outcome::FAILED);
    }
    let snapshot_name = lesson.snapshot.as_str();
    if bless {
        return Ok(Outcome {
            blessing: Some(Blessing {
                pattern: normalize(&run.stdout),
                stdout: run.stdout,
            }),
            ..Outcome::new(true, true)
        });
    }
    let Some(expected) = Snapshot::load(snapshot_name)? else {
        println!(
            "{name} ... FAILED: no snapshot yet at {}",
            snapshot::shown(&snapshot::path(snapshot_name))
        );
        return Ok(Outcome::DIFFERS);
    };
    if let Comparison::Differs { pattern, first } = expected.compare(&run.stdout) {
        if let Some(why) = lesson::events::differs_by_design(&events) {
            println!(
                "{name} ... ok, by design: {why}, so the pattern is not compared; the program's \
                 own checks passed"
            );
            return Ok(Outcome::PASSED);
        }
        println!("{name} ... FAILED: the output does not match its snapshot");
        println!("{}", expected.explain(first.as_ref()));
        println!("    the whole diff:");
        for line in diff(&expected.pattern, &pattern).lines() {
            println!("    {line}");
        }
        return Ok(Outcome::DIFFERS);
    }
    if let Some(readme_file) = lesson.readme.as_deref() {
        let (_, readme_text) = read_readme(readme_file)?;
        if let Err(why) = readme_output::agrees(&readme_text, &expected) {
            println!("{name} ... FAILED: {readme_file} {why} (run cargo xtask check-all --bless)");
            return Ok(Outcome::FAILED);
        }
    }
    println!("{name} ... ok");
    Ok(Outcome::PASSED)
}

/// The whole diff from the snapshot's pattern to the actual one, unified, with context.
pub fn diff(expected: &str, actual: &str) -> String {
    // insta keeps no final newline; compare the lines, not how the last one ends.
    let expected = format!("{}\n", expected.trim_end());
    let actual = format!("{}\n", actual.trim_end());
    similar::TextDiff::from_lines(&expected, &actual)
        .unified_diff()
        .context_radius(2)
        .header("snapshot", "actual")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bless whose insta test wrote no snapshot (a run with no test, or a test that ran
    /// nothing) fails, and leaves the README alone: it never says "blessed" for nothing.
    #[test]
    fn a_bless_that_wrote_no_snapshot_fails() {
        let lesson = SnapshotRun {
            name: "no-such-run".to_owned(),
            binary: "no-such-run".to_owned(),
            args: Vec::new(),
            snapshot: "no-such-snapshot".to_owned(),
            readme: Some("no-such-folder/README.md".to_owned()),
            shows: String::new(),
        };
        let blessing = Blessing {
            pattern: "Step 1\n".to_owned(),
            stdout: "Step 1\n".to_owned(),
        };
        assert!(!finish_blessing(&lesson, &blessing).unwrap());
        assert!(!root().join("no-such-folder").exists());
    }
}
