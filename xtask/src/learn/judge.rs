//! How one learner's run stands, as data: every failure on its own (its kind, step, part, claim,
//! what happened, the call that showed it), the claims not reached and why, and how each part
//! stands. Read from the events the run recorded (`lesson::events`), never from the sentences it
//! printed for people; `render` words it.
//!
//! The claims judge. A run whose every claim held is done. Where its address pattern still
//! differs from the reference's, that is a note beside "done", not a failure: the lesson leaves
//! some choices to the learner, and the claims are what the lesson asks.
//! A failed claim is always reported, even when a later part is still `todo!()`.
//! A part is done only when every claim the reference's run makes about it ran, here, and held.

use std::collections::BTreeSet;

use anyhow::Result;
use lesson::events::{Event, LineKind, heading};

use super::ending::{ended_well, how_it_ended, where_in};
use super::verdict::{Claim, Consequence, Finding, Kind, NotReached, Standing, Verdict};
use super::verdict::{claim_key, claims_of};
use super::{Done, Place, Status};
use crate::run::Ending;
use crate::snapshot::{self, Comparison, Snapshot};

/// At most this many of a step's lines are kept beside a failure: the last, nearest it.
const SHOWN_LINES: usize = 12;

/// What a learner's run is compared with.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The reference's snapshot.
    pub snapshot: Snapshot,
    /// This run's setup changes what the lesson shows by design (the legacy mmap layout, some
    /// settings of glibc's malloc): no note is made of a pattern that differs.
    pub differs_by_design: bool,
    /// The claims the reference's run made on this machine, which a learner's run must reach;
    /// `None` when that run could not be read.
    pub claims: Option<Vec<Claim>>,
}

impl Expected {
    /// The committed snapshot `name`, the claims the reference's run made (`claims`), and
    /// whether the learner's run recorded that its setup changes the lesson by design.
    ///
    /// # Errors
    /// If there is no snapshot, or it cannot be read.
    pub fn snapshot(
        name: &str,
        claims: Option<Vec<Claim>>,
        differs_by_design: bool,
    ) -> Result<Expected> {
        Ok(Expected {
            snapshot: Snapshot::expect(name)?,
            differs_by_design,
            claims,
        })
    }
}

/// The learner's file, to say where each part of theirs is.
#[derive(Debug, Clone, Copy)]
pub struct LearnerFile<'a> {
    /// Its path, relative to the workspace root.
    pub path: &'a str,
    /// What it holds.
    pub text: &'a str,
}

impl LearnerFile<'_> {
    /// `FILE:LINE` of `fn part(`, or the file alone.
    pub fn place_of(&self, part: &str) -> String {
        let signature = format!("fn {part}(");
        let line = self
            .text
            .lines()
            .position(|l| l.contains(&signature) && !l.trim_start().starts_with("//"));
        match line {
            Some(line) => format!("{}:{}", self.path, line + 1),
            None => self.path.to_owned(),
        }
    }
}

/// What one learner's run left behind.
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    /// The learner's file, to say where each part is.
    pub file: LearnerFile<'a>,
    /// Its output, already naming the exercise rather than the learner's binary.
    pub stdout: &'a str,
    /// Its standard error.
    pub stderr: &'a str,
    /// The events it recorded.
    pub events: &'a [Event],
    /// How it ended.
    pub ending: &'a Ending,
    /// `/proc/self/maps` at a fault, as the signal handler copied it (`lesson::events`).
    pub fault_maps: Option<&'a str>,
}

impl Outcome<'_> {
    pub(super) fn title(&self, step: usize) -> Option<String> {
        self.events.iter().find_map(|e| match e {
            Event::Step { number, title } if *number == step => Some(title.clone()),
            _ => None,
        })
    }

    /// The lines step `step` printed that say what it saw, the last [`SHOWN_LINES`] of them.
    pub(super) fn printed(&self, step: usize) -> Vec<String> {
        let lines: Vec<String> = self
            .events
            .iter()
            // The heading is in the finding's place, and a failed claim in its words.
            .filter(|e| {
                e.step() == Some(step)
                    && matches!(
                        e.line_kind(),
                        Some(LineKind::Observation | LineKind::Held | LineKind::Stopped)
                    )
            })
            .filter_map(Event::printed)
            .filter(|text| !text.trim().is_empty())
            .map(|text| text.trim_end().to_owned())
            .collect();
        let cut = lines.len().saturating_sub(SHOWN_LINES);
        lines.into_iter().skip(cut).collect()
    }

    /// The part that was running when the run ended, and its step: called, never returned.
    pub(super) fn inside_part(&self) -> Option<(usize, &str)> {
        let last = self.events.iter().rev().find(|e| {
            matches!(
                e,
                Event::PartCalled { .. } | Event::PartReturned { .. } | Event::Step { .. }
            )
        })?;
        match last {
            Event::PartCalled { step, part, .. } => Some((*step, part.as_str())),
            _ => None,
        }
    }

    /// The last step the run began, and the last part that step called.
    pub(super) fn last_step_and_part(&self) -> (usize, Option<&str>) {
        let step = self.last_step();
        let part = self.events.iter().rev().find_map(|e| match e {
            Event::PartCalled { step: s, part, .. } if *s == step => Some(part.as_str()),
            _ => None,
        });
        (step, part)
    }

    pub(super) fn last_step(&self) -> usize {
        self.events
            .iter()
            .rev()
            .find_map(|e| match e {
                Event::Step { number, .. } => Some(*number),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// The last call of `part` in `step`, in the learner's terms, if the driver said it.
    pub(super) fn last_call(&self, step: usize, part: &str) -> Option<String> {
        self.events.iter().rev().find_map(|e| match e {
            Event::PartCalled {
                step: s,
                part: p,
                call,
            } if *s == step && p == part => call.clone(),
            _ => None,
        })
    }

    /// Where the fault the run recorded struck, if it did: against the memory the part was
    /// given, and in the maps of that moment.
    pub(super) fn fault(&self) -> Option<String> {
        let (signal, address) = self.events.iter().rev().find_map(|e| match e {
            Event::Fault { signal, address } => Some((signal.as_str(), *address as usize)),
            _ => None,
        })?;
        let mut said = format!("the {signal} struck at {address:#x}");
        let addr = address;
        let given = self.events.iter().rev().find_map(|e| match e {
            Event::Given {
                what, start, len, ..
            } => Some((what.as_str(), *start as usize, *len as usize)),
            _ => None,
        });
        if let Some((what, start, len)) = given {
            let end = start.saturating_add(len);
            said.push_str(&match addr {
                a if a < start => format!(", {} before {what}", lesson::count(start - a, "byte")),
                a if a >= end => format!(
                    ", {} past the end of {what}",
                    lesson::count(a - end, "byte")
                ),
                a => format!(", inside {what}, at offset {}", a - start),
            });
        }
        if let Some(map) = self
            .fault_maps
            .and_then(|text| memcore::MemoryMap::parse(text.as_bytes(), None).ok())
        {
            said.push_str(&format!(
                "; in /proc/self/maps at that moment, {}",
                where_in(&map, addr)
            ));
        }
        Some(said)
    }

    pub(super) fn finished(&self) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, Event::Finished { .. }))
    }

    pub(super) fn part_to_do(&self) -> Option<(Place, bool)> {
        self.events.iter().rev().find_map(|e| match e {
            Event::ToDo {
                part,
                optional,
                file,
                line,
                ..
            } => Some((
                Place {
                    part: part.clone(),
                    file: file.clone(),
                    line: *line,
                },
                *optional,
            )),
            _ => None,
        })
    }

    pub(super) fn finding(
        &self,
        kind: Kind,
        step: usize,
        part: Option<&str>,
        happened: String,
    ) -> Finding {
        Finding {
            kind,
            step,
            title: self.title(step),
            part: part.map(str::to_owned),
            during_part: false,
            at: part.map(|p| self.file.place_of(p)),
            claim: None,
            happened,
            call: part.and_then(|p| self.last_call(step, p)),
            again_in: Vec::new(),
            consequences: Vec::new(),
            printed: self.printed(step),
        }
    }
}

/// The failed claims and the steps that stopped, each on its own: a claim that failed again is
/// said once, with the steps it failed in; one the driver knows follows from another is said
/// under it.
fn failed_claims(outcome: &Outcome) -> Vec<Finding> {
    let mut findings: Vec<Finding> = Vec::new();
    for event in outcome.events {
        match event {
            Event::Check {
                step,
                part,
                claim,
                passed: false,
                detail,
                call,
                because,
            } => {
                let happened = detail
                    .clone()
                    .unwrap_or_else(|| "it did not hold".to_owned());
                let cause = because.as_ref().and_then(|b| {
                    findings
                        .iter_mut()
                        .find(|f| f.claim.as_deref() == Some(b.claim.as_str()))
                        .map(|f| (f, b.how.clone()))
                });
                if let Some((cause, how)) = cause {
                    cause.consequences.push(Consequence {
                        step: *step,
                        part: part.clone(),
                        claim: claim.clone(),
                        happened,
                        how,
                    });
                    continue;
                }
                let same = findings
                    .iter_mut()
                    .find(|f| f.claim.as_ref() == Some(claim) && f.part == *part);
                if let Some(same) = same {
                    if same.step != *step && !same.again_in.contains(step) {
                        same.again_in.push(*step);
                    }
                    continue;
                }
                let mut finding = outcome.finding(Kind::Claim, *step, part.as_deref(), happened);
                finding.claim = Some(claim.clone());
                finding.call = call.clone().or(finding.call);
                findings.push(finding);
            }
            Event::Stopped {
                step,
                part,
                message,
                goes_on: true,
            } if !findings.iter().any(|f| f.step == *step) => {
                findings.push(outcome.finding(
                    Kind::Stopped,
                    *step,
                    part.as_deref(),
                    message.clone(),
                ));
            }
            _ => {}
        }
    }
    findings
}

/// Why the claims of `step` did not run, and the part still to do when that is why.
fn why_not_reached(
    outcome: &Outcome,
    step: usize,
    ended: Option<&Finding>,
) -> (String, Option<String>) {
    let reason = outcome.events.iter().find_map(|e| match e {
        Event::NotRun { step: s, needs } if *s == step => {
            Some(format!("step {step} did not run: it needs {needs}"))
        }
        Event::Stopped {
            step: s,
            message,
            goes_on: true,
            ..
        } if *s == step => Some(format!("step {step} stopped: {message}")),
        _ => None,
    });
    if let Some(reason) = reason {
        return (reason, None);
    }
    let last = outcome.last_step();
    if step < last || (step == last && outcome.finished()) {
        return (format!("step {step} ran, but did not check them"), None);
    }
    let to_do = outcome.part_to_do().map(|(place, _)| place.part);
    let cause = match (&to_do, ended) {
        (Some(part), _) => format!("`{part}` is still to do"),
        (None, Some(f)) => {
            let at = if f.during_part { "inside" } else { "after" };
            match (&f.part, f.kind) {
                (Some(p), Kind::Panic) => format!("your `{p}` panicked"),
                (Some(p), Kind::Crash) => format!("the run crashed {at} your `{p}`"),
                (Some(p), Kind::Timeout) => format!("the run timed out {at} your `{p}`"),
                (Some(p), Kind::Exit) => format!("the run exited {at} your `{p}`"),
                (Some(p), _) => format!("the lesson could not go on after your `{p}`"),
                (None, Kind::Crash) => "the run crashed".to_owned(),
                (None, Kind::Timeout) => "the run timed out".to_owned(),
                (None, Kind::Exit) => "the run exited early".to_owned(),
                (None, _) => "the lesson could not go on".to_owned(),
            }
        }
        (None, None) => "the run ended there".to_owned(),
    };
    (format!("the run stopped in step {last}: {cause}"), to_do)
}

/// The claims the reference's run made that this run did not, by step, with why.
fn not_reached(outcome: &Outcome, expected: &[Claim], ended: Option<&Finding>) -> Vec<NotReached> {
    let made: BTreeSet<(usize, String)> =
        claims_of(outcome.events).iter().map(Claim::key).collect();
    let mut by_step: Vec<NotReached> = Vec::new();
    for claim in expected {
        if made.contains(&claim.key()) {
            continue;
        }
        let entry = (claim.part.clone(), claim.claim.clone());
        match by_step.iter_mut().find(|n| n.step == claim.step) {
            Some(n) => n.claims.push(entry),
            None => {
                let (why, waits_for) = why_not_reached(outcome, claim.step, ended);
                by_step.push(NotReached {
                    step: claim.step,
                    title: outcome.title(claim.step),
                    claims: vec![entry],
                    why,
                    waits_for,
                });
            }
        }
    }
    by_step
}

/// How each part stands after the run.
fn standings(
    parts: &[String],
    outcome: &Outcome,
    verdict: &Verdict,
    expected: Option<&[Claim]>,
) -> Vec<Standing> {
    let held: BTreeSet<(Option<String>, usize, String)> = outcome
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Check {
                step,
                part,
                claim,
                passed: true,
                ..
            } => Some((part.clone(), *step, claim_key(claim))),
            _ => None,
        })
        .collect();
    let optional = verdict
        .to_do
        .as_ref()
        .filter(|(_, optional)| *optional)
        .map(|(p, _)| p.part.as_str());
    parts
        .iter()
        .map(|part| standing(part, outcome, verdict, expected, &held, optional))
        .collect()
}

fn standing(
    part: &str,
    outcome: &Outcome,
    verdict: &Verdict,
    expected: Option<&[Claim]>,
    held: &BTreeSet<(Option<String>, usize, String)>,
    optional: Option<&str>,
) -> Standing {
    let about = |p: &Option<String>| p.as_deref() == Some(part);
    let failed: BTreeSet<String> = verdict
        .findings
        .iter()
        .filter(|f| f.kind == Kind::Claim && about(&f.part))
        .filter_map(|f| f.claim.as_deref().map(claim_key))
        .collect();
    let followed = verdict
        .findings
        .iter()
        .flat_map(|f| &f.consequences)
        .filter(|c| about(&c.part))
        .count();
    let mine = |c: &&Claim| about(&c.part);
    let met = match expected {
        Some(expected) => expected
            .iter()
            .filter(mine)
            .filter(|c| {
                let (step, key) = c.key();
                held.contains(&(c.part.clone(), step, key.clone())) && !failed.contains(&key)
            })
            .count(),
        None => held.iter().filter(|(p, ..)| about(p)).count(),
    };
    let not_reached: Vec<&NotReached> = verdict
        .not_reached
        .iter()
        .filter(|n| n.claims.iter().any(|(p, _)| about(p)))
        .collect();
    let count_in = |n: &&NotReached| n.claims.iter().filter(|(p, _)| about(p)).count();
    let waiting =
        |n: &&&NotReached| optional.is_some_and(|o| o != part && n.waits_for.as_deref() == Some(o));
    Standing {
        part: part.to_owned(),
        met,
        failed: failed.len(),
        followed,
        not_reached: not_reached.iter().map(count_in).sum(),
        wait_for_optional: not_reached.iter().filter(waiting).map(count_in).sum(),
        to_do: verdict.to_do.as_ref().is_some_and(|(p, _)| p.part == part),
        broke: verdict
            .findings
            .iter()
            .find(|f| f.kind != Kind::Claim && about(&f.part))
            .map(|f| f.kind),
        returned: outcome
            .events
            .iter()
            .any(|e| matches!(e, Event::PartReturned { part: p, .. } if p == part)),
    }
}

/// Judges one learner's run: what went wrong, each on its own, the claims not reached, and how
/// each of `parts` (the exercise's, in order) stands.
pub fn judge(outcome: &Outcome, expected: &Expected, parts: &[String]) -> Verdict {
    let mut findings = failed_claims(outcome);
    let ended = how_it_ended(outcome);
    let not_reached = expected
        .claims
        .as_deref()
        .map(|claims| not_reached(outcome, claims, ended.as_ref()))
        .unwrap_or_default();
    // A step that stopped after a claim of its own failed stopped for that claim: the claim
    // says why, and the stop is the reason its later claims did not run.
    let said = |e: &Finding| {
        e.kind == Kind::Stopped
            && findings
                .iter()
                .any(|f| f.step == e.step && f.kind == Kind::Claim)
    };
    findings.extend(ended.filter(|e| !said(e)));
    let mut verdict = Verdict {
        findings,
        not_reached,
        parts: Vec::new(),
        to_do: outcome.part_to_do(),
        finished: outcome.finished() && ended_well(outcome.ending),
    };
    verdict.parts = standings(parts, outcome, &verdict, expected.claims.as_deref());
    verdict
}

/// Where the output's pattern differs from the snapshot's, as a note beside "done".
fn difference_note(outcome: &Outcome, expected: &Expected, through_last_step: bool) -> Vec<String> {
    if expected.differs_by_design {
        return Vec::new();
    }
    // The heading of the last step the run began, as its events name it: both patterns are
    // compared up to it, when that step stopped at an optional part.
    let last_heading = outcome.events.iter().rev().find_map(|event| match event {
        Event::Step { number, title } if through_last_step => Some(heading(*number, title)),
        _ => None,
    });
    let compared = expected
        .snapshot
        .compare_through(outcome.stdout, last_heading.as_deref());
    let Comparison::Differs { first: Some(d), .. } = compared else {
        return Vec::new();
    };
    let show = snapshot::show;
    vec![
        format!(
            "yours differs from the reference here (a note, not a failure), {}:{}:",
            expected.snapshot.file(),
            d.file_line
        ),
        format!("  the reference's pattern: {}", show(&d.expected)),
        format!("  yours:                   {}", show(&d.actual)),
    ]
}

/// How an exercise stands after one run, from its verdict.
pub fn classify(outcome: &Outcome, expected: &Expected, verdict: Verdict) -> Status {
    let waits_for_optional = |n: &NotReached| match &verdict.to_do {
        Some((place, true)) => n.waits_for.as_deref() == Some(place.part.as_str()),
        _ => false,
    };
    let unreached = verdict.not_reached.iter().any(|n| !waits_for_optional(n));
    match &verdict.to_do {
        _ if !verdict.findings.is_empty() => Status::Failed(verdict),
        Some((place, false)) => Status::ToDo(place.clone()),
        _ if unreached => Status::Failed(verdict),
        Some((place, true)) => Status::Done(Done {
            optional_to_do: Some(place.clone()),
            note: difference_note(outcome, expected, true),
            ..Done::default()
        }),
        None if verdict.finished => Status::Done(Done {
            optional_to_do: None,
            note: difference_note(outcome, expected, false),
            ..Done::default()
        }),
        None => {
            // It ended well but never said it finished: say so, with its last words.
            let mut verdict = verdict;
            let step = outcome.last_step();
            let mut finding = outcome.finding(
                Kind::Exit,
                step,
                None,
                "the run exited before the lesson finished, and recorded nothing that says why"
                    .to_owned(),
            );
            let stderr: Vec<&str> = outcome.stderr.lines().collect();
            let cut = stderr.len().saturating_sub(5);
            finding.printed = stderr[cut..].iter().map(|l| (*l).to_owned()).collect();
            verdict.findings.push(finding);
            Status::Failed(verdict)
        }
    }
}

#[cfg(test)]
#[path = "judge_tests.rs"]
mod tests;
