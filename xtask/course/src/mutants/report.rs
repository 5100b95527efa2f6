//! Each reference's score and survivors, judged against the list, and printed.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::*;

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
pub(super) fn code_at(sources: &BTreeMap<String, String>, file: &str, line: usize) -> String {
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
pub(super) fn took(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    match secs / 60 {
        0 => format!("took {secs} s"),
        minutes => format!("took {minutes} min {} s", secs % 60),
    }
}

/// `n` and the noun for it: `1 blind spot`, `2 blind spots`.
pub(super) fn count(n: usize, one: &str, many: &str) -> String {
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

pub(super) fn print(verdict: &Verdict<'_>, folder: &Path) {
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

pub(super) fn place(survivor: &Survivor<'_>) -> String {
    let outcome = survivor.outcome;
    format!("{}:{}: {}", outcome.file, outcome.line, outcome.mutant)
}

pub(super) fn print_unlisted(verdict: &Verdict<'_>, folder: &Path) {
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

pub(super) fn print_stale(verdict: &Verdict<'_>) {
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
