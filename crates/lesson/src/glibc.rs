//! How glibc's malloc is tuned in this process, and what that changes in what the lessons show.
//!
//! glibc reads its malloc settings once, at start-up, from `GLIBC_TUNABLES`
//! (`glibc.malloc.NAME=VALUE:…`, man 7 tunables) and from the older `MALLOC_…_` variables
//! (man 3 mallopt). A lesson that claims where malloc puts memory reads them too, and says
//! which case this run is in.
//!
//! # References
//! - <https://man7.org/linux/man-pages/man7/tunables.7.html>
//! - <https://man7.org/linux/man-pages/man3/mallopt.3.html>
//! - <https://sourceware.org/glibc/manual/latest/html_node/Memory-Allocation-Tunables.html>

use memcore::procfs::{self, ThpMode};

use crate::bytes;

/// glibc's default mmap threshold (`M_MMAP_THRESHOLD`, man 3 mallopt).
pub const DEFAULT_MMAP_THRESHOLD: usize = 128 * 1024;

/// glibc's default top pad (`M_TOP_PAD`, man 3 mallopt): the spare room it asks for whenever
/// it grows the heap.
pub const DEFAULT_TOP_PAD: usize = 128 * 1024;

/// The largest mmap threshold glibc accepts on a 64-bit system (`HEAP_MAX_SIZE / 2`); it
/// ignores a larger one.
const MAX_MMAP_THRESHOLD: usize = 32 << 20;

/// The chunk glibc's malloc makes for a request of `len` bytes: the request and an 8-byte
/// header, rounded up to 16. The threshold is compared with it.
pub fn chunk_size(len: usize) -> usize {
    len.saturating_add(8).next_multiple_of(16)
}

/// Where glibc's malloc puts one request, by its rule (man 3 mallopt, `M_MMAP_THRESHOLD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Tuned never to call sbrk: in an anonymous mapping.
    NoHeap,
    /// mmap turned off (`mmap_max=0`): in the heap, whatever its size.
    MmapOff,
    /// Its chunk is below the threshold: in the heap.
    BelowThreshold,
    /// At or above the threshold, but free heap memory fitted it: in the heap.
    FittedInHeap,
    /// At or above the threshold: in an anonymous mapping of its own.
    OwnMapping,
}

impl Placement {
    /// The rule, as the lesson says it.
    pub fn says(self) -> &'static str {
        match self {
            Placement::NoHeap => "glibc's malloc uses no heap in this run: in an anonymous mapping",
            Placement::MmapOff => "mmap is turned off (mmap_max=0): in [heap]",
            Placement::BelowThreshold => "below the threshold: in [heap]",
            Placement::FittedInHeap => {
                "at or above the threshold, but free heap memory fitted it: in [heap]"
            }
            Placement::OwnMapping => {
                "at or above the threshold: in an anonymous mapping of its own"
            }
        }
    }

    /// The kind of region the block lies in.
    pub fn region(self) -> memcore::RegionKind {
        match self {
            Placement::NoHeap | Placement::OwnMapping => memcore::RegionKind::Anonymous,
            _ => memcore::RegionKind::Heap,
        }
    }
}

/// The smallest chunk glibc's malloc makes (`MINSIZE` on 64-bit systems).
///
/// With a threshold at or below it, every request glibc cannot serve from free memory is
/// mapped. glibc also grows the heap when a request would leave less than this free at its top.
pub const MIN_CHUNK: usize = 32;

/// One setting, and where this process got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The value.
    pub value: usize,
    /// `GLIBC_TUNABLES` or the older variable's name.
    pub source: &'static str,
}

/// The malloc settings this process was started with; `None` where glibc's default holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MallocTuning {
    /// `glibc.malloc.mmap_threshold`, or `MALLOC_MMAP_THRESHOLD_`.
    pub mmap_threshold: Option<Setting>,
    /// `glibc.malloc.top_pad`, or `MALLOC_TOP_PAD_`.
    pub top_pad: Option<Setting>,
    /// `glibc.malloc.mmap_max`, or `MALLOC_MMAP_MAX_`: 0 turns mmap off.
    pub mmap_max: Option<Setting>,
    /// `glibc.malloc.hugetlb`: 1 for transparent huge pages, 2 (or a page size) for hugetlbfs.
    pub hugetlb: Option<Setting>,
}

/// A number as glibc's tunables read it: decimal, `0x` hex or `0` octal.
fn number(text: &str) -> Option<usize> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        usize::from_str_radix(hex, 16).ok()
    } else if text.len() > 1 && text.starts_with('0') {
        usize::from_str_radix(&text[1..], 8).ok()
    } else {
        text.parse().ok()
    }
}

impl MallocTuning {
    /// The settings of this process, as a glibc of `version` reads them: `GLIBC_TUNABLES` from
    /// 2.26, `hugetlb` from 2.35.
    pub fn from_env(version: (u32, u32)) -> MallocTuning {
        let tunables = std::env::var("GLIBC_TUNABLES").ok();
        let tunables = tunables.as_deref().filter(|_| version >= (2, 26));
        let mut tuning = MallocTuning::parse(tunables, |name| std::env::var(name).ok());
        if version < (2, 35) {
            tuning.hugetlb = None;
        }
        tuning
    }

    /// The settings given `GLIBC_TUNABLES` and a way to read the older variables.
    ///
    /// In `GLIBC_TUNABLES` the last value of a name wins, and it wins over the older variable.
    /// Values glibc would refuse (not a number, a threshold above 32 MiB) are left out.
    pub fn parse(tunables: Option<&str>, var: impl Fn(&str) -> Option<String>) -> MallocTuning {
        let tuned = |name: &str| {
            tunables?
                .split(':')
                .filter_map(|pair| pair.strip_prefix("glibc.malloc.")?.split_once('='))
                .filter(|(key, _)| *key == name)
                .filter_map(|(_, value)| number(value))
                .next_back()
                .map(|value| Setting {
                    value,
                    source: "GLIBC_TUNABLES",
                })
        };
        let old = |name: &'static str| {
            var(name).and_then(|v| number(&v)).map(|value| Setting {
                value,
                source: name,
            })
        };
        let either = |name, old_name| tuned(name).or_else(|| old(old_name));
        MallocTuning {
            mmap_threshold: either("mmap_threshold", "MALLOC_MMAP_THRESHOLD_")
                .filter(|s| s.value <= MAX_MMAP_THRESHOLD),
            top_pad: either("top_pad", "MALLOC_TOP_PAD_"),
            mmap_max: either("mmap_max", "MALLOC_MMAP_MAX_"),
            hugetlb: tuned("hugetlb"),
        }
    }
}

/// glibc's malloc in this process: its settings and the kernel's huge pages, which decide
/// some of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlibcMalloc {
    /// The settings.
    pub tuning: MallocTuning,
    /// The transparent huge page mode and size (read only when `hugetlb` is set).
    pub thp: (ThpMode, Option<u64>),
    /// The default hugetlbfs page size, if the kernel has huge pages (read only when `hugetlb`
    /// is set).
    pub huge_page: Option<u64>,
}

impl GlibcMalloc {
    /// Reads the settings, and the kernel's huge page files when `hugetlb` is set (nothing
    /// else depends on them).
    ///
    /// # Errors
    /// If a file of the kernel's cannot be read.
    pub fn read() -> anyhow::Result<GlibcMalloc> {
        let tuning = MallocTuning::from_env(memcore::sys::glibc_version());
        let (thp, huge_page) = match tuning.hugetlb {
            Some(_) => (procfs::thp()?, procfs::meminfo()?.huge_page_size),
            None => ((ThpMode::Unsupported, None), None),
        };
        Ok(GlibcMalloc {
            tuning,
            thp,
            huge_page,
        })
    }

    /// The size of the huge pages glibc's malloc maps all its memory with, if it does.
    ///
    /// It does with `glibc.malloc.hugetlb=2`, or with a page size the kernel has. Then glibc
    /// takes every block of memory for its main arena with mmap, to try huge pages. It never
    /// calls sbrk.
    fn hugetlb_pages(&self) -> Option<u64> {
        match self.tuning.hugetlb?.value {
            0 | 1 => None,
            2 => self.huge_page,
            size => procfs::huge_page_size_exists(size as u64).then_some(size as u64),
        }
    }

    /// The page size to whose boundary glibc grows its heap, if it rounds to a huge page.
    ///
    /// It does with `glibc.malloc.hugetlb=1` when the kernel's transparent huge pages are in
    /// `madvise` mode.
    pub fn thp_growth(&self) -> Option<u64> {
        match (self.tuning.hugetlb?.value, self.thp) {
            (1, (ThpMode::Madvise, Some(size))) => Some(size),
            _ => None,
        }
    }

    /// Whether glibc may serve a large request with an mmap of its own (`mmap_max` is not 0).
    pub fn maps_large_requests(&self) -> bool {
        self.tuning.mmap_max.is_none_or(|s| s.value > 0) || self.hugetlb_pages().is_some()
    }

    /// glibc's mmap threshold, and where it comes from.
    ///
    /// Untuned, it starts at 128 KiB and moves up when a mapped block is freed (man 3 mallopt).
    /// With hugetlbfs pages it is their size.
    pub fn mmap_threshold(&self) -> (usize, String) {
        match (self.tuning.mmap_threshold, self.hugetlb_pages()) {
            (Some(s), _) => (s.value, format!("set by {}", s.source)),
            (None, Some(size)) => (size as usize, "the huge page size (hugetlb)".to_owned()),
            (None, None) => (DEFAULT_MMAP_THRESHOLD, "glibc's default".to_owned()),
        }
    }

    /// Whether glibc's malloc gives an mmap of its own to every request that free memory
    /// cannot serve.
    ///
    /// It does when its threshold is at or below its smallest chunk, and mmap is not turned
    /// off. Those mappings then lie beside, and merge with, the ones a program makes itself.
    pub fn maps_every_request(&self) -> bool {
        self.mmap_threshold().0 <= MIN_CHUNK && self.maps_large_requests()
    }

    /// The largest request of at most `most` bytes that glibc serves from the heap, not with an
    /// mmap of its own. At least 16 bytes (useless when [`GlibcMalloc::maps_every_request`]).
    ///
    /// Such a request stays below the threshold with its 8-byte header, rounded up to 16.
    pub fn largest_heap_request(&self, most: usize) -> usize {
        if !self.maps_large_requests() {
            return most;
        }
        // The largest request whose chunk, with its header, stays below the threshold.
        let below = self.mmap_threshold().0.saturating_sub(1) / 16 * 16;
        most.min(below.saturating_sub(16)).max(16)
    }

    /// Where glibc's malloc puts a request of `len` bytes in this process. `fitted` says
    /// whether the block lies in `[heap]` and the break did not move for it: only then did free
    /// heap memory serve a request at or above the threshold.
    pub fn placement(&self, len: usize, fitted: bool) -> Placement {
        if self.no_heap().is_some() {
            Placement::NoHeap
        } else if !self.maps_large_requests() {
            Placement::MmapOff
        } else if chunk_size(len) < self.mmap_threshold().0 {
            Placement::BelowThreshold
        } else if fitted {
            Placement::FittedInHeap
        } else {
            Placement::OwnMapping
        }
    }

    /// Why glibc's malloc never moves the program break in this process, if it never does.
    pub fn no_heap(&self) -> Option<String> {
        if let Some(size) = self.hugetlb_pages() {
            return Some(format!(
                "glibc.malloc.hugetlb={} makes malloc take all its memory with mmap, to try \
                 huge pages of {}, and never call sbrk",
                self.tuning.hugetlb.map_or(2, |s| s.value),
                bytes(size)
            ));
        }
        let (threshold, source) = self.mmap_threshold();
        self.maps_every_request().then(|| {
            format!(
                "the mmap threshold is {} ({source}), below any chunk. So malloc maps every \
                 request that free memory cannot serve, and never calls sbrk",
                bytes(threshold as u64)
            )
        })
    }

    /// Why the lessons' output differs from their snapshots in this process, by design, if it
    /// does.
    ///
    /// It does when glibc's malloc uses no heap, or when it maps requests smaller than the
    /// 16 KiB blocks ex1 takes from the heap. The lessons' own checks still hold then.
    pub fn changes_the_lessons(&self) -> Option<String> {
        if let Some(why) = self.no_heap() {
            return Some(why);
        }
        let (threshold, source) = self.mmap_threshold();
        (self.largest_heap_request(16 * 1024) < 16 * 1024).then(|| {
            format!(
                "the mmap threshold is {} ({source}), so the heap serves only smaller blocks",
                bytes(threshold as u64)
            )
        })
    }

    /// The spare room glibc's malloc asks for whenever it grows the heap. It is `top_pad`, and
    /// with transparent huge pages up to one such page more.
    pub fn growth_room(&self) -> usize {
        let pad = self.tuning.top_pad.map_or(DEFAULT_TOP_PAD, |s| s.value);
        pad.saturating_add(self.thp_growth().unwrap_or(0) as usize)
    }

    /// How glibc's malloc grows the heap in this process, in words.
    pub fn growth(&self) -> String {
        let pad = match self.tuning.top_pad {
            Some(s) => format!("top_pad, {} (set by {})", bytes(s.value as u64), s.source),
            None => format!(
                "top_pad, {} (glibc's default)",
                bytes(DEFAULT_TOP_PAD as u64)
            ),
        };
        let mut words = format!("by what the request needs plus {pad}, to a page boundary");
        if let Some(size) = self.thp_growth() {
            words = format!(
                "by what the request needs plus {pad}, to a boundary of {} (glibc.malloc.hugetlb=1: \
                 a transparent huge page)",
                bytes(size)
            );
        }
        words
    }
}

/// Why this run's setup changes what the lessons show by design, if it does: the legacy mmap
/// layout reorders the address space, and some settings of glibc's malloc change what the
/// lessons show (see [`GlibcMalloc::changes_the_lessons`]). The lessons' own checks still hold
/// then; only their patterns differ from the snapshots. Every lesson run records it
/// ([`crate::events::Event::Setup`]), and `cargo xtask` reads it there.
pub fn differs_by_design() -> Option<String> {
    let legacy = memcore::layout::legacy_mmap_reasons();
    if !legacy.is_empty() {
        return Some(format!(
            "this run has the legacy mmap layout ({}), which reorders the address space",
            legacy.join(", ")
        ));
    }
    let malloc = GlibcMalloc::read().ok()?;
    malloc
        .changes_the_lessons()
        .map(|why| format!("glibc's malloc is tuned here: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuning(tunables: &str, vars: &[(&str, &str)]) -> MallocTuning {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        MallocTuning::parse(Some(tunables), |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    fn malloc(tuning: MallocTuning) -> GlibcMalloc {
        GlibcMalloc {
            tuning,
            thp: (ThpMode::Madvise, Some(2 << 20)),
            huge_page: Some(2 << 20),
        }
    }

    #[test]
    fn tunables_are_read_as_glibc_reads_them() {
        let t = tuning(
            "glibc.malloc.top_pad=0:glibc.malloc.mmap_threshold=0x1000:glibc.malloc.mmap_threshold=4096000",
            &[("MALLOC_TOP_PAD_", "5"), ("MALLOC_MMAP_MAX_", "010")],
        );
        assert_eq!(
            t.top_pad.map(|s| (s.value, s.source)),
            Some((0, "GLIBC_TUNABLES"))
        );
        assert_eq!(t.mmap_threshold.map(|s| s.value), Some(4_096_000));
        assert_eq!(
            t.mmap_max.map(|s| (s.value, s.source)),
            Some((8, "MALLOC_MMAP_MAX_"))
        );
        assert_eq!(t.hugetlb, None);
        let refused = tuning(
            "glibc.malloc.mmap_threshold=67108864:glibc.malloc.top_pad=x",
            &[],
        );
        assert_eq!((refused.mmap_threshold, refused.top_pad), (None, None));
        assert_eq!(
            tuning("glibc.mem.tagging=1:top_pad=5", &[]),
            MallocTuning::default()
        );
    }

    fn m_default() -> GlibcMalloc {
        malloc(MallocTuning::default())
    }

    #[test]
    fn the_default_uses_the_heap_and_maps_large_requests() {
        let m = malloc(MallocTuning::default());
        assert_eq!(m.no_heap(), None);
        assert_eq!(m.changes_the_lessons(), None);
        assert!(m.maps_large_requests());
        assert_eq!(m.mmap_threshold().0, DEFAULT_MMAP_THRESHOLD);
        assert_eq!(m.growth_room(), DEFAULT_TOP_PAD);
        assert_eq!(m.thp_growth(), None);
    }

    #[test]
    fn settings_that_change_the_heap_are_recognised() {
        let huge = malloc(tuning("glibc.malloc.hugetlb=2", &[]));
        assert!(huge.no_heap().unwrap().contains("never call sbrk"));
        assert_eq!(huge.mmap_threshold().0, 2 << 20);
        let no_huge_pages = GlibcMalloc {
            huge_page: None,
            ..huge
        };
        assert_eq!(no_huge_pages.no_heap(), None);
        let zero = malloc(tuning("glibc.malloc.mmap_threshold=0", &[]));
        assert!(zero.no_heap().is_some());
        let zero_without_mmap = malloc(tuning(
            "glibc.malloc.mmap_threshold=0:glibc.malloc.mmap_max=0",
            &[],
        ));
        assert_eq!(zero_without_mmap.no_heap(), None);
        assert!(!zero_without_mmap.maps_large_requests());
        let small = malloc(tuning("glibc.malloc.mmap_threshold=48", &[]));
        assert_eq!(small.no_heap(), None);
        assert_eq!(small.largest_heap_request(16384), 16);
        assert!(zero.maps_every_request() && !small.maps_every_request());
        assert_eq!(zero_without_mmap.largest_heap_request(16384), 16384);
        let page = malloc(tuning("glibc.malloc.mmap_threshold=4096", &[]));
        assert_eq!(page.largest_heap_request(16384), 4064);
        assert!(page.changes_the_lessons().unwrap().contains("4096 bytes"));
        assert!(
            zero.changes_the_lessons()
                .unwrap()
                .contains("never calls sbrk")
        );
        let large = malloc(tuning("glibc.malloc.mmap_threshold=1048576", &[]));
        assert_eq!(large.changes_the_lessons(), None);
        assert_eq!(m_default().largest_heap_request(16384), 16384);
        let thp = malloc(tuning("glibc.malloc.hugetlb=1:glibc.malloc.top_pad=0", &[]));
        assert_eq!(thp.thp_growth(), Some(2 << 20));
        assert_eq!(thp.growth_room(), 2 << 20);
        let thp_always = GlibcMalloc {
            thp: (ThpMode::Always, Some(2 << 20)),
            ..thp
        };
        assert_eq!(thp_always.thp_growth(), None);
    }
}
