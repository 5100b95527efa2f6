//! How an exercise stands, as data: done, a part still to do, not compiling, or failed with
//! the judge's verdict; and each of its parts' standing.

use super::{Standing, Verdict};

/// Where a part still to do is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The part's name.
    pub part: String,
    /// The file, relative to the workspace root.
    pub file: String,
    /// The line of its `todo!()`.
    pub line: u32,
}

/// An exercise whose every claim held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Done {
    /// An optional part still `todo!()`, if any.
    pub optional_to_do: Option<Place>,
    /// Where the output differs from the reference's, as a note (a choice the lesson leaves to
    /// the learner shows here); empty if it does not.
    pub note: Vec<String>,
    /// The compiler's warnings on the learner's file: the first whole, then how many more.
    pub warnings: Vec<String>,
    /// The file still starts with the template's `#![allow(…)]`, which hides warnings.
    pub allow_header_left: bool,
}

/// How an exercise stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Every required part holds, every claim held.
    Done(Done),
    /// A part is still `todo!()`, and every claim before it held.
    ToDo(Place),
    /// The learner's file does not compile: the compiler's first error, as rustc renders it.
    DoesNotCompile(Vec<String>),
    /// A claim failed, a part panicked, the run crashed or timed out, or claims the lesson
    /// makes were not reached.
    Failed(Verdict),
}

impl Status {
    /// Whether the exercise counts as done.
    pub fn is_done(&self) -> bool {
        matches!(self, Status::Done(_))
    }

    /// The learner's part the first failure is at, if it failed there.
    pub fn failed_part(&self) -> Option<&str> {
        self.failure().map(|(part, _)| part)
    }

    /// The part that failed, as [`Status::failed_part`], with the words of its failure: the
    /// claim that did not hold and what happened instead.
    pub fn failure(&self) -> Option<(&str, String)> {
        match self {
            Status::Failed(verdict) => verdict.findings.iter().find_map(|f| {
                let part = f.part.as_deref()?;
                let claim = f.claim.as_deref().unwrap_or("");
                Some((part, format!("{claim}\n{}", f.happened)))
            }),
            _ => None,
        }
    }
}

/// One exercise, judged: how it stands, and how each of its parts does.
#[derive(Debug, Clone)]
pub struct Judged {
    /// How it stands.
    pub status: Status,
    /// Each part's standing, in the lesson's order; empty when the file does not compile.
    pub parts: Vec<Standing>,
}
