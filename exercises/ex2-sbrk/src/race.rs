//! The break has no lock: two threads racing glibc's `sbrk`.

use anyhow::{Context, Result, bail};
use lesson::{Lesson, varying_bytes};
use memcore::shared::SharedCells;
use memcore::sys;

pub(crate) fn no_lock(lesson: &mut Lesson) -> Result<()> {
    const THREADS: usize = 2;
    const CALLS: usize = 20_000;
    // On one CPU a round shows it about one time in three: 100 rounds leave no real chance.
    const ROUNDS: usize = 100;
    lesson.step("The break has no lock");
    lesson.say(&format!(
        "glibc's sbrk has no lock. It reads its record of the break, asks the kernel for more, \
         and writes the record back. Two threads calling it at once can both read the same \
         break, and both get the same memory.\n\
         In a child process, whose break is its own, {THREADS} threads each call sbrk(16) \
         {CALLS} times at once. We count the pointers handed out twice. We run up to {ROUNDS} \
         rounds, until one shows it.\n\
         This is why mem_chunk takes a lock around its own sbrk calls. But no lock of ours can \
         cover glibc's malloc, which calls sbrk under its own lock.\n\
         So a program whose other threads use glibc's malloc while mem_chunk moves the break \
         should use mmap only."
    ));
    let cells = SharedCells::new(4).context("could not map a page to share with the child")?;
    let mut round = 0;
    let watching: &Lesson = lesson;
    while round < ROUNDS && cells.get(1) == 0 {
        round += 1;
        let first = round == 1;
        let child = || {
            // SAFETY: this child uses the break for nothing else and exits right after.
            let race = unsafe { sys::sbrk_race(THREADS, CALLS, 16) };
            cells.set(0, race.calls as u64);
            cells.set(1, race.duplicates as u64);
            cells.set(2, race.grown as u64);
            cells.set(3, race.taken_back as u64);
            if first {
                // The child's own address space, for the picture: its break moved, the
                // parent's does not.
                watching
                    .moment_in_child("in the child, after its threads raced sbrk: its break grew");
            }
            0
        };
        // SAFETY: this process has one thread; the child only races sbrk, as sbrk_race says,
        // and stores four numbers.
        let exit = unsafe { sys::fork_and_wait(child) }.context("fork failed")?;
        if !matches!(exit, sys::ChildExit::Exited(0)) {
            bail!("the child did not finish: it {exit}");
        }
    }
    let (calls, duplicates, grown) = (cells.get(0), cells.get(1), cells.get(2));
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    lesson.fact("CPUs this process may use", format!("~{cpus}"));
    lesson.fact("rounds", format!("~{round}"));
    lesson.fact("calls in the last round", calls);
    lesson.fact("pointers handed out twice", format!("~{duplicates}"));
    lesson.fact(
        "the break grew by",
        format!("{}, for ~{} bytes asked", varying_bytes(grown), calls * 16),
    );
    lesson.fact(
        "pointers past the final break (lost to another thread's stale write)",
        format!("~{}", cells.get(3)),
    );
    lesson.check(
        "two threads got the same memory from sbrk: it has no lock",
        duplicates > 0,
        format!("no pointer was handed out twice in {round} rounds, with {cpus} CPUs"),
    );
    Ok(())
}
