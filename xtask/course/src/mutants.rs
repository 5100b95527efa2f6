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
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use xtask::catalogue::{Exercise, exercises};
use xtask::run;

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

/// What cargo-mutants made of one mutant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judged {
    /// The claims test failed.
    Caught,
    /// The claims test ran past the time limit: caught too.
    TimedOut,
    /// The claims test passed: the mutant survived.
    Survived,
    /// It did not build, so it says nothing about the claims.
    Unviable,
}

/// One mutant and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The file it changes, relative to the workspace root.
    pub file: String,
    /// The line where its change starts.
    pub line: usize,
    /// What cargo-mutants calls it, without the place (`replace | with ^ in map`).
    pub mutant: String,
    /// What became of it.
    pub judged: Judged,
    /// Its diff, relative to `mutants.out`.
    pub diff: Option<String>,
}

/// `outcomes.json` as cargo-mutants 27 writes it, the parts read here.
#[derive(Deserialize)]
struct OutcomesFile {
    outcomes: Vec<RawOutcome>,
}

#[derive(Deserialize)]
struct RawOutcome {
    scenario: Scenario,
    summary: String,
    diff_path: Option<String>,
}

#[derive(Deserialize)]
enum Scenario {
    Baseline,
    Mutant(RawMutant),
}

#[derive(Deserialize)]
struct RawMutant {
    name: String,
    file: String,
    span: Span,
}

#[derive(Deserialize)]
struct Span {
    start: Position,
}

#[derive(Deserialize)]
struct Position {
    line: usize,
}

/// Every mutant in cargo-mutants' `outcomes.json`, in its order (the baseline left out).
///
/// # Errors
/// When the text is not such a file, or names an outcome this does not know.
pub fn parse_outcomes(text: &str) -> Result<Vec<Outcome>> {
    let file: OutcomesFile = serde_json::from_str(text)
        .with_context(|| format!("not the outcomes.json of cargo-mutants {CARGO_MUTANTS}"))?;
    let mut outcomes = Vec::new();
    for raw in file.outcomes {
        let Scenario::Mutant(mutant) = raw.scenario else {
            continue;
        };
        let judged = match raw.summary.as_str() {
            "CaughtMutant" => Judged::Caught,
            "Timeout" => Judged::TimedOut,
            "MissedMutant" => Judged::Survived,
            "Unviable" => Judged::Unviable,
            other => bail!("{}: an outcome this does not know, {other}", mutant.name),
        };
        let description = mutant
            .name
            .split_once(": ")
            .map_or(mutant.name.as_str(), |(_, description)| description);
        outcomes.push(Outcome {
            mutant: description.to_owned(),
            file: mutant.file,
            line: mutant.span.start.line,
            judged,
            diff: raw.diff_path,
        });
    }
    Ok(outcomes)
}

/// One survivor, as the list names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The reference, relative to the workspace root.
    pub file: String,
    /// What cargo-mutants calls it, without the place (`replace | with ^ in map`).
    pub mutant: String,
    /// The line of code it changes, trimmed.
    pub code: String,
    /// Why it survives, in one line.
    pub why: String,
}

impl Entry {
    fn names(&self, outcome: &Outcome, code: &str) -> bool {
        self.file == outcome.file && self.mutant == outcome.mutant && self.code == code
    }
}

/// The two kinds of survivor the list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// It cannot change what the lesson asks.
    Harmless,
    /// A mistake a learner could make, which the judge is still to catch.
    BlindSpot,
}

impl Kind {
    /// The list's name for its section.
    pub fn section(self) -> &'static str {
        match self {
            Kind::Harmless => "harmless",
            Kind::BlindSpot => "blind_spot",
        }
    }
}

/// The list of survivors, [`ALLOWED`].
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Allowed {
    /// Survivors that cannot change what the lesson asks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub harmless: Vec<Entry>,
    /// Survivors that are real mistakes the judge misses, still to be caught.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blind_spot: Vec<Entry>,
}

impl Allowed {
    /// Reads the list from `path`.
    ///
    /// # Errors
    /// When it cannot be read or is not a good list (see [`Allowed::parse`]).
    pub fn load(path: &Path) -> Result<Allowed> {
        Allowed::parse(&read(path)?)
            .with_context(|| format!("{} is not a good list", path.display()))
    }

    /// Parses the list: `[[harmless]]` and `[[blind_spot]]` entries, each with `file`, `mutant`,
    /// `code` and a one-line `why`, no mutant twice.
    ///
    /// # Errors
    /// When the text is not such a list.
    pub fn parse(text: &str) -> Result<Allowed> {
        let allowed: Allowed = toml::from_str(text)?;
        let mut seen = Vec::new();
        for (kind, entry) in allowed.entries() {
            if entry.why.trim().is_empty() || entry.why.contains('\n') {
                bail!(
                    "the entry for `{}` in {} needs its why, in one line",
                    entry.mutant,
                    entry.file
                );
            }
            let key = (&entry.file, &entry.mutant, &entry.code);
            if seen.contains(&key) {
                bail!(
                    "`{}` in {} ({}) is listed twice; the second time as {}",
                    entry.mutant,
                    entry.file,
                    entry.code,
                    kind.section()
                );
            }
            seen.push(key);
        }
        Ok(allowed)
    }

    /// Every entry, with its kind.
    pub fn entries(&self) -> impl Iterator<Item = (Kind, &Entry)> {
        let harmless = self.harmless.iter().map(|e| (Kind::Harmless, e));
        harmless.chain(self.blind_spot.iter().map(|e| (Kind::BlindSpot, e)))
    }

    /// The entry that names `outcome`, whose line reads `code`.
    fn find(&self, outcome: &Outcome, code: &str) -> Option<(Kind, &Entry)> {
        self.entries().find(|(_, e)| e.names(outcome, code))
    }

    /// Fails when an entry names a file that is no reference.
    fn check_files(&self, references: &[&str]) -> Result<()> {
        match self
            .entries()
            .find(|(_, e)| !references.contains(&e.file.as_str()))
        {
            Some((_, entry)) => bail!(
                "{ALLOWED} lists `{}` in {}, which is no reference; the references are {}",
                entry.mutant,
                entry.file,
                references.join(", ")
            ),
            None => Ok(()),
        }
    }
}

/// One reference's score.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Score {
    /// The reference.
    pub file: String,
    /// Mutants caught, by a failed claim or the time limit.
    pub caught: usize,
    /// Of them, those caught by the time limit.
    pub timed_out: usize,
    /// Mutants that survived.
    pub survived: usize,
    /// Of them, those listed as harmless.
    pub harmless: usize,
    /// Of them, those listed as blind spots.
    pub blind_spots: usize,
    /// Mutants that did not build.
    pub unviable: usize,
}

impl Score {
    /// The mutants that built: those the claims could judge.
    pub fn judged(&self) -> usize {
        self.caught + self.survived
    }
}

/// Why an entry of the list is wrong now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// Its mutant is caught now.
    Caught,
    /// Its mutant no longer builds.
    Unviable,
    /// No mutant has that name and code any more.
    Gone,
}

/// A survivor with the code of its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survivor<'a> {
    /// The mutant.
    pub outcome: &'a Outcome,
    /// Its line's code, trimmed.
    pub code: String,
}

/// Everything the run showed, judged against the list.
#[derive(Debug, Default)]
pub struct Verdict<'a> {
    /// Each reference's score, in the order run.
    pub scores: Vec<Score>,
    /// Survivors the list names, with their entries.
    pub listed: Vec<(Survivor<'a>, Kind, &'a Entry)>,
    /// Survivors the list does not name: each fails the command.
    pub unlisted: Vec<Survivor<'a>>,
    /// Entries, of the references run, that no longer survive: each fails the command.
    pub stale: Vec<(Kind, &'a Entry, Stale)>,
}

impl Verdict<'_> {
    /// Whether every survivor is listed and every entry still survives.
    pub fn holds(&self) -> bool {
        self.unlisted.is_empty() && self.stale.is_empty()
    }

    /// The score over every reference run.
    pub fn overall(&self) -> Score {
        let mut all = Score {
            file: "overall".to_owned(),
            ..Score::default()
        };
        for s in &self.scores {
            all.caught += s.caught;
            all.timed_out += s.timed_out;
            all.survived += s.survived;
            all.harmless += s.harmless;
            all.blind_spots += s.blind_spots;
            all.unviable += s.unviable;
        }
        all
    }
}

/// The code of line `line` (from 1) of `file`, trimmed, from `sources`.
fn code_at(sources: &BTreeMap<String, String>, file: &str, line: usize) -> String {
    sources
        .get(file)
        .and_then(|text| text.lines().nth(line.saturating_sub(1)))
        .map_or_else(String::new, |l| l.trim().to_owned())
}

/// Judges `outcomes` of the references `files` against `allowed`; `sources` holds each file's
/// text, where an entry's code is read.
pub fn judge<'a>(
    outcomes: &'a [Outcome],
    allowed: &'a Allowed,
    files: &[&str],
    sources: &BTreeMap<String, String>,
) -> Verdict<'a> {
    let mut verdict = Verdict::default();
    for file in files {
        let mut score = Score {
            file: (*file).to_owned(),
            ..Score::default()
        };
        for outcome in outcomes.iter().filter(|o| o.file == *file) {
            match outcome.judged {
                Judged::Caught => score.caught += 1,
                Judged::TimedOut => {
                    score.caught += 1;
                    score.timed_out += 1;
                }
                Judged::Unviable => score.unviable += 1,
                Judged::Survived => {
                    score.survived += 1;
                    let code = code_at(sources, file, outcome.line);
                    let entry = allowed.find(outcome, &code);
                    let survivor = Survivor { outcome, code };
                    match entry {
                        Some((kind, entry)) => {
                            match kind {
                                Kind::Harmless => score.harmless += 1,
                                Kind::BlindSpot => score.blind_spots += 1,
                            }
                            verdict.listed.push((survivor, kind, entry));
                        }
                        None => verdict.unlisted.push(survivor),
                    }
                }
            }
        }
        verdict.scores.push(score);
    }
    for (kind, entry) in allowed.entries() {
        if !files.contains(&entry.file.as_str()) {
            continue;
        }
        let named: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| entry.names(o, &code_at(sources, &o.file, o.line)))
            .collect();
        let stale = if named.is_empty() {
            Some(Stale::Gone)
        } else if named.iter().any(|o| o.judged == Judged::Survived) {
            None
        } else if named.iter().all(|o| o.judged == Judged::Unviable) {
            Some(Stale::Unviable)
        } else {
            Some(Stale::Caught)
        };
        if let Some(stale) = stale {
            verdict.stale.push((kind, entry, stale));
        }
    }
    verdict
}

/// `survivor` as an entry of the list, ready to paste, with a why still to write.
pub fn entry_for(survivor: &Survivor<'_>, kind: Kind) -> String {
    let entry = Entry {
        file: survivor.outcome.file.clone(),
        mutant: survivor.outcome.mutant.clone(),
        code: survivor.code.clone(),
        why: "(the one line that says why)".to_owned(),
    };
    let list = match kind {
        Kind::Harmless => Allowed {
            harmless: vec![entry],
            ..Allowed::default()
        },
        Kind::BlindSpot => Allowed {
            blind_spot: vec![entry],
            ..Allowed::default()
        },
    };
    toml::to_string(&list).unwrap_or_default()
}

/// How long the run took, in words.
fn took(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    match secs / 60 {
        0 => format!("took {secs} s"),
        minutes => format!("took {minutes} min {} s", secs % 60),
    }
}

/// `n` and the noun for it: `1 blind spot`, `2 blind spots`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// One line of the score: `16 of 24 caught (1 by the time limit); of the 8 survivors, 4
/// harmless, 4 blind spots; 3 more did not build`.
pub fn score_line(score: &Score) -> String {
    let mut line = format!("{} of {} caught", score.caught, score.judged());
    if score.timed_out > 0 {
        line.push_str(&format!(" ({} by the time limit)", score.timed_out));
    }
    let unlisted = score.survived - score.harmless - score.blind_spots;
    let kinds: Vec<String> = [
        (score.harmless, "harmless", "harmless"),
        (score.blind_spots, "blind spot", "blind spots"),
        (unlisted, "not listed", "not listed"),
    ]
    .iter()
    .filter(|(n, _, _)| *n > 0)
    .map(|&(n, one, many)| count(n, one, many))
    .collect();
    if !kinds.is_empty() {
        let survivors = count(score.survived, "survivor", "survivors");
        line.push_str(&format!("; of the {survivors}, {}", kinds.join(", ")));
    }
    if score.unviable > 0 {
        line.push_str(&format!("; {} more did not build", score.unviable));
    }
    line
}

fn print(verdict: &Verdict<'_>, folder: &Path) {
    println!("mutants: the score (a mutant is caught when a claim fails, or at the time limit)");
    let width = verdict
        .scores
        .iter()
        .map(|s| s.file.len())
        .max()
        .unwrap_or(0);
    let overall = verdict.overall();
    let several = verdict.scores.len() > 1;
    for score in verdict.scores.iter().chain(several.then_some(&overall)) {
        println!("  {:<width$}  {}", score.file, score_line(score));
    }
    for kind in [Kind::Harmless, Kind::BlindSpot] {
        let listed: Vec<_> = verdict
            .listed
            .iter()
            .filter(|(_, k, _)| *k == kind)
            .collect();
        match kind {
            Kind::Harmless => println!(
                "mutants: {} survivors listed as harmless in {ALLOWED}",
                listed.len()
            ),
            Kind::BlindSpot if listed.is_empty() => {}
            Kind::BlindSpot => println!(
                "mutants: {} survivors listed as blind spots: mistakes the claims miss, for the \
                 judge to catch",
                listed.len()
            ),
        }
        for (survivor, _, entry) in listed {
            println!("  {}", place(survivor));
            println!("    {}", entry.why);
        }
    }
    print_unlisted(verdict, folder);
    print_stale(verdict);
}

fn place(survivor: &Survivor<'_>) -> String {
    let outcome = survivor.outcome;
    format!("{}:{}: {}", outcome.file, outcome.line, outcome.mutant)
}

fn print_unlisted(verdict: &Verdict<'_>, folder: &Path) {
    if verdict.unlisted.is_empty() {
        return;
    }
    println!(
        "mutants: FAILED: {} mutants survived that {ALLOWED} does not list",
        verdict.unlisted.len()
    );
    for survivor in &verdict.unlisted {
        println!("  {}", place(survivor));
        println!("    the line: {}", survivor.code);
        if let Some(diff) = &survivor.outcome.diff {
            println!(
                "    the change: {}",
                folder.join("mutants.out").join(diff).display()
            );
        }
    }
    println!(
        "  For each: if a learner could make this mistake, the lesson's claims must catch it. \
         Add the check to the driver, and a kept answer in xtask/answers/ that proves it. \
         Until then, list it as a [[blind_spot]] in {ALLOWED}."
    );
    println!(
        "  If it cannot change what the lesson asks, list it there as [[harmless]], with the \
         one line that says why:"
    );
    for survivor in &verdict.unlisted {
        println!();
        for line in entry_for(survivor, Kind::Harmless).lines() {
            println!("    {line}");
        }
    }
}

fn print_stale(verdict: &Verdict<'_>) {
    if verdict.stale.is_empty() {
        return;
    }
    println!(
        "mutants: FAILED: {} entries of {ALLOWED} no longer survive; the list must stay exact",
        verdict.stale.len()
    );
    for (kind, entry, stale) in &verdict.stale {
        println!(
            "  [[{}]] {}: {} (the line: {})",
            kind.section(),
            entry.file,
            entry.mutant,
            entry.code
        );
        println!(
            "    {}",
            match stale {
                Stale::Caught => "It is caught now: remove the entry.",
                Stale::Unviable => "It no longer builds: remove the entry.",
                Stale::Gone => {
                    "No mutant has this name and line any more: the code changed. Remove the \
                     entry, or give it the new line if the same mutant survives there."
                }
            }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURED: &str = include_str!("../tests/fixtures/mutants/outcomes.json");

    fn outcome(file: &str, line: usize, mutant: &str, judged: Judged) -> Outcome {
        Outcome {
            file: file.to_owned(),
            line,
            mutant: mutant.to_owned(),
            judged,
            diff: None,
        }
    }

    fn entry(file: &str, mutant: &str, code: &str) -> Entry {
        Entry {
            file: file.to_owned(),
            mutant: mutant.to_owned(),
            code: code.to_owned(),
            why: "a reason".to_owned(),
        }
    }

    #[test]
    fn unsafe_is_dropped_from_signatures_and_left_in_blocks() {
        let text = "pub unsafe fn write(memory: *mut u8) {\n    \
                    // SAFETY: the caller promises it.\n    \
                    let bytes = unsafe { slice(memory) };\n}\n\
                    unsafe fn private() {}\n    pub(crate) unsafe fn inner() {}\n\
                    pub fn safe() {}\npub unsafe extern \"C\" fn c() {}\n";
        let (safe, dropped) = drop_unsafe(text);
        assert_eq!(dropped, 3);
        assert_eq!(
            safe,
            "pub fn write(memory: *mut u8) {\n    \
             // SAFETY: the caller promises it.\n    \
             let bytes = unsafe { slice(memory) };\n}\n\
             fn private() {}\n    pub(crate) fn inner() {}\n\
             pub fn safe() {}\npub unsafe extern \"C\" fn c() {}\n"
        );
    }

    #[test]
    fn captured_outcomes_give_each_mutant_without_the_baseline() {
        let outcomes = parse_outcomes(CAPTURED).unwrap();
        let ex3 = "exercises/ex3-mmap/src/parts.rs";
        assert_eq!(
            outcomes,
            [
                Outcome {
                    diff: Some(
                        "diff/exercises__ex3-mmap__src__parts.rs_line_42_col_29.diff".to_owned()
                    ),
                    ..outcome(ex3, 42, "replace | with & in map", Judged::Caught)
                },
                Outcome {
                    diff: Some(
                        "diff/exercises__ex3-mmap__src__parts.rs_line_42_col_29_001.diff"
                            .to_owned()
                    ),
                    ..outcome(ex3, 42, "replace | with ^ in map", Judged::Survived)
                },
                Outcome {
                    diff: Some(
                        "diff/exercises__ex3-mmap__src__parts.rs_line_44_col_13.diff".to_owned()
                    ),
                    ..outcome(ex3, 44, "delete - in map", Judged::Survived)
                },
                Outcome {
                    diff: Some(
                        "diff/exercises__ex3-mmap__src__parts.rs_line_110_col_5.diff".to_owned()
                    ),
                    ..outcome(
                        ex3,
                        110,
                        "replace owned_mapping -> io::Result<memmap2::MmapMut> with \
                         Ok(Default::default())",
                        Judged::Unviable
                    )
                },
                Outcome {
                    diff: Some("diff/milestone__src__parts.rs_line_29_col_39.diff".to_owned()),
                    ..outcome(
                        "milestone/src/parts.rs",
                        29,
                        "replace * with +",
                        Judged::Survived
                    )
                },
                Outcome {
                    diff: Some(
                        "diff/exercises__ex1-segments__src__parts.rs_line_39_col_14.diff"
                            .to_owned()
                    ),
                    ..outcome(
                        "exercises/ex1-segments/src/parts.rs",
                        39,
                        "replace += with *= in address_of_a_local",
                        Judged::TimedOut
                    )
                },
            ]
        );
    }

    #[test]
    fn an_unknown_outcome_or_another_file_is_an_error() {
        let unknown = CAPTURED.replace("\"CaughtMutant\"", "\"Exploded\"");
        let error = parse_outcomes(&unknown).unwrap_err();
        assert!(format!("{error:#}").contains("an outcome this does not know, Exploded"));
        let error = parse_outcomes("{\"mutants\": []}").unwrap_err();
        assert!(format!("{error:#}").contains("not the outcomes.json of cargo-mutants 27.1.0"));
    }

    #[test]
    fn the_list_parses_and_refuses_a_missing_why_a_twin_and_an_unknown_field() {
        let good = "[[harmless]]\nfile = \"a.rs\"\nmutant = \"replace | with ^ in map\"\n\
                    code = \"PROT_READ | PROT_WRITE,\"\nwhy = \"Disjoint bits.\"\n\n\
                    [[blind_spot]]\nfile = \"a.rs\"\nmutant = \"delete - in f\"\n\
                    code = \"sbrk(-len)\"\nwhy = \"The break is never checked.\"\n";
        let allowed = Allowed::parse(good).unwrap();
        let kinds: Vec<Kind> = allowed.entries().map(|(k, _)| k).collect();
        assert_eq!(kinds, [Kind::Harmless, Kind::BlindSpot]);
        assert_eq!(allowed.harmless[0].code, "PROT_READ | PROT_WRITE,");

        let no_why = good.replace("why = \"Disjoint bits.\"", "why = \" \"");
        let error = Allowed::parse(&no_why).unwrap_err();
        assert!(format!("{error:#}").contains("needs its why, in one line"));
        let twin = good
            .replace("delete - in f", "replace | with ^ in map")
            .replace(
                "code = \"sbrk(-len)\"",
                "code = \"PROT_READ | PROT_WRITE,\"",
            );
        let error = Allowed::parse(&twin).unwrap_err();
        assert!(
            format!("{error:#}").contains("is listed twice"),
            "{error:#}"
        );
        let unknown = good.replace("why = \"Disjoint bits.\"", "reason = \"Disjoint bits.\"");
        assert!(Allowed::parse(&unknown).is_err());
        assert!(Allowed::parse("[[harmles]]\nfile = \"a.rs\"\n").is_err());
    }

    #[test]
    fn an_entry_naming_no_reference_is_an_error() {
        let allowed = Allowed {
            harmless: vec![entry("src/other.rs", "replace + with -", "a + b")],
            ..Allowed::default()
        };
        let error = allowed.check_files(&["a.rs"]).unwrap_err();
        assert!(format!("{error:#}").contains("which is no reference"));
        assert!(Allowed::default().check_files(&["a.rs"]).is_ok());
    }

    fn sources() -> BTreeMap<String, String> {
        let text = "fn map() {\n    a | b,\n    c | d,\n    -1,\n}\n";
        BTreeMap::from([("a.rs".to_owned(), text.to_owned())])
    }

    #[test]
    fn survivors_are_listed_by_file_name_and_line_and_the_score_counts_timeouts_as_caught() {
        let outcomes = [
            outcome("a.rs", 2, "replace | with ^ in map", Judged::Survived),
            outcome("a.rs", 3, "replace | with ^ in map", Judged::Survived),
            outcome("a.rs", 4, "delete - in map", Judged::Survived),
            outcome("a.rs", 2, "replace | with & in map", Judged::Caught),
            outcome("a.rs", 1, "replace map with ()", Judged::TimedOut),
            outcome(
                "a.rs",
                1,
                "replace map with Default::default()",
                Judged::Unviable,
            ),
        ];
        let allowed = Allowed {
            harmless: vec![entry("a.rs", "replace | with ^ in map", "a | b,")],
            blind_spot: vec![entry("a.rs", "delete - in map", "-1,")],
        };
        let verdict = judge(&outcomes, &allowed, &["a.rs"], &sources());
        let score = &verdict.scores[0];
        assert_eq!((score.caught, score.timed_out, score.survived), (2, 1, 3));
        assert_eq!((score.judged(), score.unviable), (5, 1));
        assert_eq!((score.harmless, score.blind_spots), (1, 1));
        assert_eq!(
            score_line(score),
            "2 of 5 caught (1 by the time limit); of the 3 survivors, 1 harmless, 1 blind \
             spot, 1 not listed; 1 more did not build"
        );
        let listed: Vec<(usize, Kind)> = verdict
            .listed
            .iter()
            .map(|(s, k, _)| (s.outcome.line, *k))
            .collect();
        assert_eq!(listed, [(2, Kind::Harmless), (4, Kind::BlindSpot)]);
        // The same mutant on another line is another mutant: unlisted.
        assert_eq!(verdict.unlisted.len(), 1);
        assert_eq!(verdict.unlisted[0].code, "c | d,");
        assert!(verdict.stale.is_empty());
        assert!(!verdict.holds());
        assert_eq!(verdict.overall().file, "overall");
        assert_eq!(verdict.overall().caught, 2);
    }

    #[test]
    fn an_entry_that_is_caught_unviable_or_gone_is_stale() {
        let outcomes = [
            outcome("a.rs", 2, "replace | with ^ in map", Judged::Caught),
            outcome("a.rs", 3, "replace | with ^ in map", Judged::TimedOut),
            outcome("a.rs", 4, "delete - in map", Judged::Unviable),
        ];
        let allowed = Allowed {
            harmless: vec![
                entry("a.rs", "replace | with ^ in map", "a | b,"),
                entry("a.rs", "replace | with ^ in map", "c | d,"),
                entry("a.rs", "replace & with ^ in map", "a | b,"),
            ],
            blind_spot: vec![entry("a.rs", "delete - in map", "-1,")],
        };
        let verdict = judge(&outcomes, &allowed, &["a.rs"], &sources());
        let stale: Vec<(Kind, &str, Stale)> = verdict
            .stale
            .iter()
            .map(|(k, e, s)| (*k, e.code.as_str(), *s))
            .collect();
        assert_eq!(
            stale,
            [
                (Kind::Harmless, "a | b,", Stale::Caught),
                (Kind::Harmless, "c | d,", Stale::Caught),
                (Kind::Harmless, "a | b,", Stale::Gone),
                (Kind::BlindSpot, "-1,", Stale::Unviable),
            ]
        );
        assert!(!verdict.holds());
        // Entries of a reference that was not run are not judged.
        let verdict = judge(&[], &allowed, &["b.rs"], &sources());
        assert!(verdict.holds());
    }

    #[test]
    fn an_unlisted_survivor_comes_with_an_entry_to_paste() {
        let survivor = outcome("a.rs", 2, "replace | with ^ in map", Judged::Survived);
        let pasted = entry_for(
            &Survivor {
                outcome: &survivor,
                code: "\"hello\".as_ptr() as usize".to_owned(),
            },
            Kind::Harmless,
        );
        let back =
            Allowed::parse(&pasted.replace("(the one line that says why)", "Because.")).unwrap();
        assert_eq!(back.harmless[0].code, "\"hello\".as_ptr() as usize");
        assert!(pasted.starts_with("[[harmless]]\n"), "{pasted}");
    }

    /// CI installs the release that the list is exact for, and that `run` asks for.
    #[test]
    fn ci_installs_the_pinned_cargo_mutants() {
        let ci = read(&run::root().join(".ci/run")).unwrap();
        assert!(ci.contains(&format!(
            "\"$(cargo mutants --version 2>/dev/null)\" != \"cargo-mutants {CARGO_MUTANTS}\""
        )));
        assert!(ci.contains(&format!(
            "cargo install cargo-mutants --version {CARGO_MUTANTS} --locked"
        )));
        assert!(ci.contains("\ncargo xtask mutants\n"));
    }

    #[test]
    fn the_run_takes_minutes_and_seconds() {
        assert_eq!(took(Duration::from_secs(42)), "took 42 s");
        assert_eq!(took(Duration::from_secs(293)), "took 4 min 53 s");
    }
}
