//! A claim of the lesson, said with what the judge needs to put it at the right door: the part
//! it is about, the call that showed it, and the earlier claim it follows from. And the steps
//! around claims: one that stops early lets the run go on, one that needs what an earlier step
//! did not give says so and does not run.

use crate::events::{Because, Event};
use crate::part_call::PartError;
use crate::runner::Lesson;

/// The calls of each part in the current step, kept so that a claim can name the call that
/// showed it: the part's one call since the claim before, or the same call that claim named.
/// A claim made after several calls (a loop) names none, unless the driver says which.
#[derive(Debug, Default)]
pub(crate) struct Calls(Vec<PartCalls>);

#[derive(Debug)]
struct PartCalls {
    part: &'static str,
    last: Option<String>,
    since_claim: usize,
    several: bool,
}

impl Calls {
    fn of(&mut self, part: &'static str) -> &mut PartCalls {
        if let Some(i) = self.0.iter().position(|c| c.part == part) {
            return &mut self.0[i];
        }
        self.0.push(PartCalls {
            part,
            last: None,
            since_claim: 0,
            several: false,
        });
        let last = self.0.len() - 1;
        &mut self.0[last]
    }

    /// `part` was called, as `call` if the driver said it.
    pub(crate) fn called(&mut self, part: &'static str, call: Option<String>) {
        let calls = self.of(part);
        calls.last = call;
        calls.since_claim += 1;
    }

    /// A claim about `part` is made: the call it names, if one can be told.
    pub(crate) fn claimed(&mut self, part: &'static str) -> Option<String> {
        let calls = self.of(part);
        match calls.since_claim {
            0 => {}
            1 => calls.several = false,
            _ => calls.several = true,
        }
        calls.since_claim = 0;
        if calls.several {
            None
        } else {
            calls.last.clone()
        }
    }

    /// A new step begins.
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }
}

/// A claim about to be checked: see [`Lesson::claim`].
#[derive(Debug)]
#[must_use = "a claim is checked only by `holds`"]
pub struct Claim<'a> {
    lesson: &'a mut Lesson,
    claim: String,
    call: Option<String>,
    because: Option<Because>,
}

impl Lesson {
    /// A claim of the lesson, about the last part the step called; [`Claim::holds`] checks it.
    pub fn claim(&mut self, claim: impl Into<String>) -> Claim<'_> {
        Claim {
            lesson: self,
            claim: claim.into(),
            call: None,
            because: None,
        }
    }

    /// Runs one step, `body`. When the step cannot go on (its body returns an error that is not
    /// a part's), it says why and the run goes on: `None` then tells the steps that need its
    /// result to say so ([`Lesson::needs`]). A part still `todo!()`, or one that panicked,
    /// still ends the run: what a panic left behind in the learner's state is unknown.
    ///
    /// # Errors
    /// [`PartError::ToDo`] or [`PartError::Panicked`], from a part the step called.
    pub fn attempt<T>(
        &mut self,
        body: impl FnOnce(&mut Lesson) -> anyhow::Result<T>,
    ) -> anyhow::Result<Option<T>> {
        match body(self) {
            Ok(value) => Ok(Some(value)),
            Err(error) if error.downcast_ref::<PartError>().is_some() => Err(error),
            Err(error) => {
                self.stopped.set(self.stopped.get() + 1);
                self.record(Event::Stopped {
                    step: self.step_number(),
                    part: self.last_part.get().map(str::to_owned),
                    message: format!("{error:#}"),
                    goes_on: true,
                });
                Ok(None)
            }
        }
    }

    /// What the current step needs from an earlier one, `input`, if that step gave it. When it
    /// did not, says that this step does not run, for want of `what` (`the memory request gave
    /// in step 2`), and returns `None`.
    pub fn needs<T>(&mut self, input: Option<T>, what: &str) -> Option<T> {
        if input.is_none() {
            self.stopped.set(self.stopped.get() + 1);
            self.record(Event::NotRun {
                step: self.step_number(),
                needs: what.to_owned(),
            });
        }
        input
    }
}

impl Claim<'_> {
    /// The claim is about `part`, though another part was called after it (to read the
    /// registry, say). Later claims of the step are about `part` too, until another is called.
    pub fn about(self, part: &'static str) -> Self {
        self.lesson.last_part.set(Some(part));
        self
    }

    /// The call that shows the claim, in the learner's terms (`mem_chunk(131071)`), when it is
    /// not the last call of the part ([`Lesson::part_call`]).
    pub fn call(mut self, call: impl Into<String>) -> Self {
        self.call = Some(call.into());
        self
    }

    /// This claim, failing, follows from the earlier claim `claim` failing, and `how`.
    pub fn because(mut self, claim: impl Into<String>, how: impl Into<String>) -> Self {
        self.because = Some(Because {
            claim: claim.into(),
            how: how.into(),
        });
        self
    }

    /// Checks the claim and records the result; `detail` is the evidence, printed when it does
    /// not hold. Returns `passed`.
    pub fn holds(self, passed: bool, detail: impl Into<String>) -> bool {
        let Claim {
            lesson,
            claim,
            call,
            because,
        } = self;
        let part = lesson.last_part.get();
        let told = part.and_then(|part| lesson.calls.borrow_mut().claimed(part));
        let call = call.or(told);
        lesson.ensure_step();
        lesson.record(Event::Check {
            step: lesson.step_number(),
            part: part.map(str::to_owned),
            claim,
            passed,
            detail: (!passed).then(|| detail.into()),
            call: call.filter(|_| !passed),
            because: because.filter(|_| !passed),
        });
        passed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_names_the_one_call_since_the_last_claim_and_none_after_a_loop() {
        let mut calls = Calls::default();
        calls.called("request", Some("request(10000)".to_owned()));
        assert_eq!(calls.claimed("request").as_deref(), Some("request(10000)"));
        // A second claim about the same call names it too.
        assert_eq!(calls.claimed("request").as_deref(), Some("request(10000)"));
        // After a loop of calls, no claim can tell which call showed it.
        calls.called("find_chunk", Some("find_chunk(0x10)".to_owned()));
        calls.called("find_chunk", Some("find_chunk(0x20)".to_owned()));
        assert_eq!(calls.claimed("find_chunk"), None);
        assert_eq!(calls.claimed("find_chunk"), None);
        // One call again, and it can.
        calls.called("find_chunk", Some("find_chunk(0x30)".to_owned()));
        assert_eq!(
            calls.claimed("find_chunk").as_deref(),
            Some("find_chunk(0x30)")
        );
        // A part the driver called without saying how names nothing.
        calls.called("write", None);
        assert_eq!(calls.claimed("write"), None);
        calls.clear();
        assert_eq!(
            calls.claimed("request"),
            None,
            "a new step forgets the calls"
        );
    }
}
