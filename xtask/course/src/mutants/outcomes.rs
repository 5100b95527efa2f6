//! What cargo-mutants made of each mutant, read from its `outcomes.json`.

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::*;

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
