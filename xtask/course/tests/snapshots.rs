//! One insta snapshot test per run that `cargo xtask check-all` checks: each runs its lesson
//! binary, turns the output into its address pattern, and asserts it with insta, so that
//! `cargo insta test` and `cargo insta review` work on `xtask/snapshots/` natively.
//! `check-all` runs these tests to write snapshots (`--bless`, or a `.snap.new` for review).
//!
//! Under the legacy mmap layout the address space is reordered by design, and the patterns
//! differ; the tests then say so and compare nothing, as `check-all` does.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use lesson::normalize::normalize;
use xtask::catalogue::{self, SnapshotRun};
use xtask::run::{self, Profile};
use xtask::snapshot;
use xtask_course::snapshot_tests;

/// The folder of the binaries, built once for all the tests.
fn binaries() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| run::build(Profile::Debug).expect("cargo build"))
}

fn assert_pattern(name: &str) {
    let lesson: &SnapshotRun = catalogue::find(name).expect("a lesson binary");
    let legacy = memcore::layout::legacy_mmap_reasons();
    let out = run::run(
        &binaries().join(&lesson.binary),
        &lesson.arg_strs(),
        Duration::from_secs(60),
    )
    .expect("the binary runs");
    assert_eq!(out.failure(), None, "{}\n{}", out.stdout, out.stderr);
    if !legacy.is_empty() {
        eprintln!(
            "{name}: the legacy mmap layout ({}) reorders the address space; not compared",
            legacy.join(", ")
        );
        return;
    }
    let mut settings = insta::Settings::clone_current();
    // Relative to this file: xtask/snapshots.
    settings.set_snapshot_path("../../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(format!(
        "`{}` as an address pattern (see crates/lesson/src/normalize.rs)",
        snapshot_tests::command_of(lesson)
    ));
    settings.bind(|| insta::assert_snapshot!(lesson.snapshot.as_str(), normalize(&out.stdout)));
}

/// `xtask::snapshot::Snapshot::load`, the reader the learner's commands use without insta, reads every
/// committed snapshot as insta reads it.
fn read_as_insta_reads() -> Result<(), libtest_mimic::Failed> {
    let mut names = Vec::new();
    for lesson in catalogue::snapshot_runs() {
        let path = snapshot::path(&lesson.snapshot);
        let by_insta = insta::Snapshot::from_file(&path).map_err(|e| e.to_string())?;
        let by_insta = by_insta.as_text().ok_or("not a text snapshot")?.to_string();
        let ours = snapshot::Snapshot::load(&lesson.snapshot)
            .map_err(|e| format!("{e:#}"))?
            .ok_or("no snapshot")?
            .pattern;
        if ours != by_insta {
            return Err(format!("{} is read otherwise than insta reads it", path.display()).into());
        }
        names.push(lesson.snapshot.as_str());
    }
    if names.is_empty() {
        return Err("no snapshot was read".into());
    }
    Ok(())
}

/// One test per run that check-all checks, made from the lesson's catalogue and named as
/// `check-all` calls it (`snapshot_tests::test_name`): a new exercise's run has its test with
/// no line here. Beside them, one test of the snapshot reader.
fn main() -> std::process::ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    let mut tests: Vec<libtest_mimic::Trial> = catalogue::snapshot_runs()
        .iter()
        .map(|lesson| {
            let name = lesson.name.clone();
            // libtest-mimic reports a panic, insta's failed assertion, as the test's failure.
            libtest_mimic::Trial::test(snapshot_tests::test_name(lesson), move || {
                assert_pattern(&name);
                Ok(())
            })
        })
        .collect();
    tests.push(libtest_mimic::Trial::test(
        "snapshots_are_read_as_insta_reads_them",
        read_as_insta_reads,
    ));
    libtest_mimic::run(&args, tests).exit_code()
}
