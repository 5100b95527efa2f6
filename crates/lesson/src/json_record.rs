//! What a lesson run records, step by step, and prints as JSON: the lesson's description,
//! observations of addresses with their regions, facts, checks, and what an observation marks
//! as varying.

use memcore::Region;
use serde::Serialize;

/// What a lesson binary says about itself.
#[derive(Debug, Clone, Copy)]
pub struct LessonInfo {
    /// The binary's name, as learners type it (`ex2-sbrk`).
    pub name: &'static str,
    /// One line on what it shows.
    pub title: &'static str,
    /// A paragraph for `--help`.
    pub about: &'static str,
}

/// The region of `/proc/self/maps` that held an address.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RegionInfo {
    /// `[heap]`, `anonymous`, a file name.
    pub name: String,
    /// What the region is (`text`, `heap`, `anonymous`).
    pub kind: String,
    /// `rw-p` and so on.
    pub perms: String,
    /// First address, `0x…`.
    pub start: String,
    /// First address past it, `0x…`.
    pub end: String,
    /// Its size in bytes.
    pub size: u64,
}

impl From<&Region> for RegionInfo {
    fn from(r: &Region) -> Self {
        RegionInfo {
            name: r.name().to_owned(),
            kind: r.kind.name().to_owned(),
            perms: r.perms.to_string(),
            start: format!("{:#x}", r.start),
            end: format!("{:#x}", r.end),
            size: r.len() as u64,
        }
    }
}

/// An address the lesson looked at, and where it lay.
#[derive(Debug, Clone, Serialize)]
pub struct Observation {
    /// What the address is of (`a local variable`).
    pub label: String,
    /// The address, `0x…`.
    pub address: String,
    /// The region holding it, or `None` if no mapping does.
    pub region: Option<RegionInfo>,
}

/// A value the lesson reports (a size, a count, an errno).
#[derive(Debug, Clone, Serialize)]
pub struct Fact {
    /// What it is.
    pub label: String,
    /// Its value as printed.
    pub value: String,
}

/// One claim of the lesson, checked on this machine.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The claim (`the local lies in [stack]`).
    pub claim: String,
    /// Whether it held.
    pub passed: bool,
    /// Why it did not hold, with the addresses involved; `None` when it held.
    pub detail: Option<String>,
}

/// One numbered step.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// 1, 2, …
    pub number: usize,
    /// What the step does.
    pub title: String,
    /// The explanation, as printed.
    pub text: Vec<String>,
    /// Addresses looked at.
    pub observations: Vec<Observation>,
    /// Values reported.
    pub facts: Vec<Fact>,
    /// Claims checked.
    pub checks: Vec<Check>,
}

#[derive(Serialize)]
pub(crate) struct Document<'a> {
    pub(crate) lesson: &'a str,
    pub(crate) title: &'a str,
    pub(crate) passed: bool,
    pub(crate) checks_passed: usize,
    pub(crate) checks_failed: usize,
    pub(crate) error: Option<String>,
    pub(crate) steps: &'a [Step],
}

/// What an observation prints as varying (`~`), so that `check-all` masks it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Marks {
    /// The address's place among the others is not part of the lesson (it depends on whose
    /// code made it, or on the setup): `~0x…`.
    pub address: bool,
    /// The region depends on the build or the setup: `in ~{…}`. (The bss shares the data's
    /// last page only when it fits there, so where a zeroed global or the linker's `end` lies
    /// changes with the size of the program.)
    pub region: bool,
}

impl Marks {
    /// Nothing varies: the address is ranked and the region compared.
    pub const NONE: Marks = Marks::new(false, false);
    /// The address is not ranked.
    pub const ADDRESS: Marks = Marks::new(true, false);
    /// The region is masked.
    pub const REGION: Marks = Marks::new(false, true);
    /// Both.
    pub const BOTH: Marks = Marks::new(true, true);

    const fn new(address: bool, region: bool) -> Marks {
        Marks { address, region }
    }
}
