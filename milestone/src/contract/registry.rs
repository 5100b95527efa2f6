//! The contract's registry step: `list_chunks` lists every chunk once, with at least the size
//! asked and the source its size calls for, and the break and `/proc/self/maps` agree.

use std::collections::BTreeMap;

use anyhow::Result;
use lesson::{Lesson, bytes, varying_bytes};
use memcore::{MemoryMap, RegionKind};

use super::counting::counted;
use super::{ChunkInfo, NEEDS_CHUNKS, Parts, Taken, writable};
use crate::Source;

/// The claim that every chunk mem_chunk returned is in its registry: the one that says a chunk
/// missing from both list_chunks and find_chunk is mem_chunk's doing.
pub(super) const RECORDED: &str =
    "mem_chunk recorded every chunk it returned: list_chunks lists it, or find_chunk finds it";

/// The starts of the chunks mem_chunk returned that neither list_chunks nor find_chunk knows:
/// mem_chunk never recorded them.
#[derive(Debug, Clone, Default)]
pub(super) struct Unrecorded(pub(super) Vec<usize>);

impl Unrecorded {
    /// Whether the chunk at `start` is one of them.
    pub(super) fn holds(&self, start: usize) -> bool {
        self.0.contains(&start)
    }
}

/// The chunks taken that list_chunks does not list and find_chunk does not find, and the claim
/// that there are none, at mem_chunk's door.
fn unrecorded(
    lesson: &mut Lesson,
    parts: &Parts,
    taken: &[Taken],
    listed: &[ChunkInfo],
) -> Result<Unrecorded> {
    let mut missing = Vec::new();
    for t in taken
        .iter()
        .filter(|t| listed.iter().all(|c| c.start != t.start))
    {
        let start = t.start;
        if lesson
            .part("find_chunk", || {
                counted(start, || (parts.find_chunk)(start))
            })?
            .is_none()
        {
            missing.push(t);
        }
    }
    let detail = missing
        .iter()
        .map(|t| {
            format!(
                "mem_chunk({}) returned {:#x}, but list_chunks does not list it and find_chunk \
                 does not find it",
                t.size, t.start
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    lesson.check_part(
        "mem_chunk",
        RECORDED,
        missing.is_empty(),
        format!("{detail}: record each chunk in the registry before returning it"),
    );
    Ok(Unrecorded(missing.iter().map(|t| t.start).collect()))
}

pub(super) fn registry(
    lesson: &mut Lesson,
    parts: &Parts,
    taken: Option<&[Taken]>,
) -> Result<Option<Unrecorded>> {
    lesson.step("The registry lists every chunk once");
    lesson.say(
        "list_chunks gives every live chunk: its start, its usable length and where it came \
         from.\n\
         The usable length is at least what was asked. How much more is the implementation's \
         choice.",
    );
    let Some(taken) = lesson.needs(taken, NEEDS_CHUNKS) else {
        return Ok(None);
    };
    let listed = lesson.part("list_chunks", parts.list_chunks)?;
    let (map, brk) = lesson.map_and_break()?;
    table(lesson, &map, taken, &listed);
    let missing = unrecorded(lesson, parts, taken, &listed)?;
    let recorded: Vec<&Taken> = taken.iter().filter(|t| !missing.holds(t.start)).collect();
    listed_once(lesson, taken, &recorded, &listed, &missing);
    described(lesson, parts, &recorded, &listed)?;
    let mut spans: Vec<(usize, usize)> =
        listed.iter().map(|c| (c.start, c.start + c.len)).collect();
    spans.sort_unstable();
    let apart = spans.windows(2).all(|w| w[0].1 <= w[1].0);
    lesson.check(
        "no two listed chunks overlap",
        apart,
        "two chunks share bytes",
    );
    agree(lesson, &map, brk, taken, &listed);
    Ok(Some(missing))
}

/// The registry's table: each chunk taken, as list_chunks lists it, with its region.
fn table(lesson: &mut Lesson, map: &MemoryMap, taken: &[Taken], listed: &[ChunkInfo]) {
    lesson.line(format!(
        "  {:<18} {:<26} {:<7} region",
        "start", "usable", "source"
    ));
    for t in taken {
        let entry = listed.iter().find(|c| c.start == t.start);
        let region = map
            .region_of(t.start)
            .map_or_else(|| "no region".to_owned(), |r| r.to_string());
        let (usable, source) = entry.map_or(("not listed".to_owned(), "-".to_owned()), |c| {
            (varying_bytes(c.len as u64), c.source.name().to_owned())
        });
        lesson.line(format!(
            "  ~{:<#17x} {usable:<26} {source:<7} {region}",
            t.start
        ));
    }
}

/// Each chunk is listed once. The chunks mem_chunk never recorded cannot be listed: when they
/// are all that is wrong, that failure is mem_chunk's.
fn listed_once(
    lesson: &mut Lesson,
    taken: &[Taken],
    recorded: &[&Taken],
    listed: &[ChunkInfo],
    missing: &Unrecorded,
) {
    let mut times: BTreeMap<usize, usize> = BTreeMap::new();
    for chunk in listed {
        *times.entry(chunk.start).or_default() += 1;
    }
    let once = recorded.iter().all(|t| times.get(&t.start) == Some(&1));
    let claim = lesson.claim("each chunk is listed exactly once, and nothing else is");
    let claim = if once && listed.len() == recorded.len() && !missing.0.is_empty() {
        claim.about("list_chunks").because(
            RECORDED,
            "the chunks mem_chunk never recorded cannot be listed",
        )
    } else {
        claim
    };
    claim.holds(
        once && listed.len() == taken.len(),
        format!("{} listed for {} taken", listed.len(), taken.len()),
    );
}

/// Each recorded chunk is listed with at least its size and its source, at the door of the
/// part that got it wrong.
fn described(
    lesson: &mut Lesson,
    parts: &Parts,
    recorded: &[&Taken],
    listed: &[ChunkInfo],
) -> Result<()> {
    let described = |t: &&&Taken| {
        listed
            .iter()
            .any(|c| c.start == t.start && c.len >= t.size && c.source == t.source)
    };
    let wrong: Vec<&Taken> = recorded.iter().filter(|t| !described(t)).copied().collect();
    let recorder = recorded_by(lesson, parts, &wrong, listed)?;
    let claim = lesson
        .claim("each is listed with at least the size asked, and the source its size calls for")
        .about(recorder);
    // A chunk taken from the wrong source is listed with it: where it was taken says why.
    let misplaced = wrong
        .iter()
        .map(|t| t.misplaced.as_deref())
        .collect::<Option<Vec<_>>>();
    let claim = match misplaced.as_deref() {
        Some([first, ..]) if recorder == "mem_chunk" => claim.because(
            *first,
            "a chunk taken from the wrong source is recorded with that source",
        ),
        _ => claim,
    };
    claim.holds(
        wrong.is_empty(),
        match recorder {
            "mem_chunk" => "a chunk's length or source is wrong (see the table), and find_chunk \
                            says the same: mem_chunk recorded it so"
                .to_owned(),
            _ => "a chunk's length or source is wrong (see the table), though find_chunk says \
                  otherwise: list_chunks reports the registry wrong"
                .to_owned(),
        },
    );
    Ok(())
}

/// The break and the maps agree with what is listed. A chunk that lies wrong in the maps
/// already failed where it was taken: that claim says why, and this one follows from it.
fn agree(lesson: &mut Lesson, map: &MemoryMap, brk: usize, taken: &[Taken], listed: &[ChunkInfo]) {
    let agree = listed.iter().all(|c| match c.source {
        Source::Sbrk => c.start + c.len <= brk && writable(map, c.start, c.len),
        Source::Mmap => map
            .region_of(c.start)
            .is_some_and(|r| r.kind == RegionKind::Anonymous && c.start + c.len <= r.end),
    });
    let claim = "the break and /proc/self/maps agree: sbrk chunks lie below the break, mmap \
                 chunks in anonymous mappings, each whole";
    let misplaced = taken.iter().find_map(|t| t.misplaced.as_deref());
    let detail = format!("the break is at {brk:#x}; see the table");
    match (past_the_break(taken, listed), misplaced) {
        // Its cause is in mem_chunk, which recorded more than it took.
        (Some(detail), _) => {
            lesson.check_part("mem_chunk", claim, false, detail);
        }
        (None, Some(earlier)) if !agree => {
            let how =
                "a chunk that lies in the wrong place when taken lies there in the registry too";
            let claim = lesson.claim(claim).about("mem_chunk").because(earlier, how);
            claim.holds(false, detail);
        }
        (None, _) => {
            lesson.check(claim, agree, detail);
        }
    }
}

/// Which part put wrong entries in the registry: mem_chunk, which records each chunk, when
/// find_chunk gives the same entry as list_chunks for every one of `wrong`; list_chunks, which
/// reports them, when find_chunk says otherwise.
fn recorded_by(
    lesson: &mut Lesson,
    parts: &Parts,
    wrong: &[&Taken],
    listed: &[ChunkInfo],
) -> Result<&'static str> {
    for t in wrong {
        let start = t.start;
        let found = lesson.part("find_chunk", || {
            counted(start, || (parts.find_chunk)(start))
        })?;
        let entry = listed.iter().find(|c| c.start == start).copied();
        if found != entry {
            return Ok("list_chunks");
        }
    }
    Ok("mem_chunk")
}

/// The first break chunk listed with more bytes than mem_chunk had moved the break past its
/// start when it returned it: bytes that were not yet its own, which the next `sbrk` (anyone's)
/// hands out again.
pub(super) fn past_the_break(taken: &[Taken], listed: &[ChunkInfo]) -> Option<String> {
    taken
        .iter()
        .filter(|t| t.source == Source::Sbrk)
        .find_map(|t| {
            let c = listed
                .iter()
                .find(|c| c.start == t.start && c.source == Source::Sbrk)?;
            (c.start + c.len > t.break_after).then(|| {
            format!(
                "the chunk at {:#x} is listed with {}, but when mem_chunk returned it the break \
                 was only {} past its start: list only bytes that sbrk gave",
                c.start,
                bytes(c.len as u64),
                bytes(t.break_after.saturating_sub(c.start) as u64)
            )
        })
        })
}
