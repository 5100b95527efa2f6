//! The OS refusing memory. In a child process with a low `RLIMIT_AS` (and separately
//! `RLIMIT_DATA`), `mem_chunk` returns the OS's refusal, the registry is unchanged, and
//! requests succeed again once memory is released. The milestone demo under such a limit
//! prints one line and exits 1: no panic, no abort.
//!
//! `harness = false`: the children are forked from a process with one thread.

mod common;

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::ptr::NonNull;

use common::Outcome;
use memcore::child::{Ended, in_child};
use memcore::procfs;
use memcore::sys;
use milestone::{ChunkError, ChunkManager, Errno, Policy};

const MIB: usize = 1 << 20;

/// A limit a child sets on itself, with memcore's wrappers.
#[derive(Debug, Clone, Copy)]
enum Limit {
    /// `RLIMIT_AS`, on `VmSize`.
    AddressSpace,
    /// `RLIMIT_DATA`, on `VmData`.
    Data,
}

impl Limit {
    /// What the process uses now of what the limit limits, in bytes (0 if unreadable).
    fn used(self) -> u64 {
        let (size, data) = procfs::address_space().unwrap_or((0, 0));
        match self {
            Limit::AddressSpace => size,
            Limit::Data => data,
        }
    }

    /// Sets the soft limit to `bytes`; whether it was set.
    fn set(self, bytes: u64) -> bool {
        match self {
            Limit::AddressSpace => sys::set_address_space_limit(Some(bytes)),
            Limit::Data => sys::set_data_limit(Some(bytes)),
        }
        .is_ok()
    }
}

/// In the child: fills memory up to the limit with 1 MiB chunks, then checks the refusal.
/// Panics, saying why, at the first check that fails.
fn refuse_then_recover(limit: Limit) {
    let mut held: Vec<NonNull<u8>> = Vec::with_capacity(1024);
    let mut m = ChunkManager::new(Policy::glibc());
    assert!(
        limit.set(limit.used() + 24 * MIB as u64),
        "setrlimit failed"
    );
    let refusal = loop {
        match m.chunk(MIB) {
            Ok(p) if held.len() < 1000 => held.push(p),
            Ok(_) => panic!("1000 MiB granted under a 24 MiB margin"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(
            refusal,
            ChunkError::Os {
                errno: Errno::ENOMEM,
                ..
            }
        ),
        "the refusal was {refusal:?}"
    );
    // A refused request, of either size, leaves the registry as it was.
    for size in [MIB, 4 * MIB, 64] {
        let before = m.stats();
        let got = m.chunk(size);
        let after = m.stats();
        if let Ok(p) = got {
            held.push(p);
            continue;
        }
        assert!(
            matches!(
                got,
                Err(ChunkError::Os {
                    errno: Errno::ENOMEM,
                    ..
                })
            ),
            "mem_chunk({size}) gave {got:?}"
        );
        let same = (before.count, before.bytes, before.held_bytes)
            == (after.count, after.bytes, after.held_bytes);
        assert!(same, "a refusal changed {before:?} into {after:?}");
    }
    // Give some back: requests succeed again.
    for p in held.drain(..).rev().take(4) {
        if let Err(e) = m.release(p) {
            panic!("release failed: {e}");
        }
    }
    if let Err(e) = m.chunk(MIB) {
        panic!("after releasing 4 MiB, mem_chunk(1 MiB) failed: {e}");
    }
}

fn refused_in_a_child(limit: Limit) -> Outcome {
    // SAFETY: this process has one thread, so the child inherits no lock held elsewhere.
    let ended = unsafe { in_child(|| refuse_then_recover(limit)) }?;
    assert!(ended == Ended::Returned(()), "the child {ended}");
    Ok(())
}

fn a_low_address_space_limit_is_refused_and_recovered() -> Outcome {
    refused_in_a_child(Limit::AddressSpace)
}

fn a_low_data_limit_is_refused_and_recovered() -> Outcome {
    refused_in_a_child(Limit::Data)
}

fn the_demo_under_a_limit_prints_one_line_and_exits_1() -> Outcome {
    let mut demo = Command::new(env!("CARGO_BIN_EXE_milestone"));
    demo.arg("1073741824");
    // SAFETY: the closure runs in the child between fork and exec, and only calls getrlimit and
    // setrlimit, which are async-signal-safe, and allocates nothing (memcore's error is a call's
    // name and an errno).
    unsafe {
        demo.pre_exec(|| {
            if Limit::AddressSpace.set(512 * MIB as u64) {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        })
    };
    let out = demo.output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code() == Some(1), "exit {:?}: {err}", out.status);
    assert!(
        err.lines().count() == 1 && err.contains("ENOMEM"),
        "stderr was: {err}"
    );
    Ok(())
}

/// In the child: gives break memory back while the kernel must refuse to shrink the break.
/// A live chunk keeps the span's first bytes, so the shrink starts inside the heap's mapping; a
/// page of ours merged above the heap makes it end inside too; and with no mapping left, the
/// kernel cannot split the mapping in three. glibc's sbrk reports that refusal as a success,
/// so the manager must see it for itself: the break and the memory held stay as they were.
/// Returns whether the setup could be made (and says why not on stderr); panics, saying why,
/// at the first check that fails.
fn a_refused_shrink_in_the_child() -> Tried {
    let mut m = ChunkManager::new(Policy::glibc());
    let (Ok(_kept), Ok(taken)) = (
        m.chunk(64),
        (0..4)
            .map(|_| m.chunk(100_000))
            .collect::<Result<Vec<_>, _>>(),
    ) else {
        panic!("the chunks could not be taken");
    };
    let held = m.stats().held_bytes;
    let brk = sys::program_break() as usize;
    let page = sys::page_size();
    let above = NonNull::new(brk.next_multiple_of(page) as *mut u8).expect("not null");
    // Where the setup cannot be made, nothing is wrong with the manager: say so, and pass.
    let not_tried = |why: &'static str| {
        eprintln!("os_refusals: not tried: {why}");
        Tried::Not(why)
    };
    if sys::mmap_anonymous_at(above, page).is_err() {
        return not_tried("the page above the heap is taken");
    }
    let Some(full) = sys::MapCountFull::fill(1 << 18, std::time::Duration::from_secs(5)) else {
        return not_tried("the kernel's map count was not reached");
    };
    let released: Result<Vec<()>, _> = taken.into_iter().rev().map(|p| m.release(p)).collect();
    full.give_back();
    if let Err(e) = released {
        panic!("a release failed: {e}");
    }
    let s = m.stats();
    if sys::program_break() as usize != brk {
        return not_tried("the kernel shrank the break after all");
    }
    assert!(
        s.held_bytes == held && m.check_invariants().is_ok(),
        "the break stayed, but held_bytes went from {held} to {}",
        s.held_bytes
    );
    assert!(
        m.chunk(64).is_ok() && m.stats().foreign_break_moves == 0,
        "after the refused shrink: {:?}",
        m.stats()
    );
    Tried::Yes
}

/// Whether a child could make the setup its check needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tried {
    Yes,
    /// Not, for this reason: nothing is wrong with the manager.
    Not(&'static str),
}

fn a_refused_shrink_is_seen_and_nothing_is_lost() -> Outcome {
    // SAFETY: this process has one thread, so the child inherits no lock held elsewhere.
    let ended = unsafe { in_child(a_refused_shrink_in_the_child) }?;
    assert!(
        matches!(ended, Ended::Returned(Tried::Yes | Tried::Not(_))),
        "the child {ended}"
    );
    Ok(())
}

fn main() {
    common::run(trials![
        a_low_address_space_limit_is_refused_and_recovered,
        a_low_data_limit_is_refused_and_recovered,
        a_refused_shrink_is_seen_and_nothing_is_lost,
        the_demo_under_a_limit_prints_one_line_and_exits_1,
    ]);
}
