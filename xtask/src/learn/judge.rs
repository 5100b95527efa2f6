//! How one learner's run stands: done, to do (and where), or failed (and why), read from the
//! events the run recorded (`lesson::events`), never from the sentences it printed for people.
//!
//! The claims judge. A run whose every claim held is done. Where its address pattern still
//! differs from the reference's, that is a note beside "done", not a failure: the lesson leaves
//! some choices to the learner, and the claims are what the lesson asks.
//! A failed claim is always reported, even when a later part is still `todo!()`.

use anyhow::{Context, Result};
use lesson::events::Event;
use lesson::normalize::normalize;

use super::{Done, Failure, Place, Status};
use crate::run::Ending;
use crate::snapshot;

/// At most this many of a step's lines are shown beside a failure: the last, nearest it.
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
}

impl Expected {
    /// The committed snapshot `name`.
    ///
    /// # Errors
    /// If there is none, or it cannot be read.
    pub fn snapshot(name: &str) -> Result<Expected> {
        Ok(Expected {
            pattern: snapshot::load(name)?.with_context(|| format!("no snapshot {name}"))?,
            file: snapshot::shown(&snapshot::path(name)),
            header: snapshot::header_lines(name),
            differs_by_design: snapshot::differs_by_design().is_some(),
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
    /// `` `part` (FILE:LINE) ``, the line being that of `fn part(`.
    fn at(&self, part: &str) -> String {
        let signature = format!("fn {part}(");
        let line = self
            .text
            .lines()
            .position(|l| l.contains(&signature) && !l.trim_start().starts_with("//"));
        match line {
            Some(line) => format!("your `{part}` ({}:{})", self.path, line + 1),
            None => format!("your `{part}` ({})", self.path),
        }
    }
}

/// What one learner's run left behind.
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
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
    fn title(&self, step: usize) -> Option<&str> {
        self.events.iter().find_map(|e| match e {
            Event::Step { number, title } if *number == step => Some(title.as_str()),
            _ => None,
        })
    }

    /// `step N (title)`.
    fn step(&self, step: usize) -> String {
        match self.title(step) {
            Some(title) => format!("step {step} ({title})"),
            None => "before the first step".to_owned(),
        }
    }

    /// The lines step `step` printed, indented, for a failure to show beside it.
    fn printed(&self, step: usize) -> Vec<String> {
        let lines = self.events.iter().filter_map(|e| match e {
            // The failed claim is said above; the heading is in the first line.
            Event::Line {
                step: s,
                text,
                explains: false,
            } if *s == step
                && !text.trim().is_empty()
                && !text.trim_start().starts_with("[FAILED]")
                && !text.starts_with("Step ") =>
            {
                Some(format!("  | {}", text.trim_end()))
            }
            _ => None,
        });
        let lines: Vec<String> = lines.collect();
        if lines.is_empty() {
            return Vec::new();
        }
        let cut = lines.len().saturating_sub(SHOWN_LINES);
        let heading = match cut {
            0 => format!("what {} printed:", self.step(step)),
            _ => format!(
                "what {} printed, its last {SHOWN_LINES} lines (`cargo xtask run` shows all):",
                self.step(step)
            ),
        };
        std::iter::once(heading)
            .chain(lines.into_iter().skip(cut))
            .collect()
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
            Event::PartCalled { step, part } => Some((*step, part.as_str())),
            _ => None,
        }
    }

    /// The last step the run began, and the last part that step called.
    fn last_step_and_part(&self) -> (usize, Option<&str>) {
        let step = self.events.iter().rev().find_map(|e| match e {
            Event::Step { number, .. } => Some(*number),
            _ => None,
        });
        let step = step.unwrap_or(0);
        let part = self.events.iter().rev().find_map(|e| match e {
            Event::PartCalled { step: s, part } if *s == step => Some(part.as_str()),
            _ => None,
        });
        (step, part)
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

    fn exit_code(&self) -> Option<i32> {
        match self.ending {
            Ending::Exited(status) => status.code(),
            Ending::TimedOut => None,
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

/// The first claim that failed, said once: the step and the part, the claim, what happened
/// instead, the step's own lines, and the claims that failed after it (often its consequences).
fn failed_claim(outcome: &Outcome, file: &LearnerFile) -> Option<Failure> {
    let mut failed = outcome.events.iter().filter_map(|e| match e {
        Event::Check {
            step,
            part,
            claim,
            passed: false,
            detail,
        } => Some((*step, part.as_deref(), claim.as_str(), detail.as_deref())),
        _ => None,
    });
    let (step, part, claim, detail) = failed.next()?;
    let mut lines = vec![match part {
        Some(part) => format!("in {}, after {}:", outcome.step(step), file.at(part)),
        None => format!("in {}:", outcome.step(step)),
    }];
    lines.push(format!("  the lesson claims: {claim}"));
    lines.push(format!("  but: {}", detail.unwrap_or("it did not hold")));
    lines.extend(outcome.printed(step));
    let later: Vec<&str> = failed.map(|(_, _, claim, _)| claim).collect();
    if !later.is_empty() {
        lines.push(format!(
            "after it, {} more failed, perhaps as its consequence: {}",
            later.len(),
            later.join("; ")
        ));
    }
    Some(Failure {
        part: part.map(str::to_owned),
        lines,
    })
}

/// What commonly makes a run time out.
const TIMEOUT_CAUSES: &str = "an endless loop, or a lock taken twice (a function that holds \
     the registry's lock calling another that takes it again), is the usual cause";

/// A run that crashed, timed out or stopped, said at the part that was running.
fn ended_early(outcome: &Outcome, file: &LearnerFile) -> Option<Failure> {
    let stopped = outcome.events.iter().rev().find_map(|e| match e {
        Event::Panicked {
            step,
            part,
            message,
            file: at,
            line,
        } => Some((
            *step,
            Some(part.as_str()),
            format!("{} panicked at {at}:{line}: {message}", file.at(part)),
        )),
        Event::Stopped {
            step,
            part,
            message,
        } => Some((
            *step,
            part.as_deref(),
            match part {
                Some(part) => format!("after {}, the lesson stopped: {message}", file.at(part)),
                None => format!("the lesson stopped: {message}"),
            },
        )),
        _ => None,
    });
    let (step, part, what) = match (stopped, crate::run::describe(outcome.ending)) {
        (Some(stopped), _) => stopped,
        (None, None) => return None,
        (None, Some(ending)) => {
            let cause = matches!(outcome.ending, Ending::TimedOut)
                .then(|| format!("; {TIMEOUT_CAUSES}"))
                .unwrap_or_default();
            match outcome.inside_part() {
                Some((step, part)) => (
                    step,
                    Some(part),
                    format!("it {ending} inside {}{cause}", file.at(part)),
                ),
                None => {
                    let (step, part) = outcome.last_step_and_part();
                    let after = part.map_or(String::new(), |p| {
                        format!(
                            ", after {} returned: the lesson used what it gave",
                            file.at(p)
                        )
                    });
                    (step, part, format!("it {ending}{after}{cause}"))
                }
            }
        }
    };
    let mut lines = vec![format!("in {}: {what}", outcome.step(step))];
    lines.extend(outcome.fault());
    lines.extend(outcome.printed(step));
    Some(Failure {
        part: part.map(str::to_owned),
        lines,
    })
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

/// Judges one learner's run.
pub fn classify(outcome: &Outcome, expected: &Expected, file: &LearnerFile) -> Status {
    if let Some(failure) = failed_claim(outcome, file) {
        return Status::Failed(failure);
    }
    let to_do = outcome.events.iter().rev().find_map(|e| match e {
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
    });
    let finished = outcome
        .events
        .iter()
        .any(|e| matches!(e, Event::Finished { .. }));
    match to_do {
        Some((place, false)) => return Status::ToDo(place),
        Some((place, true)) => {
            return Status::Done(Done {
                optional_to_do: Some(place),
                note: difference_note(outcome, expected, true),
                ..Done::default()
            });
        }
        None if finished && outcome.exit_code() == Some(0) => {
            return Status::Done(Done {
                optional_to_do: None,
                note: difference_note(outcome, expected, false),
                ..Done::default()
            });
        }
        None => {}
    }
    if let Some(failure) = ended_early(outcome, file) {
        return Status::Failed(failure);
    }
    let stderr: Vec<String> = outcome
        .stderr
        .lines()
        .rev()
        .take(5)
        .map(str::to_owned)
        .collect();
    let mut lines = vec![format!(
        "it exited with {:?} and recorded nothing that says why; its last words on stderr:",
        outcome.exit_code()
    )];
    lines.extend(stderr.into_iter().rev().map(|l| format!("  {l}")));
    Status::Failed(Failure { part: None, lines })
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    use super::*;

    const FILE: LearnerFile = LearnerFile {
        path: "learn/parts.rs",
        text: "//! mine\n\npub fn current_break() -> usize {\n    0\n}\n\npub unsafe fn write(p: *mut u8) {\n}\n",
    };

    fn expect(pattern: &str) -> Expected {
        Expected {
            pattern: pattern.to_owned(),
            file: "x.snap".to_owned(),
            header: 4,
            differs_by_design: false,
        }
    }

    fn exited(code: i32) -> Ending {
        Ending::Exited(ExitStatus::from_raw(code << 8))
    }

    fn step(number: usize, title: &str) -> Event {
        Event::Step {
            number,
            title: title.to_owned(),
        }
    }

    fn line(step: usize, text: &str) -> Event {
        Event::Line {
            step,
            text: text.to_owned(),
            explains: false,
        }
    }

    fn called(step: usize, part: &str) -> Event {
        Event::PartCalled {
            step,
            part: part.to_owned(),
        }
    }

    fn returned(step: usize, part: &str) -> Event {
        Event::PartReturned {
            step,
            part: part.to_owned(),
        }
    }

    fn check(step: usize, part: &str, claim: &str, detail: Option<&str>) -> Event {
        Event::Check {
            step,
            part: Some(part.to_owned()),
            claim: claim.to_owned(),
            passed: detail.is_none(),
            detail: detail.map(str::to_owned),
        }
    }

    fn to_do(step: usize, part: &str, optional: bool) -> Event {
        Event::ToDo {
            step,
            part: part.to_owned(),
            optional,
            file: "learn/parts.rs".to_owned(),
            line: 9,
        }
    }

    const FINISHED: Event = Event::Finished {
        passed: 1,
        failed: 0,
    };

    fn judge(stdout: &str, events: &[Event], ending: &Ending, expected: &Expected) -> Status {
        let outcome = Outcome {
            stdout,
            stderr: "",
            events,
            ending,
            fault_maps: None,
        };
        classify(&outcome, expected, &FILE)
    }

    #[test]
    fn every_claim_held_is_done_and_a_different_pattern_is_only_a_note() {
        let expected = &expect("Step 1. A\n  a <A1>\n  [ok] holds\n");
        let events = [
            step(1, "A"),
            called(1, "current_break"),
            returned(1, "current_break"),
            check(1, "current_break", "holds", None),
            FINISHED,
        ];
        let same = "Step 1. A\n  a 0x10\n  [ok] holds\n";
        let Status::Done(done) = judge(same, &events, &exited(0), expected) else {
            panic!("every claim held");
        };
        assert!(done.note.is_empty(), "{done:?}");
        let other = "Step 1. A\n  b 0x10\n  [ok] holds\n";
        let Status::Done(done) = judge(other, &events, &exited(0), expected) else {
            panic!("a different pattern is not a failure");
        };
        assert!(
            done.note[0].contains("a note, not a failure), x.snap:6:"),
            "{done:?}"
        );
        assert!(done.note[2].contains("\"  b <A1>\""), "{done:?}");
        // Exit 0 without the end recorded is not done: the run never got there.
        let cut_short = &events[..4];
        assert!(matches!(
            judge(same, cut_short, &exited(0), expected),
            Status::Failed(_)
        ));
    }

    #[test]
    fn a_failed_claim_names_its_step_and_part_once_and_shows_the_step() {
        let expected = &expect("");
        let events = [
            step(1, "A"),
            step(2, "Write"),
            Event::Line {
                step: 2,
                text: "  We write a pattern.".to_owned(),
                explains: true,
            },
            line(2, "  bytes written: 10"),
            called(2, "write"),
            returned(2, "write"),
            check(
                2,
                "write",
                "all bytes hold the pattern",
                Some("1 byte does not"),
            ),
            check(2, "write", "it reads back", Some("no")),
            to_do(3, "give_back", false),
        ];
        let Status::Failed(failure) = judge("", &events, &exited(1), expected) else {
            panic!("a failed claim before a todo!() is a failure");
        };
        assert_eq!(failure.part.as_deref(), Some("write"));
        assert_eq!(
            failure.lines[..5],
            [
                "in step 2 (Write), after your `write` (learn/parts.rs:7):",
                "  the lesson claims: all bytes hold the pattern",
                "  but: 1 byte does not",
                "what step 2 (Write) printed:",
                "  |   bytes written: 10",
            ]
        );
        assert!(
            failure.lines[5].contains("1 more failed")
                && failure.lines[5].contains("it reads back")
        );
    }

    #[test]
    fn a_todo_is_to_do_and_an_optional_one_is_done() {
        let expected = &expect("Step 1. A\n  [ok] a\n\nStep 2. Optional\n  [ok] b\n");
        let events = [
            step(1, "A"),
            check(1, "current_break", "a", None),
            step(2, "Optional"),
            to_do(2, "release_chunk", true),
        ];
        let stdout = "Step 1. A\n  [ok] a\n\nStep 2. Optional\n";
        let status = judge(stdout, &events, &exited(4), expected);
        assert!(
            matches!(&status, Status::Done(d) if d.optional_to_do.as_ref().is_some_and(|p| p.part == "release_chunk") && d.note.is_empty()),
            "{status:?}"
        );
        let required = [step(1, "A"), to_do(1, "current_break", false)];
        let status = judge("Step 1. A\n", &required, &exited(3), expected);
        assert!(
            matches!(&status, Status::ToDo(p) if p.part == "current_break" && p.line == 9),
            "{status:?}"
        );
    }

    #[test]
    fn a_fault_is_said_against_the_memory_given_and_the_maps() {
        let events = [
            step(3, "Write"),
            Event::Given {
                step: 3,
                part: "write".to_owned(),
                what: "the 16 bytes from request".to_owned(),
                start: "0x1000".to_owned(),
                len: 16,
            },
            called(3, "write"),
            Event::Fault {
                signal: "SIGSEGV".to_owned(),
                address: "0x3010".to_owned(),
            },
        ];
        let maps = "00001000-00002000 rw-p 00000000 00:00 0          [heap]\n\
                    00005000-00006000 rw-p 00000000 00:00 0 \n";
        let crashed = Ending::Exited(ExitStatus::from_raw(libc::SIGSEGV));
        let outcome = Outcome {
            stdout: "",
            stderr: "",
            events: &events,
            ending: &crashed,
            fault_maps: Some(maps),
        };
        let Status::Failed(failure) = classify(&outcome, &expect(""), &FILE) else {
            panic!("a fault is a failure");
        };
        assert_eq!(
            failure.lines[1],
            "the SIGSEGV struck at 0x3010, 8192 bytes past the end of the 16 bytes from request; \
             in /proc/self/maps at that moment, no mapping holds it: it lies 4112 bytes past the \
             end of [heap] rw-p, below anonymous rw-p at 0x5000"
        );
    }

    #[test]
    fn a_crash_or_a_timeout_inside_a_part_is_put_at_its_door() {
        let expected = &expect("");
        let events = [
            step(1, "A"),
            returned(1, "x"),
            step(3, "Write"),
            called(3, "write"),
        ];
        let crashed = Ending::Exited(ExitStatus::from_raw(libc::SIGSEGV));
        let Status::Failed(failure) = judge("", &events, &crashed, expected) else {
            panic!("a crash is a failure");
        };
        assert_eq!(failure.part.as_deref(), Some("write"));
        assert_eq!(
            failure.lines[0],
            "in step 3 (Write): it crashed: killed by SIGSEGV inside your `write` (learn/parts.rs:7)"
        );
        let Status::Failed(failure) = judge("", &events, &Ending::TimedOut, expected) else {
            panic!("a timeout is a failure");
        };
        assert!(
            failure.lines[0].contains("timed out inside your `write`"),
            "{failure:?}"
        );
        assert!(
            failure.lines[0].contains("a lock taken twice"),
            "{failure:?}"
        );
        // After the part returned, the lesson crashed using what it gave.
        let after = [step(3, "Write"), called(3, "write"), returned(3, "write")];
        let Status::Failed(failure) = judge("", &after, &crashed, expected) else {
            panic!("a crash is a failure");
        };
        assert!(
            failure.lines[0].contains("after your `write` (learn/parts.rs:7) returned"),
            "{failure:?}"
        );
    }
}
