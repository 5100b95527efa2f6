//! `/proc/self/maps`: the kernel's list of this process's mappings, parsed into classified
//! regions.
//!
//! Parsing ([`MemoryMap::parse`]) takes any `BufRead`, so it is tested on captured text; reading
//! the live file ([`MemoryMap::read_self`]) is a thin wrapper around it.
//!
//! Each line reads `start-end perms offset dev inode   pathname`, for example
//! `7fff1d2dd000-7fff1d2fe000 rw-p 00000000 00:00 0    [stack]`. The pathname may contain
//! spaces, ends in ` (deleted)` when the file was removed, and is empty for anonymous memory.
//!
//! # References
//! - <https://man7.org/linux/man-pages/man5/proc_pid_maps.5.html>

use std::fmt;
use std::io::BufRead;

use crate::procfs::ProcError;

/// What a malformed line's error calls the file it is in.
const MAPS: &str = "the maps file";

/// The access a mapping allows, as the four letters `rwxp` / `rwxs` of the maps file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Permissions {
    /// `r`: readable.
    pub read: bool,
    /// `w`: writable.
    pub write: bool,
    /// `x`: executable.
    pub execute: bool,
    /// `s` (shared) rather than `p` (private, copy-on-write).
    pub shared: bool,
}

impl Permissions {
    fn parse(text: &str) -> Option<Permissions> {
        let b = text.as_bytes();
        if b.len() != 4 {
            return None;
        }
        let flag = |byte: u8, yes: u8| match byte {
            b'-' => Some(false),
            x if x == yes => Some(true),
            _ => None,
        };
        Some(Permissions {
            read: flag(b[0], b'r')?,
            write: flag(b[1], b'w')?,
            execute: flag(b[2], b'x')?,
            shared: match b[3] {
                b's' => true,
                b'p' => false,
                _ => return None,
            },
        })
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = |on: bool, letter: char| if on { letter } else { '-' };
        write!(
            f,
            "{}{}{}{}",
            c(self.read, 'r'),
            c(self.write, 'w'),
            c(self.execute, 'x'),
            if self.shared { 's' } else { 'p' }
        )
    }
}

/// What a region is, judged from its pathname, its permissions and its neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegionKind {
    /// The executable's code (`r-x`).
    Text,
    /// The executable's read-only data (`r--`): string literals, constants, relocation
    /// read-only data.
    ReadOnlyData,
    /// The executable's writable data (`rw-`): initialised data, and the bss where it shares
    /// the last page (tell them apart with `edata`, see [`crate::linker`]).
    Data,
    /// Anonymous memory right after the executable's data: the rest of a bss too large to
    /// share the data's last page.
    Bss,
    /// `[heap]`: the memory between the start of the heap and the program break.
    Heap,
    /// `[stack]`: the main thread's stack.
    Stack,
    /// Memory with no file behind it (`mmap` with `MAP_ANONYMOUS`; thread stacks; malloc's
    /// large blocks).
    Anonymous,
    /// A shared library (`libc.so.6`, `ld-linux-x86-64.so.2`).
    SharedLibrary,
    /// `[vdso]`: code the kernel maps into every process for fast system calls.
    Vdso,
    /// `[vvar]`, `[vvar_vclock]`: data the vdso reads.
    Vvar,
    /// `[vsyscall]`: the legacy fixed-address system call page.
    Vsyscall,
    /// Another file mapped into memory.
    MappedFile,
    /// Anything else the kernel names in brackets.
    Other,
}

impl RegionKind {
    /// A short lower-case name for output: `text`, `heap`, `anonymous`.
    pub fn name(self) -> &'static str {
        match self {
            RegionKind::Text => "text",
            RegionKind::ReadOnlyData => "read-only data",
            RegionKind::Data => "data",
            RegionKind::Bss => "bss",
            RegionKind::Heap => "heap",
            RegionKind::Stack => "stack",
            RegionKind::Anonymous => "anonymous",
            RegionKind::SharedLibrary => "shared library",
            RegionKind::Vdso => "vdso",
            RegionKind::Vvar => "vvar",
            RegionKind::Vsyscall => "vsyscall",
            RegionKind::MappedFile => "mapped file",
            RegionKind::Other => "other",
        }
    }

    /// Whether the region belongs to the executable file itself.
    pub fn is_executable_segment(self) -> bool {
        matches!(
            self,
            RegionKind::Text | RegionKind::ReadOnlyData | RegionKind::Data | RegionKind::Bss
        )
    }
}

/// One line of `/proc/self/maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// First address of the region (page aligned).
    pub start: usize,
    /// First address past the region.
    pub end: usize,
    /// The access it allows.
    pub perms: Permissions,
    /// Offset into the file, for file mappings.
    pub offset: u64,
    /// The file's device, `major:minor` as the file shows it.
    pub device: String,
    /// The file's inode, 0 for anonymous memory.
    pub inode: u64,
    /// The pathname, without a trailing ` (deleted)`; empty for anonymous memory.
    pub path: String,
    /// Whether the file was deleted (the line ended in ` (deleted)`).
    pub deleted: bool,
    /// What the region is.
    pub kind: RegionKind,
}

impl Region {
    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether it is empty (never, for a region the kernel listed).
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Whether `addr` lies inside it.
    pub fn contains(&self, addr: usize) -> bool {
        self.start <= addr && addr < self.end
    }

    /// How to name it in output, the same on every machine: `[heap]`, `anonymous`, or a file's
    /// name without its directory (`libc.so.6`, the executable's name).
    pub fn name(&self) -> &str {
        if self.path.is_empty() {
            "anonymous"
        } else if self.path.starts_with('[') {
            &self.path
        } else {
            self.path.rsplit('/').next().unwrap_or(&self.path)
        }
    }
}

impl fmt::Display for Region {
    /// `[heap] rw-p`, `ex1-segments r-xp (text)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name(), self.perms)?;
        if self.kind.is_executable_segment() {
            write!(f, " ({})", self.kind.name())?;
        }
        Ok(())
    }
}

/// All of a process's regions, in address order, as one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryMap {
    regions: Vec<Region>,
}

/// Splits off the next space-separated field.
fn field<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let text = rest.trim_start_matches(' ');
    let (head, tail) = text.split_once(' ').unwrap_or((text, ""));
    *rest = tail;
    (!head.is_empty()).then_some(head)
}

fn hex(text: &str) -> Option<u64> {
    (!text.is_empty() && text.len() <= 16)
        .then(|| u64::from_str_radix(text, 16).ok())
        .flatten()
}

/// Parses one line into a region whose kind is not yet known.
fn parse_line(line: &str) -> Result<Region, &'static str> {
    let mut rest = line;
    let range = field(&mut rest).ok_or("no address range")?;
    let (start, end) = range.split_once('-').ok_or("no '-' in the address range")?;
    let start = hex(start).ok_or("bad start address")? as usize;
    let end = hex(end).ok_or("bad end address")? as usize;
    if end <= start {
        return Err("the end is not above the start");
    }
    let perms = field(&mut rest).ok_or("no permissions")?;
    let perms = Permissions::parse(perms).ok_or("bad permissions")?;
    let offset = hex(field(&mut rest).ok_or("no offset")?).ok_or("bad offset")?;
    let device = field(&mut rest).ok_or("no device")?;
    match device.split_once(':') {
        Some((major, minor)) if hex(major).is_some() && hex(minor).is_some() => {}
        _ => return Err("bad device"),
    }
    let inode = field(&mut rest).ok_or("no inode")?;
    let inode = inode.parse().map_err(|_| "bad inode")?;
    // The pathname is everything after the padding, spaces included.
    let path = rest.trim_start_matches(' ');
    let (path, deleted) = match path.strip_suffix(" (deleted)") {
        Some(path) => (path, true),
        None => (path, false),
    };
    Ok(Region {
        start,
        end,
        perms,
        offset,
        device: device.to_owned(),
        inode,
        path: path.to_owned(),
        deleted,
        kind: RegionKind::Other,
    })
}

fn is_shared_library(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.ends_with(".so") || name.contains(".so.")
}

fn classify(region: &Region, previous: Option<&Region>, exe: Option<&str>) -> RegionKind {
    let path = region.path.as_str();
    let after_exe_data = previous.is_some_and(|p| {
        p.end == region.start && matches!(p.kind, RegionKind::Data | RegionKind::Bss)
    });
    match path {
        "" if after_exe_data && region.perms.write => RegionKind::Bss,
        "" => RegionKind::Anonymous,
        "[heap]" => RegionKind::Heap,
        "[stack]" => RegionKind::Stack,
        "[vdso]" => RegionKind::Vdso,
        "[vvar]" | "[vvar_vclock]" => RegionKind::Vvar,
        "[vsyscall]" => RegionKind::Vsyscall,
        _ if path.starts_with('[') => RegionKind::Other,
        _ if Some(path) == exe => match (region.perms.execute, region.perms.write) {
            (true, _) => RegionKind::Text,
            (false, true) => RegionKind::Data,
            (false, false) => RegionKind::ReadOnlyData,
        },
        _ if is_shared_library(path) => RegionKind::SharedLibrary,
        _ => RegionKind::MappedFile,
    }
}

impl MemoryMap {
    /// Parses maps text. `exe` is the executable's path as the maps file shows it (for the live
    /// process, the target of `/proc/self/exe`); its regions are classified as text, read-only
    /// data, data and bss. Without it they count as mapped files.
    ///
    /// # Errors
    /// [`ProcError::Malformed`] for a line not in the kernel's format (never a panic), or
    /// [`ProcError::Io`] if reading fails.
    pub fn parse<R: BufRead>(mut reader: R, exe: Option<&str>) -> Result<MemoryMap, ProcError> {
        let mut regions: Vec<Region> = Vec::new();
        let mut bytes = Vec::new();
        let mut number = 0;
        loop {
            bytes.clear();
            let read = reader
                .read_until(b'\n', &mut bytes)
                .map_err(|source| ProcError::Io {
                    file: "the maps text",
                    source,
                })?;
            if read == 0 {
                break;
            }
            number += 1;
            // A pathname need not be UTF-8; the other fields are ASCII.
            let text = String::from_utf8_lossy(&bytes);
            let line = text.trim_end_matches('\n');
            if line.is_empty() {
                continue;
            }
            let mut region = parse_line(line).map_err(|reason| ProcError::Malformed {
                file: MAPS,
                line: number,
                reason,
                text: line.to_owned(),
            })?;
            if regions.last().is_some_and(|p| region.start < p.end) {
                return Err(ProcError::Malformed {
                    file: MAPS,
                    line: number,
                    reason: "the region overlaps or precedes the previous one",
                    text: line.to_owned(),
                });
            }
            region.kind = classify(&region, regions.last(), exe);
            regions.push(region);
        }
        Ok(MemoryMap { regions })
    }

    /// This process's `/proc/self/maps` as the kernel wrote it, and the executable's path (which
    /// [`MemoryMap::parse`] takes to tell the executable's mappings apart).
    ///
    /// # Errors
    /// [`ProcError::Io`] if either file cannot be read.
    pub fn read_self_text() -> Result<(String, String), ProcError> {
        let exe = std::fs::read_link("/proc/self/exe").map_err(|source| ProcError::Io {
            file: "/proc/self/exe",
            source,
        })?;
        let exe = exe.to_string_lossy();
        let exe = exe.strip_suffix(" (deleted)").unwrap_or(&exe).to_owned();
        let text =
            crate::procfs::read_at_once("/proc/self/maps").map_err(|source| ProcError::Io {
                file: "/proc/self/maps",
                source,
            })?;
        Ok((String::from_utf8_lossy(&text).into_owned(), exe))
    }

    /// Reads and parses this process's `/proc/self/maps`, taking the executable's path from
    /// `/proc/self/exe`.
    ///
    /// # Errors
    /// [`ProcError::Io`] if either file cannot be read; [`ProcError::Malformed`] if the kernel's
    /// text does not parse.
    pub fn read_self() -> Result<MemoryMap, ProcError> {
        // The whole file is read with nothing allocated between the kernel's pages of it, or it
        // would show a map that never existed.
        let (text, exe) = MemoryMap::read_self_text()?;
        MemoryMap::parse(text.as_bytes(), Some(&exe))
    }

    /// The regions, in address order.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// The region that holds `addr`, if any (binary search).
    pub fn region_of(&self, addr: usize) -> Option<&Region> {
        let after = self.regions.partition_point(|r| r.start <= addr);
        after
            .checked_sub(1)
            .map(|i| &self.regions[i])
            .filter(|r| r.contains(addr))
    }

    /// The first region of the given kind.
    pub fn first(&self, kind: RegionKind) -> Option<&Region> {
        self.regions.iter().find(|r| r.kind == kind)
    }

    /// Every region of the given kind, in address order.
    pub fn all(&self, kind: RegionKind) -> impl Iterator<Item = &Region> {
        self.regions.iter().filter(move |r| r.kind == kind)
    }

    /// The whole heap: the first `[heap]` region, extended over the `[heap]` regions right
    /// after it. The kernel lists the heap in more than one line when parts of it differ in
    /// flags: glibc marks its own part with `madvise(MADV_HUGEPAGE)` when tuned with
    /// `glibc.malloc.hugetlb=1`, and memory sbrk adds above it is a region of its own.
    pub fn heap(&self) -> Option<Region> {
        let mut heaps = self.all(RegionKind::Heap);
        let mut heap = heaps.next()?.clone();
        for next in heaps {
            if next.start != heap.end {
                break;
            }
            heap.end = next.end;
        }
        Some(heap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heap_in_two_lines_is_one_heap() {
        let text = "\
55d0c4a00000-55d0c4c00000 rw-p 00000000 00:00 0                          [heap]
55d0c4c00000-55d0c4c03000 rw-p 00000000 00:00 0                          [heap]
55d0c4c05000-55d0c4c06000 rw-p 00000000 00:00 0                          [heap]
7f0000000000-7f0000001000 rw-p 00000000 00:00 0 
";
        let map = MemoryMap::parse(text.as_bytes(), None).unwrap();
        let heap = map.heap().unwrap();
        assert_eq!((heap.start, heap.end), (0x55d0_c4a0_0000, 0x55d0_c4c0_3000));
        assert_eq!(heap.kind, RegionKind::Heap);
        let last = text.lines().last().unwrap();
        let no_heap = MemoryMap::parse(last.as_bytes(), None).unwrap();
        assert_eq!(no_heap.heap(), None);
    }

    /// Captured on this machine from a debug build of `ex1-segments`
    /// (`cat /proc/<pid>/maps`), with one deleted file and a path with spaces added by hand.
    const CAPTURED: &str = include_str!("../tests/data/maps-ex1-segments.txt");
    const EXE: &str = "/work/main/target/debug/ex1-segments";

    fn captured() -> MemoryMap {
        MemoryMap::parse(CAPTURED.as_bytes(), Some(EXE)).unwrap()
    }

    #[test]
    fn every_line_of_the_capture_becomes_a_region() {
        let lines = CAPTURED.lines().filter(|l| !l.is_empty()).count();
        assert_eq!(captured().regions().len(), lines);
    }

    #[test]
    fn the_executable_segments_are_classified() {
        let map = captured();
        let kinds: Vec<_> = map
            .regions()
            .iter()
            .filter(|r| r.path == EXE)
            .map(|r| r.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                RegionKind::ReadOnlyData,
                RegionKind::Text,
                RegionKind::ReadOnlyData,
                RegionKind::Data
            ]
        );
        let text = map.first(RegionKind::Text).unwrap();
        assert_eq!(text.name(), "ex1-segments");
        assert_eq!(text.to_string(), "ex1-segments r-xp (text)");
    }

    #[test]
    fn special_regions_are_classified() {
        let map = captured();
        let heap = map.first(RegionKind::Heap).unwrap();
        assert_eq!((heap.start, heap.end), (0x55ce_8eb1_7000, 0x55ce_8eb3_8000));
        assert_eq!(heap.to_string(), "[heap] rw-p");
        assert_eq!(map.first(RegionKind::Stack).unwrap().path, "[stack]");
        assert!(map.first(RegionKind::Vdso).is_some());
        assert_eq!(map.all(RegionKind::Vvar).count(), 2);
        let vsyscall = map.first(RegionKind::Vsyscall).unwrap();
        assert_eq!(vsyscall.start, 0xffff_ffff_ff60_0000);
        assert_eq!(vsyscall.perms.to_string(), "--xp");
        let libc = map
            .all(RegionKind::SharedLibrary)
            .find(|r| r.name() == "libc.so.6" && r.perms.execute)
            .unwrap();
        assert_eq!(libc.offset, 0x26000);
        assert!(libc.perms.execute);
        assert!(map.first(RegionKind::Anonymous).unwrap().path.is_empty());
    }

    #[test]
    fn pathnames_with_spaces_and_deleted_files_are_kept_whole() {
        let map = captured();
        let spaced = map
            .regions()
            .iter()
            .find(|r| r.path.contains("a file"))
            .unwrap();
        assert_eq!(spaced.path, "/tmp/a file with spaces.bin");
        assert_eq!(spaced.kind, RegionKind::MappedFile);
        assert!(!spaced.deleted);
        let deleted = map.regions().iter().find(|r| r.deleted).unwrap();
        assert_eq!(deleted.path, "/tmp/scratch (old).so");
        assert_eq!(deleted.kind, RegionKind::SharedLibrary);
        assert!(deleted.perms.shared);
    }

    #[test]
    fn lookup_finds_the_region_holding_an_address() {
        let map = captured();
        let heap = map.first(RegionKind::Heap).unwrap();
        assert_eq!(map.region_of(heap.start), Some(heap));
        assert_eq!(map.region_of(heap.end - 1), Some(heap));
        assert_ne!(map.region_of(heap.end), Some(heap));
        assert_eq!(map.region_of(0), None);
        assert_eq!(map.region_of(usize::MAX), None);
    }

    #[test]
    fn anonymous_memory_right_after_the_data_is_bss() {
        let text = "\
5581a0000000-5581a0001000 r-xp 00000000 fe:00 12 /bin/prog
5581a0001000-5581a0002000 rw-p 00001000 fe:00 12 /bin/prog
5581a0002000-5581a0010000 rw-p 00000000 00:00 0 
5581a1000000-5581a1021000 rw-p 00000000 00:00 0 [heap]
7f0000000000-7f0000001000 rw-p 00000000 00:00 0 
";
        let map = MemoryMap::parse(text.as_bytes(), Some("/bin/prog")).unwrap();
        let kinds: Vec<_> = map.regions().iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            [
                RegionKind::Text,
                RegionKind::Data,
                RegionKind::Bss,
                RegionKind::Heap,
                RegionKind::Anonymous
            ]
        );
    }

    #[test]
    fn malformed_lines_give_a_clear_error() {
        let cases = [
            ("zzzz-1000 r--p 00000000 00:00 0", "bad start address"),
            ("1000 r--p 00000000 00:00 0", "no '-' in the address range"),
            (
                "2000-1000 r--p 00000000 00:00 0",
                "the end is not above the start",
            ),
            ("1000-2000 rq-p 00000000 00:00 0", "bad permissions"),
            ("1000-2000 r--p", "no offset"),
            ("1000-2000 r--p 0 0000 0", "bad device"),
            ("1000-2000 r--p 0 00:00 x", "bad inode"),
            ("1000-2000 r--p 0 00:00", "no inode"),
            (
                "10000000000000000-10000000000000001 r--p 0 00:00 0",
                "bad start address",
            ),
        ];
        for (line, reason) in cases {
            let text = format!("1-2 r--p 0 00:00 0\n{line}\n");
            match MemoryMap::parse(text.as_bytes(), None) {
                Err(ProcError::Malformed {
                    file: MAPS,
                    line: 2,
                    reason: r,
                    text,
                }) => {
                    assert_eq!(r, reason, "for {line:?}");
                    assert_eq!(text, line);
                }
                other => panic!("{line:?} gave {other:?}"),
            }
        }
        let overlapping = "1000-3000 r--p 0 00:00 0\n2000-4000 r--p 0 00:00 0\n";
        assert!(matches!(
            MemoryMap::parse(overlapping.as_bytes(), None),
            Err(ProcError::Malformed { line: 2, .. })
        ));
    }

    #[test]
    fn a_non_utf8_pathname_does_not_stop_the_parse() {
        let text = b"1000-2000 r--p 0 00:00 7 /tmp/\xff\xfe\n";
        let map = MemoryMap::parse(&text[..], None).unwrap();
        assert_eq!(map.regions()[0].path, "/tmp/\u{fffd}\u{fffd}");
    }

    #[test]
    fn the_live_map_has_this_executable_heap_and_stack() {
        let map = MemoryMap::read_self().unwrap();
        assert!(map.first(RegionKind::Text).is_some());
        assert!(map.first(RegionKind::Stack).is_some());
        // The test harness runs tests on threads whose stacks pthread maps anonymously; only the
        // main thread's stack is `[stack]` (tests/live_layout.rs checks that one).
        let local = 0u8;
        let stack = map.region_of(&raw const local as usize).unwrap();
        assert!(
            matches!(stack.kind, RegionKind::Stack | RegionKind::Anonymous),
            "{stack}"
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the bytes, the parser answers with regions or an error, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = MemoryMap::parse(&bytes[..], Some("/bin/x"));
        }

        /// Lines in the kernel's format parse back to what was written.
        #[test]
        fn well_formed_lines_parse_back(
            start in 0u64..(1 << 47),
            len in 1u64..(1 << 30),
            perms in "[r-][w-][x-][ps]",
            offset in any::<u32>(),
            inode in any::<u32>(),
            path in "(|\\[heap\\]|/[a-z ]{1,12}( \\(deleted\\))?)",
        ) {
            let end = start + len;
            let line = format!("{start:x}-{end:x} {perms} {offset:08x} fe:01 {inode}    {path}\n");
            let map = MemoryMap::parse(line.as_bytes(), None).unwrap();
            let r = &map.regions()[0];
            prop_assert_eq!((r.start as u64, r.end as u64), (start, end));
            prop_assert_eq!(r.perms.to_string(), perms);
            prop_assert_eq!((r.offset, r.inode), (u64::from(offset), u64::from(inode)));
            prop_assert_eq!(r.deleted, path.ends_with(" (deleted)"));
            prop_assert_eq!(r.path.as_str(), path.trim_end_matches(" (deleted)"));
        }
    }
}
