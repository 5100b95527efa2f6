//! How far a learner has come in an exercise: which of its parts are done (called, returned,
//! and no claim about them failed), and which were done for the first time in this run, with
//! the claims they now meet. Read from the run's events, and from the note the run before left.

use std::collections::BTreeSet;

use lesson::events::Event;

use super::Workspace;
use crate::lessons::Exercise;

/// An exercise's progress after one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// How many parts are done.
    pub done: usize,
    /// How many parts the exercise has.
    pub of: usize,
    /// The parts done for the first time, each with the claims about it that held.
    pub just_finished: Vec<(String, Vec<String>)>,
}

/// The parts done in a run: each returned at least once, no claim about it failed, and it is
/// not the part still to do.
pub fn done_parts(parts: &[String], events: &[Event]) -> BTreeSet<String> {
    let returned = |p: &str| {
        events
            .iter()
            .any(|e| matches!(e, Event::PartReturned { part, .. } if part == p))
    };
    let failed = |p: &str| {
        events.iter().any(|e| {
            matches!(e, Event::Check { part: Some(part), passed: false, .. } if part == p)
                || matches!(e, Event::ToDo { part, .. } | Event::Panicked { part, .. } if part == p)
        })
    };
    parts
        .iter()
        .filter(|p| returned(p) && !failed(p))
        .cloned()
        .collect()
}

/// The claims about `part` that held in a run.
fn claims_held(part: &str, events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Check {
                part: Some(p),
                claim,
                passed: true,
                ..
            } if p == part => Some(claim.clone()),
            _ => None,
        })
        .collect()
}

/// The progress of `exercise` after a run with `events`, against the parts done before (the
/// note in `target/learn/`), which it then updates.
pub fn progress(
    workspace: &Workspace,
    exercise: &Exercise,
    parts: &[String],
    events: &[Event],
) -> Progress {
    let note = workspace
        .target
        .join("learn")
        .join(format!("{}.done-parts", &exercise.name));
    let before: BTreeSet<String> = std::fs::read_to_string(&note)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    let done = done_parts(parts, events);
    let just_finished = parts
        .iter()
        .filter(|p| done.contains(*p) && !before.contains(*p))
        .map(|p| (p.clone(), claims_held(p, events)))
        .collect();
    // A note that cannot be written only costs the next run its "just finished".
    let _ = std::fs::write(&note, done.iter().cloned().collect::<Vec<_>>().join("\n"));
    Progress {
        done: done.len(),
        of: parts.len(),
        just_finished,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_is_done_when_it_returned_and_no_claim_about_it_failed() {
        let parts = ["a", "b", "c"].map(str::to_owned);
        let returned = |p: &str| Event::PartReturned {
            step: 1,
            part: p.to_owned(),
        };
        let check = |p: &str, passed| Event::Check {
            step: 1,
            part: Some(p.to_owned()),
            claim: format!("{p} holds"),
            passed,
            detail: None,
        };
        let events = [
            returned("a"),
            check("a", true),
            returned("b"),
            check("b", false),
            Event::ToDo {
                step: 2,
                part: "c".to_owned(),
                optional: false,
                file: "f".to_owned(),
                line: 1,
            },
        ];
        let done = done_parts(&parts, &events);
        assert_eq!(done.into_iter().collect::<Vec<_>>(), ["a"]);
        assert_eq!(claims_held("a", &events), ["a holds"]);
    }
}
