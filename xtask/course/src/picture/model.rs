//! The picture's model: what the address space held at each moment the run recorded, inside a
//! step and at its end, read from the run's events (`Event::Step` for the titles,
//! `Event::AddressSpace` for the rest).

use anyhow::{Context, Result};
use lesson::events::{AddressSpace, Event};
use memcore::maps::{MemoryMap, Region};

pub use lesson::events::{Mark, Span};

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

/// One address-space event of the step titled `title`, parsed.
fn snapshot(title: &str, space: &AddressSpace) -> Result<Snapshot> {
    let step = space.step;
    let map = MemoryMap::parse(space.maps.as_bytes(), Some(&space.exe))
        .with_context(|| format!("step {step}'s maps do not parse"))?;
    let lines: Vec<String> = space
        .maps
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(Snapshot {
        step,
        title: title.to_owned(),
        moment: space.moment.clone(),
        in_child: space.in_child,
        regions: map.regions().to_vec(),
        lines,
        program_break: space.program_break,
        marks: space.marks.clone(),
        spans: space.spans.clone(),
    })
}

/// The run that `events` tell, called `name`.
///
/// # Errors
/// When a snapshot's maps do not parse.
pub fn read(name: &str, events: &[Event]) -> Result<Run> {
    let mut steps = Vec::new();
    let mut title = "";
    for event in events {
        match event {
            Event::Step { title: t, .. } => title = t,
            Event::AddressSpace(space) => steps.push(snapshot(title, space)?),
            _ => {}
        }
    }
    Ok(Run {
        name: name.to_owned(),
        steps,
        stopped: stopped(events),
    })
}
