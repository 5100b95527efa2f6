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
use xtask::lessons::{self, LessonBinary};
use xtask::run::{self, Profile};
use xtask::snapshot;

/// The folder of the binaries, built once for all the tests.
fn binaries() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| run::build(Profile::Debug).expect("cargo build"))
}

fn assert_pattern(name: &str) {
    let lesson: &LessonBinary = lessons::find(name).expect("a lesson binary");
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
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(format!(
        "`{}` as an address pattern (see crates/lesson/src/normalize.rs)",
        snapshot::command_of(lesson)
    ));
    settings.bind(|| insta::assert_snapshot!(lesson.snapshot.as_str(), normalize(&out.stdout)));
}

/// One test per run that check-all checks, made from the lesson's catalogue and named as
/// `check-all` calls it (`snapshot::test_name`): a new exercise's run has its test with no line
/// here.
fn main() -> std::process::ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    let tests = lessons::lessons()
        .iter()
        .map(|lesson| {
            let name = lesson.name.clone();
            // libtest-mimic reports a panic, insta's failed assertion, as the test's failure.
            libtest_mimic::Trial::test(snapshot::test_name(lesson), move || {
                assert_pattern(&name);
                Ok(())
            })
        })
        .collect();
    libtest_mimic::run(&args, tests).exit_code()
}
