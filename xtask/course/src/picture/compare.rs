//! The learner's run beside the reference's, in what the lesson cares about: at the end of each
//! step both reached, how far the break is from where it started, how many mappings of their
//! own (anonymous or of a file) the run holds beyond the ones it started with, and which kind
//! of region holds each address the step named (a chunk in the heap or in a mapping of its
//! own). Addresses differ from run to run; these do not.

use super::bands::Kind;
use super::model::{Run, Snapshot};

/// One way the learner's run differs from the reference's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The step, at whose end it is seen.
    pub step: usize,
    /// What differs (`the break, from where it started`).
    pub what: String,
    /// The learner's.
    pub yours: String,
    /// The reference's.
    pub reference: String,
}

/// The break's distance from where the run's first snapshot had it, in words.
fn break_moved(first: &Snapshot, now: &Snapshot) -> String {
    let moved = i128::from(now.program_break) - i128::from(first.program_break);
    match moved.signum() {
        0 => "where it started".to_owned(),
        1 => format!("{} above where it started", lesson::bytes(moved as u64)),
        _ => format!(
            "{} below where it started",
            lesson::bytes(moved.unsigned_abs() as u64)
        ),
    }
}

/// How many mappings of the run's own (anonymous or of a file) `snapshot` holds.
fn own_mappings(snapshot: &Snapshot) -> usize {
    snapshot
        .regions
        .iter()
        .filter(|r| matches!(Kind::of(r.kind), Kind::Anonymous | Kind::MappedFile))
        .count()
}

/// The kind of region holding the mark `label` in `snapshot`, by name.
fn region_of(snapshot: &Snapshot, label: &str) -> Option<&'static str> {
    let mark = snapshot.marks.iter().find(|m| m.label == label)?;
    let region = snapshot
        .regions
        .iter()
        .find(|r| r.start as u64 <= mark.address && mark.address < r.end as u64);
    Some(region.map_or("no region", |r| Kind::of(r.kind).name()))
}

/// The end of step `step` in `run`.
fn end_of(run: &Run, step: usize) -> Option<&Snapshot> {
    run.steps
        .iter()
        .rev()
        .find(|s| s.step == step && s.moment.is_none())
}

/// Where `yours` differs from `reference`, step by step, in the steps both ended.
pub fn differences(yours: &Run, reference: &Run) -> Vec<Difference> {
    let (Some(your_first), Some(their_first)) = (yours.steps.first(), reference.steps.first())
    else {
        return Vec::new();
    };
    let (your_own, their_own) = (own_mappings(your_first), own_mappings(their_first));
    let mut found = Vec::new();
    let mut steps: Vec<usize> = yours.steps.iter().map(|s| s.step).collect();
    steps.dedup();
    for step in steps {
        let (Some(mine), Some(theirs)) = (end_of(yours, step), end_of(reference, step)) else {
            continue;
        };
        let mut differ = |what: String, a: String, b: String| {
            if a != b {
                found.push(Difference {
                    step,
                    what,
                    yours: a,
                    reference: b,
                });
            }
        };
        differ(
            "the break".to_owned(),
            break_moved(your_first, mine),
            break_moved(their_first, theirs),
        );
        let left = |now: &Snapshot, first: usize| {
            let n = own_mappings(now) as i64 - first as i64;
            format!("{n} more mappings of its own than at the start")
        };
        differ(
            "the mappings left".to_owned(),
            left(mine, your_own),
            left(theirs, their_own),
        );
        for mark in &theirs.marks {
            let (Some(a), Some(b)) = (region_of(mine, &mark.label), region_of(theirs, &mark.label))
            else {
                continue;
            };
            differ(
                format!("the region of {}", mark.label),
                a.to_owned(),
                b.to_owned(),
            );
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(step: usize, maps: &str, program_break: u64, mark: u64) -> Snapshot {
        Snapshot {
            marks: vec![super::super::model::Mark {
                label: "chunk 1".to_owned(),
                address: mark,
            }],
            ..Snapshot::of_maps(step, maps, program_break)
        }
    }

    fn run(steps: Vec<Snapshot>) -> Run {
        Run {
            name: "run".to_owned(),
            steps,
            stopped: None,
        }
    }

    #[test]
    fn a_chunk_in_the_wrong_region_a_mapping_left_and_the_break_elsewhere_are_each_found() {
        let heap = "1000-9000 rw-p 00000000 00:00 0 [heap]\n";
        let anon = "7f0000000000-7f0000001000 rw-p 00000000 00:00 0\n";
        let reference = run(vec![
            snapshot(1, heap, 0x5000, 0x2000),
            snapshot(2, heap, 0x6000, 0x2000),
        ]);
        assert!(differences(&reference, &reference).is_empty());
        let yours = run(vec![
            snapshot(1, heap, 0x4000, 0x2000),
            snapshot(2, &format!("{heap}{anon}"), 0x4000, 0x7f00_0000_0010),
        ]);
        let found = differences(&yours, &reference);
        let what: Vec<&str> = found.iter().map(|d| d.what.as_str()).collect();
        assert_eq!(
            what,
            ["the break", "the mappings left", "the region of chunk 1"]
        );
        assert!(found.iter().all(|d| d.step == 2));
        assert_eq!(found[0].yours, "where it started");
        assert_eq!(found[2].yours, "anonymous mapping");
        assert_eq!(found[2].reference, "heap");
    }
}
