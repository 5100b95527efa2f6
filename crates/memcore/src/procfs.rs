//! The kernel's other memory files: `/proc/meminfo` (RAM, swap, the huge page size), the
//! transparent huge page mode, the overcommit policy, `/proc/self/smaps` (how much of a mapping is resident) and `/proc/self/pagemap` (which
//! physical frame backs a virtual page).
//!
//! As in [`crate::maps`], parsing takes any `BufRead` and reading the live file is a thin
//! wrapper.
//!
//! # References
//! - <https://man7.org/linux/man-pages/man5/proc_meminfo.5.html>
//! - <https://man7.org/linux/man-pages/man5/proc_pid_smaps.5.html>
//! - <https://docs.kernel.org/admin-guide/mm/transhuge.html>
//! - <https://docs.kernel.org/mm/overcommit-accounting.html>
//! - <https://docs.kernel.org/admin-guide/mm/pagemap.html>

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

/// What can go wrong reading or parsing one of these files.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    /// Reading the file failed.
    #[error("cannot read {file}: {source}")]
    Io {
        /// The file.
        file: &'static str,
        /// Why it failed.
        source: io::Error,
    },
    /// A line is not in the format the kernel writes.
    #[error("line {line} of {file} is malformed ({reason}): {text:?}")]
    Malformed {
        /// The file.
        file: &'static str,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
        /// The line.
        text: String,
    },
    /// A field the kernel always writes is not there.
    #[error("{file} has no {field}")]
    Missing {
        /// The file.
        file: &'static str,
        /// The field (`MemTotal`).
        field: &'static str,
    },
}

fn io_error(file: &'static str) -> impl FnOnce(io::Error) -> ProcError {
    move |source| ProcError::Io { file, source }
}

fn malformed(file: &'static str, line: usize, reason: &'static str, text: &str) -> ProcError {
    ProcError::Malformed {
        file,
        line,
        reason,
        text: text.to_owned(),
    }
}

const MEMINFO: &str = "/proc/meminfo";
const OVERCOMMIT: &str = "/proc/sys/vm/overcommit_memory";
const STATUS: &str = "/proc/self/status";
const SMAPS: &str = "/proc/self/smaps";
const PAGEMAP: &str = "/proc/self/pagemap";
const THP_ENABLED: &str = "/sys/kernel/mm/transparent_hugepage/enabled";
const THP_SIZE: &str = "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size";

/// RAM and swap, from `/proc/meminfo`, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemInfo {
    /// `MemTotal`: usable RAM.
    pub mem_total: u64,
    /// `SwapTotal`: swap space.
    pub swap_total: u64,
    /// `Hugepagesize`: the default size of a huge page (hugetlbfs), when the kernel has them.
    pub huge_page_size: Option<u64>,
}

/// A `Name:   1234 kB` line's value in bytes, if the line is about `name`.
fn kb_field(line: &str, name: &str) -> Option<Option<u64>> {
    let rest = line.strip_prefix(name)?.strip_prefix(':')?;
    let kb = rest.trim().strip_suffix("kB").map(str::trim);
    Some(kb.and_then(|kb| kb.parse::<u64>().ok()).map(|kb| kb * 1024))
}

/// Reads a file the kernel writes as it is read (`/proc/self/maps`, `/proc/self/smaps`) whole,
/// with nothing allocated between its reads.
///
/// The kernel writes such a file a page or so per `read`, and writes each next part from the
/// process's mappings as they are then. An allocation between two reads (a buffer that grows)
/// can move the program break, or make a mapping, and the text would then list the heap twice,
/// or a map that never existed. So the buffer is allocated first and never grows; when the
/// file does not fit, it is read again, from the start, into one twice as large.
///
/// # Errors
/// If the file cannot be opened or read.
pub(crate) fn read_at_once(path: &str) -> io::Result<Vec<u8>> {
    // A few KiB is typical; under valgrind the maps run to tens of KiB.
    let mut capacity = 16 * 1024;
    loop {
        let mut text = vec![0u8; capacity];
        let mut file = File::open(path)?;
        let mut len = 0;
        while len < capacity {
            match file.read(&mut text[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if len < capacity {
            text.truncate(len);
            return Ok(text);
        }
        capacity *= 2;
    }
}

/// Parses `/proc/meminfo` text.
///
/// # Errors
/// [`ProcError::Missing`] without `MemTotal` or `SwapTotal`; [`ProcError::Malformed`] if one
/// is not a kB figure.
pub fn parse_meminfo<R: BufRead>(reader: R) -> Result<MemInfo, ProcError> {
    let (mut mem, mut swap, mut huge) = (None, None, None);
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(io_error(MEMINFO))?;
        let fields = [
            ("MemTotal", &mut mem),
            ("SwapTotal", &mut swap),
            ("Hugepagesize", &mut huge),
        ];
        for (name, slot) in fields {
            if let Some(value) = kb_field(&line, name) {
                *slot =
                    Some(value.ok_or_else(|| malformed(MEMINFO, i + 1, "not a kB figure", &line))?);
            }
        }
    }
    Ok(MemInfo {
        mem_total: mem.ok_or(ProcError::Missing {
            file: MEMINFO,
            field: "MemTotal",
        })?,
        swap_total: swap.ok_or(ProcError::Missing {
            file: MEMINFO,
            field: "SwapTotal",
        })?,
        huge_page_size: huge,
    })
}

/// Reads `/proc/meminfo`.
///
/// # Errors
/// If it cannot be read or parsed.
pub fn meminfo() -> Result<MemInfo, ProcError> {
    let file = File::open(MEMINFO).map_err(io_error(MEMINFO))?;
    parse_meminfo(BufReader::new(file))
}

/// When the kernel backs anonymous memory with transparent huge pages
/// (`/sys/kernel/mm/transparent_hugepage/enabled`, the word in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThpMode {
    /// `always`: wherever an aligned huge page fits.
    Always,
    /// `madvise`: only in ranges marked with `madvise(MADV_HUGEPAGE)`.
    Madvise,
    /// `never`.
    Never,
    /// The kernel has no transparent huge pages (the file does not exist).
    Unsupported,
}

/// Parses the text of `/sys/kernel/mm/transparent_hugepage/enabled` (`always [madvise] never`).
///
/// # Errors
/// [`ProcError::Malformed`] when no known word is in brackets.
pub fn parse_thp_mode(text: &str) -> Result<ThpMode, ProcError> {
    let chosen = text
        .split_whitespace()
        .find_map(|word| word.strip_prefix('[')?.strip_suffix(']'));
    match chosen {
        Some("always") => Ok(ThpMode::Always),
        Some("madvise") => Ok(ThpMode::Madvise),
        Some("never") => Ok(ThpMode::Never),
        _ => Err(malformed(THP_ENABLED, 1, "no mode in brackets", text)),
    }
}

/// Reads the transparent huge page mode, and the size of such a page
/// (`/sys/kernel/mm/transparent_hugepage/hpage_pmd_size`); [`ThpMode::Unsupported`] and no size
/// when the kernel has none.
///
/// # Errors
/// If a file exists but cannot be read or parsed.
pub fn thp() -> Result<(ThpMode, Option<u64>), ProcError> {
    let text = match std::fs::read_to_string(THP_ENABLED) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((ThpMode::Unsupported, None)),
        Err(source) => {
            return Err(ProcError::Io {
                file: THP_ENABLED,
                source,
            });
        }
    };
    let mode = parse_thp_mode(&text)?;
    let size = std::fs::read_to_string(THP_SIZE)
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok());
    Ok((mode, size))
}

/// Whether the kernel has hugetlbfs pages of `size` bytes
/// (`/sys/kernel/mm/hugepages/hugepages-<kB>kB`).
pub fn huge_page_size_exists(size: u64) -> bool {
    size.is_multiple_of(1024)
        && std::path::Path::new(&format!(
            "/sys/kernel/mm/hugepages/hugepages-{}kB",
            size / 1024
        ))
        .is_dir()
}

/// The kernel's policy for granting memory it may not be able to back
/// (`/proc/sys/vm/overcommit_memory`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overcommit {
    /// 0: refuse only requests that obviously cannot fit in RAM plus swap.
    Heuristic,
    /// 1: grant every request.
    Always,
    /// 2: never grant more than swap plus a share of RAM, in all.
    Never,
}

impl Overcommit {
    /// The number the kernel uses (0, 1, 2).
    pub fn number(self) -> u8 {
        match self {
            Overcommit::Heuristic => 0,
            Overcommit::Always => 1,
            Overcommit::Never => 2,
        }
    }

    /// What it does, in a few words.
    pub fn meaning(self) -> &'static str {
        match self {
            Overcommit::Heuristic => "refuse only what obviously cannot fit in RAM plus swap",
            Overcommit::Always => "grant every request",
            Overcommit::Never => "never promise more than swap plus a share of RAM",
        }
    }
}

/// Parses the overcommit file's text (`0\n`).
///
/// # Errors
/// [`ProcError::Malformed`] for anything but 0, 1 or 2.
pub fn parse_overcommit(text: &str) -> Result<Overcommit, ProcError> {
    match text.trim() {
        "0" => Ok(Overcommit::Heuristic),
        "1" => Ok(Overcommit::Always),
        "2" => Ok(Overcommit::Never),
        other => Err(malformed(OVERCOMMIT, 1, "not 0, 1 or 2", other)),
    }
}

/// Reads `/proc/sys/vm/overcommit_memory`.
///
/// # Errors
/// If it cannot be read or parsed.
pub fn overcommit() -> Result<Overcommit, ProcError> {
    let text = std::fs::read_to_string(OVERCOMMIT).map_err(io_error(OVERCOMMIT))?;
    parse_overcommit(&text)
}

/// A `kB` field of `/proc/self/status` text (`VmPTE`, `VmSize`, `VmData`), in bytes.
///
/// # Errors
/// [`ProcError::Missing`] without the field; [`ProcError::Malformed`] if it is not in kB.
pub fn parse_status_field<R: BufRead>(reader: R, field: &'static str) -> Result<u64, ProcError> {
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(io_error(STATUS))?;
        if let Some(value) = kb_field(&line, field) {
            return value.ok_or_else(|| malformed(STATUS, i + 1, "not a kB figure", &line));
        }
    }
    Err(ProcError::Missing {
        file: STATUS,
        field,
    })
}

fn status_field(field: &'static str) -> Result<u64, ProcError> {
    let file = File::open(STATUS).map_err(io_error(STATUS))?;
    parse_status_field(BufReader::new(file), field)
}

/// Reads the size of this process's page tables (`VmPTE` in `/proc/self/status`): memory the
/// kernel uses to map its virtual pages, counted apart from `Rss`.
///
/// # Errors
/// If the file cannot be read or has no `VmPTE`.
///
/// # References
/// - <https://man7.org/linux/man-pages/man5/proc_pid_status.5.html>
pub fn page_tables() -> Result<u64, ProcError> {
    status_field("VmPTE")
}

/// Reads how much address space this process has mapped (`VmSize`), and how much of it is
/// private writable data (`VmData`): what `RLIMIT_AS` and `RLIMIT_DATA` limit.
///
/// # Errors
/// If the file cannot be read or lacks a field.
pub fn address_space() -> Result<(u64, u64), ProcError> {
    Ok((status_field("VmSize")?, status_field("VmData")?))
}

/// The resident size (`Rss`, in bytes) of the mapping that holds `addr`, from smaps text;
/// `None` if no mapping holds it.
///
/// # Errors
/// [`ProcError::Malformed`] if the mapping's header or its `Rss` line does not parse.
pub fn parse_smaps_rss<R: BufRead>(reader: R, addr: usize) -> Result<Option<u64>, ProcError> {
    let mut inside = false;
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(io_error(SMAPS))?;
        // A mapping's header starts with its range; its fields start with a capital letter.
        let first = line.split(' ').next().unwrap_or("");
        if let Some((start, end)) = first.split_once('-') {
            let parse = |t: &str| usize::from_str_radix(t, 16);
            match (parse(start), parse(end)) {
                (Ok(s), Ok(e)) => inside = s <= addr && addr < e,
                _ => return Err(malformed(SMAPS, i + 1, "bad address range", &line)),
            }
        } else if inside && let Some(rss) = kb_field(&line, "Rss") {
            return rss
                .map(Some)
                .ok_or_else(|| malformed(SMAPS, i + 1, "not a kB figure", &line));
        }
    }
    Ok(None)
}

/// The resident size of the mapping that holds `addr`, from `/proc/self/smaps`.
///
/// # Errors
/// If the file cannot be read or parsed.
pub fn rss_of(addr: usize) -> Result<Option<u64>, ProcError> {
    let text = read_at_once(SMAPS).map_err(io_error(SMAPS))?;
    parse_smaps_rss(&text[..], addr)
}

/// What `/proc/self/pagemap` says of one virtual page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Not in RAM (never touched, or swapped out).
    NotPresent,
    /// In RAM, in this physical frame.
    Present(u64),
    /// In RAM, but the frame number is hidden: reading it needs `CAP_SYS_ADMIN`.
    Hidden,
}

/// Decodes one 64-bit pagemap entry: bit 63 present, bits 0-54 the frame number (zero when
/// the reader lacks the privilege to see it).
pub fn decode_pagemap_entry(entry: u64) -> Frame {
    let present = entry >> 63 == 1;
    let frame = entry & ((1 << 55) - 1);
    match (present, frame) {
        (false, _) => Frame::NotPresent,
        (true, 0) => Frame::Hidden,
        (true, frame) => Frame::Present(frame),
    }
}

/// `pages` consecutive virtual pages from the one holding `addr`, as `/proc/self/pagemap`
/// shows them.
///
/// # Errors
/// [`ProcError::Io`] if the file cannot be read.
pub fn page_frames(addr: usize, pages: usize) -> Result<Vec<Frame>, ProcError> {
    let page = crate::sys::page_size();
    let mut file = File::open(PAGEMAP).map_err(io_error(PAGEMAP))?;
    let offset = (addr / page * 8) as u64;
    file.seek(SeekFrom::Start(offset))
        .map_err(io_error(PAGEMAP))?;
    let mut bytes = vec![0u8; pages * 8];
    file.read_exact(&mut bytes).map_err(io_error(PAGEMAP))?;
    Ok(bytes
        .chunks_exact(8)
        .map(|e| decode_pagemap_entry(u64::from_ne_bytes(e.try_into().unwrap_or([0; 8]))))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tables_are_read_from_status() {
        let text = "Name:\tex0\nVmRSS:\t  2048 kB\nVmPTE:\t    56 kB\n";
        assert_eq!(
            parse_status_field(text.as_bytes(), "VmPTE").unwrap(),
            56 * 1024
        );
        let missing = parse_status_field("Name:\tx\n".as_bytes(), "VmPTE").unwrap_err();
        assert_eq!(missing.to_string(), "/proc/self/status has no VmPTE");
        assert!(parse_status_field("VmSize:\tlots\n".as_bytes(), "VmSize").is_err());
        assert!(page_tables().unwrap() > 0);
        let (size, data) = address_space().unwrap();
        assert!(size > data && data > 0, "{size} {data}");
    }

    #[test]
    fn meminfo_gives_ram_and_swap_in_bytes() {
        let text = "MemTotal:       24683652 kB\nMemFree:  1 kB\nSwapTotal:             0 kB\n";
        let info = parse_meminfo(text.as_bytes()).unwrap();
        assert_eq!(info.mem_total, 24_683_652 * 1024);
        assert_eq!(info.swap_total, 0);
        assert_eq!(info.huge_page_size, None);
        let huge = parse_meminfo(format!("{text}Hugepagesize:       2048 kB\n").as_bytes());
        assert_eq!(huge.unwrap().huge_page_size, Some(2 << 20));
        let missing = parse_meminfo("MemTotal: 5 kB\n".as_bytes()).unwrap_err();
        assert_eq!(missing.to_string(), "/proc/meminfo has no SwapTotal");
        assert!(parse_meminfo("MemTotal: x kB\nSwapTotal: 0 kB\n".as_bytes()).is_err());
        let live = meminfo().unwrap();
        assert!(live.mem_total > 0);
    }

    #[test]
    fn a_file_is_read_whole_whatever_its_size() {
        let path = std::env::temp_dir().join(format!("memcore-read-{}", std::process::id()));
        for len in [0, 1, 16 * 1024 - 1, 16 * 1024, 200_000] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            std::fs::write(&path, &bytes).unwrap();
            assert_eq!(
                read_at_once(path.to_str().unwrap()).unwrap(),
                bytes,
                "{len} bytes"
            );
        }
        std::fs::remove_file(&path).unwrap();
        assert!(read_at_once("/proc/self/maps").unwrap().ends_with(b"\n"));
        assert!(read_at_once("/nonexistent/file").is_err());
    }

    #[test]
    fn the_thp_mode_is_the_word_in_brackets() {
        let mode = |t: &str| parse_thp_mode(t).ok();
        assert_eq!(mode("always [madvise] never\n"), Some(ThpMode::Madvise));
        assert_eq!(mode("[always] madvise never"), Some(ThpMode::Always));
        assert_eq!(mode("always madvise [never]"), Some(ThpMode::Never));
        assert_eq!(mode("always madvise never"), None);
        assert!(thp().is_ok());
    }

    #[test]
    fn the_overcommit_policy_parses() {
        assert_eq!(parse_overcommit("0\n").unwrap(), Overcommit::Heuristic);
        assert_eq!(parse_overcommit("2").unwrap().number(), 2);
        assert!(parse_overcommit("3").is_err());
        assert!(overcommit().is_ok());
    }

    #[test]
    fn smaps_gives_the_rss_of_the_mapping_holding_an_address() {
        let text = "\
1000-3000 r--p 00000000 fe:00 1 /bin/x
Size:                  8 kB
Rss:                   4 kB
7f00-8f00 rw-p 00000000 00:00 0
Size:                  4 kB
Rss:                   0 kB
";
        assert_eq!(
            parse_smaps_rss(text.as_bytes(), 0x1fff).unwrap(),
            Some(4096)
        );
        assert_eq!(parse_smaps_rss(text.as_bytes(), 0x7f00).unwrap(), Some(0));
        assert_eq!(parse_smaps_rss(text.as_bytes(), 0x5000).unwrap(), None);
        assert!(parse_smaps_rss("zz-1 r--p\n".as_bytes(), 0).is_err());
    }

    #[test]
    fn touching_pages_makes_them_resident() {
        let page = crate::sys::page_size();
        let mut map = crate::Mapping::anonymous(16 * page).unwrap();
        let addr = map.as_ptr() as usize;
        map[0] = 1;
        map[5 * page] = 1;
        // Merged neighbours may add to the region's Rss, never less than our two pages.
        assert!(rss_of(addr).unwrap().unwrap() >= 2 * page as u64);
        let frames = page_frames(addr, 2).unwrap();
        assert!(matches!(frames[0], Frame::Present(_) | Frame::Hidden));
    }

    #[test]
    fn pagemap_entries_decode() {
        assert_eq!(decode_pagemap_entry(0), Frame::NotPresent);
        assert_eq!(decode_pagemap_entry(1 << 63), Frame::Hidden);
        assert_eq!(
            decode_pagemap_entry((1 << 63) | 0x1234),
            Frame::Present(0x1234)
        );
    }
}
