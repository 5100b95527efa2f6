//! The learner's files are kept apart: a file that does not compile breaks only `cargo xtask
//! learn` and `cargo xtask run`, which say so with the compiler's error. Every other command
//! builds without it, since each learner's binary needs its package's `learn` feature.
//! `cargo xtask learn --verify` proves it here, in its copy of the workspace.

use std::process::Command;

use anyhow::{Context, Result};

use super::{Status, Workspace, build_and_judge};
use crate::catalogue::{Exercise, exercises};

/// One broken learner's file: what is added to the template, and the words the compiler's
/// first error must hold.
struct Breakage {
    /// Appended to the template.
    code: &'static str,
    /// In the first line of the compiler's first error.
    error: &'static str,
}

/// A mistake of another kind for each exercise, as learners make them many times a day: a
/// missing `;`, a type error, a misspelt name, a brace left open.
const BREAKAGES: [Breakage; 4] = [
    Breakage {
        code: "fn unfinished() -> usize {\n    let x = 1\n    x\n}\n",
        error: "expected `;`",
    },
    Breakage {
        code: "fn unfinished() -> u32 {\n    \"four\"\n}\n",
        error: "mismatched types",
    },
    Breakage {
        code: "fn unfinished() -> usize {\n    lenght\n}\n",
        error: "cannot find value `lenght`",
    },
    Breakage {
        code: "fn unfinished() {\n    let open = 1;\n",
        error: "unclosed delimiter",
    },
];

/// The commands that must work whatever the learner's files hold, as `cargo` arguments. The
/// matrix, memcheck and bench build as check-all does (`run::build`); bench's own targets are
/// built by `--all-targets`.
fn commands() -> Vec<Vec<String>> {
    let mut commands: Vec<Vec<&str>> = vec![
        vec!["xtask", "check-all"],
        vec!["xtask", "list"],
        vec!["build", "--workspace", "--all-targets"],
        vec!["test", "--workspace"],
    ];
    if which("strace") {
        commands.push(vec!["xtask", "trace", "ex2-sbrk"]);
    }
    let mut owned: Vec<Vec<String>> = commands
        .into_iter()
        .map(|c| c.into_iter().map(str::to_owned).collect())
        .collect();
    for lesson in crate::catalogue::snapshot_runs()
        .iter()
        .filter(|l| l.args.is_empty())
    {
        owned.push(vec!["run".into(), "-p".into(), lesson.binary.clone()]);
    }
    owned
}

fn which(program: &str) -> bool {
    Command::new(program)
        .arg("-V")
        .output()
        .is_ok_and(|out| out.status.success())
}

/// With a broken learner's file in every exercise of `copy`: every command of [`commands`]
/// succeeds, and `cargo xtask learn` says of each exercise that it does not compile, with the
/// compiler's error. Calls `fail` for whatever does not hold. The templates are put back after.
///
/// # Errors
/// When a file cannot be written or cargo cannot be started.
pub fn broken_files_break_nothing(
    workspace: &Workspace,
    copy: &Workspace,
    fail: &mut impl FnMut(String),
) -> Result<()> {
    for (exercise, breakage) in exercises().iter().zip(BREAKAGES.iter().cycle()) {
        let template = std::fs::read_to_string(workspace.template(exercise))
            .context("cannot read a template")?;
        std::fs::write(copy.template(exercise), template + breakage.code)
            .context("cannot write a broken file")?;
    }
    for args in commands() {
        let shown = format!("cargo {}", args.join(" "));
        let out = copy
            .cargo()
            .args(&args)
            .output()
            .with_context(|| format!("failed to run `{shown}`"))?;
        if out.status.success() {
            println!("  {shown}: works");
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last: Vec<&str> = stderr.lines().rev().take(6).collect();
            fail(format!(
                "`{shown}` failed with broken learner's files ({}): {}",
                out.status,
                last.into_iter().rev().collect::<Vec<_>>().join(" / ")
            ));
        }
    }
    for (exercise, breakage) in exercises().iter().zip(BREAKAGES.iter().cycle()) {
        judged_does_not_compile(copy, exercise, breakage, fail)?;
        std::fs::copy(workspace.template(exercise), copy.template(exercise))
            .context("cannot put the template back")?;
    }
    Ok(())
}

fn judged_does_not_compile(
    copy: &Workspace,
    exercise: &Exercise,
    breakage: &Breakage,
    fail: &mut impl FnMut(String),
) -> Result<()> {
    let name = &exercise.name;
    match build_and_judge(copy, exercise)? {
        Status::DoesNotCompile(errors)
            if errors.first().is_some_and(|l| l.contains(breakage.error)) =>
        {
            println!("  learn: {name} does not compile: {}", errors[0]);
        }
        status => fail(format!(
            "learn: {name} with a broken file: expected \"does not compile\" with \"{}\", got \
             {status:?}",
            breakage.error
        )),
    }
    Ok(())
}
