//! `cargo xtask learn`: builds and runs the learner's parts of each exercise, in the lesson's
//! order, with the lesson's own driver, and judges each run by its claims. Also `hint`,
//! `run`, `--reset`, `templates`, `--watch` and `--verify`.
//!
//! Its modules, one job each:
//! - `judge`: how one run stands, as data (each failure, the claims not reached, each part's
//!   standing), read from its events and the reference's;
//! - `verdict`: the records the judge returns;
//! - `ending`: the judge's words for a run that ended early, and where a fault struck;
//! - `render`: those records in words, for the learner;
//! - `progress`: the parts done, and the claims a part just finished meets;
//! - `files`: the learner's files: hints, templates written from the references, resets;
//! - `verify`: the maintainers' check of all of that, run by CI;
//! - `apart`: the proof, part of `verify`, that a learner's broken file breaks no other command.

use std::io::IsTerminal;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::lessons::{Exercise, exercises};
use crate::run;

mod apart;
mod ending;
mod files;
mod judge;
mod progress;
mod render;
mod verdict;
mod verify;

pub use files::{Rung, fresh_template, hint, reset, templates, write_template};

use files::find;
pub use judge::{Expected, LearnerFile, Outcome, classify, judge};
pub use progress::Progress;
pub use render::report;
pub use verdict::{
    Claim, Consequence, Finding, Kind, NotReached, Standing, Verdict, claim_key, claims_of,
};
pub use verify::{verify, verify_answer};

/// How long one learner's run may take (and one mutant's claims test, in `cargo xtask mutants`).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A workspace to build and run learner binaries in: this one, or a copy under `target/`.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Its root folder.
    pub root: PathBuf,
    /// Its target folder.
    pub target: PathBuf,
}

impl Workspace {
    /// This workspace.
    pub fn here() -> Workspace {
        Workspace {
            root: run::root(),
            target: run::target_dir(),
        }
    }

    fn cargo(&self) -> Command {
        let mut command = Command::new(run::cargo());
        command
            .current_dir(&self.root)
            .env("CARGO_TARGET_DIR", &self.target);
        command
    }

    /// The learner's file of `exercise` here.
    pub fn template(&self, exercise: &Exercise) -> PathBuf {
        self.root.join(&exercise.template)
    }
}

/// Where a part still to do is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The part's name.
    pub part: String,
    /// The file, relative to the workspace root.
    pub file: String,
    /// The line of its `todo!()`.
    pub line: u32,
}

/// An exercise whose every claim held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Done {
    /// An optional part still `todo!()`, if any.
    pub optional_to_do: Option<Place>,
    /// Where the output differs from the reference's, as a note (a choice the lesson leaves to
    /// the learner shows here); empty if it does not.
    pub note: Vec<String>,
    /// The compiler's warnings on the learner's file: the first whole, then how many more.
    pub warnings: Vec<String>,
    /// The file still starts with the template's `#![allow(…)]`, which hides warnings.
    pub allow_header_left: bool,
}

/// How an exercise stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Every required part holds, every claim held.
    Done(Done),
    /// A part is still `todo!()`, and every claim before it held.
    ToDo(Place),
    /// The learner's file does not compile: the compiler's first error, as rustc renders it.
    DoesNotCompile(Vec<String>),
    /// A claim failed, a part panicked, the run crashed or timed out, or claims the lesson
    /// makes were not reached.
    Failed(Verdict),
}

impl Status {
    /// Whether the exercise counts as done.
    pub fn is_done(&self) -> bool {
        matches!(self, Status::Done(_))
    }

    /// The learner's part the first failure is at, if it failed there.
    pub fn failed_part(&self) -> Option<&str> {
        self.failure().map(|(part, _)| part)
    }

    /// The part that failed, as [`Status::failed_part`], with the words of its failure: the
    /// claim that did not hold and what happened instead.
    pub fn failure(&self) -> Option<(&str, String)> {
        match self {
            Status::Failed(verdict) => verdict.findings.iter().find_map(|f| {
                let part = f.part.as_deref()?;
                let claim = f.claim.as_deref().unwrap_or("");
                Some((part, format!("{claim}\n{}", f.happened)))
            }),
            _ => None,
        }
    }
}

/// One exercise, judged: how it stands, and how each of its parts does.
#[derive(Debug, Clone)]
pub struct Judged {
    /// How it stands.
    pub status: Status,
    /// Each part's standing, in the lesson's order; empty when the file does not compile.
    pub parts: Vec<Standing>,
}

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
pub fn reference_run(exercise: &Exercise) -> Option<&'static crate::lessons::LessonBinary> {
    crate::lessons::lessons()
        .iter()
        .find(|l| l.snapshot == exercise.snapshot)
}

/// The command a learner types to run their own program, every line of it: `cargo xtask run
/// NAME`.
pub fn run_command(exercise: &Exercise) -> String {
    format!("cargo xtask run {}", &exercise.name)
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
struct Built {
    binary: PathBuf,
    warnings: Vec<String>,
}

/// Builds the learner's binary of `exercise`; `Err` holds the compiler's first error, whole.
fn build(workspace: &Workspace, exercise: &Exercise) -> Result<Result<Built, Vec<String>>> {
    let mut built = build_each(workspace, std::slice::from_ref(exercise))?;
    built.pop().context("the build gave no outcome")
}

/// Builds the learner's and the reference's binaries of every one of `exercises` in one cargo
/// call, so that cargo compiles them side by side on every core and a save costs one start of
/// cargo, not one per exercise; `--keep-going`, so that one file that does not compile stops
/// no other. Each outcome, in the order of `exercises`, holds the compiler's warnings on that
/// learner's file, or its first error, whole.
fn build_each(
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
            if out.status.success() || built_executable(&stdout, &exercise.binary) {
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

/// Where the learner's run of `exercise` writes its events.
fn events_file(workspace: &Workspace, exercise: &Exercise) -> PathBuf {
    workspace
        .target
        .join("learn")
        .join(format!("{}.events", &exercise.name))
}

/// Runs `binary` with `args`, its events written to `file`, and reads them back with what it
/// printed and how it ended.
fn run_recorded(
    binary: &std::path::Path,
    args: &[&str],
    file: &std::path::Path,
) -> Result<(run::Run, Vec<lesson::events::Event>)> {
    let folder = file.parent().context("the events file has no folder")?;
    std::fs::create_dir_all(folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let _ = std::fs::remove_file(file);
    let path = file.to_string_lossy().into_owned();
    let env = Some((lesson::events::EVENTS_VAR, path.as_str()));
    let run = run::run_with_env(binary, args, TIMEOUT, env)?;
    // No file: the run ended before it could write one; the judge then finds no events.
    let events = lesson::events::read_events(file).unwrap_or_default();
    Ok((run, events))
}

/// The claims the reference's run makes on this machine, run now beside the learner's; `None`
/// when it cannot be run.
fn reference_claims(workspace: &Workspace, exercise: &Exercise) -> Option<Vec<Claim>> {
    let reference = reference_run(exercise)?;
    let binary = workspace.target.join("debug").join(&reference.binary);
    let file = workspace
        .target
        .join("learn")
        .join(format!("{}.reference-events", &exercise.name));
    let (_, events) = run_recorded(&binary, &reference.arg_strs(), &file).ok()?;
    Some(claims_of(&events)).filter(|claims| !claims.is_empty())
}

/// Builds, runs and judges the learner's parts of `exercise` in `workspace`.
///
/// # Errors
/// When cargo or the binary cannot be started, or the snapshot cannot be read.
pub fn check(workspace: &Workspace, exercise: &Exercise) -> Result<Status> {
    Ok(judged(workspace, exercise)?.status)
}

/// As [`check`], with each part's standing.
///
/// # Errors
/// As [`check`].
pub fn judged(workspace: &Workspace, exercise: &Exercise) -> Result<Judged> {
    judged_on(workspace, exercise, Cpus::All)
}

/// Which CPUs a learner's run may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cpus {
    /// Every CPU this process may use.
    All,
    /// The first alone (`taskset -c 0`), as on a machine with one CPU: a race must be caught
    /// there too.
    One,
}

/// As [`judged`], with the learner's run on `cpus`.
///
/// # Errors
/// As [`check`].
pub fn judged_on(workspace: &Workspace, exercise: &Exercise, cpus: Cpus) -> Result<Judged> {
    judged_as_built(workspace, exercise, build(workspace, exercise)?, cpus)
}

/// As [`judged_on`], with the learner's binary built already (by [`build_each`]).
fn judged_as_built(
    workspace: &Workspace,
    exercise: &Exercise,
    built: Result<Built, Vec<String>>,
    cpus: Cpus,
) -> Result<Judged> {
    let built = match built {
        Ok(built) => built,
        Err(errors) => {
            return Ok(Judged {
                status: Status::DoesNotCompile(errors),
                parts: Vec::new(),
            });
        }
    };
    let events_file = events_file(workspace, exercise);
    let (run, events) = match cpus {
        Cpus::All => run_recorded(&built.binary, &[], &events_file)?,
        Cpus::One => {
            let binary = built.binary.to_string_lossy().into_owned();
            let taskset = std::path::Path::new("taskset");
            run_recorded(taskset, &["-c", "0", &binary], &events_file)?
        }
    };
    let expected = Expected::snapshot(&exercise.snapshot, reference_claims(workspace, exercise))?;
    // The learner's binary is a file of another name; everything else is the exercise's.
    let stdout = run.stdout.replace(&exercise.binary, &exercise.name);
    let fault_maps = std::fs::read_to_string(lesson::events::maps_path(&events_file)).ok();
    let text = files::read(&workspace.template(exercise))?;
    let outcome = Outcome {
        file: LearnerFile {
            path: &exercise.template,
            text: &text,
        },
        stdout: &stdout,
        stderr: &run.stderr,
        events: &events,
        ending: &run.ending,
        fault_maps: fault_maps.as_deref().filter(|t| !t.is_empty()),
    };
    let reference = files::read(&workspace.root.join(&exercise.reference))?;
    let parts: Vec<String> = crate::template::parts(&reference)?
        .into_iter()
        .map(|p| p.name)
        .collect();
    let verdict = judge(&outcome, &expected, &parts);
    let standings = verdict.parts.clone();
    let status = match classify(&outcome, &expected, verdict) {
        Status::Done(done) => Status::Done(Done {
            warnings: built.warnings,
            allow_header_left: text.contains(ALLOW_HEADER),
            ..done
        }),
        status => status,
    };
    Ok(Judged {
        status,
        parts: standings,
    })
}

/// The header the template asks the learner to delete once every part is written.
pub(crate) const ALLOW_HEADER: &str = "#![allow(unused_variables, unused_imports, dead_code)]";

/// `cargo xtask list`: the lesson binaries, what each shows, and the learner's own programs with
/// the command that runs each.
pub fn list() {
    for l in crate::lessons::lessons() {
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
    let code = status
        .code()
        .or_else(|| status.signal().map(|signal| 128 + signal))
        .unwrap_or(1);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// `cargo xtask learn`: checks every exercise in order and reports. Returns whether all are
/// done.
///
/// # Errors
/// When cargo or a binary cannot be started.
pub fn learn(workspace: &Workspace) -> Result<bool> {
    let mut results = Vec::new();
    let builds = build_each(workspace, exercises())?;
    for (exercise, built) in exercises().iter().zip(builds) {
        let Judged { status, parts } = judged_as_built(workspace, exercise, built, Cpus::All)?;
        files::remember_failed_part(workspace, exercise, status.failure());
        let progress = match &status {
            Status::DoesNotCompile(_) => None,
            _ => {
                let events = lesson::events::read_events(&events_file(workspace, exercise))
                    .unwrap_or_default();
                Some(progress::progress(workspace, exercise, parts, &events))
            }
        };
        results.push((exercise, status, progress));
    }
    Ok(report(&results))
}

/// The time of day, `HH:MM:SS UTC`.
fn time_of_day() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let day = seconds % 86_400;
    format!("{:02}:{:02}:{:02} UTC", day / 3600, day / 60 % 60, day % 60)
}

/// `cargo xtask learn --watch`: checks, then checks again whenever a learner's file is saved.
///
/// # Errors
/// When the files cannot be watched.
pub fn watch(workspace: &Workspace) -> Result<bool> {
    use notify::{RecursiveMode, Watcher};
    let (tx, rx) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(tx).context("cannot watch files")?;
    for exercise in exercises() {
        let folder = workspace.template(exercise);
        let folder = folder.parent().context("a template has no folder")?;
        watcher
            .watch(folder, RecursiveMode::NonRecursive)
            .with_context(|| format!("cannot watch {}", folder.display()))?;
    }
    loop {
        learn(workspace)?;
        println!("learn: watching your files; save one to check again (Ctrl-C stops)");
        let changed = loop {
            let event = rx.recv().context("the file watcher stopped")?;
            let saved = event.ok().filter(|e| !e.kind.is_access()).and_then(|e| {
                e.paths
                    .into_iter()
                    .find(|p| p.extension().is_some_and(|x| x == "rs"))
            });
            if let Some(path) = saved {
                break path;
            }
        };
        // An editor's save is often several events: let them settle.
        std::thread::sleep(Duration::from_millis(300));
        while rx.try_recv().is_ok() {}
        if std::io::stdout().is_terminal() {
            // Clear the screen and go to its top, so that this run is all that shows.
            print!("\x1b[2J\x1b[H");
        }
        let shown = changed.strip_prefix(&workspace.root).unwrap_or(&changed);
        println!(
            "== learn: run again at {}, after {} was saved",
            time_of_day(),
            shown.display()
        );
    }
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
