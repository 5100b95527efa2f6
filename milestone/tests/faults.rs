//! Faults: the OS refusing memory. In a child process with a low `RLIMIT_AS` (and separately
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
use memcore::sys::{self, ChildExit};
use milestone::{ChunkError, ChunkManager, Errno, Policy};

const MIB: usize = 1 << 20;

/// A kB figure from /proc/self/status (`VmSize`, `VmData`).
fn status_kb(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or(0)
}

fn set_limit(resource: libc::__rlimit_resource_t, bytes: usize) -> bool {
    let limit = libc::rlimit {
        rlim_cur: bytes as libc::rlim_t,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads the struct we pass.
    unsafe { libc::setrlimit(resource, &limit) == 0 }
}

/// In the child: fills memory up to the limit with 1 MiB chunks, then checks the refusal.
/// Returns 0, or the number of the check that failed (and says which on stderr).
fn refuse_then_recover(resource: libc::__rlimit_resource_t, used_kb_field: &str) -> i32 {
    let fail = |code: i32, what: String| {
        eprintln!("faults: {what}");
        code
    };
    let mut held: Vec<NonNull<u8>> = Vec::with_capacity(1024);
    let mut m = ChunkManager::new(Policy::glibc());
    if !set_limit(resource, status_kb(used_kb_field) * 1024 + 24 * MIB) {
        return fail(2, "setrlimit failed".into());
    }
    let refusal = loop {
        match m.chunk(MIB) {
            Ok(p) if held.len() < 1000 => held.push(p),
            Ok(_) => return fail(3, "1000 MiB granted under a 24 MiB margin".into()),
            Err(e) => break e,
        }
    };
    if !matches!(
        refusal,
        ChunkError::Os {
            errno: Errno::ENOMEM,
            ..
        }
    ) {
        return fail(4, format!("the refusal was {refusal:?}"));
    }
    // A refused request, of either size, leaves the registry as it was.
    for size in [MIB, 4 * MIB, 64] {
        let before = m.stats();
        let got = m.chunk(size);
        let after = m.stats();
        if let Ok(p) = got {
            held.push(p);
            continue;
        }
        if !matches!(
            got,
            Err(ChunkError::Os {
                errno: Errno::ENOMEM,
                ..
            })
        ) {
            return fail(5, format!("mem_chunk({size}) gave {got:?}"));
        }
        let same = (before.count, before.bytes, before.held_bytes)
            == (after.count, after.bytes, after.held_bytes);
        if !same {
            return fail(6, format!("a refusal changed {before:?} into {after:?}"));
        }
    }
    // Give some back: requests succeed again.
    for p in held.drain(..).rev().take(4) {
        if let Err(e) = m.release(p) {
            return fail(7, format!("release failed: {e}"));
        }
    }
    match m.chunk(MIB) {
        Ok(_) => 0,
        Err(e) => fail(
            8,
            format!("after releasing 4 MiB, mem_chunk(1 MiB) failed: {e}"),
        ),
    }
}

fn in_child(resource: libc::__rlimit_resource_t, field: &'static str) -> Outcome {
    // SAFETY: this process has one thread, so the child inherits no lock held elsewhere.
    let exit = unsafe { sys::fork_and_wait(|| refuse_then_recover(resource, field)) };
    assert!(
        exit == Ok(ChildExit::Exited(0)),
        "the child ended with {exit:?}"
    );
    Ok(())
}

fn a_low_address_space_limit_is_refused_and_recovered() -> Outcome {
    in_child(libc::RLIMIT_AS, "VmSize")
}

fn a_low_data_limit_is_refused_and_recovered() -> Outcome {
    in_child(libc::RLIMIT_DATA, "VmData")
}

fn the_demo_under_a_limit_prints_one_line_and_exits_1() -> Outcome {
    let mut demo = Command::new(env!("CARGO_BIN_EXE_milestone"));
    demo.arg("1073741824");
    // SAFETY: the closure runs in the child between fork and exec, and only calls setrlimit,
    // which is async-signal-safe.
    unsafe {
        demo.pre_exec(|| {
            if set_limit(libc::RLIMIT_AS, 512 * MIB) {
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
/// Returns 0, or the number of the check that failed (and says which on stderr).
fn a_refused_shrink_in_the_child() -> i32 {
    let fail = |code: i32, what: String| {
        eprintln!("faults: {what}");
        code
    };
    let mut m = ChunkManager::new(Policy::glibc());
    let (Ok(_kept), Ok(taken)) = (
        m.chunk(64),
        (0..4)
            .map(|_| m.chunk(100_000))
            .collect::<Result<Vec<_>, _>>(),
    ) else {
        return fail(2, "the chunks could not be taken".into());
    };
    let held = m.stats().held_bytes;
    let brk = sys::program_break() as usize;
    let page = sys::page_size();
    let above = NonNull::new(brk.next_multiple_of(page) as *mut u8).expect("not null");
    // Where the setup cannot be made, nothing is wrong with the manager: say so, and pass.
    let not_tried = |why: &str| {
        eprintln!("faults: not tried: {why}");
        0
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
        return fail(5, format!("a release failed: {e}"));
    }
    let s = m.stats();
    if sys::program_break() as usize != brk {
        return not_tried("the kernel shrank the break after all");
    }
    if s.held_bytes != held || m.check_invariants().is_err() {
        return fail(
            7,
            format!(
                "the break stayed, but held_bytes went from {held} to {}",
                s.held_bytes
            ),
        );
    }
    if m.chunk(64).is_err() || m.stats().foreign_break_moves != 0 {
        return fail(8, format!("after the refused shrink: {:?}", m.stats()));
    }
    0
}

fn a_refused_shrink_is_seen_and_nothing_is_lost() -> Outcome {
    // SAFETY: this process has one thread, so the child inherits no lock held elsewhere.
    let exit = unsafe { sys::fork_and_wait(a_refused_shrink_in_the_child) };
    assert!(
        exit == Ok(ChildExit::Exited(0)),
        "the child ended with {exit:?}"
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
