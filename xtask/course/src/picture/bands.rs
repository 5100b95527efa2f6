//! Bands: what one column of the picture draws for one snapshot. A band is one mapping, or a
//! long run of neighbouring mappings of one kind merged into one, with their count, so that a
//! map of thousands of mappings stays readable.

use memcore::maps::{Region, RegionKind};

/// How many neighbouring mappings of one kind it takes to merge them. Shorter runs stay apart:
/// libc's five mappings, say, each keep their own band and their own line of the maps file.
pub const MERGE_AT: usize = 8;

/// A gap at least this large is drawn compressed, and no band spans it.
pub const LARGE_GAP: u64 = 1 << 20;

/// What a band is, for its colour: the lesson's kinds, with the kernel's pages as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The executable's code.
    Text,
    /// The executable's read-only data.
    ReadOnlyData,
    /// The executable's data.
    Data,
    /// The bss beyond the data's last page.
    Bss,
    /// `[heap]`.
    Heap,
    /// Anonymous mappings.
    Anonymous,
    /// Files mapped into memory.
    MappedFile,
    /// Shared libraries.
    Library,
    /// `[stack]`.
    Stack,
    /// `[vdso]`, `[vvar]`, `[vsyscall]`: the kernel's pages.
    Kernel,
    /// Anything else the kernel names.
    Other,
}

impl Kind {
    /// Every kind, in the legend's order.
    pub const ALL: [Kind; 11] = [
        Kind::Text,
        Kind::ReadOnlyData,
        Kind::Data,
        Kind::Bss,
        Kind::Heap,
        Kind::Anonymous,
        Kind::MappedFile,
        Kind::Library,
        Kind::Stack,
        Kind::Kernel,
        Kind::Other,
    ];

    /// The kind of a region.
    pub fn of(kind: RegionKind) -> Kind {
        match kind {
            RegionKind::Text => Kind::Text,
            RegionKind::ReadOnlyData => Kind::ReadOnlyData,
            RegionKind::Data => Kind::Data,
            RegionKind::Bss => Kind::Bss,
            RegionKind::Heap => Kind::Heap,
            RegionKind::Stack => Kind::Stack,
            RegionKind::Anonymous => Kind::Anonymous,
            RegionKind::SharedLibrary => Kind::Library,
            RegionKind::Vdso | RegionKind::Vvar | RegionKind::Vsyscall => Kind::Kernel,
            RegionKind::MappedFile => Kind::MappedFile,
            RegionKind::Other => Kind::Other,
        }
    }

    /// Its CSS class, which gives its colour.
    pub fn class(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::ReadOnlyData => "rodata",
            Kind::Data => "data",
            Kind::Bss => "bss",
            Kind::Heap => "heap",
            Kind::Anonymous => "anon",
            Kind::MappedFile => "file",
            Kind::Library => "lib",
            Kind::Stack => "stack",
            Kind::Kernel => "kernel",
            Kind::Other => "other",
        }
    }

    /// Its name in the legend and in the hover text.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Text => "text (code)",
            Kind::ReadOnlyData => "read-only data",
            Kind::Data => "data",
            Kind::Bss => "bss",
            Kind::Heap => "heap",
            Kind::Anonymous => "anonymous mapping",
            Kind::MappedFile => "file mapping",
            Kind::Library => "shared library",
            Kind::Stack => "stack",
            Kind::Kernel => "vdso, vvar (the kernel's pages)",
            Kind::Other => "other",
        }
    }
}

/// One band of a column: regions `first..first + count` of the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Band {
    /// Its lowest address.
    pub start: u64,
    /// The first address above it.
    pub end: u64,
    /// What it is.
    pub kind: Kind,
    /// The index of its first region.
    pub first: usize,
    /// How many regions it holds.
    pub count: usize,
}

/// Whether `next` continues a run of `kind` that ended at `end`.
fn continues(kind: Kind, end: u64, next: &Region) -> bool {
    Kind::of(next.kind) == kind && (next.start as u64).saturating_sub(end) < LARGE_GAP
}

/// The bands of `regions` (in address order): one per region, except that a run of at least
/// [`MERGE_AT`] neighbours of one kind, no two a large gap apart, is one band.
///
/// ```text
/// regions:  anon anon anon … (9 of them) lib lib
/// bands:    [anon ×9 ...................] lib lib
/// ```
pub fn bands(regions: &[Region]) -> Vec<Band> {
    let mut bands = Vec::new();
    let mut i = 0;
    while i < regions.len() {
        let kind = Kind::of(regions[i].kind);
        let mut j = i + 1;
        while j < regions.len() && continues(kind, regions[j - 1].end as u64, &regions[j]) {
            j += 1;
        }
        let run = if j - i >= MERGE_AT { j - i } else { 1 };
        bands.push(Band {
            start: regions[i].start as u64,
            end: regions[i + run - 1].end as u64,
            kind,
            first: i,
            count: run,
        });
        i += run;
    }
    bands
}

#[cfg(test)]
mod tests {
    use super::*;
    use memcore::maps::MemoryMap;

    fn map(lines: &[String]) -> Vec<Region> {
        MemoryMap::parse(lines.join("\n").as_bytes(), None)
            .unwrap()
            .regions()
            .to_vec()
    }

    fn anon(start: u64) -> String {
        format!("{start:x}-{:x} rw-p 00000000 00:00 0", start + 0x1000)
    }

    #[test]
    fn a_long_run_of_one_kind_merges_and_a_short_one_does_not() {
        let mut lines: Vec<String> = (0..3).map(|i| anon(0x1000_0000 + i * 0x2000)).collect();
        lines.push("10100000-10101000 r--p 00000000 fe:00 7 /usr/lib/libc.so.6".to_owned());
        lines.extend((0..10).map(|i| anon(0x1020_0000 + i * 0x2000)));
        let bands = bands(&map(&lines));
        let counts: Vec<usize> = bands.iter().map(|b| b.count).collect();
        assert_eq!(counts, [1, 1, 1, 1, 10]);
        assert_eq!(bands[4].start, 0x1020_0000);
        assert_eq!(bands[4].end, 0x1020_0000 + 9 * 0x2000 + 0x1000);
        assert_eq!(bands[4].first, 4);
    }

    #[test]
    fn a_large_gap_ends_a_run() {
        let lines: Vec<String> = (0..16)
            .map(|i| anon(0x1000_0000 + i * 0x2000 + if i >= 8 { LARGE_GAP } else { 0 }))
            .collect();
        let counts: Vec<usize> = bands(&map(&lines)).iter().map(|b| b.count).collect();
        assert_eq!(counts, [8, 8]);
    }
}
