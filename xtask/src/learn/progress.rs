//! How far a learner has come in an exercise: which of its parts are done (every claim the
//! lesson makes about it ran and held), and which were done for the first time in this run,
//! with the claims they now meet. Read from the judge's standings and the run's events, and
//! from the note the run before left.

use std::collections::BTreeSet;

use lesson::events::Event;

use super::{Standing, Workspace};
use crate::catalogue::Exercise;

/// An exercise's progress after one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// How each part stands, in the lesson's order.
    pub parts: Vec<Standing>,
    /// The parts done for the first time, each with the claims about it that held.
    pub just_finished: Vec<(String, Vec<String>)>,
}

impl Progress {
    /// How many parts are done.
    pub fn done(&self) -> usize {
        self.parts.iter().filter(|p| p.is_done()).count()
    }
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

/// The progress of `exercise` after a run with `events`, whose parts stand as `parts`,
/// against the parts done before (the note in `target/learn/`), which it then updates.
pub fn progress(
    workspace: &Workspace,
    exercise: &Exercise,
    parts: Vec<Standing>,
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
    let done: Vec<&str> = parts
        .iter()
        .filter(|p| p.is_done())
        .map(|p| p.part.as_str())
        .collect();
    let just_finished = done
        .iter()
        .filter(|p| !before.contains(**p))
        .map(|p| ((*p).to_owned(), claims_held(p, events)))
        .collect();
    // A note that cannot be written only costs the next run its "just finished".
    let _ = std::fs::write(&note, done.join("\n"));
    Progress {
        parts,
        just_finished,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_is_done_only_when_every_claim_about_it_ran_and_held() {
        let done = Standing {
            part: "a".to_owned(),
            met: 3,
            returned: true,
            ..Standing::default()
        };
        assert!(done.is_done());
        let not_reached = Standing {
            not_reached: 2,
            ..done.clone()
        };
        assert!(!not_reached.is_done(), "two of its claims never ran");
        let waiting = Standing {
            not_reached: 2,
            wait_for_optional: 2,
            ..done.clone()
        };
        assert!(waiting.is_done(), "they wait only for the optional part");
        let followed = Standing {
            followed: 1,
            ..done.clone()
        };
        assert!(
            !followed.is_done(),
            "a claim about it failed, though because of another"
        );
        let never_returned = Standing {
            returned: false,
            ..done
        };
        assert!(!never_returned.is_done());
        let events = [Event::Check {
            step: 1,
            part: Some("a".to_owned()),
            claim: "a holds".to_owned(),
            passed: true,
            detail: None,
            call: None,
            because: None,
        }];
        assert_eq!(claims_held("a", &events), ["a holds"]);
    }
}
