//! `cargo xtask mutants`: mutation testing of every reference `src/parts.rs`, each mutant
//! judged by the lesson's own claims.
//!
//! cargo-mutants changes one thing at a time in a reference (an operator, a function's whole
//! body) and runs one test on each change: the package's `tests/claims.rs`, which runs the
//! reference binary and passes only if it exits 0, that is, only if every claim of the lesson
//! held. A mutant is caught when that test fails, or when it runs past the learner's time limit
//! (a mutant that loops forever). A mutant that gets through is harmless, or it is a mistake a
//! learner could make that the judge misses.
//!
//! So every survivor is listed in [`ALLOWED`]: as `[[harmless]]`, with the one line that says
//! why it cannot change what the lesson asks, or as a `[[blind_spot]]` the judge is still to
//! close. The command fails on a survivor that is not listed, and on an entry that no longer
//! survives, so the list stays exact. An entry names its mutant by file, by what cargo-mutants
//! calls it without the line number, and by the code of the line it changes.
//!
//! cargo-mutants skips functions declared `unsafe fn`. So the parts are mutated in a copy of the
//! workspace under `target/mutants/`, with that `unsafe` dropped: a safe function still fits the
//! `unsafe fn` pointers of the lesson's `Parts`, and the bodies already use `unsafe` blocks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use xtask::catalogue::{Exercise, exercises};
use xtask::run;

mod allowed;
mod outcomes;
mod report;

pub use allowed::*;
pub use outcomes::*;
pub use report::*;

/// The cargo-mutants release the list is exact for: another release may make other mutants.
/// `.ci/run` installs this one.
pub const CARGO_MUTANTS: &str = "27.1.0";

/// The survivors, each with why, relative to the workspace root.
pub const ALLOWED: &str = "xtask/mutants-allowed.toml";

/// The test target, in each package with a reference, that judges a mutant: `tests/claims.rs`.
const CLAIMS_TEST: &str = "claims";

/// `cargo xtask mutants [NAME]`: mutates every reference's parts (or the exercise `only`'s),
/// judges each mutant by its lesson's claims, prints the score and every survivor, and returns
/// whether every survivor is listed and every entry of the list still survives.
///
/// # Errors
/// When the list cannot be read, cargo-mutants is missing or fails before judging, or its
/// outcomes cannot be read.
pub fn run(only: Option<&str>) -> Result<bool> {
    let started = Instant::now();
    let root = run::root();
    let chosen = chosen(only)?;
    let allowed = Allowed::load(&root.join(ALLOWED))?;
    let every_file: Vec<&str> = exercises().iter().map(|e| e.reference.as_str()).collect();
    allowed.check_files(&every_file)?;
    check_installed()?;
    let folder = run::target_dir().join("mutants");
    let copy = folder.join("workspace");
    prepare(&root, &copy, &chosen)?;
    let files: Vec<&str> = chosen.iter().map(|e| e.reference.as_str()).collect();
    println!(
        "mutants: the parts of {}, each mutant judged by the lesson's claims alone",
        files.join(", ")
    );
    cargo_mutants(&copy, &folder, &files)?;
    let outcomes_file = folder.join("mutants.out/outcomes.json");
    let outcomes = parse_outcomes(&read(&outcomes_file)?)
        .with_context(|| format!("cannot read {}", outcomes_file.display()))?;
    // The copy differs from the workspace only within lines, so an entry's code is read from the
    // workspace's own file, the one a maintainer edits.
    let mut sources = BTreeMap::new();
    for file in &files {
        sources.insert((*file).to_owned(), read(&root.join(file))?);
    }
    let verdict = judge(&outcomes, &allowed, &files, &sources);
    print(&verdict, &folder);
    let held = verdict.holds();
    println!(
        "mutants: {} ({})",
        if held { "ok" } else { "FAILED" },
        took(started.elapsed())
    );
    Ok(held)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The exercises to mutate: every one, or the one called `only`.
fn chosen(only: Option<&str>) -> Result<Vec<&'static Exercise>> {
    let all = exercises();
    let Some(name) = only else {
        return Ok(all.iter().collect());
    };
    match all.iter().find(|e| e.name == name) {
        Some(exercise) => Ok(vec![exercise]),
        None => {
            let names: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
            bail!("no exercise {name}; the exercises are {}", names.join(", "))
        }
    }
}

/// Fails, saying how to install it, unless cargo-mutants [`CARGO_MUTANTS`] is installed.
fn check_installed() -> Result<()> {
    let install = format!("cargo install cargo-mutants --version {CARGO_MUTANTS} --locked");
    let out = Command::new(run::cargo())
        .args(["mutants", "--version"])
        .output()
        .context("failed to run `cargo mutants --version`")?;
    let version = String::from_utf8_lossy(&out.stdout);
    let version = version.trim();
    if !out.status.success() {
        bail!("cargo-mutants is not installed; install it with `{install}`, then run this again");
    }
    if version != format!("cargo-mutants {CARGO_MUTANTS}") {
        bail!(
            "this is {version}, but the list in {ALLOWED} is exact for cargo-mutants \
             {CARGO_MUTANTS}; install it with `{install}`"
        );
    }
    Ok(())
}

/// Writes a fresh copy of the workspace at `copy`, with `unsafe` dropped from the signatures of
/// the chosen references' parts, after making sure each package has its claims test.
fn prepare(root: &Path, copy: &Path, chosen: &[&Exercise]) -> Result<()> {
    for exercise in chosen {
        let package = package_of(root, &exercise.reference)?;
        let test = package.join("tests").join(format!("{CLAIMS_TEST}.rs"));
        if !test.is_file() {
            bail!(
                "{} has no tests/{CLAIMS_TEST}.rs: it judges each mutant of {}, by running the \
                 reference binary and asserting that it exits 0",
                exercise.name,
                exercise.reference
            );
        }
    }
    if copy.exists() {
        std::fs::remove_dir_all(copy)
            .with_context(|| format!("cannot remove {}", copy.display()))?;
    }
    run::copy_sources(root, copy)?;
    for exercise in chosen {
        let path = copy.join(&exercise.reference);
        let (safe, dropped) = drop_unsafe(&read(&path)?);
        std::fs::write(&path, safe).with_context(|| format!("cannot write {}", path.display()))?;
        if dropped > 0 {
            println!(
                "mutants: {}: `unsafe` dropped from {} in the copy, as cargo-mutants skips an \
                 `unsafe fn`",
                exercise.reference,
                count(dropped, "part", "parts")
            );
        }
    }
    Ok(())
}

/// The folder of the package that holds `file` (relative to `root`): the nearest one above it
/// with a `Cargo.toml`.
fn package_of(root: &Path, file: &str) -> Result<PathBuf> {
    let path = root.join(file);
    path.ancestors()
        .skip(1)
        .take_while(|folder| folder.starts_with(root))
        .find(|folder| folder.join("Cargo.toml").is_file())
        .map(Path::to_path_buf)
        .with_context(|| format!("{file} is in no package"))
}

/// `text` with `unsafe` dropped from every function signature that starts a line
/// (`pub unsafe fn` becomes `pub fn`), and how many it changed. `unsafe` blocks stay.
pub fn drop_unsafe(text: &str) -> (String, usize) {
    let mut dropped = 0;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start().len();
        let (head, rest) = line.split_at(indent);
        let (visibility, after) = match rest.split_once(' ') {
            Some((word, after)) if word.starts_with("pub") => (&rest[..=word.len()], after),
            _ => ("", rest),
        };
        match after.strip_prefix("unsafe fn ") {
            Some(signature) => {
                dropped += 1;
                out.push_str(head);
                out.push_str(visibility);
                out.push_str("fn ");
                out.push_str(signature);
            }
            None => out.push_str(line),
        }
    }
    (out, dropped)
}

/// Runs cargo-mutants in the copy, in place (the copy is ours to change), with its own target
/// folder kept between runs, and its report in `folder/mutants.out`.
fn cargo_mutants(copy: &Path, folder: &Path, files: &[&str]) -> Result<()> {
    let timeout = xtask::learn::TIMEOUT.as_secs().to_string();
    let mut command = Command::new(run::cargo());
    command
        .current_dir(copy)
        .env("CARGO_TARGET_DIR", folder.join("target"))
        .args([
            "mutants",
            "--in-place",
            "--no-config",
            "--timeout",
            &timeout,
        ])
        .arg("--output")
        .arg(folder);
    for file in files {
        command.args(["--file", file]);
    }
    let status = command
        .args(["--", "--test", CLAIMS_TEST])
        .status()
        .context("failed to run `cargo mutants`")?;
    // 0: every mutant caught; 2: some survived; 3: some timed out (caught, for the lesson).
    match status.code() {
        Some(0 | 2 | 3) => Ok(()),
        Some(4) => bail!(
            "with the reference parts unchanged (and `unsafe` dropped), the claims test failed: \
             see {}",
            folder.join("mutants.out/log/baseline.log").display()
        ),
        _ => bail!("cargo mutants failed ({status})"),
    }
}

#[cfg(test)]
mod tests;
