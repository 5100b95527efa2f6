//! The break set to an address with `brk`, and the requests the kernel cannot grant: the
//! steps after the lesson's own list, which show the break's limits.

use std::io;

use anyhow::{Context, Result, bail};
use lesson::{Lesson, bytes, io_error, varying_text};
use memcore::{Errno, sys};

use crate::Parts;

pub(crate) fn set_with_brk(lesson: &mut Lesson) -> Result<()> {
    let page = sys::page_size();
    lesson.step("Set the break to an address with brk");
    lesson.say(
        "brk(addr), the lesson's other call, sets the break to an absolute address, where sbrk \
         moves it by a distance.\n\
         glibc's brk returns 0 on success, and -1 with errno ENOMEM on failure. It also updates \
         glibc's own record of the break, which sbrk reads.\n\
         The system call underneath answers differently (man 2 brk, \"C library/kernel \
         differences\"). It returns the new break on success, and the current break on a \
         refusal. It never returns an error code.\n\
         glibc's wrapper sees a refusal when that answer is below the address asked for. It \
         turns the refusal into -1 and ENOMEM.",
    );
    let before = sys::program_break() as usize;
    let target = before + page;
    // SAFETY: growing the break gives memory back to nobody.
    let grown = unsafe { sys::brk(target as *mut u8) };
    let at = sys::program_break() as usize;
    lesson.moment("brk(the break + one page) set the break a page up");
    lesson.fact(
        "brk(the break + one page) returned",
        match &grown {
            Ok(()) => "0".to_owned(),
            Err(e) => format!("-1: {e}"),
        },
    );
    lesson.check(
        "it returned 0, and the break is exactly at the address asked for",
        grown.is_ok() && at == target,
        format!("the break is at {at:#x}, not {target:#x}"),
    );
    // SAFETY: the page between `before` and `target` was just added by brk and nothing uses it;
    // the break is still at `target` (checked above, on this one thread).
    let back = unsafe { sys::brk(before as *mut u8) };
    let now = sys::program_break() as usize;
    lesson.moment("brk(the old break) put it back");
    lesson.check(
        "brk(the old break) returned 0 and put it back",
        back.is_ok() && now == before,
        format!("the break is at {now:#x}, not {before:#x}"),
    );
    let absurd = 1usize << 46;
    let refused = sys::kernel_brk_refusal(absurd)
        .context("64 TiB above the break does not reach the stack here")?;
    lesson.fact(
        "the raw system call, asked for 64 TiB more, returned",
        "the current break",
    );
    lesson.check(
        "the raw system call refused by returning the current break, not an error",
        refused == now,
        format!("it returned {refused:#x}; the break is {now:#x}"),
    );
    // SAFETY: the kernel refuses this growth (it reaches the stack), so nothing moves.
    let wrapped = unsafe { sys::brk((now + absurd) as *mut u8) };
    let said = match &wrapped {
        Ok(()) => "0 (it should not have)".to_owned(),
        Err(e) => format!("-1: {e}"),
    };
    lesson.fact("glibc's brk, asked for the same, returned", &said);
    lesson.check(
        "glibc's brk turned the refusal into -1 and ENOMEM, and the break did not move",
        wrapped.is_err_and(|e| e.errno() == Some(Errno::ENOMEM))
            && sys::program_break() as usize == now,
        format!("it returned {said}"),
    );
    Ok(())
}

/// Why `request(64 TiB)` returning `Ok(returned)` is the part's mistake, with the break's own
/// answer. The premise, that the kernel refuses, is checked with the lesson's own call.
fn granted_too_much(returned: usize, before: usize) -> String {
    let now = sys::program_break() as usize;
    if returned == usize::MAX {
        return "it returned (void *) -1, which is sbrk's failure value, as if it were memory: \
                compare sbrk's result with usize::MAX as *mut c_void and return \
                Err(io::Error::last_os_error())"
            .to_owned();
    }
    if now == before {
        format!(
            "it returned Ok({returned:#x}), but the break did not move: sbrk refused, and \
             request must return that error"
        )
    } else {
        format!("it returned Ok({returned:#x}), and the break moved to {now:#x}")
    }
}

pub(crate) fn ask_for_too_much(lesson: &mut Lesson, parts: &Parts) -> Result<()> {
    lesson.step("Ask for far too much");
    lesson.say(
        "The kernel refuses to move the break into another mapping, or past the data limit \
         (RLIMIT_DATA, man 2 getrlimit). Its brk then returns the old break, and glibc's sbrk \
         returns (void *) -1 with errno ENOMEM.\n\
         64 TiB above the break runs into other mappings, so no limit is even needed to refuse \
         it. The mmap area and the stack lie above the heap. And a process's addresses end at \
         128 TiB on x86_64, or 256 TiB on aarch64.\n\
         A size above isize::MAX cannot even be passed to sbrk, whose argument is signed. It \
         must be refused before the call.",
    );
    let limit = sys::data_limit().map_or("unlimited".to_owned(), bytes);
    lesson.fact("the data limit here", varying_text(&limit));
    let local = 0u8;
    let stack = &raw const local as usize;
    let reach = (sys::program_break() as usize).saturating_add(1 << 46);
    lesson.fact("64 TiB above the break", format!("~{reach:#x}"));
    lesson.fact("the stack, above the heap", format!("~{stack:#x}"));
    lesson.check(
        "64 TiB above the break lies beyond the stack: the request runs into it",
        reach > stack,
        format!("{reach:#x} is not above {stack:#x}"),
    );
    let before = sys::program_break() as usize;
    let absurd = 1usize << 46;
    let refused = lesson.part_call("request", "request(1 << 46), 64 TiB", || {
        (parts.request)(absurd)
    })?;
    lesson.fact("asked for", bytes(absurd as u64));
    let said = match &refused {
        Err(error) => io_error(error),
        Ok(p) => {
            lesson.check(
                "request returned an error for 64 TiB",
                false,
                granted_too_much(*p as usize, before),
            );
            bail!("the break may have moved by 64 TiB");
        }
    };
    lesson.fact("sbrk said", &said);
    lesson
        .say("(cargo xtask trace ex2-sbrk shows the raw brk call and the old break it returned.)");
    let enomem = refused
        .as_ref()
        .err()
        .and_then(io::Error::raw_os_error)
        .is_some_and(|code| Errno(code) == Errno::ENOMEM);
    lesson.check("the OS refused with ENOMEM", enomem, format!("got {said}"));
    let unmoved = sys::program_break() as usize;
    lesson.check(
        "the break did not move",
        unmoved == before,
        format!("it moved {}", lesson::moved(before, unmoved)),
    );

    let overflowing = lesson.part_call("request", "request(usize::MAX)", || {
        (parts.request)(usize::MAX)
    })?;
    let after = sys::program_break() as usize;
    if after < before {
        // A request read as negative shrank the break; put it back before going on.
        let _ = sys::sbrk_from(after as *mut u8, before - after);
    }
    let said = match &overflowing {
        Err(error) => format!("refused: {}", varying_text(&io_error(error))),
        Ok(_) => "granted".to_owned(),
    };
    lesson.fact("request(usize::MAX)", &said);
    lesson.check(
        "a size above isize::MAX is refused before the call, and the break did not move",
        overflowing.is_err() && after == before,
        format!("it was {said}, and the break went from {before:#x} to {after:#x}"),
    );
    Ok(())
}
