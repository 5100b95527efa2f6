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

macro_rules! snapshot_tests {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                assert_pattern($name);
            }
        )*

        /// Every run check-all checks has its test here, named as `check-all` calls it.
        #[test]
        fn every_lesson_binary_has_a_test() {
            let tests = [$(stringify!($test)),*];
            for lesson in lessons::lessons() {
                let name = snapshot::test_name(lesson);
                assert!(tests.contains(&name.as_str()), "no test {name}");
            }
        }
    };
}

snapshot_tests! {
    snapshot_of_ex0_virtual_memory => "ex0-virtual-memory",
    snapshot_of_ex1_segments => "ex1-segments",
    snapshot_of_ex2_sbrk => "ex2-sbrk",
    snapshot_of_ex3_mmap => "ex3-mmap",
    snapshot_of_milestone => "milestone",
    snapshot_of_milestone_contract => "milestone-contract",
    snapshot_of_milestone_contract_library => "milestone-contract-library",
}
