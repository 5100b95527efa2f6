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

use lesson::events::{Event, heading};

use super::ending::{ended_well, how_it_ended};
use super::outcome::{Expected, Outcome};
use super::verdict::{Claim, Consequence, Finding, Kind, NotReached, Standing, Verdict};
use super::verdict::{claim_key, claims_of};
use super::{Done, Status};
use crate::snapshot::{self, Comparison};

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
                // The claim's own call, or none: a claim made after several calls of its part
                // (a loop) names none, and the part's last call may not be the one that showed it.
                finding.call = call.clone();
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
