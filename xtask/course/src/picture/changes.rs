//! What changed from one step to the next: memory mapped (the heap grown by `sbrk`, the
//! mapping `mmap` made), memory gone (the hole `munmap` left, the heap given back), memory whose
//! access changed (`mprotect`), and how far the program break moved.

use memcore::maps::Region;

use super::model::Snapshot;

/// The changes between two snapshots, each a list of address ranges `(start, end)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Mapped now, not before.
    pub added: Vec<(u64, u64)>,
    /// Mapped before, not now.
    pub removed: Vec<(u64, u64)>,
    /// Mapped in both, with other permissions now.
    pub protected: Vec<(u64, u64)>,
    /// The break now, less the break before.
    pub break_moved: i128,
}

impl Changes {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.protected.is_empty()
            && self.break_moved == 0
    }
}

/// The ranges `regions` cover, neighbours joined.
fn covered(regions: &[Region]) -> Vec<(u64, u64)> {
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for region in regions {
        let (start, end) = (region.start as u64, region.end as u64);
        match ranges.last_mut() {
            Some(last) if last.1 == start => last.1 = end,
            _ => ranges.push((start, end)),
        }
    }
    ranges
}

/// The parts of `a` that `b` does not cover (both sorted, neither overlapping itself).
fn minus(a: &[(u64, u64)], b: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut j = 0;
    for &(start, end) in a {
        let mut from = start;
        while j < b.len() && b[j].1 <= from {
            j += 1;
        }
        let mut k = j;
        while k < b.len() && b[k].0 < end {
            if b[k].0 > from {
                out.push((from, b[k].0));
            }
            from = from.max(b[k].1);
            k += 1;
        }
        if from < end {
            out.push((from, end));
        }
    }
    out
}

/// Where a region of `after` overlaps one of `before` with other permissions.
fn reprotected(before: &[Region], after: &[Region]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    let mut i = 0;
    for region in after {
        while i < before.len() && before[i].end <= region.start {
            i += 1;
        }
        let mut k = i;
        while k < before.len() && before[k].start < region.end {
            if before[k].perms != region.perms {
                let start = before[k].start.max(region.start) as u64;
                let end = before[k].end.min(region.end) as u64;
                match out.last_mut() {
                    Some(last) if last.1 == start => last.1 = end,
                    _ => out.push((start, end)),
                }
            }
            k += 1;
        }
    }
    out
}

/// What changed from `before` to `after`.
pub fn changes(before: &Snapshot, after: &Snapshot) -> Changes {
    let (was, is) = (covered(&before.regions), covered(&after.regions));
    Changes {
        added: minus(&is, &was),
        removed: minus(&was, &is),
        protected: reprotected(&before.regions, &after.regions),
        break_moved: i128::from(after.program_break) - i128::from(before.program_break),
    }
}

/// The changes in words, one line each: `+12 KiB mapped`, `the break moved up 9.8 KiB`.
pub fn describe(changes: &Changes) -> Vec<String> {
    let total = |ranges: &[(u64, u64)]| ranges.iter().map(|(s, e)| e - s).sum::<u64>();
    let mut lines = Vec::new();
    if !changes.added.is_empty() {
        lines.push(format!("+ {} mapped", lesson::human(total(&changes.added))));
    }
    if !changes.removed.is_empty() {
        lines.push(format!(
            "− {} unmapped",
            lesson::human(total(&changes.removed))
        ));
    }
    if !changes.protected.is_empty() {
        lines.push(format!(
            "{} with new permissions",
            lesson::human(total(&changes.protected))
        ));
    }
    let moved = lesson::human(changes.break_moved.unsigned_abs() as u64);
    match changes.break_moved.signum() {
        1 => lines.push(format!("the break moved up {moved}")),
        -1 => lines.push(format!("the break moved back {moved}")),
        _ => {}
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(maps: &str, program_break: u64) -> Snapshot {
        Snapshot::of_maps(1, maps, program_break)
    }

    #[test]
    fn sbrk_growth_an_mmap_and_a_munmap_hole_are_each_found() {
        let before = snapshot(
            "1000-3000 rw-p 00000000 00:00 0 [heap]\n\
             8000-9000 rw-p 00000000 00:00 0\n\
             a000-b000 rw-p 00000000 00:00 0\n",
            0x3000,
        );
        let after = snapshot(
            "1000-5000 rw-p 00000000 00:00 0 [heap]\n\
             6000-7000 rw-p 00000000 00:00 0\n\
             a000-b000 r--p 00000000 00:00 0\n",
            0x4800,
        );
        let found = changes(&before, &after);
        assert_eq!(found.added, [(0x3000, 0x5000), (0x6000, 0x7000)]);
        assert_eq!(found.removed, [(0x8000, 0x9000)]);
        assert_eq!(found.protected, [(0xa000, 0xb000)]);
        assert_eq!(found.break_moved, 0x1800);
        assert_eq!(
            describe(&found),
            [
                "+ 12 KiB mapped",
                "− 4 KiB unmapped",
                "4 KiB with new permissions",
                "the break moved up 6 KiB"
            ]
        );
        let back = changes(&after, &before);
        assert_eq!(back.removed, [(0x3000, 0x5000), (0x6000, 0x7000)]);
        assert_eq!(
            describe(&back).last().unwrap(),
            "the break moved back 6 KiB"
        );
    }
}
