//! Exercise 3's driver: anonymous memory with `mmap`, written, read, and unmapped.
//!
//! `mmap` asks the kernel for a new region of address space. With `MAP_ANONYMOUS` no file is
//! behind it: the kernel fills each page with zeros the first time it is touched. `munmap`
//! gives the region back, and any later access faults.
//!
//! The driver (steps, explanations, observations, checks) is this file. The calls the lesson
//! asks for are the *parts*, plain functions in `src/parts.rs` (the reference) or
//! `learn/parts.rs` (the learner's), handed over as a [`Parts`]. The driver checks each against
//! `/proc/self/maps` before it touches the memory, and what it holds after.

use std::io;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use lesson::glibc::GlibcMalloc;
use lesson::{
    Lesson, LessonInfo, Marks, bytes, count, io_error, is_os_error, newly_mapped, still_mapped,
    varying_bytes, varying_text,
};
use memcore::sys;
use memcore::{Errno, Mapping, Region, RegionKind, fault};

/// Deliberately not a multiple of the page size.
pub const LEN: usize = 10_000;

/// The byte the `write` part writes at `offset`.
pub fn pattern(offset: usize) -> u8 {
    (offset % 253) as u8 ^ 0x5a
}

/// The learner's parts, in the lesson's order (see `src/parts.rs` for what each must do).
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    /// Step 1: `mmap` of `len` bytes of anonymous, private, read-write memory.
    pub map: fn(usize) -> io::Result<*mut u8>,
    /// Step 2: writes [`pattern`] to `len` bytes.
    pub write: unsafe fn(*mut u8, usize),
    /// Step 2: reads `len` bytes back, returns how many differ from [`pattern`].
    pub read_back: unsafe fn(*const u8, usize) -> usize,
    /// Step 3: `munmap`.
    pub unmap: unsafe fn(*mut u8, usize) -> io::Result<()>,
    /// Step 4: memmap2's owned anonymous mapping.
    pub owned_mapping: fn(usize) -> io::Result<memmap2::MmapMut>,
}

const INFO: LessonInfo = lesson::info!(
    "Maps anonymous, private, read-write memory of a size that is not a page multiple, \
     and finds it in /proc/self/maps. Shows it reads as zeros, then writes and reads back \
     its whole length. Unmaps it. Does the same with memmap2's owned mapping, unmapped \
     by Drop. Maps a file, shared and private. Shows, in a child process, that touching \
     unmapped memory is killed by SIGSEGV. Shows mmap refusing a length of 0. See man 2 \
     mmap."
);

/// Runs the lesson with `parts`; the exit status says how it went (see the `lesson` crate).
pub fn main(parts: &Parts) -> ExitCode {
    Lesson::start(INFO).run(|lesson| run(lesson, parts))
}

/// What steps 2 and 3 need when step 1 gave nothing.
const NEEDS_MEMORY: &str = "the 10000 bytes mapped in step 1";

/// Runs the steps. A step that fails its claims lets the run go on; one that cannot go on
/// stops alone, and the steps that need what it gives say so.
fn run(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    let start = lesson.attempt(|lesson| map(lesson, parts))?;
    lesson.attempt(|lesson| write_and_read(lesson, parts, start))?;
    lesson.attempt(|lesson| unmap(lesson, parts, start))?;
    lesson.attempt(|lesson| owned_mapping(lesson, parts))?;
    lesson.attempt(map_a_file)?;
    lesson.attempt(touch_after_unmap)?;
    lesson.attempt(|lesson| ask_for_nothing(lesson, parts))?;
    Ok(())
}

fn map(lesson: &mut Lesson, parts: &Parts) -> Result<usize> {
    let page = sys::page_size();
    let rounded = LEN.next_multiple_of(page);
    lesson.step(format!("Map {} of anonymous memory", bytes(LEN as u64)));
    lesson.say(
        "The call is mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).\n\
         It gives no address hint and no file, so the kernel picks a free place.\n\
         The kernel maps whole pages. So the region is len rounded up to the page size, and \
         the address is page aligned.\n\
         The kernel may merge the new region with a neighbour of the same kind. So we count \
         only the bytes that were not mapped a moment before.",
    );
    let before = lesson.map()?;
    let start = lesson
        .part_call("map", format!("map({LEN})"), || (parts.map)(LEN))?
        .map_err(|e| anyhow!("map({LEN}) failed: {}", io_error(&e)))? as usize;
    lesson.span("the length asked", start, LEN);
    let map = lesson.map()?;
    let region = lesson
        .observe_in(&map, "mmap returned", start)
        .context("no region holds the address map returned")?;
    lesson.observe_in(&map, "the last byte asked for", start + LEN - 1);
    let new = newly_mapped(&before, region.start, region.end);
    lesson.fact("asked for", bytes(LEN as u64));
    lesson.fact("this machine's page size", varying_bytes(page as u64));
    lesson.fact("newly mapped", varying_bytes(new as u64));
    lesson.check(
        "the address is page aligned",
        start.is_multiple_of(page),
        format!("{start:#x} is {} bytes past a page boundary", start % page),
    );
    let writable = lesson.check(
        "the region is anonymous and rw-p, and holds all the bytes asked for",
        region.kind == RegionKind::Anonymous
            && region.perms.to_string() == "rw-p"
            && region.end >= start + LEN,
        mapping_problem(&region, start),
    );
    lesson.check_newly_mapped(start, region.end, new, rounded)?;
    if writable && start.is_multiple_of(page) {
        return Ok(start);
    }
    own_mapping(lesson)
}

/// When map's memory is not all ours to write, the lesson maps [`LEN`] bytes itself, so that
/// the next steps judge write, read_back and unmap on their own. The mapping is never
/// unmapped but by unmap.
fn own_mapping(lesson: &mut Lesson) -> Result<usize> {
    let start = sys::mmap_anonymous(LEN).context(
        "the memory map returned is not all ours to write, and the lesson could not map its own",
    )?;
    lesson.say(
        "map's memory is not all ours to write. So the next steps use 10000 bytes the lesson \
         maps itself.",
    );
    Ok(start.as_ptr() as usize)
}

/// How many of the [`LEN`] bytes at `start` do not hold the pattern.
fn differences(start: usize) -> usize {
    // SAFETY: the LEN bytes at `start` are the mapping of steps 1 to 3, which `map` checked is
    // ours alone and writable (or the lesson's own); no part is running, so nothing writes.
    unsafe { std::slice::from_raw_parts(start as *const u8, LEN) }
        .iter()
        .enumerate()
        .filter(|&(offset, &byte)| byte != pattern(offset))
        .count()
}

fn write_and_read(lesson: &mut Lesson, parts: &Parts, start: Option<usize>) -> Result<()> {
    lesson.step("Read zeros, then write and read back the whole length");
    lesson.say(
        "Fresh anonymous memory reads as zeros: the kernel never hands one process another's \
         old data.\n\
         Then write puts a pattern in every byte, and read_back reads them all and counts those \
         that differ. Then we change the last byte behind its back, and it must notice.",
    );
    let Some(start) = lesson.needs(start, NEEDS_MEMORY) else {
        return Ok(());
    };
    let memory = start as *mut u8;
    // SAFETY: the step `map` checked that the LEN bytes at `start` lie in a fresh anonymous rw-p
    // mapping that map made for us alone; this shared slice is gone before anything writes.
    let zeros = unsafe { std::slice::from_raw_parts(memory, LEN) }
        .iter()
        .filter(|&&b| b == 0)
        .count();
    lesson.check(
        "all of it read as zeros before we wrote",
        zeros == LEN,
        format!("only {zeros} of {LEN} bytes were zero"),
    );
    write(lesson, parts, start)?;
    read_back(lesson, parts, start)
}

/// `write` fills the memory, and leaves the byte past it alone.
fn write(lesson: &mut Lesson, parts: &Parts, start: usize) -> Result<()> {
    // The byte just past the LEN bytes lies in the same page (LEN is not a page multiple and
    // the mapping is page aligned): marked, it shows a write past the end.
    let past = start + LEN;
    let mark = !pattern(LEN);
    let marked = !past.is_multiple_of(sys::page_size());
    if marked {
        // SAFETY: `past` lies in the mapping's last page, which map made for us alone; the
        // lesson asked for only LEN bytes of it, so nothing else uses this one.
        unsafe { (past as *mut u8).write_volatile(mark) };
    }
    lesson.give("write", "map", start, LEN);
    // SAFETY: as above: LEN writable bytes, ours alone, no reference alive.
    lesson.part_call("write", format!("write({start:#x}, {LEN})"), || unsafe {
        (parts.write)(start as *mut u8, LEN);
    })?;
    lesson.check(
        &format!("write left the byte past the {LEN} bytes alone"),
        // SAFETY: as where it was marked.
        !marked || unsafe { (past as *const u8).read_volatile() } == mark,
        format!("the byte at {past:#x}, just past the end, was changed: it wrote past `len`"),
    );
    let wrong = differences(start);
    lesson.check(
        &format!("all {LEN} bytes hold the pattern"),
        wrong == 0,
        format!("{} of them do not", count(wrong, "byte")),
    );
    Ok(())
}

/// `read_back` finds no byte that differs, then exactly the one the lesson changed.
fn read_back(lesson: &mut Lesson, parts: &Parts, start: usize) -> Result<()> {
    if differences(start) != 0 {
        // SAFETY: the LEN bytes at `start` are ours alone (checked by `map`); no reference to
        // them is alive.
        let memory = unsafe { std::slice::from_raw_parts_mut(start as *mut u8, LEN) };
        for (offset, byte) in memory.iter_mut().enumerate() {
            *byte = pattern(offset);
        }
        lesson.say(
            "What write left is not right. So the lesson writes the pattern itself first: \
             read_back is judged on its own.",
        );
    }
    let read = |lesson: &Lesson| {
        lesson.give("read_back", "map", start, LEN);
        // SAFETY: the LEN bytes at `start` are ours (checked by `map`), and nothing writes them
        // while read_back runs.
        lesson.part_call(
            "read_back",
            format!("read_back({start:#x}, {LEN})"),
            || unsafe { (parts.read_back)(start as *const u8, LEN) },
        )
    };
    let found = read(lesson)?;
    lesson.check(
        &format!("all {LEN} bytes read back what was written"),
        found == 0,
        format!(
            "read_back found {} that differ, though every byte holds the pattern",
            count(found, "byte")
        ),
    );
    let last = start + LEN - 1;
    // SAFETY: `last` is the last of the LEN bytes that are ours; no reference to them is alive.
    unsafe { (last as *mut u8).write_volatile(!pattern(LEN - 1)) };
    let noticed = read(lesson)?;
    // SAFETY: as above; this puts the pattern's byte back.
    unsafe { (last as *mut u8).write_volatile(pattern(LEN - 1)) };
    lesson.check(
        "with the last byte changed, read_back finds exactly 1 byte that differs",
        noticed == 1,
        format!(
            "the last byte was changed, yet read_back found {} that differ",
            count(noticed, "byte")
        ),
    );
    Ok(())
}

fn unmap(lesson: &mut Lesson, parts: &Parts, start: Option<usize>) -> Result<()> {
    lesson.step("Unmap it");
    lesson.say(
        "munmap(addr, len) removes the pages. The range is a hole in the address space again.\n\
         First, unmap gets an address one byte in, which is not page aligned.\n\
         munmap refuses it with EINVAL, and unmap must return that error.",
    );
    let Some(start) = lesson.needs(start, NEEDS_MEMORY) else {
        return Ok(());
    };
    let call = format!("unmap({:#x}, {LEN}), one byte in", start + 1);
    // SAFETY: an address one byte into the mapping is not page aligned, so munmap refuses it
    // with EINVAL and unmaps nothing; unmap's doc allows it.
    let misaligned = lesson.part_call("unmap", call, || unsafe {
        (parts.unmap)((start + 1) as *mut u8, LEN)
    })?;
    let gone_early = !sys::any_page_mapped(start, LEN);
    lesson.check(
        "an address that is not page aligned comes back as munmap's error, EINVAL",
        is_os_error(&misaligned, Errno::EINVAL) && !gone_early,
        match &misaligned {
            Ok(()) => "unmap returned Ok(()) though munmap refused: check what munmap returns, \
                       and return io::Error::last_os_error() when it is -1"
                .to_owned(),
            Err(e) if gone_early => format!("it returned {}, but the mapping is gone", io_error(e)),
            Err(e) => format!("it returned {}, not munmap's EINVAL", io_error(e)),
        },
    );
    let unmapped = lesson.part_call("unmap", format!("unmap({start:#x}, {LEN})"), || {
        // SAFETY: the range is the mapping `map` made first, and nothing refers to it any
        // more.
        unsafe { (parts.unmap)(start as *mut u8, LEN) }
    })?;
    unmapped.map_err(|e| anyhow!("unmap failed: {}", io_error(&e)))?;
    // Asked before anything here allocates (reading the maps does).
    let left = sys::first_page_mapped(start, LEN);
    let gone = left.is_none();
    let map = lesson.map()?;
    let after = lesson.observe_in(&map, "the old address", start);
    hole_taken_since(lesson, gone, &after)?;
    lesson.check(
        "no page of it is mapped any more (mincore answers ENOMEM for each)",
        gone,
        left.map_or_else(String::new, |page| still_mapped(start, LEN, page, &map)),
    );
    Ok(())
}

/// What is wrong with the region `map` returned, in the words of its doc comment.
fn mapping_problem(region: &Region, start: usize) -> String {
    let flag = match (region.perms.shared, region.perms.write, region.kind) {
        (true, _, _) => "it is shared (the s in rw-s): that is MAP_SHARED; use MAP_PRIVATE",
        (_, false, _) => "it cannot be written: PROT_WRITE is missing beside PROT_READ",
        (_, _, kind) if kind != RegionKind::Anonymous => {
            "it has a file behind it: add MAP_ANONYMOUS, with fd -1"
        }
        _ => "it ends before the last byte asked for",
    };
    format!(
        "{start:#x} lies in {region} ({:#x}-{:#x}): {flag}",
        region.start, region.end
    )
}

/// Says why the maps show a region where a hole was a moment before: where glibc's malloc
/// maps every allocation, reading the maps may have mapped memory of its own there.
fn hole_taken_since(lesson: &mut Lesson, gone: bool, after: &Option<Region>) -> Result<()> {
    if gone && after.is_some() {
        let why = if GlibcMalloc::read()?.maps_every_request() {
            "glibc's malloc maps every allocation in this run, and reading the maps allocated: \
             its mapping took the hole after the check below was asked"
        } else {
            "something in this process mapped memory there after the check below was asked"
        };
        lesson.fact("why the maps show a region there", why);
    }
    Ok(())
}

fn owned_mapping(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    let holds_claim =
        format!("it holds {LEN} bytes that read as zeros, then read back what was written");
    lesson.step("The same with an owned mapping, unmapped by Drop");
    lesson.say(
        "memmap2's MmapMut owns the mapping. It reads and writes it as a &mut [u8].\n\
         It calls munmap in its Drop. So it cannot be used after being unmapped, and it is \
         unmapped when it goes out of scope.\n\
         Only a deliberate leak, with mem::forget, keeps it mapped after that.",
    );
    let owned_start = {
        let mut owned = lesson
            .part_call("owned_mapping", format!("owned_mapping({LEN})"), || {
                (parts.owned_mapping)(LEN)
            })?
            .map_err(|e| anyhow!("owned_mapping({LEN}) failed: {}", io_error(&e)))?;
        let owned_start = owned.as_ptr() as usize;
        lesson.observe("the owned mapping", owned_start)?;
        let zeros = owned.iter().filter(|&&b| b == 0).count();
        for (offset, byte) in owned.iter_mut().enumerate() {
            *byte = pattern(offset);
        }
        let wrong = owned
            .iter()
            .enumerate()
            .filter(|&(offset, &byte)| byte != pattern(offset))
            .count();
        let holds = lesson.check(
            &holds_claim,
            owned.len() == LEN && zeros == LEN && wrong == 0,
            format!(
                "{}, {zeros} of them zero, {wrong} not read back: owned_mapping must map all \
                 {LEN} bytes asked for",
                count(owned.len(), "byte")
            ),
        );
        (owned_start, holds)
        // `owned` goes out of scope here and is unmapped.
    };
    let (owned_start, holds) = owned_start;
    let left = sys::first_page_mapped(owned_start, LEN);
    let gone = left.is_none();
    let map = lesson.map()?;
    let after = lesson.observe_in(&map, "the old address after Drop", owned_start);
    hole_taken_since(lesson, gone, &after)?;
    let claim = lesson.claim("Drop unmapped it (mincore answers ENOMEM for each page)");
    // A mapping of another length leaves whatever lies past it where the lesson looks.
    let claim = if holds {
        claim
    } else {
        claim.because(
            holds_claim.as_str(),
            "a mapping of another length than asked is not where the lesson looks",
        )
    };
    claim.holds(
        gone,
        left.map_or_else(String::new, |page| {
            still_mapped(owned_start, LEN, page, &map)
        }),
    );
    Ok(())
}

/// A temporary file, removed when dropped.
struct TempFile {
    path: std::path::PathBuf,
    file: std::fs::File,
}

impl TempFile {
    fn new(len: usize) -> Result<TempFile> {
        use std::io::Write as _;
        let path = std::env::temp_dir().join(format!("ex3-mmap-{}.txt", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        file.write_all(&vec![b'.'; len])
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(TempFile { path, file })
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // A file left behind in the temporary folder harms nothing; there is nobody to tell.
        let _ = std::fs::remove_file(&self.path);
    }
}

fn map_a_file(lesson: &mut Lesson) -> Result<()> {
    const WRITTEN: &[u8] = b"written through memory";
    lesson.step("Map a file, shared and private");
    lesson.say(
        "mmap can also map a file. The region's pages are then the file's bytes, from the \
         kernel's page cache.\n\
         With MAP_SHARED, a write through memory is a write to the file. An ordinary read sees \
         it at once.\n\
         With MAP_PRIVATE, the first write to a page gives this process a copy of its own \
         (copy on write). The file never sees that write.\n\
         /proc/self/maps names such a region by the file's path. Its permissions end in s \
         (shared) or p (private).\n\
         Here the file is a new temporary one, mapped with memmap2.",
    );
    let temp = TempFile::new(LEN)?;
    lesson.fact(
        "the file",
        varying_text(&format!("{}, {} dots", temp.path.display(), LEN)),
    );
    // SAFETY: the file is a new one of ours, named after this process; nothing else changes it.
    let mut shared = unsafe { Mapping::file_shared(&temp.file) }.context("mmap of the file")?;
    lesson.span("the file's bytes", shared.as_ptr() as usize, LEN);
    lesson.moment("the file mapped shared (MAP_SHARED)");
    let map = lesson.map()?;
    let marks = Marks::REGION;
    let region = lesson.observe_with(&map, "the shared mapping", shared.as_ptr() as usize, marks);
    let path = temp.path.display().to_string();
    lesson.check(
        "/proc/self/maps names the region by the file's path, shared (rw-s)",
        region
            .as_ref()
            .is_some_and(|r| r.path == path && r.perms.to_string() == "rw-s"),
        region.as_ref().map_or_else(
            || "no region holds it".to_owned(),
            |r| format!("it lies in {r}"),
        ),
    );
    shared[..WRITTEN.len()].copy_from_slice(WRITTEN);
    let read = std::fs::read(&temp.path).context("cannot read the file back")?;
    lesson.fact("wrote through memory", String::from_utf8_lossy(WRITTEN));
    lesson.fact(
        "an ordinary read of the file starts with",
        String::from_utf8_lossy(&read[..WRITTEN.len() + 3]),
    );
    lesson.check(
        "read() sees the bytes written through the shared mapping",
        read.starts_with(WRITTEN) && read.len() == LEN,
        format!(
            "the file starts with {:?}",
            String::from_utf8_lossy(&read[..32.min(read.len())])
        ),
    );
    // SAFETY: as above.
    let mut private = unsafe { Mapping::file_private(&temp.file) }.context("mmap of the file")?;
    lesson.span("the file's bytes", private.as_ptr() as usize, LEN);
    lesson.moment("the file mapped again, private (MAP_PRIVATE)");
    let before = private.starts_with(WRITTEN);
    private[..WRITTEN.len()].fill(b'#');
    let map = lesson.map()?;
    let region = lesson.observe_with(
        &map,
        "the private mapping",
        private.as_ptr() as usize,
        marks,
    );
    let read = std::fs::read(&temp.path).context("cannot read the file back")?;
    lesson.check(
        "the private mapping reads the file, but its write never reaches the file",
        before
            && read.starts_with(WRITTEN)
            && region
                .as_ref()
                .is_some_and(|r| r.path == path && r.perms.to_string() == "rw-p"),
        format!(
            "it read the file: {before}; the file starts with {:?}",
            String::from_utf8_lossy(&read[..32.min(read.len())])
        ),
    );
    Ok(())
}

fn touch_after_unmap(lesson: &mut Lesson) -> Result<()> {
    let page = sys::page_size();
    lesson.step("Touch memory after munmap (in a child process)");
    lesson.say(
        "A pointer into unmapped memory still holds its address, but no page is behind it. \
         Touching it makes the CPU fault, and the kernel sends SIGSEGV, which kills the \
         process.\n\
         We do it in a child process made with fork, never in this one. The child maps a page, \
         unmaps it and reads it with one load instruction.",
    );
    let child = || {
        let Ok(page_addr) = sys::mmap_anonymous(page) else {
            return "its mmap was refused";
        };
        // SAFETY: the page was just mapped by this child, and nothing refers to it.
        if unsafe { sys::munmap(page_addr, page) }.is_err() {
            return "its munmap was refused";
        }
        // SAFETY: this load faults on purpose; it is the last thing this child does.
        unsafe { fault::probe_read(page_addr.as_ptr() as usize) };
        "the load of the unmapped page did not fault"
    };
    // SAFETY: this process has only its main thread, and the child only maps, unmaps and loads.
    unsafe {
        lesson.check_child_dies_of(
            "the child",
            "the child was killed by SIGSEGV",
            "SIGSEGV",
            child,
        )
    }?;
    lesson.say("This process carries on: the fault and the signal were the child's alone.");
    Ok(())
}

fn ask_for_nothing(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    lesson.step("Ask for a length of 0");
    lesson.say("A mapping of no bytes makes no sense; the kernel refuses it with EINVAL.");
    let refused = lesson.part_call("map", "map(0)", || (parts.map)(0))?;
    let said = match &refused {
        Err(error) => io_error(error),
        Ok(p) => format!("Ok({:#x})", *p as usize),
    };
    lesson.fact("map(0) returned", &said);
    let einval = is_os_error(&refused, Errno::EINVAL);
    let why = match &refused {
        Ok(p) if *p as usize == usize::MAX => "map returned (void *) -1, which is MAP_FAILED, \
             mmap's failure value, as if it were memory: compare with libc::MAP_FAILED and \
             return Err(io::Error::last_os_error())"
            .to_owned(),
        Ok(p) => format!(
            "map returned Ok({:#x}) for a length of 0; mmap itself refuses it: pass the \
             length to mmap and return its error",
            *p as usize
        ),
        Err(_) => format!(
            "map returned the error {said}, not mmap's own EINVAL: return \
             io::Error::last_os_error() when mmap fails"
        ),
    };
    lesson.check("mmap refused a length of 0 with EINVAL", einval, why);
    Ok(())
}
