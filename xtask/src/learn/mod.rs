//! `cargo xtask learn`: builds and runs the learner's parts of each exercise, in the lesson's
//! order, with the lesson's own driver, and judges each run by its claims. Also `hint`,
//! `run`, `--reset`, `templates`, `--watch` and `--verify`.
//!
//! Its modules, one job each:
//! - `judge`: how one run stands (done, to do, failed, and why), read from its events;
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
mod files;
mod judge;
mod progress;
mod verify;

pub use files::{fresh_template, hint, reset, templates, write_template};

use files::find;
pub use judge::{Expected, LearnerFile, Outcome, classify};
pub use progress::Progress;
pub use verify::verify;

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

/// Why an exercise failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The learner's part it failed at, if the run says.
    pub part: Option<String>,
    /// What to show: where, the claim, what happened instead, the step's own lines.
    pub lines: Vec<String>,
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
    /// A claim failed, a part panicked, or the run crashed or timed out.
    Failed(Failure),
}

impl Status {
    /// Whether the exercise counts as done.
    pub fn is_done(&self) -> bool {
        matches!(self, Status::Done(_))
    }
}

/// The cargo arguments that select the learner's binary of `exercise`. It is built only with its
/// package's `learn` feature (`required-features` in the package's Cargo.toml), so that every
/// other build leaves the learner's file alone.
pub fn learner_binary(exercise: &Exercise) -> Vec<String> {
    let name = &exercise.name;
    ["-p", name, "--bin", &exercise.binary, "--features"]
        .map(str::to_owned)
        .into_iter()
        .chain([format!("{name}/learn")])
        .collect()
}

/// The command a learner types to run their own program, every line of it: `cargo xtask run
/// NAME`.
pub fn run_command(exercise: &Exercise) -> String {
    format!("cargo xtask run {}", &exercise.name)
}

/// The compiler's messages of a `--message-format json` build at `level` ("error",
/// "warning"), each as rustc renders it, in order. Only messages with a place in the code are
/// kept ("aborting due to …" only repeats the count).
fn compiler_messages(json_lines: &str, level: &str) -> Vec<String> {
    json_lines
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|doc| doc["reason"] == "compiler-message")
        .map(|doc| doc["message"].clone())
        .filter(|message| {
            message["level"] == level && message["spans"].as_array().is_some_and(|s| !s.is_empty())
        })
        .filter_map(|message| message["rendered"].as_str().map(str::to_owned))
        .collect()
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

/// What a build that failed says: the first error whole, as rustc renders it, and how many more
/// there are; cargo's own words if the compiler gave none (a broken Cargo.toml).
fn does_not_compile(stdout: &str, stderr: &str) -> Vec<String> {
    let errors = first_and_count(&compiler_messages(stdout, "error"), "error");
    if errors.is_empty() {
        return stderr.lines().take(12).map(str::to_owned).collect();
    }
    errors
}

/// A learner's binary, built, and the compiler's warnings on the learner's file.
struct Built {
    binary: PathBuf,
    warnings: Vec<String>,
}

/// Builds the learner's binary of `exercise`; `Err` holds the compiler's first error, whole.
fn build(workspace: &Workspace, exercise: &Exercise) -> Result<Result<Built, Vec<String>>> {
    let out = workspace
        .cargo()
        .args(["build", "--quiet", "--message-format", "json"])
        .args(learner_binary(exercise))
        .output()
        .with_context(|| format!("failed to run `{} build`", run::cargo()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success() {
        // Cargo replays the warnings of a build it did not need to redo, so they are always here.
        let warnings = compiler_messages(&stdout, "warning");
        return Ok(Ok(Built {
            binary: workspace.target.join("debug").join(&exercise.binary),
            warnings: first_and_count(&warnings, "warning"),
        }));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Ok(Err(does_not_compile(&stdout, &stderr)))
}

/// Where the learner's run of `exercise` writes its events.
fn events_file(workspace: &Workspace, exercise: &Exercise) -> PathBuf {
    workspace
        .target
        .join("learn")
        .join(format!("{}.events", &exercise.name))
}

/// Builds, runs and judges the learner's parts of `exercise` in `workspace`.
///
/// # Errors
/// When cargo or the binary cannot be started, or the snapshot cannot be read.
pub fn check(workspace: &Workspace, exercise: &Exercise) -> Result<Status> {
    let built = match build(workspace, exercise)? {
        Ok(built) => built,
        Err(errors) => return Ok(Status::DoesNotCompile(errors)),
    };
    let events_file = events_file(workspace, exercise);
    let folder = events_file
        .parent()
        .context("the events file has no folder")?;
    std::fs::create_dir_all(folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let _ = std::fs::remove_file(&events_file);
    let events_path = events_file.to_string_lossy().into_owned();
    let env = Some((lesson::events::EVENTS_VAR, events_path.as_str()));
    let run = run::run_with_env(&built.binary, &[], TIMEOUT, env)?;
    // No file: the run ended before it could write one; the judge then finds no events.
    let events = lesson::events::read_events(&events_file).unwrap_or_default();
    let expected = Expected::snapshot(&exercise.snapshot)?;
    // The learner's binary is a file of another name; everything else is the exercise's.
    let stdout = run.stdout.replace(&exercise.binary, &exercise.name);
    let fault_maps = std::fs::read_to_string(lesson::events::maps_path(&events_file)).ok();
    let outcome = Outcome {
        stdout: &stdout,
        stderr: &run.stderr,
        events: &events,
        ending: &run.ending,
        fault_maps: fault_maps.as_deref().filter(|t| !t.is_empty()),
    };
    let text = files::read(&workspace.template(exercise))?;
    let file = LearnerFile {
        path: &exercise.template,
        text: &text,
    };
    Ok(match classify(&outcome, &expected, &file) {
        Status::Done(done) => Status::Done(Done {
            warnings: built.warnings,
            allow_header_left: text.contains(ALLOW_HEADER),
            ..done
        }),
        status => status,
    })
}

/// The header the template asks the learner to delete once every part is written.
const ALLOW_HEADER: &str = "#![allow(unused_variables, unused_imports, dead_code)]";

/// The lines that follow "done": the note on the pattern, the compiler's warnings, and the
/// header still to delete.
fn done_lines(done: &Done) -> Vec<String> {
    let mut lines = done.note.clone();
    if !done.warnings.is_empty() {
        lines.push("the compiler warns about your file:".to_owned());
        lines.extend(done.warnings.iter().map(|l| format!("  {l}")));
    }
    if done.optional_to_do.is_none() && done.allow_header_left {
        lines.push(format!(
            "now delete the line `{ALLOW_HEADER}` at the top of your file: it hid the \
             compiler's warnings while parts were unwritten"
        ));
    }
    lines
}

/// How many parts are done, then what [`just_finished`] says.
fn progress_lines(progress: &Progress) -> Vec<String> {
    let mut lines = vec![format!("parts done: {} of {}", progress.done, progress.of)];
    lines.extend(just_finished(progress));
    lines
}

/// The parts done for the first time in this run: one part with the claims it now meets, each
/// once; several by their names and how many claims each meets.
fn just_finished(progress: &Progress) -> Vec<String> {
    let mut lines = Vec::new();
    match progress.just_finished.as_slice() {
        [] => {}
        // One part: the claims it now meets, each once.
        [(part, claims)] => {
            lines.push(format!("just finished `{part}`:"));
            let mut seen = std::collections::BTreeSet::new();
            let once: Vec<&String> = claims.iter().filter(|c| seen.insert(*c)).collect();
            lines.extend(once.iter().take(8).map(|c| format!("  [ok] {c}")));
            if once.len() > 8 {
                lines.push(format!("  and {} more", once.len() - 8));
            }
        }
        // Several at once: their names, and how many claims each meets.
        several => {
            let named: Vec<String> = several
                .iter()
                .map(|(part, claims)| {
                    format!("`{part}` ({})", lesson::count(claims.len(), "claim"))
                })
                .collect();
            lines.push(format!("just finished: {}", named.join(", ")));
        }
    }
    lines
}

/// Prints one exercise's status.
fn report_one(exercise: &Exercise, status: &Status, progress: Option<&Progress>, width: usize) {
    let name = exercise.name.as_str();
    let indent = |lines: &[String]| {
        for line in lines {
            println!("  {:width$}    {line}", "");
        }
    };
    let progress_lines = progress.map(progress_lines).unwrap_or_default();
    match status {
        Status::Done(done) => {
            match &done.optional_to_do {
                None => println!(
                    "  {name:<width$}  done (compare with the reference, {})",
                    &exercise.reference
                ),
                Some(place) => println!(
                    "  {name:<width$}  done; the optional part `{}` is still to do, at {}:{} \
                     (compare with the reference, {})",
                    place.part, place.file, place.line, &exercise.reference
                ),
            }
            // "parts done: N of N" would only repeat "done".
            indent(&progress.map(just_finished).unwrap_or_default());
            indent(&done_lines(done));
        }
        Status::ToDo(place) => {
            println!(
                "  {name:<width$}  to do: `{}`, {}:{}",
                place.part, place.file, place.line
            );
            indent(&progress_lines);
        }
        Status::DoesNotCompile(errors) => {
            println!("  {name:<width$}  does not compile: {}", &exercise.template);
            indent(errors);
        }
        Status::Failed(failure) => {
            println!("  {name:<width$}  failed:");
            indent(&failure.lines);
            indent(&progress_lines);
            indent(&[format!(
                "to see every line of yours, run `{}`",
                run_command(exercise)
            )]);
        }
    }
}

/// Prints how each exercise stands, what to do next and `learn: D of N done`; returns whether
/// all are done.
pub fn report(results: &[(&Exercise, Status, Option<Progress>)]) -> bool {
    println!("learn: your parts, run and checked by the lesson's own programs");
    let width = results
        .iter()
        .map(|(e, ..)| e.name.len())
        .max()
        .unwrap_or(0);
    for (exercise, status, progress) in results {
        report_one(exercise, status, progress.as_ref(), width);
    }
    // A failure first: it is where the learner is working, and it must not wait behind a part
    // still to do in an earlier exercise.
    let broken = |s: &Status| matches!(s, Status::Failed(_) | Status::DoesNotCompile(_));
    let next = results
        .iter()
        .find(|(_, s, _)| broken(s))
        .or_else(|| results.iter().find(|(_, s, _)| !s.is_done()));
    match next {
        Some((exercise, Status::ToDo(place), _)) => println!(
            "Next: open {}:{} and write `{}`; for a hint, run `cargo xtask hint {}`.",
            place.file, place.line, place.part, &exercise.name
        ),
        Some((exercise, Status::DoesNotCompile(_), _)) => println!(
            "Next: open {} and mend the compiler's error above.",
            &exercise.template
        ),
        Some((exercise, Status::Failed(failure), _)) => println!(
            "Next: open {} and mend {}; for a hint, run `cargo xtask hint {}`.",
            &exercise.template,
            failure
                .part
                .as_deref()
                .map_or("what the failure above names".to_owned(), |p| format!(
                    "`{p}`, which the failure above names"
                )),
            &exercise.name
        ),
        Some((_, Status::Done(_), _)) | None => println!(
            "Next: every exercise is done. Compare your parts with the references named above, \
             then go on to lesson 2."
        ),
    }
    let done = results.iter().filter(|(_, s, _)| s.is_done()).count();
    println!("learn: {done} of {} done", results.len());
    next.is_none()
}

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
    for exercise in exercises() {
        let status = check(workspace, exercise)?;
        let failed_part = match &status {
            Status::Failed(failure) => failure.part.as_deref(),
            _ => None,
        };
        files::remember_failed_part(workspace, exercise, failed_part);
        let progress = match &status {
            Status::DoesNotCompile(_) => None,
            _ => Some(progress_of(workspace, exercise)?),
        };
        results.push((exercise, status, progress));
    }
    Ok(report(&results))
}

/// How far the learner has come in `exercise`, from the events of the run just judged.
fn progress_of(workspace: &Workspace, exercise: &Exercise) -> Result<Progress> {
    let reference = files::read(&workspace.root.join(&exercise.reference))?;
    let parts: Vec<String> = crate::template::parts(&reference)?
        .into_iter()
        .map(|p| p.name)
        .collect();
    let events = lesson::events::read_events(&events_file(workspace, exercise)).unwrap_or_default();
    Ok(progress::progress(workspace, exercise, &parts, &events))
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

    /// Two lines as `cargo build --message-format json` writes them (cut to the fields read),
    /// and the summary rustc adds, which has no span.
    const BUILD: &str = concat!(
        r#"{"reason":"compiler-artifact","target":{"name":"lesson"}}"#,
        "\n",
        r#"{"reason":"compiler-message","message":{"level":"warning","spans":[{}],"rendered":"warning: unused variable: `n`\n"}}"#,
        "\n",
        r#"{"reason":"compiler-message","message":{"level":"error","spans":[{}],"rendered":"error: expected `;`, found `x`\n --> learn/parts.rs:3:14\n"}}"#,
        "\n",
        r#"{"reason":"compiler-message","message":{"level":"error","spans":[{}],"rendered":"error[E0308]: mismatched types\n"}}"#,
        "\n",
        r#"{"reason":"compiler-message","message":{"level":"error","spans":[],"rendered":"error: aborting due to 2 previous errors\n"}}"#,
        "\n",
    );

    #[test]
    fn a_build_that_fails_shows_the_first_error_whole_and_counts_the_rest() {
        assert_eq!(
            does_not_compile(BUILD, "cargo's own words"),
            [
                "error: expected `;`, found `x`",
                " --> learn/parts.rs:3:14",
                "(and 1 more error)"
            ]
        );
        // No compiler message at all (a broken Cargo.toml): cargo's words.
        assert_eq!(
            does_not_compile("", "error: failed to parse manifest"),
            ["error: failed to parse manifest"]
        );
    }
}
