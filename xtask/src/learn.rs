//! `cargo xtask learn`: builds and runs the learner's parts of each exercise, in the lesson's
//! order, with the lesson's own driver, and compares the output with the same snapshot as the
//! reference's. Also `hint`, `--reset`, `templates`, `--watch` and `--verify`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::lessons::{EXERCISES, Exercise};
use crate::normalize::normalize;
use crate::run::{self, Ending};
use crate::{snapshot, template};

/// How long one learner's run may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The exit status of a lesson binary whose next part is still `todo!()` (the `lesson` crate's
/// `EXIT_TO_DO`).
pub const EXIT_TO_DO: i32 = 3;
/// The exit status when only an optional part is still `todo!()` (`EXIT_OPTIONAL_TO_DO`).
pub const EXIT_OPTIONAL_TO_DO: i32 = 4;

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
        self.root.join(exercise.template)
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

/// How an exercise stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Every required part holds; `Some` names an optional part still to do.
    Done(Option<Place>),
    /// A part is still `todo!()`.
    ToDo(Place),
    /// It does not build, crashed, a check failed, or its output differs from the snapshot:
    /// the lines say how, in the program's own words first.
    Failed(Vec<String>),
}

impl Status {
    /// Whether the exercise counts as done.
    pub fn is_done(&self) -> bool {
        matches!(self, Status::Done(_))
    }
}

/// The place named in a driver's "to do" message on stderr: "the part `NAME` is still
/// todo!() at FILE:LINE".
pub fn parse_to_do(stderr: &str) -> Option<Place> {
    let after = stderr.split("the part `").nth(1)?;
    let (part, rest) = after.split_once('`')?;
    let at = rest.strip_prefix(" is still todo!() at ")?;
    let at = at.lines().next()?.trim();
    let (file, line) = at.rsplit_once(':')?;
    Some(Place {
        part: part.to_owned(),
        file: file.to_owned(),
        line: line.parse().ok()?,
    })
}

/// The lines up to the last step heading (`Step N. …`), that heading included.
fn through_last_step(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    match lines.iter().rposition(|l| l.starts_with("Step ")) {
        Some(last) => lines[..=last].to_vec(),
        None => lines,
    }
}

/// The last step heading the output reached.
fn last_step(stdout: &str) -> Option<&str> {
    stdout.lines().rev().find(|l| l.starts_with("Step "))
}

/// What a learner's run is compared with.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The snapshot's pattern.
    pub pattern: String,
    /// The snapshot file, as shown.
    pub file: String,
    /// The lines of its header, before the pattern.
    pub header: usize,
    /// This run has the legacy mmap layout, which reorders the address space by design: a run
    /// whose own checks all held is done even where its pattern differs.
    pub reordered: bool,
}

impl Expected {
    /// The committed snapshot `name`.
    ///
    /// # Errors
    /// If there is none, or it cannot be read.
    pub fn snapshot(name: &str) -> Result<Expected> {
        Ok(Expected {
            pattern: snapshot::load(name)?.with_context(|| format!("no snapshot {name}"))?,
            file: snapshot::shown(&snapshot::path(name)),
            header: snapshot::header_lines(name),
            reordered: !memcore::layout::legacy_mmap_reasons().is_empty(),
        })
    }
}

/// The first failed claim as a difference from the snapshot: the snapshot's `[ok]` line for the
/// same claim, and the line the run printed, as a pattern and as printed. (The first line that
/// differs may come earlier: a failure's detail holds addresses, which shift the ranks.)
fn failed_claim(expected: &str, pattern: &str, raw: &str) -> Option<snapshot::FirstDifference> {
    let at = pattern
        .lines()
        .position(|l| l.trim_start().starts_with("[FAILED] "))?;
    let actual = pattern.lines().nth(at)?;
    let claim = actual.trim_start().strip_prefix("[FAILED] ")?;
    let (line, wanted) = expected.lines().enumerate().find(|(_, l)| {
        l.trim_start()
            .strip_prefix("[ok] ")
            .is_some_and(|ok| claim.starts_with(ok) && claim[ok.len()..].starts_with(": "))
    })?;
    Some(snapshot::FirstDifference {
        file_line: line + 1,
        expected: Some(wanted.to_owned()),
        actual: Some(actual.to_owned()),
        raw: raw.lines().nth(at).map(|l| l.trim_end().to_owned()),
    })
}

/// Judges one learner's run. `stdout` already names the exercise, not the learner's binary.
pub fn classify(stdout: &str, stderr: &str, ending: &Ending, expected: &Expected) -> Status {
    let Expected {
        pattern: expected,
        file: snapshot_file,
        header,
        reordered,
    } = expected;
    let code = match ending {
        Ending::Exited(status) => status.code(),
        Ending::TimedOut => None,
    };
    let pattern = normalize(stdout);
    match code {
        Some(EXIT_TO_DO) => {
            if let Some(place) = parse_to_do(stderr) {
                return Status::ToDo(place);
            }
        }
        Some(EXIT_OPTIONAL_TO_DO) => {
            let expected_before = through_last_step(expected);
            let actual_before = through_last_step(&pattern);
            if let Some(place) = parse_to_do(stderr)
                && expected_before == actual_before
            {
                return Status::Done(Some(place));
            }
        }
        Some(0) if *reordered || snapshot::matches(expected, &pattern) => {
            return Status::Done(None);
        }
        _ => {}
    }
    let mut why: Vec<String> = Vec::new();
    why.extend(
        stdout
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("[FAILED]"))
            .map(str::to_owned),
    );
    why.extend(
        stderr
            .lines()
            .filter(|l| l.contains(": error: ") || l.contains(": to do: "))
            .map(|l| l.trim().to_owned()),
    );
    if let Some(failure) = run::describe(ending).filter(|_| !matches!(code, Some(0 | 1))) {
        let during = last_step(stdout).map_or(String::new(), |s| format!(", during {s}"));
        why.push(format!("it {failure}{during}"));
    }
    if let Some(d) = failed_claim(expected, &pattern, stdout)
        .or_else(|| snapshot::first_difference(0, expected, &pattern, stdout))
    {
        let line = d.file_line + header;
        let show = |s: &Option<String>| {
            s.as_deref()
                .map_or("(nothing: it ended)".to_owned(), |s| format!("{s:?}"))
        };
        why.push(format!("against the snapshot, {snapshot_file}:{line}:"));
        why.push(format!("  expected pattern: {}", show(&d.expected)));
        why.push(format!("  actual pattern:   {}", show(&d.actual)));
        why.push(format!("  actual output:    {}", show(&d.raw)));
    }
    if why.is_empty() {
        why.push(format!(
            "it exited with {:?} and printed nothing that says why",
            code
        ));
    }
    Status::Failed(why)
}

/// Builds the learner's binary of `exercise`; `Err` holds the compiler's first errors.
fn build(workspace: &Workspace, exercise: &Exercise) -> Result<Result<PathBuf, Vec<String>>> {
    let out = workspace
        .cargo()
        .args(["build", "--quiet", "--message-format", "short"])
        .args(["-p", exercise.name, "--bin", exercise.binary])
        .output()
        .with_context(|| format!("failed to run `{} build`", run::cargo()))?;
    if out.status.success() {
        return Ok(Ok(workspace.target.join("debug").join(exercise.binary)));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut lines = vec![format!("{} does not compile:", exercise.template)];
    lines.extend(
        stderr
            .lines()
            .filter(|l| l.contains("error") || l.contains("warning"))
            .take(12)
            .map(|l| format!("  {l}")),
    );
    Ok(Err(lines))
}

/// Builds, runs and judges the learner's parts of `exercise` in `workspace`.
///
/// # Errors
/// When cargo or the binary cannot be started, or the snapshot cannot be read.
pub fn check(workspace: &Workspace, exercise: &Exercise) -> Result<Status> {
    let binary = match build(workspace, exercise)? {
        Ok(binary) => binary,
        Err(errors) => return Ok(Status::Failed(errors)),
    };
    let run = run::run(&binary, &[], TIMEOUT)?;
    let expected = Expected::snapshot(exercise.snapshot)?;
    // The learner's binary is a file of another name; everything else is the exercise's.
    let stdout = run.stdout.replace(exercise.binary, exercise.name);
    Ok(classify(&stdout, &run.stderr, &run.ending, &expected))
}

/// Prints how each exercise stands, what to do next and `learn: D of N done`; returns whether
/// all are done.
pub fn report(results: &[(&Exercise, Status)]) -> bool {
    println!("learn: your parts, run and checked by the lesson's own programs");
    let width = results.iter().map(|(e, _)| e.name.len()).max().unwrap_or(0);
    for (exercise, status) in results {
        let name = exercise.name;
        match status {
            Status::Done(None) => println!(
                "  {name:<width$}  done (compare with the reference, {})",
                exercise.reference
            ),
            Status::Done(Some(place)) => println!(
                "  {name:<width$}  done; the optional part `{}` is still to do, at {}:{} \
                 (compare with the reference, {})",
                place.part, place.file, place.line, exercise.reference
            ),
            Status::ToDo(place) => println!(
                "  {name:<width$}  to do: `{}`, {}:{}",
                place.part, place.file, place.line
            ),
            Status::Failed(why) => {
                println!("  {name:<width$}  failed:");
                for line in why {
                    println!("  {:width$}    {line}", "");
                }
            }
        }
    }
    let next = results.iter().find(|(_, s)| !s.is_done());
    match next {
        Some((exercise, Status::ToDo(place))) => println!(
            "Next: open {}:{} and write `{}`; for a hint, run `cargo xtask hint {}`.",
            place.file, place.line, place.part, exercise.name
        ),
        Some((exercise, _)) => println!(
            "Next: open {} and mend what the failure above names; for a hint, run \
             `cargo xtask hint {} --all`.",
            exercise.template, exercise.name
        ),
        None => println!(
            "Next: every exercise is done. Compare your parts with the references named above, \
             then go on to lesson 2."
        ),
    }
    let done = results.iter().filter(|(_, s)| s.is_done()).count();
    println!("learn: {done} of {} done", results.len());
    next.is_none()
}

/// `cargo xtask learn`: checks every exercise in order and reports. Returns whether all are
/// done.
///
/// # Errors
/// When cargo or a binary cannot be started.
pub fn learn(workspace: &Workspace) -> Result<bool> {
    let mut results = Vec::new();
    for exercise in EXERCISES {
        results.push((exercise, check(workspace, exercise)?));
    }
    Ok(report(&results))
}

/// `cargo xtask learn --watch`: checks, then checks again whenever a learner's file is saved.
///
/// # Errors
/// When the files cannot be watched.
pub fn watch(workspace: &Workspace) -> Result<bool> {
    use notify::{RecursiveMode, Watcher};
    let (tx, rx) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(tx).context("cannot watch files")?;
    for exercise in EXERCISES {
        let folder = workspace.template(exercise);
        let folder = folder.parent().context("a template has no folder")?;
        watcher
            .watch(folder, RecursiveMode::NonRecursive)
            .with_context(|| format!("cannot watch {}", folder.display()))?;
    }
    loop {
        learn(workspace)?;
        println!("learn: watching your files; save one to check again (Ctrl-C stops)");
        loop {
            let event = rx.recv().context("the file watcher stopped")?;
            let saved_rust = event.is_ok_and(|e| {
                !e.kind.is_access()
                    && e.paths
                        .iter()
                        .any(|p| p.extension().is_some_and(|x| x == "rs"))
            });
            if saved_rust {
                break;
            }
        }
        // An editor's save is often several events: let them settle.
        std::thread::sleep(Duration::from_millis(300));
        while rx.try_recv().is_ok() {}
        println!();
    }
}

/// `cargo xtask hint NAME [--all]`: the hint for the next part still to do, or every hint.
///
/// # Errors
/// When the exercise is unknown or its files cannot be read.
pub fn hint(workspace: &Workspace, name: &str, all: bool) -> Result<()> {
    let exercise = find(name)?;
    let reference = read(&workspace.root.join(exercise.reference))?;
    let parts = template::parts(&reference)
        .with_context(|| format!("{} is not a well-marked reference", exercise.reference))?;
    let show = |part: &template::Part| {
        println!("Hint for `{}` ({}):", part.name, exercise.name);
        let mut line = String::from(" ");
        for word in part.hint.join(" ").split_whitespace() {
            if line.len() + word.len() > 96 {
                println!("{line}");
                line = String::from(" ");
            }
            line.push(' ');
            line.push_str(word);
        }
        println!("{line}");
    };
    if all {
        for part in &parts {
            show(part);
        }
        return Ok(());
    }
    let mine = read(&workspace.template(exercise))?;
    match template::first_todo(&mine) {
        None => println!(
            "Every part of {} is written: run `cargo xtask learn` to see whether it holds \
             (`cargo xtask hint {} --all` shows every hint).",
            exercise.name, exercise.name
        ),
        Some((line, function)) => {
            let part = function
                .as_deref()
                .and_then(|f| parts.iter().find(|p| p.name == f));
            match part {
                Some(part) => show(part),
                None => {
                    println!(
                        "{}:{line} is still todo!(), in no part this exercise knows; every hint:",
                        exercise.template
                    );
                    for part in &parts {
                        show(part);
                    }
                }
            }
        }
    }
    Ok(())
}

fn find(name: &str) -> Result<&'static Exercise> {
    crate::lessons::exercise(name).with_context(|| {
        let names: Vec<_> = EXERCISES.iter().map(|e| e.name).collect();
        format!("no exercise {name}; the exercises are {}", names.join(", "))
    })
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The template of `exercise`, written fresh from its reference.
///
/// # Errors
/// When the reference cannot be read or is badly marked.
pub fn fresh_template(workspace: &Workspace, exercise: &Exercise) -> Result<String> {
    let reference = read(&workspace.root.join(exercise.reference))?;
    template::template(
        &reference,
        exercise.name,
        exercise.title,
        exercise.reference,
    )
    .with_context(|| format!("{} is not a well-marked reference", exercise.reference))
}

/// Writes the template of `exercise`, unless the file holds something else and `yes` is not
/// given; a file that is replaced is first copied under `target/learn-saved/`. Returns whether
/// the file now is the template.
///
/// # Errors
/// When a file cannot be read or written.
pub fn write_template(workspace: &Workspace, exercise: &Exercise, yes: bool) -> Result<bool> {
    let fresh = fresh_template(workspace, exercise)?;
    let path = workspace.template(exercise);
    let current = std::fs::read_to_string(&path).ok();
    match current {
        Some(current) if current == fresh => {
            println!("{}: already the template; nothing to do", exercise.template);
            return Ok(true);
        }
        Some(current) => {
            if !yes {
                println!(
                    "{}: not replaced: it differs from the template, so it may hold your work. \
                     Add --yes to replace it (a copy is kept under target/learn-saved/).",
                    exercise.template
                );
                return Ok(false);
            }
            let saved_dir = workspace.target.join("learn-saved");
            std::fs::create_dir_all(&saved_dir)
                .with_context(|| format!("cannot create {}", saved_dir.display()))?;
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let saved = saved_dir.join(format!("{}-{stamp}.rs", exercise.name));
            std::fs::write(&saved, current)
                .with_context(|| format!("cannot write {}", saved.display()))?;
            println!(
                "{}: your version is kept at {}",
                exercise.template,
                saved.display()
            );
        }
        None => {}
    }
    std::fs::write(&path, fresh).with_context(|| format!("cannot write {}", path.display()))?;
    println!("{}: written from {}", exercise.template, exercise.reference);
    Ok(true)
}

/// `cargo xtask learn --reset NAME [--yes]`.
///
/// # Errors
/// As [`write_template`], or for an unknown exercise.
pub fn reset(workspace: &Workspace, name: &str, yes: bool) -> Result<bool> {
    write_template(workspace, find(name)?, yes)
}

/// `cargo xtask templates [--yes]`: writes every template from its reference.
///
/// # Errors
/// As [`write_template`].
pub fn templates(workspace: &Workspace, yes: bool) -> Result<bool> {
    let mut all = true;
    for exercise in EXERCISES {
        all &= write_template(workspace, exercise, yes)?;
    }
    Ok(all)
}

/// What one answer in `xtask/answers/` must give.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    Done,
    /// Failed, saying this (in the program's own words).
    Failed(String),
}

/// The answers kept as tests, for `exercise`: (file, what it must give). A file says what it
/// expects in a first line `//! expect: done` or `//! expect: failed: <words of the failure>`.
fn answers(workspace: &Workspace, exercise: &Exercise) -> Result<Vec<(PathBuf, Expect)>> {
    let folder = workspace.root.join("xtask/answers").join(exercise.name);
    let mut found = Vec::new();
    let entries =
        std::fs::read_dir(&folder).with_context(|| format!("cannot read {}", folder.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let text = read(&path)?;
        let first = text.lines().next().unwrap_or_default();
        let expect = match first.strip_prefix("//! expect: ") {
            Some("done") => Expect::Done,
            Some(rest) if rest.starts_with("failed: ") => {
                Expect::Failed(rest["failed: ".len()..].to_owned())
            }
            _ => bail!(
                "{} does not start with `//! expect: done` or `//! expect: failed: …`",
                path.display()
            ),
        };
        found.push((path, expect));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry?;
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let (source, dest) = (entry.path(), to.join(&name));
        if entry.file_type()?.is_dir() {
            copy_tree(&source, &dest)?;
        } else {
            let same = std::fs::read(&dest).ok() == Some(std::fs::read(&source)?);
            if !same {
                std::fs::copy(&source, &dest)
                    .with_context(|| format!("cannot copy {}", source.display()))?;
            }
        }
    }
    Ok(())
}

/// `cargo xtask learn --verify`, for CI and for whoever changes a reference: the committed
/// templates are fresh; each template builds clippy-clean and stops at its first part with the
/// message and exit status of a part still to do; with the reference's parts in place of the
/// templates (in a copy under `target/`), every exercise is done; and each kept answer in
/// `xtask/answers/` gives what it expects. Returns whether all of that held.
///
/// # Errors
/// When cargo, a binary or a file cannot be used at all.
pub fn verify(workspace: &Workspace) -> Result<bool> {
    let mut ok = true;
    let mut fail = |what: String| {
        println!("verify: FAILED: {what}");
        ok = false;
    };

    println!("verify: the committed templates are fresh");
    for exercise in EXERCISES {
        let fresh = fresh_template(workspace, exercise)?;
        if read(&workspace.template(exercise))? != fresh {
            fail(format!(
                "{} is stale: run `cargo xtask templates --yes`",
                exercise.template
            ));
        }
    }

    println!("verify: every template builds clippy-clean");
    let mut clippy = workspace.cargo();
    clippy.args(["clippy", "--quiet"]);
    for exercise in EXERCISES {
        clippy.args(["-p", exercise.name, "--bin", exercise.binary]);
    }
    let status = clippy
        .args(["--", "-D", "warnings"])
        .status()
        .context("failed to run `cargo clippy`")?;
    if !status.success() {
        fail("clippy found something in a template (above)".to_owned());
    }

    println!("verify: every template stops at its first part, saying where");
    let mut results = Vec::new();
    for exercise in EXERCISES {
        let status = check(workspace, exercise)?;
        let reference = read(&workspace.root.join(exercise.reference))?;
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
                exercise.name
            ));
        }
        results.push((exercise, status));
    }
    report(&results);

    println!("verify: with the reference's parts in place, every exercise is done");
    let copy = Workspace {
        root: workspace.target.join("learn-verify/workspace"),
        target: workspace.target.join("learn-verify/target"),
    };
    copy_tree(&workspace.root, &copy.root)?;
    let mut results = Vec::new();
    for exercise in EXERCISES {
        std::fs::copy(
            workspace.root.join(exercise.reference),
            copy.template(exercise),
        )
        .context("cannot put the reference in place")?;
        let status = check(&copy, exercise)?;
        if !status.is_done() {
            fail(format!(
                "{} with the reference's parts: {status:?}",
                exercise.name
            ));
        }
        results.push((exercise, status));
    }
    report(&results);

    println!("verify: the answers kept in xtask/answers/ give what they expect");
    for exercise in EXERCISES {
        for (answer, expect) in answers(workspace, exercise)? {
            std::fs::copy(&answer, copy.template(exercise))
                .context("cannot put an answer in place")?;
            let status = check(&copy, exercise)?;
            let shown = answer
                .strip_prefix(&workspace.root)
                .unwrap_or(&answer)
                .display()
                .to_string();
            let held = match (&expect, &status) {
                (Expect::Done, Status::Done(_)) => true,
                (Expect::Failed(words), Status::Failed(why)) => {
                    why.iter().any(|line| line.contains(words.as_str()))
                }
                _ => false,
            };
            if held {
                println!("  {shown}: {expect:?}, as expected");
            } else {
                fail(format!("{shown}: expected {expect:?}, got {status:?}"));
            }
        }
        std::fs::copy(workspace.template(exercise), copy.template(exercise))
            .context("cannot put the template back")?;
    }
    println!("verify: {}", if ok { "ok" } else { "FAILED" });
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    use super::*;

    fn expect(pattern: &str) -> Expected {
        Expected {
            pattern: pattern.to_owned(),
            file: "x.snap".to_owned(),
            header: 4,
            reordered: false,
        }
    }

    fn exited(code: i32) -> Ending {
        Ending::Exited(ExitStatus::from_raw(code << 8))
    }

    const TO_DO: &str = "ex2-sbrk: to do: step 1 (Find the initial program break) waits for \
        your code: the part `current_break` is still todo!() at exercises/ex2-sbrk/learn/parts.rs:21\n\
        ex2-sbrk: write it there, then run `cargo xtask learn`; a hint: `cargo xtask hint ex2-sbrk`\n";

    #[test]
    fn a_to_do_message_gives_the_part_and_its_place() {
        assert_eq!(
            parse_to_do(TO_DO),
            Some(Place {
                part: "current_break".to_owned(),
                file: "exercises/ex2-sbrk/learn/parts.rs".to_owned(),
                line: 21,
            })
        );
        assert_eq!(parse_to_do("ex2-sbrk: error: something\n"), None);
    }

    #[test]
    fn runs_are_judged_by_exit_status_and_pattern() {
        let expected = &expect("Step 1. A\n  a <A1>\n  [ok] holds\n");
        let good = "Step 1. A\n  a 0x10\n  [ok] holds\n";
        assert_eq!(classify(good, "", &exited(0), expected), Status::Done(None));

        let todo = classify("Step 1. A\n", TO_DO, &exited(EXIT_TO_DO), expected);
        assert!(
            matches!(todo, Status::ToDo(ref p) if p.part == "current_break"),
            "{todo:?}"
        );

        let failed = "Step 1. A\n  a 0x10\n  [FAILED] holds: 0x10 is not 0x20\n";
        let Status::Failed(why) = classify(failed, "", &exited(1), expected) else {
            panic!("a failed check is a failure");
        };
        assert_eq!(why[0], "[FAILED] holds: 0x10 is not 0x20");
        assert!(
            why.iter()
                .any(|l| l.contains("expected pattern: \"  [ok] holds\"")),
            "{why:?}"
        );
        assert!(
            why.iter().any(|l| l == "against the snapshot, x.snap:7:"),
            "{why:?}"
        );
        let actual = "actual pattern:   \"  [FAILED] holds: <A1> is not <A2>\"";
        assert!(why.iter().any(|l| l.contains(actual)), "{why:?}");
        assert!(why.iter().any(|l| l.contains("actual output:")), "{why:?}");

        // Exit 0 is not enough: the output must have the snapshot's pattern.
        let other = "Step 1. A\n  b 0x10\n  [ok] holds\n";
        assert!(matches!(
            classify(other, "", &exited(0), expected),
            Status::Failed(_)
        ));

        let crashed = ExitStatus::from_raw(libc::SIGSEGV);
        let Status::Failed(why) = classify("Step 1. A\n", "", &Ending::Exited(crashed), expected)
        else {
            panic!("a crash is a failure");
        };
        assert!(
            why.iter()
                .any(|l| l.contains("killed by SIGSEGV, during Step 1. A")),
            "{why:?}"
        );
    }

    #[test]
    fn an_optional_part_to_do_is_done_when_all_before_it_matches() {
        let expected =
            &expect("Step 1. A\n  [ok] a\n\nStep 2. Optional\n  [ok] b\n\nAll 2 checks passed.\n");
        let stdout = "Step 1. A\n  [ok] a\n\nStep 2. Optional\n\nAll 1 checks passed; the last, optional part is yours to write.\n";
        let stderr = TO_DO.replace("current_break", "release_chunk");
        let status = classify(stdout, &stderr, &exited(EXIT_OPTIONAL_TO_DO), expected);
        assert!(
            matches!(status, Status::Done(Some(ref p)) if p.part == "release_chunk"),
            "{status:?}"
        );
        let wrong = stdout.replace("[ok] a", "[FAILED] a: no");
        let status = classify(&wrong, &stderr, &exited(EXIT_OPTIONAL_TO_DO), expected);
        assert!(matches!(status, Status::Failed(_)), "{status:?}");
    }
}
