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
//! lesson needed, or a part panicked), 2 for bad command-line input, 3
//! ([`EXIT_TO_DO`]) when a learner's part is still `todo!()` and every check before it held, 4
//! ([`EXIT_OPTIONAL_TO_DO`]) when every check held and only an optional part is still `todo!()`.
//!
//! What happened is also told as data, for `cargo xtask`: see [`events`].
//!
//! Every lesson binary takes `--pause`: it stops after each step, prints its pid, and waits for
//! Enter, so that `/proc/PID/maps` can be read (or `gdb -p PID` attached) while the memory of
//! that step is live.

mod claims;
pub mod events;
mod format;
pub mod glibc;
mod json_record;
mod memory;
pub mod normalize;
mod part_call;
mod runner;
mod terminal;
pub mod testing;

pub use claims::Claim;
pub use format::{bytes, count, human, io_error, moved, varying_bytes, varying_text};
pub use json_record::{Check, Fact, LessonInfo, Marks, Observation, RegionInfo, Step};
pub use memory::{is_os_error, newly_mapped, still_mapped};
pub use part_call::{EXIT_OPTIONAL_TO_DO, EXIT_TO_DO, PartError};
pub use runner::{CommonFlags, Lesson, MALLOC_ROOM, parse};
