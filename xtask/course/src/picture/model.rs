//! The picture's model: what the address space held at each moment the run recorded, inside a
//! step and at its end, read from the run's events (`Event::Step` for the titles,
//! `Event::AddressSpace` for the rest).

use anyhow::{Context, Result};
use lesson::events::Event;
use memcore::maps::{MemoryMap, Region};

/// An address a step looked at, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// What it is (`a Box<u64>`).
    pub label: String,
    /// Where it is.
    pub address: u64,
}

/// A byte range a step named (what a call asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// What it is (`the 10000 bytes asked for`).
    pub label: String,
    /// Its first address.
    pub start: u64,
    /// Its length in bytes.
    pub len: u64,
}

/// The address space at one moment of a step, or at its end.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The step's number, from 1.
    pub step: usize,
    /// What the step does, as the lesson titles it.
    pub title: String,
    /// What just happened, for a moment inside the step; `None` at the step's end.
    pub moment: Option<String>,
    /// Whether it is a child process's address space (a moment of the step's child).
    pub in_child: bool,
    /// The mappings, in address order, classified as the lesson classifies them.
    pub regions: Vec<Region>,
    /// Each region's line of `/proc/self/maps`, as the kernel wrote it (same order).
    pub lines: Vec<String>,
    /// The program break.
    pub program_break: u64,
    /// The addresses the step looked at.
    pub marks: Vec<Mark>,
    /// The byte ranges the step named so far.
    pub spans: Vec<Span>,
}

#[cfg(test)]
impl Snapshot {
    /// The snapshot of a step's end whose maps are `maps` and whose break is at
    /// `program_break`, with no title, marks, spans or lines: what the picture's tests start from.
    pub(crate) fn of_maps(step: usize, maps: &str, program_break: u64) -> Snapshot {
        Snapshot {
            step,
            title: String::new(),
            moment: None,
            in_child: false,
            regions: MemoryMap::parse(maps.as_bytes(), None)
                .unwrap()
                .regions()
                .to_vec(),
            lines: Vec::new(),
            program_break,
            marks: Vec::new(),
            spans: Vec::new(),
        }
    }
}

/// One run of a lesson binary, as its snapshots tell it.
#[derive(Debug, Clone)]
pub struct Run {
    /// The run's name (`ex2-sbrk`, `ex2-sbrk (your parts)`).
    pub name: String,
    /// Every snapshot the run recorded, in order: a step's moments, then its end.
    pub steps: Vec<Snapshot>,
    /// Why the run ended before its last step, in words, if it did.
    pub stopped: Option<String>,
}

/// Reads an address as the events write it: `0x…`, perhaps marked `~` as varying.
fn address(text: &str) -> Result<u64> {
    let hex = text.trim_start_matches('~').trim_start_matches("0x");
    u64::from_str_radix(hex, 16).with_context(|| format!("not an address: {text:?}"))
}

/// Why the run stopped early, from its last `ToDo`, `Panicked` or `Stopped` event.
fn stopped(events: &[Event]) -> Option<String> {
    events.iter().rev().find_map(|event| match event {
        Event::ToDo { step, part, .. } => Some(format!(
            "The run stopped in step {step}: the part `{part}` is still `todo!()`."
        )),
        Event::Panicked {
            step,
            part,
            message,
            ..
        } => Some(format!(
            "The run stopped in step {step}: the part `{part}` panicked ({message})."
        )),
        Event::Stopped { step, message, .. } => {
            Some(format!("The run stopped in step {step}: {message}"))
        }
        _ => None,
    })
}

/// What an address-space event holds, as written.
struct Written<'a> {
    step: usize,
    title: &'a str,
    moment: &'a Option<String>,
    in_child: bool,
    maps: &'a str,
    exe: &'a str,
    program_break: &'a str,
    marks: &'a [lesson::events::Mark],
    spans: &'a [lesson::events::Span],
}

/// One address-space event, parsed.
fn snapshot(written: Written) -> Result<Snapshot> {
    let Written {
        step,
        title,
        moment,
        in_child,
        maps,
        exe,
        program_break,
        marks,
        spans,
    } = written;
    let map = MemoryMap::parse(maps.as_bytes(), Some(exe))
        .with_context(|| format!("step {step}'s maps do not parse"))?;
    let lines: Vec<String> = maps
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    let marks = marks
        .iter()
        .map(|mark| {
            Ok(Mark {
                label: mark.label.clone(),
                address: address(&mark.address)?,
            })
        })
        .collect::<Result<_>>()?;
    let spans = spans
        .iter()
        .map(|span| {
            Ok(Span {
                label: span.label.clone(),
                start: address(&span.start)?,
                len: span.len as u64,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Snapshot {
        step,
        title: title.to_owned(),
        moment: moment.clone(),
        in_child,
        regions: map.regions().to_vec(),
        lines,
        program_break: address(program_break)?,
        marks,
        spans,
    })
}

/// The run that `events` tell, called `name`.
///
/// # Errors
/// When a snapshot's maps do not parse or an address is not one.
pub fn read(name: &str, events: &[Event]) -> Result<Run> {
    let mut steps = Vec::new();
    let mut title = "";
    for event in events {
        match event {
            Event::Step { title: t, .. } => title = t,
            Event::AddressSpace {
                step,
                moment,
                in_child,
                maps,
                exe,
                program_break,
                marks,
                spans,
            } => steps.push(snapshot(Written {
                step: *step,
                title,
                moment,
                in_child: *in_child,
                maps,
                exe,
                program_break,
                marks,
                spans,
            })?),
            _ => {}
        }
    }
    Ok(Run {
        name: name.to_owned(),
        steps,
        stopped: stopped(events),
    })
}
