//! What a lesson run tells the program that runs it, as data. People read the text on stdout;
//! `cargo xtask` reads these events and never parses a sentence meant for a person.
//!
//! The events are JSON objects, one per line, appended to the file that the environment
//! variable [`EVENTS_VAR`] names, each with one `write` as it happens. A run that crashes
//! still leaves every event before the crash, so the last one says where it was.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::json_record::{Marks, RegionInfo};

/// The environment variable naming the file a lesson run appends its events to.
pub const EVENTS_VAR: &str = "LESSON_EVENTS";

/// Set (to anything) beside [`EVENTS_VAR`], the run also records its address space at each
/// step's end and moment ([`Event::AddressSpace`]), for the picture. It is asked for apart: a
/// snapshot reads `/proc/self/maps` and writes it whole, which costs time and adds the system
/// calls `cargo xtask trace` shows.
pub const ADDRESS_SPACES_VAR: &str = "LESSON_ADDRESS_SPACES";

/// One thing that happened in a lesson run. `step` is the step's number (0 before the first).
///
/// A run records each thing once, as an event: the text on stdout is what the events print
/// ([`Event::printed`]), and the `--json` document and the counts are made from them too.
/// Addresses are numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The run's setup, recorded first: why it changes what the lesson shows by design, if it
    /// does ([`crate::glibc::differs_by_design`]).
    Setup {
        /// Why, in words; `None` when this run should show the snapshot's pattern.
        differs_by_design: Option<String>,
    },
    /// A numbered step began.
    Step {
        /// Its number, from 1.
        number: usize,
        /// What it does.
        title: String,
    },
    /// A line of the step's text, as printed: its explanation, or a row of what it saw (a
    /// diagram).
    Line {
        /// The step.
        step: usize,
        /// The line.
        text: String,
        /// What kind of line it is: [`LineKind::Explanation`] or [`LineKind::Observation`].
        #[serde(default)]
        kind: LineKind,
    },
    /// An address the step looked at, and the region of `/proc/self/maps` that held it.
    Observed {
        /// The step.
        step: usize,
        /// What the address is of (`a local variable`).
        label: String,
        /// The address.
        address: u64,
        /// The region holding it, or `None` if no mapping does.
        region: Option<RegionInfo>,
        /// What the line marks as varying, for `check-all`.
        #[serde(default)]
        marks: Marks,
    },
    /// A value the step reports (a size, a count, an errno), as printed.
    Fact {
        /// The step.
        step: usize,
        /// What it is.
        label: String,
        /// Its value.
        value: String,
    },
    /// A learner's part was called.
    PartCalled {
        /// The step.
        step: usize,
        /// The part's name (its function's name).
        part: String,
        /// The call in the learner's terms (`mem_chunk(131071), 1 byte below your threshold`),
        /// when the driver says it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<String>,
    },
    /// That part returned.
    PartReturned {
        /// The step.
        step: usize,
        /// The part's name.
        part: String,
    },
    /// A claim of the lesson was checked.
    Check {
        /// The step.
        step: usize,
        /// The last part the step called before the check, if any: the one the claim is about.
        part: Option<String>,
        /// The claim.
        claim: String,
        /// Whether it held.
        passed: bool,
        /// Why it did not hold; `None` when it held.
        detail: Option<String>,
        /// The call that showed it (`mem_chunk(131071)`), when the driver knows it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<String>,
        /// The earlier claim whose failure this one follows from, when the driver knows it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        because: Option<Because>,
    },
    /// A step did not run: it needs what an earlier step did not give.
    NotRun {
        /// The step.
        step: usize,
        /// What it needs, in words (`the memory request gave in step 2`).
        needs: String,
    },
    /// A part is still `todo!()`; the run stops here.
    ToDo {
        /// The step.
        step: usize,
        /// The part.
        part: String,
        /// Whether the lesson can be done without it.
        optional: bool,
        /// The file of its `todo!()`, as the compiler names it.
        file: String,
        /// Its line.
        line: u32,
    },
    /// A part panicked; the run stops here.
    Panicked {
        /// The step.
        step: usize,
        /// The part.
        part: String,
        /// The panic's message.
        message: String,
        /// Where it panicked.
        file: String,
        /// Its line.
        line: u32,
    },
    /// A step, or the whole run, stopped early, for a reason the driver gives in words.
    Stopped {
        /// The step.
        step: usize,
        /// The last part the step called, if any.
        part: Option<String>,
        /// Why it stopped.
        message: String,
        /// Whether the run went on with the later steps (only this step stopped).
        #[serde(default)]
        goes_on: bool,
    },
    /// Memory the lesson hands a part: a fault inside the part is said against it.
    Given {
        /// The step.
        step: usize,
        /// The part given it.
        part: String,
        /// What it is (`the 10000 bytes from request`).
        what: String,
        /// Its first address.
        start: u64,
        /// Its length in bytes.
        len: u64,
    },
    /// The process took a `SIGSEGV` or `SIGBUS`, and dies of it; written by the signal handler
    /// (`memcore::fault_report`), with `/proc/self/maps` at that moment in the file
    /// [`maps_path`] names. The handler writes the line itself (`memcore::fault_report`,
    /// which cannot allocate); a test here reads one.
    Fault {
        /// `SIGSEGV` or `SIGBUS`.
        signal: String,
        /// The faulting address.
        address: u64,
    },
    /// What the address space looked like at the end of a step, or at a moment inside it: the
    /// maps, the break, and the addresses the step looked at. The picture (`cargo xtask
    /// picture`) is drawn from these. Recorded only when [`ADDRESS_SPACES_VAR`] asks.
    AddressSpace(AddressSpace),
    /// The run ended; every check is counted.
    Finished {
        /// How many checks held.
        passed: usize,
        /// How many did not.
        failed: usize,
    },
}

/// What the address space looked like at one moment: see [`Event::AddressSpace`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressSpace {
    /// The step that just ended, or that the moment is in.
    pub step: usize,
    /// What just happened, for a moment inside the step; `None` at the step's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moment: Option<String>,
    /// Whether the moment is a child process's (its own address space), not this one's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_child: bool,
    /// `/proc/self/maps`, as the kernel wrote it.
    pub maps: String,
    /// The executable's path, which tells its mappings apart.
    pub exe: String,
    /// The program break.
    pub program_break: u64,
    /// The addresses the step looked at.
    pub marks: Vec<Mark>,
    /// The byte ranges the step named so far ([`Span`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<Span>,
}

impl Event {
    /// What the event prints on stdout, as one text (a step's heading comes after a blank
    /// line); `None` for an event that prints nothing there.
    pub fn printed(&self) -> Option<String> {
        Some(match self {
            Event::Step { number, title } => format!("\n{}", heading(*number, title)),
            Event::Line { text, .. } => text.clone(),
            Event::Observed {
                label,
                address,
                region,
                marks,
                ..
            } => {
                let place = match region {
                    Some(r) if marks.region => {
                        format!("in {}", crate::varying_text(&r.shown))
                    }
                    Some(r) => format!("in {}", r.shown),
                    None => "in no mapped region".to_owned(),
                };
                let mark = if marks.address { "~" } else { "" };
                format!("  {label:<40} {mark}{address:#x}  {place}")
            }
            Event::Fact { label, value, .. } => format!("  {label}: {value}"),
            Event::Check {
                claim,
                passed: true,
                ..
            } => format!("  [ok] {claim}"),
            Event::Check { claim, detail, .. } => {
                format!(
                    "  [FAILED] {claim}: {}",
                    detail.as_deref().unwrap_or_default()
                )
            }
            Event::Stopped {
                message,
                goes_on: true,
                ..
            } => format!("  [STOPPED] this step cannot go on: {message}"),
            Event::NotRun { needs, .. } => format!("  [NOT RUN] this step needs {needs}"),
            _ => return None,
        })
    }

    /// What kind of line the event prints, if it prints one ([`Event::printed`]).
    pub fn line_kind(&self) -> Option<LineKind> {
        Some(match self {
            Event::Step { .. } => LineKind::Heading,
            Event::Line { kind, .. } => *kind,
            Event::Observed { .. } | Event::Fact { .. } => LineKind::Observation,
            Event::Check { passed: true, .. } => LineKind::Held,
            Event::Check { .. } => LineKind::Failed,
            Event::Stopped { goes_on: true, .. } | Event::NotRun { .. } => LineKind::Stopped,
            _ => return None,
        })
    }

    /// The step the event happened in, if it belongs to one.
    pub fn step(&self) -> Option<usize> {
        match self {
            Event::Step { number: step, .. }
            | Event::Line { step, .. }
            | Event::Observed { step, .. }
            | Event::Fact { step, .. }
            | Event::PartCalled { step, .. }
            | Event::PartReturned { step, .. }
            | Event::Check { step, .. }
            | Event::NotRun { step, .. }
            | Event::ToDo { step, .. }
            | Event::Panicked { step, .. }
            | Event::Stopped { step, .. }
            | Event::Given { step, .. }
            | Event::AddressSpace(AddressSpace { step, .. }) => Some(*step),
            Event::Setup { .. } | Event::Fault { .. } | Event::Finished { .. } => None,
        }
    }
}

/// What a printed line is, so that a reader never has to tell it by its words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// A step's heading (`Step 2. Grow the break`), after a blank line.
    Heading,
    /// The step's explanation, the same on every run.
    Explanation,
    /// What the step saw: an address, a value, a diagram row.
    #[default]
    Observation,
    /// A claim that held (`[ok] …`).
    Held,
    /// A claim that did not hold (`[FAILED] …`).
    Failed,
    /// Why the step stopped early, or did not run.
    Stopped,
}

/// Why a failed claim is the consequence of another: the driver knows, and says how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Because {
    /// The earlier claim, as it was recorded.
    pub claim: String,
    /// How the one follows from the other.
    pub how: String,
}

/// An address a step looked at, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// What it is (`a local variable`).
    pub label: String,
    /// The address.
    pub address: u64,
}

/// A byte range a step named: what a call asked for, which the maps cannot tell (they hold
/// whole pages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// What it is (`the 10000 bytes mmap was asked for`).
    pub label: String,
    /// Its first address.
    pub start: u64,
    /// Its length in bytes.
    pub len: u64,
}

/// Where the signal handler copies `/proc/self/maps` at a fault, beside the events file.
pub fn maps_path(events: &Path) -> std::path::PathBuf {
    let mut name = events.as_os_str().to_owned();
    name.push(".fault-maps");
    name.into()
}

/// Where a run's events go: the file [`EVENTS_VAR`] names, or nowhere.
#[derive(Debug, Default)]
pub(crate) struct EventLog {
    file: Option<File>,
    /// Whether the address spaces are asked for too ([`ADDRESS_SPACES_VAR`]).
    address_spaces: bool,
    /// Where a fault's maps go: held only to keep the file open for the signal handler.
    _fault_maps: Option<File>,
}

impl EventLog {
    /// The log the environment asks for. A file that cannot be opened gives no log: the text
    /// on stdout is still whole, and whoever asked for the events finds none and says so.
    ///
    /// A fault (`SIGSEGV`, `SIGBUS`) on this thread is reported too, by a signal handler that
    /// writes its own line and the maps of that moment.
    pub(crate) fn from_env() -> EventLog {
        let Some(path) = std::env::var_os(EVENTS_VAR) else {
            return EventLog::default();
        };
        let path = Path::new(&path);
        let file = File::options().create(true).append(true).open(path).ok();
        let fault_maps = File::create(maps_path(path)).ok();
        if let (Some(events), Some(maps)) = (&file, &fault_maps) {
            use std::os::fd::AsRawFd;
            // Without the handler a fault is still seen, by its signal, only not where it hit.
            let _ = memcore::fault_report::report_faults_to(events.as_raw_fd(), maps.as_raw_fd());
        }
        EventLog {
            file,
            address_spaces: std::env::var_os(ADDRESS_SPACES_VAR).is_some(),
            _fault_maps: fault_maps,
        }
    }

    /// Whether anyone asked for the address spaces ([`ADDRESS_SPACES_VAR`]) and the events.
    pub(crate) fn address_spaces(&self) -> bool {
        self.address_spaces && self.file.is_some()
    }

    /// Appends the event `event` makes as one line, in one write, so that a crash later cannot
    /// tear it. Without a log the event is never made: a lesson run that nobody records
    /// allocates nothing for it.
    pub(crate) fn write(&self, event: impl FnOnce() -> Event) {
        let Some(mut file) = self.file.as_ref() else {
            return;
        };
        if let Ok(mut line) = serde_json::to_vec(&event()) {
            line.push(b'\n');
            // A failed write loses the event, not the run: the reader then sees the run end
            // earlier than it did, and the text on stdout is still whole.
            let _ = file.write_all(&line);
        }
    }
}

/// Why the setup of the run whose events are `events` changes what the lesson shows by design,
/// as the run recorded it ([`Event::Setup`]); `None` when it does not, or recorded nothing.
pub fn differs_by_design(events: &[Event]) -> Option<&str> {
    events.iter().find_map(|event| match event {
        Event::Setup { differs_by_design } => differs_by_design.as_deref(),
        _ => None,
    })
}

/// A step's heading, as the run prints it and as whoever reads a [`Event::Step`] shows it.
pub fn heading(number: usize, title: &str) -> String {
    format!("Step {number}. {title}")
}

/// Reads the events a run appended to `path`, in order. A last line cut short (the run was
/// killed while writing it) is left out.
///
/// # Errors
/// If the file cannot be read, or a line before the last is not an event.
pub fn read_events(path: &Path) -> anyhow::Result<Vec<Event>> {
    let text = std::fs::read_to_string(path)?;
    let lines: Vec<&str> = text.lines().collect();
    let mut events = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str(line) {
            Ok(event) => events.push(event),
            Err(_) if i + 1 == lines.len() => {}
            Err(error) => anyhow::bail!("{}:{}: not an event: {error}", path.display(), i + 1),
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setup_a_run_recorded_says_whether_it_differs_by_design() {
        let step = Event::Step {
            number: 1,
            title: "a".to_owned(),
        };
        let setup = |why: Option<&str>| Event::Setup {
            differs_by_design: why.map(str::to_owned),
        };
        assert_eq!(
            differs_by_design(&[setup(Some("legacy")), step.clone()]),
            Some("legacy")
        );
        assert_eq!(differs_by_design(&[setup(None), step.clone()]), None);
        assert_eq!(
            differs_by_design(&[step]),
            None,
            "a run that recorded no setup"
        );
    }

    #[test]
    fn the_line_memcore_s_fault_handler_writes_is_a_fault_event() {
        let mut line = [0u8; 128];
        let n = memcore::fault_report::fault_line(libc::SIGBUS, 0x7ffd_0000_1010, &mut line);
        let event: Event = serde_json::from_slice(&line[..n]).unwrap();
        assert_eq!(
            event,
            Event::Fault {
                signal: "SIGBUS".to_owned(),
                address: 0x7ffd_0000_1010,
            }
        );
        assert_eq!(line[n - 1], b'\n', "one line of the events file");
    }

    #[test]
    fn each_printing_event_prints_its_line_and_says_its_kind() {
        let observed = Event::Observed {
            step: 1,
            label: "a local".to_owned(),
            address: 0x7ffd_1010,
            region: None,
            marks: Marks::ADDRESS,
        };
        let failed = Event::Check {
            step: 1,
            part: None,
            claim: "it holds".to_owned(),
            passed: false,
            detail: Some("it did not".to_owned()),
            call: None,
            because: None,
        };
        let step = Event::Step {
            number: 2,
            title: "Grow".to_owned(),
        };
        let printed: Vec<_> = [&observed, &failed, &step]
            .iter()
            .map(|e| (e.printed().unwrap(), e.line_kind().unwrap()))
            .collect();
        assert_eq!(
            printed,
            [
                (
                    format!("  {:<40} ~0x7ffd1010  in no mapped region", "a local"),
                    LineKind::Observation
                ),
                (
                    "  [FAILED] it holds: it did not".to_owned(),
                    LineKind::Failed
                ),
                ("\nStep 2. Grow".to_owned(), LineKind::Heading),
            ]
        );
        let given = Event::Given {
            step: 1,
            part: "write".to_owned(),
            what: "the 16 bytes".to_owned(),
            start: 0x1000,
            len: 16,
        };
        assert_eq!((given.printed(), given.line_kind()), (None, None));
    }

    #[test]
    fn events_written_are_read_back_and_a_torn_last_line_is_left_out() {
        let path = std::env::temp_dir().join(format!("lesson-events-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let log = EventLog {
            file: File::options().create(true).append(true).open(&path).ok(),
            address_spaces: false,
            _fault_maps: None,
        };
        let step = Event::Step {
            number: 1,
            title: "Find the break".to_owned(),
        };
        let check = Event::Check {
            step: 1,
            part: Some("current_break".to_owned()),
            claim: "it moved nothing".to_owned(),
            passed: false,
            detail: Some("the break moved up 16 bytes".to_owned()),
            call: None,
            because: None,
        };
        log.write(|| step.clone());
        log.write(|| check.clone());
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"{\"event\":\"fini"))
            .unwrap();
        let read = read_events(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(read, [step, check]);
    }
}
