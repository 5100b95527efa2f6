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

use anyhow::{Context, Result};
use lesson::events::Event;
use lesson::normalize::normalize;

use super::{Done, Place, Status};
use crate::run::Ending;
use crate::snapshot;

/// At most this many of a step's lines are kept beside a failure: the last, nearest it.
const SHOWN_LINES: usize = 12;

/// What a learner's run is compared with.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The snapshot's pattern.
    pub pattern: String,
    /// The snapshot file, as shown.
    pub file: String,
    /// The lines of its header, before the pattern.
    pub header: usize,
    /// This run's setup changes what the lesson shows by design (the legacy mmap layout, some
    /// settings of glibc's malloc): no note is made of a pattern that differs.
    pub differs_by_design: bool,
    /// The claims the reference's run made on this machine, which a learner's run must reach;
    /// `None` when that run could not be read.
    pub claims: Option<Vec<Claim>>,
}

impl Expected {
    /// The committed snapshot `name`, and the claims the reference's run made (`claims`).
    ///
    /// # Errors
    /// If there is no snapshot, or it cannot be read.
    pub fn snapshot(name: &str, claims: Option<Vec<Claim>>) -> Result<Expected> {
        Ok(Expected {
            pattern: snapshot::load(name)?.with_context(|| format!("no snapshot {name}"))?,
            file: snapshot::shown(&snapshot::path(name)),
            header: snapshot::header_lines(name),
            differs_by_design: snapshot::differs_by_design().is_some(),
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
    fn key(&self) -> (usize, String) {
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
    /// It panicked, crashed, timed out or exited, or a step stopped at it.
    pub broke: bool,
    /// It returned at least once.
    pub returned: bool,
}

impl Standing {
    /// Every claim about it ran and held (claims that wait only for the optional part aside).
    pub fn is_done(&self) -> bool {
        self.returned
            && !self.to_do
            && !self.broke
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

impl Outcome<'_> {
    fn title(&self, step: usize) -> Option<String> {
        self.events.iter().find_map(|e| match e {
            Event::Step { number, title } if *number == step => Some(title.clone()),
            _ => None,
        })
    }

    /// The lines step `step` printed that say what it saw, the last [`SHOWN_LINES`] of them.
    fn printed(&self, step: usize) -> Vec<String> {
        let lines: Vec<String> = self
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Line {
                    step: s,
                    text,
                    explains: false,
                } if *s == step && !text.trim().is_empty() => Some(text.trim_end().to_owned()),
                _ => None,
            })
            .collect();
        let cut = lines.len().saturating_sub(SHOWN_LINES);
        lines.into_iter().skip(cut).collect()
    }

    /// The part that was running when the run ended, and its step: called, never returned.
    fn inside_part(&self) -> Option<(usize, &str)> {
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
    fn last_step_and_part(&self) -> (usize, Option<&str>) {
        let step = self.last_step();
        let part = self.events.iter().rev().find_map(|e| match e {
            Event::PartCalled { step: s, part, .. } if *s == step => Some(part.as_str()),
            _ => None,
        });
        (step, part)
    }

    fn last_step(&self) -> usize {
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
    fn last_call(&self, step: usize, part: &str) -> Option<String> {
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
    fn fault(&self) -> Option<String> {
        let (signal, address) = self.events.iter().rev().find_map(|e| match e {
            Event::Fault { signal, address } => Some((signal.as_str(), address.as_str())),
            _ => None,
        })?;
        let addr = parse_hex(address)?;
        let mut said = format!("the {signal} struck at {address}");
        let given = self.events.iter().rev().find_map(|e| match e {
            Event::Given {
                what, start, len, ..
            } => parse_hex(start).map(|start| (what.as_str(), start, *len)),
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

    fn finished(&self) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, Event::Finished { .. }))
    }

    fn part_to_do(&self) -> Option<(Place, bool)> {
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

    fn finding(&self, kind: Kind, step: usize, part: Option<&str>, happened: String) -> Finding {
        Finding {
            kind,
            step,
            title: self.title(step),
            part: part.map(str::to_owned),
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

/// `0x…` as a number.
fn parse_hex(text: &str) -> Option<usize> {
    usize::from_str_radix(text.strip_prefix("0x")?, 16).ok()
}

/// Where `addr` lies in `map`: in a region, or in the gap between two, said by its neighbours.
fn where_in(map: &memcore::MemoryMap, addr: usize) -> String {
    if let Some(region) = map.region_of(addr) {
        return format!(
            "it lies in {region} ({:#x}-{:#x})",
            region.start, region.end
        );
    }
    let regions = map.regions();
    let below = regions.iter().rev().find(|r| r.end <= addr);
    let above = regions.iter().find(|r| r.start > addr);
    let mut said = "no mapping holds it".to_owned();
    if let Some(below) = below {
        said.push_str(&format!(
            ": it lies {} past the end of {below}",
            lesson::count(addr - below.end, "byte")
        ));
    }
    if let Some(above) = above {
        said.push_str(&format!(", below {above} at {:#x}", above.start));
    }
    said
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

/// What made the run end before the lesson did, at the part that was running: a panic, a stop,
/// a crash, a timeout or an exit. `None` when the run finished, or stopped at a part to do.
fn how_it_ended(outcome: &Outcome) -> Option<Finding> {
    let stopped = outcome.events.iter().rev().find_map(|e| match e {
        Event::Panicked {
            step,
            part,
            message,
            file,
            line,
        } => Some((
            Kind::Panic,
            *step,
            Some(part.as_str()),
            format!("it panicked at {file}:{line}: {message}"),
        )),
        Event::Stopped {
            step,
            part,
            message,
            goes_on: false,
        } => Some((Kind::Stopped, *step, part.as_deref(), message.clone())),
        _ => None,
    });
    if let Some((kind, step, part, happened)) = stopped {
        return Some(outcome.finding(kind, step, part, happened));
    }
    // A run that reached its end exits 1 when a claim failed: the claims say why.
    let finished_as_told = outcome.finished()
        && matches!(outcome.ending, Ending::Exited(s) if matches!(s.code(), Some(0 | 1)));
    if outcome.part_to_do().is_some() || finished_as_told {
        return None;
    }
    let (kind, step, part, happened) = match outcome.inside_part() {
        Some((step, part)) => {
            let (kind, happened) = ending_inside(outcome.ending);
            (kind, step, Some(part), happened)
        }
        None => {
            let (step, part) = outcome.last_step_and_part();
            let (kind, happened) = ending_after(outcome.ending, part.is_some());
            (kind, step, part, happened)
        }
    };
    let mut finding = outcome.finding(kind, step, part, happened);
    if let Some(fault) = outcome.fault() {
        finding.happened.push_str(&format!("; {fault}"));
    }
    Some(finding)
}

fn ended_well(ending: &Ending) -> bool {
    matches!(ending, Ending::Exited(status) if status.success())
}

/// What commonly makes a run time out.
pub const TIMEOUT_CAUSES: &str = "an endless loop, or a lock taken twice (a function that \
     holds the registry's lock calling another that takes it again), is the usual cause";

/// How the run ended while a part was running: it never returned.
fn ending_inside(ending: &Ending) -> (Kind, String) {
    use std::os::unix::process::ExitStatusExt;
    match ending {
        Ending::TimedOut => (
            Kind::Timeout,
            format!("it did not return within the time limit; {TIMEOUT_CAUSES}"),
        ),
        Ending::Exited(status) => match (status.signal(), status.code()) {
            (Some(libc::SIGABRT), _) => (
                Kind::Crash,
                "it aborted the whole program (abort(), or something it called did): a part \
                 must return its answer to the lesson"
                    .to_owned(),
            ),
            (Some(signal), _) => (
                Kind::Crash,
                format!(
                    "it crashed: killed by {}",
                    memcore::sys::signal_name(signal)
                ),
            ),
            (None, code) => (
                Kind::Exit,
                format!(
                    "it ended the whole program with exit status {}: a part must return its \
                     answer to the lesson, never call exit",
                    code.unwrap_or(-1)
                ),
            ),
        },
    }
}

/// How the run ended between parts, or before any: the lesson went on with what a part gave.
fn ending_after(ending: &Ending, after_a_part: bool) -> (Kind, String) {
    use std::os::unix::process::ExitStatusExt;
    let after = if after_a_part {
        ", after it returned: the lesson used what it gave"
    } else {
        ""
    };
    match ending {
        Ending::TimedOut => (
            Kind::Timeout,
            format!("the run did not finish within the time limit{after}; {TIMEOUT_CAUSES}"),
        ),
        Ending::Exited(status) => match status.signal() {
            Some(signal) => (
                Kind::Crash,
                format!(
                    "the run crashed: killed by {}{after}",
                    memcore::sys::signal_name(signal)
                ),
            ),
            None => (
                Kind::Exit,
                format!(
                    "the run exited with status {} before the lesson finished{after}",
                    status.code().unwrap_or(-1)
                ),
            ),
        },
    }
}

/// Why the claims of `step` did not run.
fn why_not_reached(outcome: &Outcome, step: usize, ended: Option<&Finding>) -> String {
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
        return reason;
    }
    let last = outcome.last_step();
    if step < last || (step == last && outcome.finished()) {
        return format!("step {step} ran, but did not check them");
    }
    let cause = match (outcome.part_to_do(), ended) {
        (Some((place, _)), _) => format!("`{}` is still to do", place.part),
        (None, Some(f)) => match (&f.part, f.kind) {
            (Some(p), Kind::Panic) => format!("your `{p}` panicked"),
            (Some(p), Kind::Crash) => format!("the run crashed, in or after your `{p}`"),
            (Some(p), Kind::Timeout) => format!("the run timed out, in or after your `{p}`"),
            (Some(p), Kind::Exit) => format!("the run exited, in or after your `{p}`"),
            (Some(p), _) => format!("the lesson could not go on after your `{p}`"),
            (None, _) => "the lesson could not go on".to_owned(),
        },
        (None, None) => "the run ended there".to_owned(),
    };
    format!("the run stopped in step {last}: {cause}")
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
            None => by_step.push(NotReached {
                step: claim.step,
                title: outcome.title(claim.step),
                claims: vec![entry],
                why: why_not_reached(outcome, claim.step, ended),
            }),
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
    let waiting = |n: &&&NotReached| {
        optional.is_some_and(|o| o != part && n.why.contains(&format!("`{o}` is still to do")))
    };
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
            .any(|f| f.kind != Kind::Claim && about(&f.part)),
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
    let pattern = normalize(outcome.stdout);
    let cut = |text: &str| -> String {
        let lines: Vec<&str> = text.lines().collect();
        let end = if through_last_step {
            lines
                .iter()
                .rposition(|l| l.starts_with("Step "))
                .map_or(lines.len(), |i| i + 1)
        } else {
            lines.len()
        };
        lines[..end].join("\n")
    };
    let (want, got) = (cut(&expected.pattern), cut(&pattern));
    let Some(d) = snapshot::first_difference(0, &want, &got, outcome.stdout) else {
        return Vec::new();
    };
    let show = snapshot::show;
    vec![
        format!(
            "yours differs from the reference here (a note, not a failure), {}:{}:",
            expected.file,
            d.file_line + expected.header
        ),
        format!("  the reference's pattern: {}", show(&d.expected)),
        format!("  yours:                   {}", show(&d.actual)),
    ]
}

/// How an exercise stands after one run, from its verdict.
pub fn classify(outcome: &Outcome, expected: &Expected, verdict: Verdict) -> Status {
    let waits_for_optional = |n: &NotReached| match &verdict.to_do {
        Some((place, true)) => n.why.contains(&format!("`{}` is still to do", place.part)),
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
