//! How a run ended before the lesson did, at the part that was running, and where a fault
//! struck: the judge's words for a panic, a stop, a crash, a timeout or an exit.

use lesson::events::Event;

use super::outcome::Outcome;
use super::verdict::{Finding, Kind};
use crate::run::{Ending, Stop};

/// What made the run end before the lesson did, at the part that was running: a panic, a stop,
/// a crash, a timeout or an exit. `None` when the run finished, or stopped at a part to do.
pub(super) fn how_it_ended(outcome: &Outcome) -> Option<Finding> {
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
    let finished_as_told =
        outcome.finished() && matches!(outcome.ending.stop(), Stop::Finished | Stop::Exited(1));
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
    finding.during_part = outcome.inside_part().is_some();
    if let Some(fault) = outcome.fault() {
        finding.happened.push_str(&format!("; {fault}"));
    }
    Some(finding)
}

pub(super) fn ended_well(ending: &Ending) -> bool {
    ending.stop() == Stop::Finished
}

/// What commonly makes a run time out.
pub const TIMEOUT_CAUSES: &str = "an endless loop, or a lock taken twice (a function that \
     holds the registry's lock calling another that takes it again), is the usual cause";

/// How the run ended while a part was running: it never returned.
fn ending_inside(ending: &Ending) -> (Kind, String) {
    let stop = ending.stop();
    match stop {
        Stop::TimedOut => (
            Kind::Timeout,
            format!("it did not return within the time limit; {TIMEOUT_CAUSES}"),
        ),
        Stop::Aborted => (
            Kind::Crash,
            "it aborted the whole program (abort(), or something it called did): a part \
             must return its answer to the lesson"
                .to_owned(),
        ),
        Stop::Killed(_) => (
            Kind::Crash,
            format!("it crashed: {}", stop.killed_by().unwrap_or_default()),
        ),
        Stop::Exited(_) | Stop::Finished => (
            Kind::Exit,
            format!(
                "it ended the whole program with exit status {}: a part must return its \
                 answer to the lesson, never call exit",
                code_of(stop)
            ),
        ),
    }
}

/// The exit status of a run that exited, 0 for one that finished.
fn code_of(stop: Stop) -> i32 {
    match stop {
        Stop::Exited(code) => code,
        _ => 0,
    }
}

/// How the run ended between parts, or before any: the lesson went on with what a part gave.
fn ending_after(ending: &Ending, after_a_part: bool) -> (Kind, String) {
    let after = if after_a_part {
        ", after it returned: the lesson used what it gave"
    } else {
        ""
    };
    let stop = ending.stop();
    match stop {
        Stop::TimedOut => (
            Kind::Timeout,
            format!("the run did not finish within the time limit{after}; {TIMEOUT_CAUSES}"),
        ),
        Stop::Aborted | Stop::Killed(_) => (
            Kind::Crash,
            format!(
                "the run crashed: {}{after}",
                stop.killed_by().unwrap_or_default()
            ),
        ),
        Stop::Exited(_) | Stop::Finished => (
            Kind::Exit,
            format!(
                "the run exited with status {} before the lesson finished{after}",
                code_of(stop)
            ),
        ),
    }
}

/// Where `addr` lies in `map`: in a region, or in the gap between two, said by its neighbours.
pub(super) fn where_in(map: &memcore::MemoryMap, addr: usize) -> String {
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
