//! `cargo xtask new-exercise` run for real, in a copy of the workspace under `target/` (never in
//! this tree): right after it, `check-all` passes with the new run, `learn` has the new exercise
//! to do, and `learn --verify NAME` passes with its kept answers. It builds the whole workspace
//! in the copy, so it is run by `.ci/run` (`--ignored`), not by `cargo test --workspace`.

use std::path::Path;
use std::process::{Command, Output};

use xtask::run;

const NAME: &str = "ex9-trial";

/// Runs `cargo ARGS` in the copy at `root`, with its own target folder. `CI` is removed: the
/// copy is a scratch workspace whose new exercise must be blessed, and under CI `--bless` writes
/// nothing (it guards the real tree, not this copy).
fn cargo(root: &Path, target: &Path, args: &[&str]) -> Output {
    let out = Command::new(run::cargo())
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("CI")
        .args(args)
        .output()
        .expect("cargo runs");
    println!(
        "cargo {}: {}\n{}\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
#[ignore = "builds the whole workspace in a copy; .ci/run runs it"]
fn a_new_exercise_passes_every_check_right_after_it_is_written() {
    let folder = run::target_dir().join("new-exercise");
    let (root, target) = (folder.join("workspace"), folder.join("target"));
    if root.exists() {
        std::fs::remove_dir_all(&root).unwrap();
    }
    run::copy_sources(&run::root(), &root).unwrap();
    let title = "exercise 9, a trial";
    let made = cargo(
        &root,
        &target,
        &[
            "xtask",
            "new-exercise",
            NAME,
            "--title",
            title,
            "--after",
            "ex3-mmap",
        ],
    );
    assert!(made.status.success());
    for file in [
        "exercises/ex9-trial/learn/parts.rs",
        "xtask/snapshots/ex9-trial.snap",
        "xtask/answers/ex9-trial/correct-try-from.rs",
        "xtask/answers/ex9-trial/wrong-clock-ticks.rs",
    ] {
        assert!(root.join(file).exists(), "{file} was not written");
    }
    let members = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(members.contains(
        "\"exercises/ex3-mmap/learn\",\n    \"exercises/ex9-trial\",\n    \"exercises/ex9-trial/learn\","
    ));
    let again = cargo(
        &root,
        &target,
        &["xtask", "new-exercise", NAME, "--title", title],
    );
    assert!(!again.status.success(), "an exercise is not written twice");

    let checked = cargo(&root, &target, &["xtask", "check-all"]);
    assert!(checked.status.success());
    assert!(String::from_utf8_lossy(&checked.stdout).contains(&format!("{NAME} ... ok")));
    let learned = cargo(&root, &target, &["xtask", "learn"]);
    let said = String::from_utf8_lossy(&learned.stdout);
    let to_do = format!("to do: `page_size`, exercises/{NAME}/learn/parts.rs");
    assert!(
        said.lines()
            .any(|l| l.trim_start().starts_with(NAME) && l.contains(&to_do)),
        "learn does not show the new exercise to do: {said}"
    );
    let verified = cargo(&root, &target, &["xtask", "learn", "--verify", NAME]);
    assert!(verified.status.success());
    let unknown = cargo(&root, &target, &["xtask", "learn", "--verify", "ex9-none"]);
    assert!(!unknown.status.success(), "an unknown exercise is refused");
}
