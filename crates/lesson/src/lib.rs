//! What every lesson binary shares, written once: the flags (`--json`, `--help`), numbered
//! steps, observations of addresses with the region of `/proc/self/maps` that holds them,
//! checks of the lesson's claims, the text and JSON renderings, and the exit codes.
//!
//! Output conventions, which `cargo xtask check-all` relies on:
//! - an address is printed as `0x` and lowercase hex, always with the region holding it;
//! - sizes, offsets and deltas are decimal bytes, with a human form beside them
//!   ([`bytes`]: `4096 bytes (4 KiB)`), never hex;
//! - a number that changes from run to run (ASLR, the build, the machine) starts with `~`
//!   ([`varying_bytes`]: `~30408704 bytes (~29 MiB)`); every other number is the same on every
//!   run; text that depends on the machine reads `~{…}` ([`varying_text`]).
//!
//! Exit codes: 0 when every check held, 1 when one did not (or the OS refused something the
//! lesson needed), 2 for bad command-line input.

mod format;
mod report;
pub mod testing;

pub use format::{bytes, human, varying_bytes, varying_text};
pub use report::{Check, Fact, Lesson, LessonInfo, Observation, RegionInfo, Step};
