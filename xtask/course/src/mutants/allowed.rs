//! The list of survivors (`xtask/mutants-allowed.toml`), each harmless with why, or a blind
//! spot still to close.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::*;

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
    pub(super) fn names(&self, outcome: &Outcome, code: &str) -> bool {
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
    pub(super) fn find(&self, outcome: &Outcome, code: &str) -> Option<(Kind, &Entry)> {
        self.entries().find(|(_, e)| e.names(outcome, code))
    }

    /// Fails when an entry names a file that is no reference.
    pub(super) fn check_files(&self, references: &[&str]) -> Result<()> {
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
