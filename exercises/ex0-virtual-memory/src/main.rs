//! Exercise 0: what virtual memory gives a process, seen happening.
//!
//! Each process sees its own address space. The kernel backs it with physical memory page by
//! page, only when a page is first touched. That one idea gives the lesson's four benefits:
//! a process can ask for more than the machine has; two processes can use the same address
//! for different data; a page can forbid writes; and contiguous addresses can sit on
//! scattered physical frames.

use std::process::ExitCode;
use std::ptr::NonNull;

use anyhow::{Context, Result};
use clap::Parser;
use lesson::{CommonFlags, Lesson, LessonInfo, bytes, varying_bytes, varying_text};
use memcore::child::{Ended, in_child};
use memcore::procfs::{self, Frame, Overcommit};
use memcore::sys::{self, Protection};
use memcore::{Error, fault};

const GIB: u64 = 1 << 30;
/// How many pages the step on residency touches.
const TOUCHED: usize = 10;

const INFO: LessonInfo = lesson::info!(
    "Asks for a mapping larger than RAM and swap together, with and without \
     MAP_NORESERVE, and shows what the overcommit policy does with it. Touches a few \
     pages of a huge mapping, and shows that only those become resident (Rss in \
     /proc/self/smaps). Forks, and shows parent and child holding different values at \
     one virtual address. Makes a page read-only, and shows a write to it killed by \
     SIGSEGV in a child. With --frames, it also shows the physical frames behind \
     consecutive virtual pages, from /proc/self/pagemap (the numbers need root)."
);

/// ex0's flags.
#[derive(Debug, Parser)]
struct Flags {
    #[command(flatten)]
    common: CommonFlags,
    /// Also show the physical frames behind a few virtual pages (needs root)
    #[arg(long)]
    frames: bool,
}

fn main() -> ExitCode {
    let (lesson, flags) = Lesson::start_with::<Flags>(INFO);
    lesson.run(|lesson| run(lesson, flags.frames))
}

fn outcome<T>(result: &Result<T, Error>) -> String {
    match result {
        Ok(_) => "granted".to_owned(),
        Err(error) => format!("refused: {error}"),
    }
}

fn run(lesson: &mut Lesson, frames: bool) -> Result<()> {
    let (noreserve, size) = more_than_the_machine(lesson)?;
    touch_pages(lesson, noreserve, size)?;
    isolation(lesson)?;
    protection(lesson)?;
    if frames {
        show_frames(lesson)?;
    }
    Ok(())
}

/// How much more memory this process may map under its own limits, and which limit leaves
/// the least. `None` when neither is set.
///
/// `RLIMIT_AS` counts all its address space (`VmSize`). `RLIMIT_DATA` counts its private
/// writable memory (`VmData`), which the requests here are.
fn room_under_limits() -> Result<Option<(u64, String)>> {
    let (mapped, data) = procfs::address_space()?;
    let limits = [
        (
            sys::address_space_limit(),
            mapped,
            "ulimit -v (address space)",
        ),
        (
            sys::data_limit(),
            data,
            "ulimit -d (private writable memory)",
        ),
    ];
    Ok(limits
        .into_iter()
        .filter_map(|(limit, used, name)| {
            let limit = limit?;
            let what = format!("{name} {}, {} in use", bytes(limit), bytes(used));
            Some((limit.saturating_sub(used), what))
        })
        .min_by_key(|(left, _)| *left))
}

/// The step on overcommit; returns the MAP_NORESERVE request's answer, and its size.
fn more_than_the_machine(lesson: &mut Lesson) -> Result<(Result<NonNull<u8>, Error>, usize)> {
    lesson.step("Ask for more memory than the machine has");
    lesson.say(
        "mmap gives a process address space, not memory. The kernel finds a physical page \
         for a virtual one only when the page is first touched.\n\
         So the kernel may promise more memory than it has. Its overcommit policy \
         (/proc/sys/vm/overcommit_memory) says how much more.\n\
         Policy 0 refuses only what obviously cannot fit in RAM plus swap. Policy 1 grants \
         everything. Policy 2 never promises more than it could back.\n\
         MAP_NORESERVE asks the kernel not to count the mapping against RAM and swap at all.\n\
         A process's own limits come first, whatever the policy.\n\
         ulimit -v (RLIMIT_AS) caps all of a process's address space.\n\
         ulimit -d (RLIMIT_DATA) caps its private writable memory, which these requests are.\n\
         What follows depends on this machine, so it is marked with a leading ~. The checks \
         compare it with what the policy documents.\n\
         This program touches only a few pages of what it is granted. Touching it all would \
         exhaust the machine.",
    );
    let info = procfs::meminfo()?;
    let policy = procfs::overcommit()?;
    lesson.fact("RAM (MemTotal)", varying_bytes(info.mem_total));
    lesson.fact("swap (SwapTotal)", varying_bytes(info.swap_total));
    lesson.fact(
        "overcommit policy",
        varying_text(&format!("{}: {}", policy.number(), policy.meaning())),
    );
    let swap = if info.swap_total == 0 {
        "none: touching more than RAM makes the kernel's OOM killer end a process"
    } else {
        "idle pages go out to swap, so touching more than RAM works, slowly; past RAM plus \
         swap, the kernel's OOM killer ends a process"
    };
    lesson.fact("what swap does here", varying_text(swap));
    let room = room_under_limits()?;
    let limits = match &room {
        None => "none: ulimit -v and ulimit -d are unlimited".to_owned(),
        Some((left, what)) => format!("{what}: {} left", bytes(*left)),
    };
    lesson.fact("this process's limits", varying_text(&limits));
    // At least 64 GiB, and at least twice RAM and swap together, in whole GiB.
    let size = (2 * (info.mem_total + info.swap_total))
        .div_ceil(GIB)
        .max(64)
        * GIB;
    let size = usize::try_from(size).context("the request does not fit in usize")?;
    lesson.fact("asked for", varying_bytes(size as u64));
    let plain = sys::mmap_anonymous(size);
    lesson.fact("a plain request", varying_text(&outcome(&plain)));
    if let Ok(p) = plain {
        // SAFETY: we mapped it just above and nothing refers to it.
        unsafe { sys::munmap(p, size) }.context("munmap failed")?;
    }
    let within_limits = room.as_ref().is_none_or(|(left, _)| size as u64 <= *left);
    let plain_granted = policy == Overcommit::Always && within_limits;
    lesson.check(
        "the plain request was answered as the overcommit policy and the limits say",
        plain.is_ok() == plain_granted,
        format!("policy {} but {}", policy.number(), outcome(&plain)),
    );
    let noreserve = sys::mmap_anonymous_noreserve(size);
    lesson.fact(
        "the same with MAP_NORESERVE",
        varying_text(&outcome(&noreserve)),
    );
    let noreserve_granted = policy != Overcommit::Never && within_limits;
    lesson.check(
        "the MAP_NORESERVE request was answered as the overcommit policy and the limits say",
        noreserve.is_ok() == noreserve_granted,
        format!("policy {} but {}", policy.number(), outcome(&noreserve)),
    );
    Ok((noreserve, size))
}

fn touch_pages(
    lesson: &mut Lesson,
    noreserve: Result<NonNull<u8>, Error>,
    size: usize,
) -> Result<()> {
    let page = sys::page_size();
    lesson.step(format!("Touch {TOUCHED} pages: only they take memory"));
    lesson.say(
        "The mapping is there, but empty: no page of it is in RAM yet.\n\
         Writing one byte in a page causes a page fault. The kernel then finds a physical page \
         for it and counts it as resident (Rss in /proc/self/smaps).\n\
         Huge pages are turned off for this mapping, so each touch costs exactly one page.",
    );
    // Under policy 2, or a limit, the huge request is refused. A 64 MiB mapping then shows
    // the same thing; under a tight limit, half of what the limit leaves.
    let which = match &noreserve {
        Ok(_) => "the MAP_NORESERVE mapping from the first step",
        Err(_) => "a smaller one: the first step's MAP_NORESERVE request was refused",
    };
    let (start, len) = match noreserve {
        Ok(p) => (p, size),
        Err(_) => {
            let left = room_under_limits()?.map_or(u64::MAX, |(left, _)| left);
            let len = (64 << 20).min(left / 2 / page as u64 * page as u64) as usize;
            let len = len.max(TOUCHED * page);
            (sys::mmap_anonymous(len)?, len)
        }
    };
    let addr = start.as_ptr() as usize;
    lesson.observe("the mapping", addr)?;
    lesson.fact("which mapping", varying_text(which));
    lesson.fact("its size", varying_bytes(len as u64));
    sys::madvise_no_huge_pages(start, len).context("madvise failed")?;
    let before = procfs::rss_of(addr)?.context("no smaps entry for the mapping")?;
    let tables_before = procfs::page_tables()?;
    let stride = (len / TOUCHED) / page * page;
    for k in 0..TOUCHED {
        // SAFETY: the mapping is ours, readable and writable, and k * stride < len.
        unsafe { fault::probe_write(addr + k * stride, 1) };
    }
    let after = procfs::rss_of(addr)?.context("no smaps entry for the mapping")?;
    let tables_after = procfs::page_tables()?;
    lesson.fact(
        "pages touched",
        format!("{TOUCHED}, spread evenly over the mapping"),
    );
    // Before and after are marked: a mapping merged with a neighbour counts its pages too.
    lesson.fact("resident before", varying_bytes(before));
    lesson.fact("resident after", varying_bytes(after));
    // Pages are 4 KiB here, 16 or 64 KiB on some aarch64 kernels: the size in bytes varies.
    lesson.fact("this machine's page size", varying_bytes(page as u64));
    lesson.fact("the resident size grew by", varying_bytes(after - before));
    lesson.check(
        &format!("the resident size grew by exactly {TOUCHED} pages"),
        after - before == (TOUCHED * page) as u64,
        format!("it grew by {} bytes", after - before),
    );
    lesson.say(
        "Touching also made the kernel build page tables for those pages. Rss does not count \
         them; VmPTE in /proc/self/status does.\n\
         Pages spread far apart each need tables of their own. So here the tables can cost \
         more than the pages themselves.",
    );
    lesson.fact(
        "the page tables grew by",
        varying_bytes(tables_after.saturating_sub(tables_before)),
    );
    lesson.pause_here("the mapping, with its touched pages, is still mapped");
    // SAFETY: the mapping is ours and nothing refers to it any more.
    unsafe { sys::munmap(start, len) }.context("munmap failed")?;
    Ok(())
}

fn isolation(lesson: &mut Lesson) -> Result<()> {
    lesson.step("Isolation: one address, two processes, two values");
    lesson.say(
        "fork copies this process. The child has the same virtual addresses, but its pages \
         are copies.\n\
         The kernel copies a page the moment either side writes to it (copy-on-write).\n\
         The child writes 42 at the address where this process keeps 41. It sends back what \
         it reads there through a shared page.\n\
         Then this process reads its own value at the same address.",
    );
    let mut value = Box::new(41u64);
    // The address, taken once; the child writes through it.
    let value_addr = &raw mut *value as usize;
    lesson.observe("the value's address", value_addr)?;
    // The child's reading comes back as its return value (through a page both processes
    // share: an exit status could only carry 0 to 255).
    let child = || {
        // SAFETY: the child writes its own copy of the value; nothing else runs in it.
        unsafe { (value_addr as *mut u64).write_volatile(42) };
        // SAFETY: as above; the value is readable.
        unsafe { (value_addr as *const u64).read_volatile() }
    };
    // SAFETY: this process has one thread, and the child only writes and reads one value.
    let ended = unsafe { in_child(child) }.context("fork failed")?;
    let mine: u64 = **std::hint::black_box(&value);
    let theirs = match &ended {
        Ended::Returned(read) => read.to_string(),
        other => format!("nothing: it {other}"),
    };
    lesson.fact("the child read there", &theirs);
    lesson.fact("this process reads there", mine);
    lesson.check(
        "the child saw its own 42 at that address",
        ended == Ended::Returned(42),
        format!("the child read {theirs}"),
    );
    lesson.check(
        "this process still sees 41 at the same address",
        mine == 41,
        format!("it sees {mine}"),
    );
    Ok(())
}

fn protection(lesson: &mut Lesson) -> Result<()> {
    let page = sys::page_size();
    lesson.step("Protection: a read-only page");
    lesson.say(
        "Each page has its own permissions.\n\
         mprotect makes a page read-only. Reads still work, but a write makes the CPU fault, \
         and the kernel sends SIGSEGV.\n\
         The write is tried in a child process, which dies; this one is unharmed.",
    );
    let guarded = sys::mmap_anonymous(page).context("mmap failed")?;
    let guarded_addr = guarded.as_ptr() as usize;
    // SAFETY: the page is ours and writable until the mprotect below.
    unsafe { fault::probe_write(guarded_addr, 7) };
    // SAFETY: the page is ours; from now on it is only read (the write happens in a child).
    unsafe { sys::mprotect(guarded, page, Protection::Read) }.context("mprotect failed")?;
    lesson.observe("the read-only page", guarded_addr)?;
    // SAFETY: the page is readable.
    let read = unsafe { fault::probe_read(guarded_addr) };
    lesson.fact("a read there gives", read);
    let writer = || {
        // SAFETY: the write faults on purpose; it is the last thing the child does.
        unsafe { fault::probe_write(guarded_addr, 8) };
    };
    // SAFETY: this process has one thread; the child only makes one store.
    let exit = unsafe { in_child(writer) }.context("fork failed")?;
    lesson.fact("the child that wrote there was", exit.to_string());
    // SAFETY: the page is still ours and readable.
    let still = unsafe { fault::probe_read(guarded_addr) };
    lesson.check(
        "reading a read-only page works",
        read == 7,
        format!("read {read}"),
    );
    lesson.check(
        "the write was killed by SIGSEGV",
        exit.signal_name() == Some("SIGSEGV"),
        format!("the child {exit}"),
    );
    lesson.check(
        "this process is unharmed and the page unchanged",
        still == 7,
        format!("it reads {still}"),
    );
    // SAFETY: the page is ours and nothing refers to it.
    unsafe { sys::munmap(guarded, page) }.context("munmap failed")?;
    Ok(())
}

/// The last step, with --frames: consecutive virtual pages and the physical frames behind them.
fn show_frames(lesson: &mut Lesson) -> Result<()> {
    const PAGES: usize = 8;
    let page = sys::page_size();
    lesson.step("Contiguous addresses over scattered frames");
    lesson.say(
        "A program sees one contiguous range. The kernel backs each page with whatever \
         physical frame was free.\n\
         /proc/self/pagemap shows the frame behind each page, but only to a privileged \
         process (CAP_SYS_ADMIN). Others see zeros.",
    );
    let mut map = memcore::Mapping::anonymous(PAGES * page)?;
    for k in 0..PAGES {
        map[k * page] = 1;
    }
    let start = map.as_ptr() as usize;
    let frames = procfs::page_frames(start, PAGES)?;
    if frames.contains(&Frame::Hidden) {
        lesson.say(
            "This process may not see frame numbers: run it as root to see them \
             (sudo target/debug/ex0-virtual-memory --frames).",
        );
    }
    for (k, frame) in frames.iter().enumerate() {
        let what = match frame {
            Frame::Present(n) => format!("frame {n}"),
            Frame::Hidden => "a frame (number hidden)".to_owned(),
            Frame::NotPresent => "no frame".to_owned(),
        };
        lesson.line(format!("  page {k} at {:#x} -> {what}", start + k * page));
    }
    lesson.check(
        "every touched page is in RAM",
        frames.iter().all(|f| *f != Frame::NotPresent),
        format!("{frames:?}"),
    );
    Ok(())
}
