//! The break has no lock: two threads racing glibc's `sbrk`.

use anyhow::{Context, Result, bail};
use lesson::{Lesson, varying_bytes};
use memcore::child::{Ended, in_child};
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
    let mut round = 0;
    let mut race = sys::SbrkRace::default();
    let watching: &Lesson = lesson;
    while round < ROUNDS && race.duplicates == 0 {
        round += 1;
        let first = round == 1;
        let child = || {
            // SAFETY: this child uses the break for nothing else and exits right after.
            let race = unsafe { sys::sbrk_race(THREADS, CALLS, 16) };
            if first {
                // The child's own address space, for the picture: its break moved, the
                // parent's does not.
                watching
                    .moment_in_child("in the child, after its threads raced sbrk: its break grew");
            }
            race
        };
        // SAFETY: this process has one thread; the child only races sbrk, as sbrk_race says.
        race = match unsafe { in_child(child) }.context("fork failed")? {
            Ended::Returned(race) => race,
            other => bail!("the child did not finish: it {other}"),
        };
    }
    let (calls, duplicates, grown) = (race.calls, race.duplicates, race.grown);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    lesson.fact("CPUs this process may use", format!("~{cpus}"));
    lesson.fact("rounds", format!("~{round}"));
    lesson.fact("calls in the last round", calls);
    lesson.fact("pointers handed out twice", format!("~{duplicates}"));
    lesson.fact(
        "the break grew by",
        format!(
            "{}, for ~{} bytes asked",
            varying_bytes(grown as u64),
            calls * 16
        ),
    );
    lesson.fact(
        "pointers past the final break (lost to another thread's stale write)",
        format!("~{}", race.taken_back),
    );
    lesson.check(
        "two threads got the same memory from sbrk: it has no lock",
        duplicates > 0,
        format!("no pointer was handed out twice in {round} rounds, with {cpus} CPUs"),
    );
    Ok(())
}
