//! A lesson run: numbered steps, observations, facts and checks, each recorded once as an event
//! ([`crate::events`]), and printed as text as it happens or collected into one JSON document.
//! The text, the document and the counts are all made from the events.

use std::cell::{Cell, RefCell};
use std::fmt::Display;
use std::process::ExitCode;

use memcore::{MemoryMap, Region};

use crate::events::{AddressSpace, Event, EventLog, LineKind, Mark, Span};
use crate::json_record::{self, Document, LessonInfo, Marks, RegionInfo};
use crate::part_call::{self, EXIT_OPTIONAL_TO_DO, EXIT_TO_DO, PartError};
use crate::terminal::{emit, usage_error, wait_for_enter};

/// The flags every lesson binary takes. A binary with flags of its own flattens these into its
/// clap-derived struct (`#[command(flatten)]`); they are global, so they also follow a
/// subcommand.
#[derive(Debug, Clone, Copy, Default, clap::Parser)]
pub struct CommonFlags {
    /// Print the observations and checks as one JSON document
    #[arg(long, global = true)]
    pub json: bool,
    /// Stop after each step, print the pid and wait for Enter, to look at /proc/PID/maps (or
    /// attach gdb -p PID) while the memory is live
    #[arg(long, global = true)]
    pub pause: bool,
}

/// A lesson binary's [`LessonInfo`]: its name and title from its package (`cargo xtask list`
/// shows the same description), and `about`, a paragraph for `--help`.
#[macro_export]
macro_rules! info {
    ($about:expr) => {
        $crate::LessonInfo {
            name: env!("CARGO_PKG_NAME"),
            title: env!("CARGO_PKG_DESCRIPTION"),
            about: $about,
        }
    };
}

/// Parses `F`, a clap-derived struct that flattens [`CommonFlags`], from the command line, and
/// the common flags within it. Prints the help and exits 0 for `--help`; prints one line and
/// exits 2 for anything it does not know.
pub fn parse<F: clap::Parser>(info: LessonInfo) -> (F, CommonFlags) {
    let command = F::command()
        .name(info.name)
        .about(info.title)
        .long_about(format!("{}\n\n{}", info.title, info.about))
        .disable_version_flag(true);
    let parsed = command.clone().try_get_matches().and_then(|matches| {
        Ok((
            F::from_arg_matches(&matches)?,
            <CommonFlags as clap::FromArgMatches>::from_arg_matches(&matches)?,
        ))
    });
    match parsed {
        Ok(parsed) => parsed,
        Err(err) => std::process::exit(usage_error(info.name, command, &err)),
    }
}

/// How much room [`Lesson::give_malloc_room`] gives glibc's malloc.
pub const MALLOC_ROOM: usize = 64 * 1024;

/// How many events a run keeps room for from its start: more than the longest lesson records
/// (116, the contract's) twice over, so that keeping them never grows the heap while a lesson
/// watches it.
const KEPT_ROOM: usize = 256;

/// A lesson run in progress.
#[derive(Debug)]
pub struct Lesson {
    info: LessonInfo,
    json: bool,
    pause: bool,
    /// What the run printed or will put in its document, as events, in order: the steps, their
    /// lines, observations, facts and checks, and the steps that stopped or did not run.
    kept: RefCell<Vec<Event>>,
    /// Where the events go, for the program that runs this one (see [`crate::events`]).
    pub(crate) events: EventLog,
    /// The last part the current step called: the one its checks are about.
    pub(crate) last_part: Cell<Option<&'static str>>,
    /// The last call of each part in the current step, in the learner's terms, when the driver
    /// said it ([`Lesson::part_call`]): a claim about the part names it.
    pub(crate) calls: RefCell<crate::claims::Calls>,
    /// How many steps stopped early, and how many did not run for want of what they needed.
    pub(crate) stopped: Cell<usize>,
    /// The byte ranges the current step named ([`Lesson::span`]), for the picture.
    spans: RefCell<Vec<Span>>,
}

impl Lesson {
    /// Parses the command line (`--json`, `--pause`, `--help`) and starts the lesson. Prints
    /// the help and exits 0 for `--help`; prints one line and exits 2 for anything it does not
    /// know.
    pub fn start(info: LessonInfo) -> Lesson {
        Lesson::start_with::<CommonFlags>(info).0
    }

    /// As [`Lesson::start`], for a binary with flags of its own: `F` is a clap-derived struct
    /// that flattens [`CommonFlags`]. Returns the parsed flags too.
    pub fn start_with<F: clap::Parser>(info: LessonInfo) -> (Lesson, F) {
        let (flags, common) = parse::<F>(info);
        (Lesson::start_with_flags(info, common), flags)
    }

    /// Starts the lesson with flags already parsed (by [`parse`]): for a binary whose flags
    /// choose which lesson it runs.
    pub fn start_with_flags(info: LessonInfo, common: CommonFlags) -> Lesson {
        if !common.json {
            emit(info.name, &format!("{}: {}", info.name, info.title));
        }
        let events = EventLog::from_env();
        events.write(|| Event::Setup {
            differs_by_design: crate::glibc::differs_by_design(),
        });
        Lesson {
            info,
            json: common.json,
            pause: common.pause,
            kept: RefCell::new(Vec::with_capacity(KEPT_ROOM)),
            events,
            last_part: Cell::new(None),
            calls: RefCell::default(),
            stopped: Cell::new(0),
            spans: RefCell::default(),
        }
    }

    /// Runs `body` as the lesson's steps, and ends it: with the summary and the exit status
    /// its checks call for when it returns, or with the report of why it stopped when it fails.
    pub fn run(mut self, body: impl FnOnce(&mut Lesson) -> anyhow::Result<()>) -> ExitCode {
        match body(&mut self) {
            Ok(()) => self.finish(),
            Err(error) => self.abort(error),
        }
    }

    /// Whether output is JSON.
    pub fn json(&self) -> bool {
        self.json
    }

    /// Records `event` once: prints its line (unless the output is JSON), appends it to the
    /// events file if one is asked for, and keeps it for the document and the counts.
    pub(crate) fn record(&self, event: Event) {
        if !self.json
            && let Some(text) = event.printed()
        {
            emit(self.info.name, &text);
        }
        self.events.write(|| event.clone());
        self.kept.borrow_mut().push(event);
    }

    /// The current step's number, 0 before the first. It is asked at every event, so it
    /// copies nothing: an allocation here could move the break a lesson watches.
    pub(crate) fn step_number(&self) -> usize {
        self.kept
            .borrow()
            .iter()
            .rev()
            .find_map(|event| match event {
                Event::Step { number, .. } => Some(*number),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// Begins a step for what is said before the first.
    pub(crate) fn ensure_step(&mut self) {
        if self.step_number() == 0 {
            self.step("Before the steps");
        }
    }

    /// With `--pause`: says which step just ended and this process's pid on stderr, and waits
    /// for Enter.
    fn pause_after_step(&self) {
        let step = self.step_number();
        if self.pause && step > 0 {
            wait_for_enter(&format!("after step {step}"));
        }
    }

    /// With `--pause`: stops in the middle of the current step, where memory that the step
    /// gives back before it ends is still live, and says what to look at (`what`).
    pub fn pause_here(&self, what: &str) {
        let step = self.step_number();
        if self.pause && step > 0 {
            wait_for_enter(&format!("in step {step}, while {what}"));
        }
    }

    /// Records the address space at the end of the current step, for the picture; only when
    /// it is asked for, since reading the maps allocates.
    fn snapshot_step(&self) {
        self.snapshot(None, false);
    }

    /// Records the address space now, inside the current step, as one of its moments: `what`
    /// says what just happened (`someone else grew the break by a page`). The picture draws
    /// each moment as a frame of the step. Nothing is printed, and nothing is recorded unless
    /// the address spaces are asked for; reading the maps allocates, so call it where the
    /// break may not move for an allocation ([`Lesson::give_malloc_room`]).
    pub fn moment(&self, what: &str) {
        self.snapshot(Some(what), false);
    }

    /// [`Lesson::moment`], called in a child process (after `fork`): the snapshot is the
    /// child's address space, which the picture draws apart from the parent's.
    pub fn moment_in_child(&self, what: &str) {
        self.snapshot(Some(what), true);
    }

    /// Names the byte range `start..start + len` of the current step (`the 10000 bytes asked
    /// for`), for the picture, which draws it in the snapshots that follow in this step. Nothing
    /// is printed.
    pub fn span(&self, label: &str, start: usize, len: usize) {
        if self.events.address_spaces() {
            self.spans.borrow_mut().push(Span {
                label: label.to_owned(),
                start: start as u64,
                len: len as u64,
            });
        }
    }

    /// Writes a snapshot of the address space in the current step, at `moment` or at its end.
    fn snapshot(&self, moment: Option<&str>, in_child: bool) {
        let step = self.step_number();
        if step == 0 || !self.events.address_spaces() {
            return;
        }
        let Ok((maps, exe)) = MemoryMap::read_self_text() else {
            return;
        };
        let marks = self
            .kept
            .borrow()
            .iter()
            .filter_map(|event| match event {
                Event::Observed {
                    step: s,
                    label,
                    address,
                    ..
                } if *s == step => Some(Mark {
                    label: label.clone(),
                    address: *address,
                }),
                _ => None,
            })
            .collect();
        self.events.write(|| {
            Event::AddressSpace(AddressSpace {
                step,
                moment: moment.map(str::to_owned),
                in_child,
                maps,
                exe,
                program_break: memcore::sys::program_break() as u64,
                marks,
                spans: self.spans.borrow().clone(),
            })
        });
    }

    /// Starts the next numbered step (after pausing, with `--pause`).
    pub fn step(&mut self, title: impl Into<String>) {
        self.pause_after_step();
        self.snapshot_step();
        let number = self.step_number() + 1;
        self.last_part.set(None);
        self.calls.borrow_mut().clear();
        self.spans.borrow_mut().clear();
        self.record(Event::Step {
            number,
            title: title.into(),
        });
    }

    /// Explains something: each line of `text` is printed indented.
    pub fn say(&mut self, text: &str) {
        self.ensure_step();
        for line in text.lines() {
            self.record(Event::Line {
                step: self.step_number(),
                text: format!("  {}", line.trim()),
                kind: LineKind::Explanation,
            });
        }
    }

    /// Prints a line as it is (a diagram row), kept with the step's text.
    pub fn line(&mut self, line: impl Into<String>) {
        self.ensure_step();
        self.record(Event::Line {
            step: self.step_number(),
            text: line.into(),
            kind: LineKind::Observation,
        });
    }

    /// Reads `/proc/self/maps` now. Reading it allocates, so take the snapshot before or after
    /// moving the break, never in between; [`Lesson::map_and_break`] when the two are compared.
    ///
    /// # Errors
    /// If the file cannot be read or parsed.
    pub fn map(&self) -> anyhow::Result<MemoryMap> {
        Ok(MemoryMap::read_self()?)
    }

    /// `/proc/self/maps` and the program break, from one moment: reading the maps allocates,
    /// and an allocation can move the break (always, when glibc is tuned with `top_pad=0`), so
    /// the break is read before and after, and the maps read again until it did not move.
    ///
    /// # Errors
    /// If the file cannot be read or parsed, or the break moved on every one of 10 tries.
    pub fn map_and_break(&self) -> anyhow::Result<(MemoryMap, usize)> {
        for _ in 0..10 {
            let before = memcore::sys::program_break() as usize;
            let map = MemoryMap::read_self()?;
            if memcore::sys::program_break() as usize == before {
                return Ok((map, before));
            }
        }
        anyhow::bail!("the program break moved every time /proc/self/maps was read")
    }

    /// Gives glibc's malloc room at the top of its heap: a block of [`MALLOC_ROOM`] bytes,
    /// allocated and freed, stays there as free memory (below glibc's trim threshold, 128 KiB).
    /// What a lesson allocates to read the maps and to print then comes from that room and
    /// does not move the program break while the lesson watches it. glibc keeps such room
    /// itself (`M_TOP_PAD`, 128 KiB by default), unless it is tuned to 0.
    pub fn give_malloc_room(&self) {
        let room: Vec<u8> = Vec::with_capacity(MALLOC_ROOM);
        std::hint::black_box(&room);
    }

    /// Looks `addr` up in `map`, prints `label  0x…  in <region>` and returns the region.
    pub fn observe_in(&mut self, map: &MemoryMap, label: &str, addr: usize) -> Option<Region> {
        self.observe_with(map, label, addr, Marks::NONE)
    }

    /// [`Lesson::observe_in`] with the given parts marked as varying.
    pub fn observe_with(
        &mut self,
        map: &MemoryMap,
        label: &str,
        addr: usize,
        marks: Marks,
    ) -> Option<Region> {
        let region = map.region_of(addr).cloned();
        self.ensure_step();
        self.record(Event::Observed {
            step: self.step_number(),
            label: label.to_owned(),
            address: addr as u64,
            region: region.as_ref().map(RegionInfo::from),
            marks,
        });
        region
    }

    /// [`Lesson::observe_in`] on a fresh snapshot of `/proc/self/maps`.
    ///
    /// # Errors
    /// If the maps file cannot be read.
    pub fn observe(&mut self, label: &str, addr: usize) -> anyhow::Result<Option<Region>> {
        let map = self.map()?;
        Ok(self.observe_in(&map, label, addr))
    }

    /// Reports a value: `label: value`.
    pub fn fact(&mut self, label: &str, value: impl Display) {
        self.ensure_step();
        self.record(Event::Fact {
            step: self.step_number(),
            label: label.to_owned(),
            value: value.to_string(),
        });
    }

    /// Checks a claim of the lesson and records the result; `detail` is the evidence, printed
    /// when the claim does not hold. Returns `passed`. The claim is about the last part the
    /// step called; [`Lesson::claim`] says more (another part, the call, a cause).
    pub fn check(&mut self, claim: &str, passed: bool, detail: impl Into<String>) -> bool {
        self.claim(claim).holds(passed, detail)
    }

    /// Says that the part `part` is about to be handed `len` bytes at `start`, which the part
    /// `from` returned. A fault inside `part` is then said against them ("the 10000 bytes from
    /// request").
    pub fn give(&self, part: &str, from: &str, start: usize, len: usize) {
        self.events.write(|| Event::Given {
            step: self.step_number(),
            part: part.to_owned(),
            what: format!("the {len} bytes from {from}"),
            start: start as u64,
            len: len as u64,
        });
    }

    /// As [`Lesson::check`], for a claim about what the part `part` did, when another part
    /// was called after it (to read the registry, say): the claim is put at `part`'s door.
    pub fn check_part(
        &mut self,
        part: &'static str,
        claim: &str,
        passed: bool,
        detail: impl Into<String>,
    ) -> bool {
        self.claim(claim).about(part).holds(passed, detail)
    }

    /// Runs one of the learner's parts, `name`. A part that is still `todo!()`, or that panics,
    /// does not unwind further: it comes back as a [`PartError`], which [`Lesson::abort`]
    /// reports in words, naming this step, with its own exit status.
    ///
    /// # Errors
    /// [`PartError::ToDo`] or [`PartError::Panicked`].
    pub fn part<T>(&self, name: &'static str, part: impl FnOnce() -> T) -> Result<T, PartError> {
        self.call(name, None, false, part)
    }

    /// As [`Lesson::part`], saying the call in the learner's terms (`request(10000)`): a
    /// failed claim about the part names it.
    ///
    /// # Errors
    /// [`PartError::ToDo`] or [`PartError::Panicked`].
    pub fn part_call<T>(
        &self,
        name: &'static str,
        call: impl Into<String>,
        part: impl FnOnce() -> T,
    ) -> Result<T, PartError> {
        self.call(name, Some(call.into()), false, part)
    }

    /// Calls a part, telling the events when it starts and when it returns, so that a crash
    /// or a timeout inside it can be put at its door.
    fn call<T>(
        &self,
        name: &'static str,
        call: Option<String>,
        optional: bool,
        part: impl FnOnce() -> T,
    ) -> Result<T, PartError> {
        let step = self.step_number();
        self.last_part.set(Some(name));
        self.calls.borrow_mut().called(name, call.clone());
        self.events.write(|| Event::PartCalled {
            step,
            part: name.to_owned(),
            call,
        });
        let result = part_call::call(name, optional, part);
        if result.is_ok() {
            self.events.write(|| Event::PartReturned {
                step,
                part: name.to_owned(),
            });
        }
        result
    }

    /// As [`Lesson::part`], for a part the lesson can be done without: when it is still
    /// `todo!()`, the run ends with [`EXIT_OPTIONAL_TO_DO`] instead of [`EXIT_TO_DO`].
    ///
    /// # Errors
    /// [`PartError::ToDo`] or [`PartError::Panicked`].
    pub fn optional_part<T>(
        &self,
        name: &'static str,
        part: impl FnOnce() -> T,
    ) -> Result<T, PartError> {
        self.call(name, None, true, part)
    }

    /// The current step as `step N (title)`.
    fn where_now(&self) -> String {
        let kept = self.kept.borrow();
        let step = kept.iter().rev().find_map(|event| match event {
            Event::Step { number, title } => Some(format!("step {number} ({title})")),
            _ => None,
        });
        step.unwrap_or_else(|| "before the first step".to_owned())
    }

    fn counts(&self) -> (usize, usize) {
        json_record::counts(&self.kept.borrow())
    }

    fn document(&self, error: Option<String>) -> String {
        let doc = Document::of(&self.info, &self.kept.borrow(), error);
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Ends the lesson: a summary (or the JSON document) and exit status 0 if every check held,
    /// 1 if one did not.
    pub fn finish(self) -> ExitCode {
        self.pause_after_step();
        self.snapshot_step();
        let (passed, failed) = self.counts();
        self.events.write(|| Event::Finished { passed, failed });
        if self.json {
            emit(self.info.name, &self.document(None));
        } else if failed == 0 && self.stopped.get() == 0 {
            emit(self.info.name, "");
            emit(self.info.name, &format!("All {passed} checks passed."));
        } else {
            self.summarise_failures();
        }
        self.exit_code()
    }

    /// Prints the checks that failed, once more, at the end, and says how many on stderr.
    fn summarise_failures(&self) {
        let (passed, failed) = self.counts();
        let name = self.info.name;
        if !self.json {
            emit(name, "");
            if failed > 0 {
                emit(
                    name,
                    &format!(
                        "{failed} of {} checks FAILED on this machine:",
                        passed + failed
                    ),
                );
            }
            for event in self.kept.borrow().iter() {
                if let Event::Check {
                    claim,
                    passed: false,
                    detail,
                    ..
                } = event
                {
                    let detail = detail.as_deref().unwrap_or_default();
                    emit(name, &format!("  - {claim}: {detail}"));
                }
            }
            match self.stopped.get() {
                0 => {}
                1 => emit(name, "1 step stopped early or did not run (see above)."),
                n => emit(
                    name,
                    &format!("{n} steps stopped early or did not run (see above)."),
                ),
            }
        }
        eprintln!("{name}: {failed} check(s) failed");
    }

    fn exit_code(&self) -> ExitCode {
        if self.counts().1 == 0 && self.stopped.get() == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }

    /// The event that says why the run stops early with `error`.
    fn stop_event(&self, error: &anyhow::Error) -> Event {
        let step = self.step_number();
        match error.downcast_ref::<PartError>() {
            Some(PartError::ToDo {
                part,
                optional,
                file,
                line,
            }) => Event::ToDo {
                step,
                part: (*part).to_owned(),
                optional: *optional,
                file: file.clone(),
                line: *line,
            },
            Some(PartError::Panicked {
                part,
                message,
                file,
                line,
            }) => Event::Panicked {
                step,
                part: (*part).to_owned(),
                message: message.clone(),
                file: file.clone(),
                line: *line,
            },
            None => Event::Stopped {
                step,
                part: self.last_part.get().map(str::to_owned),
                message: format!("{error:#}"),
                goes_on: false,
            },
        }
    }

    /// Ends the lesson early because something it needed failed: one line on stderr (and the
    /// JSON document with the error), exit status 1.
    ///
    /// A part still `todo!()` is not an error of the program: it says which step waits for
    /// which part, where to write it and how to get a hint, and exits with [`EXIT_TO_DO`]
    /// ([`EXIT_OPTIONAL_TO_DO`] for an optional part). But a check that failed before it is
    /// never hidden by it: the failures are listed first, and the exit status is 1.
    pub fn abort(self, error: anyhow::Error) -> ExitCode {
        self.snapshot_step();
        self.events.write(|| self.stop_event(&error));
        let message = format!("{error:#}");
        if self.json {
            emit(self.info.name, &self.document(Some(message.clone())));
        }
        let name = self.info.name;
        let (passed, failed) = self.counts();
        match error.downcast_ref::<PartError>() {
            Some(todo @ PartError::ToDo { optional, .. }) => {
                if failed > 0 {
                    self.summarise_failures();
                } else if *optional && !self.json {
                    emit(name, "");
                    emit(
                        name,
                        &format!(
                            "All {passed} checks passed; the last, optional part is yours to write."
                        ),
                    );
                }
                eprintln!(
                    "{name}: to do: {} waits for your code: {todo}",
                    self.where_now()
                );
                eprintln!(
                    "{name}: write it there, then run `cargo xtask learn`; a hint: `cargo xtask hint {name}`"
                );
                ExitCode::from(match (failed, optional) {
                    (1.., _) => 1,
                    (0, true) => EXIT_OPTIONAL_TO_DO,
                    (0, false) => EXIT_TO_DO,
                })
            }
            Some(part) => {
                eprintln!("{name}: error: {}: {part}", self.where_now());
                ExitCode::FAILURE
            }
            None => {
                eprintln!("{name}: error: {message}");
                ExitCode::FAILURE
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lesson() -> Lesson {
        Lesson {
            info: LessonInfo {
                name: "test",
                title: "a test",
                about: "",
            },
            json: true,
            pause: false,
            kept: RefCell::default(),
            events: EventLog::default(),
            last_part: Cell::new(None),
            calls: RefCell::default(),
            stopped: Cell::new(0),
            spans: RefCell::default(),
        }
    }

    #[test]
    fn checks_are_counted_per_step_and_in_the_document() {
        let mut l = lesson();
        l.step("one");
        l.check("holds", true, "the failure's words, unused");
        l.step("two");
        l.fact("size", "4096 bytes (4 KiB)");
        l.check("does not hold", false, "0x10 > 0x8");
        assert_eq!(l.counts(), (1, 1));
        let doc: serde_json::Value = serde_json::from_str(&l.document(None)).unwrap();
        assert_eq!(doc["passed"], false);
        assert_eq!(doc["steps"][1]["number"], 2);
        assert_eq!(doc["steps"][1]["checks"][0]["detail"], "0x10 > 0x8");
        assert!(
            doc["steps"][0]["checks"][0]["detail"].is_null(),
            "a pass has no failure text"
        );
        assert_eq!(doc["steps"][1]["facts"][0]["value"], "4096 bytes (4 KiB)");
        assert_eq!(l.exit_code(), ExitCode::FAILURE);
    }

    #[test]
    fn an_observation_records_the_region_that_holds_the_address() {
        let text = "1000-3000 rw-p 00000000 00:00 0          [heap]\n";
        let map = MemoryMap::parse(text.as_bytes(), None).unwrap();
        let mut l = lesson();
        l.step("look");
        assert!(l.observe_in(&map, "inside", 0x1800).is_some());
        assert!(l.observe_in(&map, "outside", 0x3000).is_none());
        let doc: serde_json::Value = serde_json::from_str(&l.document(None)).unwrap();
        let obs = &doc["steps"][0]["observations"];
        assert_eq!(obs[0]["address"], "0x1800");
        let region = &obs[0]["region"];
        assert_eq!(
            (&region["name"], &region["kind"]),
            (&"[heap]".into(), &"heap".into())
        );
        assert_eq!(
            (&region["start"], &region["size"]),
            (&"0x1000".into(), &0x2000.into())
        );
        assert!(obs[1]["region"].is_null());
        assert_eq!(l.exit_code(), ExitCode::SUCCESS);
    }
}
