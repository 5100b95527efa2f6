//! `cargo xtask learn --verify`: the maintainers' check of learner mode, which CI runs.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::files::{fresh_template, read};
use super::render::report_exercises;
use super::{
    Cpus, Finding, Kind, Place, Status, Workspace, build_and_judge, judged_on, learner_binary,
};
use crate::catalogue::{Exercise, exercises};
use crate::template;

/// One thing an answer in `xtask/answers/` must give, as data: a line of its header.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Expect {
    /// `//! expect: done`.
    Done,
    /// `//! expect: failed in PART: CLAIM`: the claim, as the lesson records it, failed at
    /// the learner's part `PART`.
    Failed { part: String, claim: String },
    /// `//! expect: KIND in PART`, KIND one of `stopped`, `panicked`, `crashed`, `timed out`,
    /// `exited`: the run, or a step, ended so at the learner's part `PART`.
    Ended { kind: String, part: String },
}

/// The words a header uses for each kind of finding but a failed claim.
const ENDED: [(Kind, &str); 5] = [
    (Kind::Stopped, "stopped"),
    (Kind::Panic, "panicked"),
    (Kind::Crash, "crashed"),
    (Kind::Timeout, "timed out"),
    (Kind::Exit, "exited"),
];

impl Expect {
    /// Reads one header line (see [`Expect`]); `None` if it is not one.
    fn parse(line: &str) -> Option<Expect> {
        let rest = line.strip_prefix("//! expect: ")?;
        if rest == "done" {
            return Some(Expect::Done);
        }
        if let Some(failed) = rest.strip_prefix("failed in ") {
            let (part, claim) = failed.split_once(": ")?;
            return Some(Expect::Failed {
                part: part.trim_matches('`').to_owned(),
                claim: super::claim_key(claim),
            });
        }
        let (kind, part) = rest.split_once(" in ")?;
        ENDED
            .iter()
            .any(|(_, k)| *k == kind)
            .then(|| Expect::Ended {
                kind: kind.to_owned(),
                part: part.trim_matches('`').to_owned(),
            })
    }

    /// What `finding` is, said as a header line would say it.
    fn of(finding: &Finding) -> Expect {
        let part = finding.part.clone().unwrap_or_else(|| "?".to_owned());
        match (&finding.claim, finding.kind) {
            (Some(claim), _) => Expect::Failed {
                part,
                claim: super::claim_key(claim),
            },
            (None, kind) => Expect::Ended {
                kind: ENDED
                    .iter()
                    .find(|(k, _)| *k == kind)
                    .map_or("stopped", |(_, w)| w)
                    .to_owned(),
                part,
            },
        }
    }

    /// The header line.
    fn line(&self) -> String {
        match self {
            Expect::Done => "//! expect: done".to_owned(),
            Expect::Failed { part, claim } => format!("//! expect: failed in {part}: {claim}"),
            Expect::Ended { kind, part } => format!("//! expect: {kind} in {part}"),
        }
    }
}

/// What a status gives, as header lines would say it: `done`, or each finding on its own (its
/// consequences aside, which hang on it).
fn given(status: &Status) -> Vec<Expect> {
    match status {
        Status::Done(_) => vec![Expect::Done],
        Status::Failed(verdict) => {
            let mut given: Vec<Expect> = verdict.findings.iter().map(Expect::of).collect();
            given.sort();
            given.dedup();
            given
        }
        _ => Vec::new(),
    }
}

/// The answers kept as tests, for `exercise`: (file, what it must give), each saying what it
/// expects in the `//! expect:` lines it starts with (see [`Expect`]).
/// The header line that asks for an answer to be judged on one CPU too (`taskset -c 0`): a race
/// must be caught there as on many.
const ON_ONE_CPU_TOO: &str = "//! judged on one CPU too";

/// One answer kept as a test: its file, what it must give, and whether it is judged on one CPU
/// too.
struct Answer {
    path: PathBuf,
    expect: Vec<Expect>,
    on_one_cpu_too: bool,
}

fn answers(workspace: &Workspace, exercise: &Exercise) -> Result<Vec<Answer>> {
    let folder = workspace.root.join("xtask/answers").join(&exercise.name);
    let mut found = Vec::new();
    let entries =
        std::fs::read_dir(&folder).with_context(|| format!("cannot read {}", folder.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let text = read(&path)?;
        let header: Vec<&str> = text
            .lines()
            .take_while(|l| l.starts_with("//! expect: "))
            .collect();
        let mut expect = Vec::new();
        for line in &header {
            let Some(one) = Expect::parse(line) else {
                bail!(
                    "{}: `{line}` is not an expectation (see xtask/answers/README.md)",
                    path.display()
                );
            };
            expect.push(one);
        }
        if expect.is_empty() {
            bail!(
                "{} does not start with `//! expect: done` or `//! expect: failed in PART: CLAIM`",
                path.display()
            );
        }
        expect.sort();
        expect.dedup();
        let on_one_cpu_too = text
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .any(|l| l == ON_ONE_CPU_TOO);
        found.push(Answer {
            path,
            expect,
            on_one_cpu_too,
        });
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

/// `cargo xtask learn --verify [NAME]`, for CI and for whoever changes a reference: the
/// committed templates are fresh; each template builds clippy-clean and stops at its first part
/// with the message and exit status of a part still to do; with the reference's parts in place
/// of the templates (in a copy under `target/`), every exercise is done; each kept answer in
/// `xtask/answers/` gives what it expects; and a broken learner's file breaks no other command.
/// With `only`, the same for that one exercise and its answers, the last check aside (it runs
/// the whole workspace's commands). Returns whether all of that held.
///
/// # Errors
/// When `only` names no exercise, or cargo, a binary or a file cannot be used at all.
pub fn verify(workspace: &Workspace, only: Option<&str>) -> Result<bool> {
    let chosen: Vec<&Exercise> = match only {
        None => exercises().iter().collect(),
        Some(name) => vec![super::files::find(name)?],
    };
    let exercises = chosen.as_slice();
    let mut ok = true;
    let mut fail = |what: String| {
        println!("verify: FAILED: {what}");
        ok = false;
    };
    println!("verify: every template is fresh (what `cargo xtask templates` writes)");
    templates_fresh(workspace, exercises, &mut fail)?;
    println!("verify: every template builds clippy-clean");
    templates_clippy_clean(workspace, exercises, &mut fail)?;
    println!("verify: every template stops at its first part, saying where");
    templates_stop_at_first_part(workspace, exercises, &mut fail)?;
    println!("verify: with the reference's parts in place, every exercise is done");
    let copy = fresh_copy(workspace)?;
    references_done(workspace, &copy, exercises, &mut fail)?;
    println!("verify: the answers kept in xtask/answers/ give what they expect");
    answers_judged(workspace, &copy, exercises, &mut fail)?;
    if only.is_none() {
        println!(
            "verify: with a broken file of the learner's in every exercise, only learn and run see it"
        );
        super::isolation::broken_files_break_nothing(workspace, &copy, &mut fail)?;
    } else {
        println!(
            "verify: (that a broken learner's file breaks no other command is left to the whole \
             `cargo xtask learn --verify`)"
        );
    }
    println!("verify: {}", if ok { "ok" } else { "FAILED" });
    Ok(ok)
}

/// Each committed template is what `cargo xtask templates` writes from its reference.
fn templates_fresh(
    workspace: &Workspace,
    exercises: &[&Exercise],
    fail: &mut impl FnMut(String),
) -> Result<()> {
    for &exercise in exercises {
        let fresh = fresh_template(workspace, exercise)?;
        if read(&workspace.template(exercise))? != fresh {
            fail(format!(
                "{} is stale: run `cargo xtask templates --yes`",
                &exercise.template
            ));
        }
    }
    Ok(())
}

/// Every template builds without a clippy warning.
fn templates_clippy_clean(
    workspace: &Workspace,
    exercises: &[&Exercise],
    fail: &mut impl FnMut(String),
) -> Result<()> {
    let mut clippy = workspace.cargo();
    clippy.args(["clippy", "--quiet"]);
    for &exercise in exercises {
        clippy.args(learner_binary(exercise));
    }
    let status = clippy
        .args(["--", "-D", "warnings"])
        .status()
        .context("failed to run `cargo clippy`")?;
    if !status.success() {
        fail(
            "clippy found something (above) in a template or in the driver it builds on \
             (src/lib.rs), with -D warnings"
                .to_owned(),
        );
    }
    Ok(())
}

/// Every template, run, is to do at its first part, at the line of its `todo!()`.
fn templates_stop_at_first_part(
    workspace: &Workspace,
    exercises: &[&Exercise],
    fail: &mut impl FnMut(String),
) -> Result<()> {
    let mut results = Vec::new();
    for &exercise in exercises {
        let status = build_and_judge(workspace, exercise)?;
        let reference = read(&workspace.root.join(&exercise.reference))?;
        let first = template::parts(&reference)?
            .into_iter()
            .next()
            .context("a reference without parts")?;
        let line = template::first_todo(&read(&workspace.template(exercise))?).map(|(l, _)| l);
        let expected = Status::ToDo(Place {
            part: first.name,
            file: exercise.template.to_owned(),
            line: line.map_or(0, |l| l as u32),
        });
        if status != expected {
            fail(format!(
                "{}: expected {expected:?}, got {status:?}",
                &exercise.name
            ));
        }
        results.push((exercise, status, None));
    }
    report_exercises(&results);
    Ok(())
}

/// A fresh copy of the workspace under `target/`, to put references and answers in: a file the
/// workspace no longer has must not linger in it.
fn fresh_copy(workspace: &Workspace) -> Result<Workspace> {
    let copy = Workspace {
        root: workspace.target.join("learn-verify/workspace"),
        target: workspace.target.join("learn-verify/target"),
    };
    if copy.root.exists() {
        std::fs::remove_dir_all(&copy.root)
            .with_context(|| format!("cannot remove {}", copy.root.display()))?;
    }
    crate::run::copy_sources(&workspace.root, &copy.root)?;
    Ok(copy)
}

/// With the reference's parts in place of the learner's, every exercise is done.
fn references_done(
    workspace: &Workspace,
    copy: &Workspace,
    exercises: &[&Exercise],
    fail: &mut impl FnMut(String),
) -> Result<()> {
    let mut results = Vec::new();
    for &exercise in exercises {
        std::fs::copy(
            workspace.root.join(&exercise.reference),
            copy.template(exercise),
        )
        .context("cannot put the reference in place")?;
        let status = build_and_judge(copy, exercise)?;
        if !status.is_done() {
            fail(format!(
                "{} with the reference's parts: {status:?}",
                &exercise.name
            ));
        }
        results.push((exercise, status, None));
    }
    report_exercises(&results);
    Ok(())
}

/// `cargo xtask learn --answer FILE`: judges one kept answer (`xtask/answers/NAME/….rs`) as
/// `--verify` does, in the same copy of the workspace, and shows its report. Returns whether
/// it gave what its header expects.
///
/// # Errors
/// When the file is not a kept answer of a known exercise, or cannot be judged at all.
pub fn verify_answer(workspace: &Workspace, file: &std::path::Path) -> Result<bool> {
    let path =
        std::fs::canonicalize(file).with_context(|| format!("cannot find {}", file.display()))?;
    let folder = path
        .parent()
        .and_then(|f| f.file_name())
        .map(|f| f.to_string_lossy());
    let exercise = exercises()
        .iter()
        .find(|e| folder.as_deref() == Some(e.name.as_str()))
        .with_context(|| {
            format!(
                "{} is not in a folder named for an exercise (xtask/answers/NAME/)",
                file.display()
            )
        })?;
    let answer = answers(workspace, exercise)?
        .into_iter()
        .find(|a| std::fs::canonicalize(&a.path).is_ok_and(|p| p == path))
        .with_context(|| format!("{} is not a kept answer", file.display()))?;
    let copy = fresh_copy(workspace)?;
    std::fs::copy(&answer.path, copy.template(exercise))
        .context("cannot put the answer in place")?;
    let mut ok = true;
    let mut fail = |what: String| {
        println!("verify: FAILED: {what}");
        ok = false;
    };
    let mut runs = vec![Cpus::All];
    if answer.on_one_cpu_too {
        runs.push(Cpus::One);
    }
    for cpus in runs {
        let judged = judged_on(&copy, exercise, cpus)?;
        report_exercises(&[(exercise, judged.status.clone(), None)]);
        let on = if cpus == Cpus::One {
            ", on one CPU"
        } else {
            ""
        };
        judged_as_expected(
            &format!("{}{on}", file.display()),
            &answer.expect,
            &judged.status,
            &mut fail,
        );
    }
    Ok(ok)
}

/// Says whether `status`, of the answer `shown`, is what its header `expect`s.
fn judged_as_expected(
    shown: &str,
    expect: &[Expect],
    status: &Status,
    fail: &mut impl FnMut(String),
) {
    let given = given(status);
    if given == expect {
        println!("  {shown}: as expected");
        return;
    }
    let lines: Vec<String> = given.iter().map(Expect::line).collect();
    fail(format!(
        "{shown}: expected {}, got {}; its header would read:\n{}\nits status: {status:?}",
        expect
            .iter()
            .map(Expect::line)
            .collect::<Vec<_>>()
            .join(" + "),
        if lines.is_empty() {
            "no verdict".to_owned()
        } else {
            lines.join(" + ")
        },
        lines.join("\n")
    ));
}

/// Each answer kept in `xtask/answers/` is judged as its header says.
fn answers_judged(
    workspace: &Workspace,
    copy: &Workspace,
    exercises: &[&Exercise],
    fail: &mut impl FnMut(String),
) -> Result<()> {
    for &exercise in exercises {
        for answer in answers(workspace, exercise)? {
            std::fs::copy(&answer.path, copy.template(exercise))
                .context("cannot put an answer in place")?;
            let shown = answer
                .path
                .strip_prefix(&workspace.root)
                .unwrap_or(&answer.path);
            let mut runs = vec![Cpus::All];
            if answer.on_one_cpu_too {
                runs.push(Cpus::One);
            }
            for cpus in runs {
                let status = judged_on(copy, exercise, cpus)?.status;
                let on = if cpus == Cpus::One {
                    ", on one CPU"
                } else {
                    ""
                };
                judged_as_expected(
                    &format!("{}{on}", shown.display()),
                    &answer.expect,
                    &status,
                    fail,
                );
            }
        }
        std::fs::copy(workspace.template(exercise), copy.template(exercise))
            .context("cannot put the template back")?;
    }
    Ok(())
}
