//! The picture's model: what the address space held at the end of each step of one run, read
//! from the run's events (`Event::Step` for the titles, `Event::Snapshot` for the rest).

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

/// The address space at the end of one step.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The step's number, from 1.
    pub step: usize,
    /// What the step does, as the lesson titles it.
    pub title: String,
    /// The mappings, in address order, classified as the lesson classifies them.
    pub regions: Vec<Region>,
    /// Each region's line of `/proc/self/maps`, as the kernel wrote it (same order).
    pub lines: Vec<String>,
    /// The program break.
    pub program_break: u64,
    /// The addresses the step looked at.
    pub marks: Vec<Mark>,
}

/// One run of a lesson binary, as its snapshots tell it.
#[derive(Debug, Clone)]
pub struct Run {
    /// The run's name (`ex2-sbrk`, `ex2-sbrk (your parts)`).
    pub name: String,
    /// A snapshot for every step that ended, in order.
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

/// One snapshot event, parsed.
fn snapshot(
    step: usize,
    title: &str,
    maps: &str,
    exe: &str,
    program_break: &str,
    marks: &[lesson::events::Mark],
) -> Result<Snapshot> {
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
    Ok(Snapshot {
        step,
        title: title.to_owned(),
        regions: map.regions().to_vec(),
        lines,
        program_break: address(program_break)?,
        marks,
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
            Event::Snapshot {
                step,
                maps,
                exe,
                program_break,
                marks,
            } => steps.push(snapshot(*step, title, maps, exe, program_break, marks)?),
            _ => {}
        }
    }
    Ok(Run {
        name: name.to_owned(),
        steps,
        stopped: stopped(events),
    })
}
