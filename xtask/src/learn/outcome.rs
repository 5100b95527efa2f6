//! What a learner's run left behind (its output, how it ended, the events it recorded), read
//! as the judge asks it (which step, which part, which call, where a fault struck), and what
//! the run is held to: the reference's snapshot and claims.

use anyhow::Result;
use lesson::events::{Event, LineKind};

use super::Place;
use super::ending::where_in;
use super::verdict::{Claim, Finding, Kind};
use crate::run::Ending;
use crate::snapshot::Snapshot;

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
