//! `memcore`: the only crate in this workspace that talks to the operating system.
//!
//! * [`sys`]: one thin wrapper per system call (`sbrk`, `mmap`, `munmap`, `mprotect`, `fork`),
//!   safe where the call cannot break memory safety, `unsafe` exactly where it can.
//! * [`mapping`]: an owned anonymous mapping built on `memmap2`, unmapped by `Drop`.
//! * [`maps`]: `/proc/self/maps` parsed into classified regions, with address lookup.
//! * [`layout`]: the legacy or top-down mmap layout, and how much addresses are randomised.
//! * [`linker`]: the linker's segment boundaries `etext`, `edata` and `end` (`man 3 end`).
//! * [`procfs`]: RAM and swap, huge pages, the overcommit policy, resident sizes and physical
//!   frames.
//! * [`fault`]: single-instruction memory probes for demonstrations that must fault.
//! * [`fault_report`]: a fault's address and the maps at that moment, reported by the process.
//! * [`child`]: a closure run in a forked child, and the value or the end it brought back.
//! * [`registry`]: the chunk registry that the milestone's `mem_chunk` builds on.
//! * [`theirs`]: someone else's bytes at the program break, which a lesson must leave theirs.
//!
//! Everything here assumes Linux with glibc; other targets fail to build (see below).

#![deny(unsafe_op_in_unsafe_fn)]
// Unsafe code is allowed only in the modules that need it, each of which says why in a `# Safety`
// section of its docs.
#![deny(unsafe_code)]

// The lessons rely on glibc's `sbrk` (musl's always fails with ENOMEM), on `/proc/self/maps`,
// on the linker symbols `etext`/`edata`/`end`, and on inline assembly for two architectures.
// Refuse to build anywhere else rather than compile a stub that would teach something false.
#[cfg(not(all(
    target_os = "linux",
    target_env = "gnu",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
compile_error!(
    "memcore supports only Linux with glibc on x86_64 or aarch64: the lessons need glibc's sbrk \
     (musl's always fails), /proc/self/maps, and the linker symbols etext/edata/end"
);

pub mod child;
pub mod error;
pub mod fault;
pub mod fault_report;
pub mod layout;
pub mod linker;
pub mod mapping;
pub mod maps;
pub mod procfs;
pub mod registry;
pub mod sys;
pub mod theirs;

pub use error::{BreakError, Errno, Error};
pub use mapping::Mapping;
pub use maps::{MemoryMap, Region, RegionKind};
