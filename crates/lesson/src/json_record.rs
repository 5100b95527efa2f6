//! What a lesson run records, step by step, and prints as JSON: the lesson's description,
//! observations of addresses with their regions, facts, checks, and what an observation marks
//! as varying.

use memcore::Region;
use serde::{Deserialize, Serialize};

use crate::events::Event;

/// What a lesson binary says about itself.
#[derive(Debug, Clone, Copy)]
pub struct LessonInfo {
    /// The binary's name, as learners type it (`ex2-sbrk`).
    pub name: &'static str,
    /// One line on what it shows.
    pub title: &'static str,
    /// A paragraph for `--help`.
    pub about: &'static str,
}

/// The region of `/proc/self/maps` that held an address.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RegionInfo {
    /// `[heap]`, `anonymous`, a file name.
    pub name: String,
    /// What the region is (`text`, `heap`, `anonymous`).
    pub kind: String,
    /// `rw-p` and so on.
    pub perms: String,
    /// First address, `0x…`.
    pub start: String,
    /// First address past it, `0x…`.
    pub end: String,
    /// Its size in bytes.
    pub size: u64,
    /// How the lessons name it (`[heap] rw-p`, `ex1-segments r-xp (text)`).
    pub shown: String,
}

impl From<&Region> for RegionInfo {
    fn from(r: &Region) -> Self {
        RegionInfo {
            name: r.name().to_owned(),
            kind: r.kind.name().to_owned(),
            perms: r.perms.to_string(),
            start: format!("{:#x}", r.start),
            end: format!("{:#x}", r.end),
            size: r.len() as u64,
            shown: r.to_string(),
        }
    }
}

/// An address the lesson looked at, and where it lay.
#[derive(Debug, Clone, Serialize)]
pub struct Observation {
    /// What the address is of (`a local variable`).
    pub label: String,
    /// The address, `0x…`.
    pub address: String,
    /// The region holding it, or `None` if no mapping does.
    pub region: Option<RegionInfo>,
}

/// A value the lesson reports (a size, a count, an errno).
#[derive(Debug, Clone, Serialize)]
pub struct Fact {
    /// What it is.
    pub label: String,
    /// Its value as printed.
    pub value: String,
}

/// One claim of the lesson, checked on this machine.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The claim (`the local lies in [stack]`).
    pub claim: String,
    /// Whether it held.
    pub passed: bool,
    /// Why it did not hold, with the addresses involved; `None` when it held.
    pub detail: Option<String>,
}

/// One numbered step.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// 1, 2, …
    pub number: usize,
    /// What the step does.
    pub title: String,
    /// The explanation, as printed.
    pub text: Vec<String>,
    /// Addresses looked at.
    pub observations: Vec<Observation>,
    /// Values reported.
    pub facts: Vec<Fact>,
    /// Claims checked.
    pub checks: Vec<Check>,
}

/// The `--json` document: the lesson, whether it passed, and each step, made from the run's
/// events.
#[derive(Serialize)]
pub(crate) struct Document<'a> {
    lesson: &'a str,
    title: &'a str,
    passed: bool,
    checks_passed: usize,
    checks_failed: usize,
    error: Option<String>,
    steps: Vec<Step>,
}

impl Document<'_> {
    /// The document of the run of `info` that recorded `events`, ended by `error` if it was.
    pub(crate) fn of<'a>(
        info: &'a LessonInfo,
        events: &[Event],
        error: Option<String>,
    ) -> Document<'a> {
        let (passed, failed) = counts(events);
        Document {
            lesson: info.name,
            title: info.title,
            passed: failed == 0 && error.is_none(),
            checks_passed: passed,
            checks_failed: failed,
            error,
            steps: steps(events),
        }
    }
}

/// How many checks in `events` held, and how many did not.
pub(crate) fn counts(events: &[Event]) -> (usize, usize) {
    events
        .iter()
        .fold((0, 0), |(held, failed), event| match event {
            Event::Check { passed: true, .. } => (held + 1, failed),
            Event::Check { .. } => (held, failed + 1),
            _ => (held, failed),
        })
}

/// The steps `events` tell, each with its text, observations, facts and checks.
fn steps(events: &[Event]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for event in events {
        if let Event::Step { number, title } = event {
            steps.push(Step {
                number: *number,
                title: title.clone(),
                text: Vec::new(),
                observations: Vec::new(),
                facts: Vec::new(),
                checks: Vec::new(),
            });
            continue;
        }
        let Some(step) = steps.last_mut() else {
            continue;
        };
        match event {
            Event::Line { text, kind, .. } => step.text.push(match kind {
                crate::events::LineKind::Explanation => text.trim_start().to_owned(),
                _ => text.clone(),
            }),
            Event::Observed {
                label,
                address,
                region,
                ..
            } => step.observations.push(Observation {
                label: label.clone(),
                address: format!("{address:#x}"),
                region: region.clone(),
            }),
            Event::Fact { label, value, .. } => step.facts.push(Fact {
                label: label.clone(),
                value: value.clone(),
            }),
            Event::Check {
                claim,
                passed,
                detail,
                ..
            } => step.checks.push(Check {
                claim: claim.clone(),
                passed: *passed,
                detail: detail.clone(),
            }),
            _ => {}
        }
    }
    steps
}

/// What an observation prints as varying (`~`), so that `check-all` masks it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marks {
    /// The address's place among the others is not part of the lesson (it depends on whose
    /// code made it, or on the setup): `~0x…`.
    pub address: bool,
    /// The region depends on the build or the setup: `in ~{…}`. (The bss shares the data's
    /// last page only when it fits there, so where a zeroed global or the linker's `end` lies
    /// changes with the size of the program.)
    pub region: bool,
}

impl Marks {
    /// Nothing varies: the address is ranked and the region compared.
    pub const NONE: Marks = Marks::new(false, false);
    /// The address is not ranked.
    pub const ADDRESS: Marks = Marks::new(true, false);
    /// The region is masked.
    pub const REGION: Marks = Marks::new(false, true);
    /// Both.
    pub const BOTH: Marks = Marks::new(true, true);

    const fn new(address: bool, region: bool) -> Marks {
        Marks { address, region }
    }
}
