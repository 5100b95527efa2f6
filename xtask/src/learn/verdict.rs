//! What the judge finds in a learner's run, as data: each failure on its own, the claims not
//! reached and why, and how each part stands. `judge` makes these records from a run's events;
//! `render` words them.

use std::collections::BTreeSet;

use lesson::events::Event;
use lesson::normalize::normalize;

use super::Place;

/// A claim a run made: its step, the part it is about, and its words.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Claim {
    /// The step, from 1.
    pub step: usize,
    /// The part it is about, if any.
    pub part: Option<String>,
    /// The claim.
    pub claim: String,
}

/// What makes two claims the same claim: its words, with what the lesson marks as varying
/// (`~`: a size that follows the learner's threshold, say) masked as the patterns mask it.
pub fn claim_key(claim: &str) -> String {
    normalize(claim).trim_end().to_owned()
}

impl Claim {
    /// [`claim_key`] of its words, with its step.
    pub fn key(&self) -> (usize, String) {
        (self.step, claim_key(&self.claim))
    }
}

/// Every claim a run made, once each, in order.
pub fn claims_of(events: &[Event]) -> Vec<Claim> {
    let mut seen = BTreeSet::new();
    events
        .iter()
        .filter_map(|e| match e {
            Event::Check {
                step, part, claim, ..
            } => Some(Claim {
                step: *step,
                part: part.clone(),
                claim: claim.clone(),
            }),
            _ => None,
        })
        .filter(|c| seen.insert(c.clone()))
        .collect()
}

/// What kind of thing went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A claim of the lesson did not hold.
    Claim,
    /// A step could not go on (a part refused what it must give, say), or the run stopped.
    Stopped,
    /// A part panicked.
    Panic,
    /// The run died of a signal.
    Crash,
    /// The run did not finish in time.
    Timeout,
    /// The run exited before the lesson finished.
    Exit,
}

/// A failed claim that the driver knows follows from another, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consequence {
    /// Its step.
    pub step: usize,
    /// The part it is about.
    pub part: Option<String>,
    /// The claim.
    pub claim: String,
    /// What happened instead.
    pub happened: String,
    /// How it follows from the claim it hangs on.
    pub how: String,
}

/// One thing that went wrong, on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind of thing.
    pub kind: Kind,
    /// The step it happened in (0: before the first).
    pub step: usize,
    /// The step's title, if the step began.
    pub title: Option<String>,
    /// The learner's part it is at, if the run says.
    pub part: Option<String>,
    /// The run ended while that part was running: it never returned.
    pub during_part: bool,
    /// Where that part is in the learner's file, `FILE:LINE`.
    pub at: Option<String>,
    /// The claim that did not hold, for [`Kind::Claim`].
    pub claim: Option<String>,
    /// What happened instead, in words.
    pub happened: String,
    /// The call that showed it, in the learner's terms (`mem_chunk(131071)`), if known.
    pub call: Option<String>,
    /// Other steps where the same claim failed again.
    pub again_in: Vec<usize>,
    /// The failed claims the driver knows follow from this one.
    pub consequences: Vec<Consequence>,
    /// The last lines the step printed, for context.
    pub printed: Vec<String>,
}

/// Claims of the lesson that did not run, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReached {
    /// The step they belong to.
    pub step: usize,
    /// Its title.
    pub title: Option<String>,
    /// The claims, with the part each is about.
    pub claims: Vec<(Option<String>, String)>,
    /// Why they did not run.
    pub why: String,
    /// The part still `todo!()` where the run stopped, when that is why.
    pub waits_for: Option<String>,
}

/// How one of the learner's parts stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    /// The part.
    pub part: String,
    /// Claims about it that ran and held.
    pub met: usize,
    /// Claims about it that failed, each counted once.
    pub failed: usize,
    /// Claims about it that failed as the consequence of another's failure.
    pub followed: usize,
    /// Claims about it that did not run.
    pub not_reached: usize,
    /// Of those, the ones that wait only for the optional part still to do.
    pub wait_for_optional: usize,
    /// It is still `todo!()`.
    pub to_do: bool,
    /// How a step or the run ended at it, when one did: it panicked, crashed, timed out or
    /// exited, or a step could not go on there.
    pub broke: Option<Kind>,
    /// It returned at least once.
    pub returned: bool,
}

impl Standing {
    /// Every claim about it ran and held (claims that wait only for the optional part aside).
    pub fn is_done(&self) -> bool {
        self.returned
            && !self.to_do
            && self.broke.is_none()
            && self.failed == 0
            && self.followed == 0
            && self.not_reached == self.wait_for_optional
    }
}

/// Everything the judge found in one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// What went wrong, each on its own, in the order it happened.
    pub findings: Vec<Finding>,
    /// The claims that did not run, by step.
    pub not_reached: Vec<NotReached>,
    /// How each part stands, in the lesson's order.
    pub parts: Vec<Standing>,
    /// The part still `todo!()` where the run stopped, and whether it is optional.
    pub to_do: Option<(Place, bool)>,
    /// The run reached its end and exited 0.
    pub finished: bool,
}
