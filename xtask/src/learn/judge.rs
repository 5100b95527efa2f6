//! How one learner's run stands: done, to do (and where), or failed (and why, in the program's
//! own words first), from its exit status, its stderr and its output's address pattern.

use anyhow::{Context, Result};

use super::{Place, Status};
use crate::run::{self, Ending};
use crate::snapshot;
use lesson::normalize::normalize;

/// The exit status of a lesson binary whose next part is still `todo!()` (the `lesson` crate's
/// `EXIT_TO_DO`).
pub const EXIT_TO_DO: i32 = 3;
/// The exit status when only an optional part is still `todo!()` (`EXIT_OPTIONAL_TO_DO`).
pub const EXIT_OPTIONAL_TO_DO: i32 = 4;

/// The place named in a driver's "to do" message on stderr: "the part `NAME` is still
/// todo!() at FILE:LINE".
pub fn parse_to_do(stderr: &str) -> Option<Place> {
    let after = stderr.split("the part `").nth(1)?;
    let (part, rest) = after.split_once('`')?;
    let at = rest.strip_prefix(" is still todo!() at ")?;
    let at = at.lines().next()?.trim();
    let (file, line) = at.rsplit_once(':')?;
    Some(Place {
        part: part.to_owned(),
        file: file.to_owned(),
        line: line.parse().ok()?,
    })
}

/// The lines up to the last step heading (`Step N. …`), that heading included.
fn through_last_step(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    match lines.iter().rposition(|l| l.starts_with("Step ")) {
        Some(last) => lines[..=last].to_vec(),
        None => lines,
    }
}

/// The last step heading the output reached.
fn last_step(stdout: &str) -> Option<&str> {
    stdout.lines().rev().find(|l| l.starts_with("Step "))
}

/// What a learner's run is compared with.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The snapshot's pattern.
    pub pattern: String,
    /// The snapshot file, as shown.
    pub file: String,
    /// The lines of its header, before the pattern.
    pub header: usize,
    /// This run's setup changes what the lesson shows by design (the legacy mmap layout, some
    /// settings of glibc's malloc): a run whose own checks all held is done even where its
    /// pattern differs.
    pub differs_by_design: bool,
}

impl Expected {
    /// The committed snapshot `name`.
    ///
    /// # Errors
    /// If there is none, or it cannot be read.
    pub fn snapshot(name: &str) -> Result<Expected> {
        Ok(Expected {
            pattern: snapshot::load(name)?.with_context(|| format!("no snapshot {name}"))?,
            file: snapshot::shown(&snapshot::path(name)),
            header: snapshot::header_lines(name),
            differs_by_design: snapshot::differs_by_design().is_some(),
        })
    }
}

/// The first failed claim as a difference from the snapshot: the snapshot's `[ok]` line for the
/// same claim, and the line the run printed, as a pattern and as printed. (The first line that
/// differs may come earlier: a failure's detail holds addresses, which shift the ranks.)
fn failed_claim(expected: &str, pattern: &str, raw: &str) -> Option<snapshot::FirstDifference> {
    let at = pattern
        .lines()
        .position(|l| l.trim_start().starts_with("[FAILED] "))?;
    let actual = pattern.lines().nth(at)?;
    let claim = actual.trim_start().strip_prefix("[FAILED] ")?;
    let (line, wanted) = expected.lines().enumerate().find(|(_, l)| {
        l.trim_start()
            .strip_prefix("[ok] ")
            .is_some_and(|ok| claim.starts_with(ok) && claim[ok.len()..].starts_with(": "))
    })?;
    Some(snapshot::FirstDifference {
        file_line: line + 1,
        expected: Some(wanted.to_owned()),
        actual: Some(actual.to_owned()),
        raw: raw.lines().nth(at).map(|l| l.trim_end().to_owned()),
    })
}

/// Judges one learner's run. `stdout` already names the exercise, not the learner's binary.
pub fn classify(stdout: &str, stderr: &str, ending: &Ending, expected: &Expected) -> Status {
    let Expected {
        pattern: expected,
        file: snapshot_file,
        header,
        differs_by_design,
    } = expected;
    let code = match ending {
        Ending::Exited(status) => status.code(),
        Ending::TimedOut => None,
    };
    let pattern = normalize(stdout);
    match code {
        Some(EXIT_TO_DO) => {
            if let Some(place) = parse_to_do(stderr) {
                return Status::ToDo(place);
            }
        }
        Some(EXIT_OPTIONAL_TO_DO) => {
            let expected_before = through_last_step(expected);
            let actual_before = through_last_step(&pattern);
            if let Some(place) = parse_to_do(stderr)
                && (expected_before == actual_before
                    || *differs_by_design && !pattern.contains("[FAILED]"))
            {
                return Status::Done(Some(place));
            }
        }
        Some(0) if *differs_by_design || snapshot::matches(expected, &pattern) => {
            return Status::Done(None);
        }
        _ => {}
    }
    let mut why: Vec<String> = Vec::new();
    why.extend(
        stdout
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("[FAILED]"))
            .map(str::to_owned),
    );
    why.extend(
        stderr
            .lines()
            .filter(|l| l.contains(": error: ") || l.contains(": to do: "))
            .map(|l| l.trim().to_owned()),
    );
    if let Some(failure) = run::describe(ending).filter(|_| !matches!(code, Some(0 | 1))) {
        let during = last_step(stdout).map_or(String::new(), |s| format!(", during {s}"));
        why.push(format!("it {failure}{during}"));
    }
    if let Some(d) = failed_claim(expected, &pattern, stdout)
        .or_else(|| snapshot::first_difference(0, expected, &pattern, stdout))
    {
        let line = d.file_line + header;
        let show = |s: &Option<String>| {
            s.as_deref()
                .map_or("(nothing: it ended)".to_owned(), |s| format!("{s:?}"))
        };
        why.push(format!("against the snapshot, {snapshot_file}:{line}:"));
        why.push(format!("  expected pattern: {}", show(&d.expected)));
        why.push(format!("  actual pattern:   {}", show(&d.actual)));
        why.push(format!("  actual output:    {}", show(&d.raw)));
    }
    if why.is_empty() {
        why.push(format!(
            "it exited with {:?} and printed nothing that says why",
            code
        ));
    }
    Status::Failed(why)
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    use super::*;
    use crate::run::Ending;

    fn expect(pattern: &str) -> Expected {
        Expected {
            pattern: pattern.to_owned(),
            file: "x.snap".to_owned(),
            header: 4,
            differs_by_design: false,
        }
    }

    fn exited(code: i32) -> Ending {
        Ending::Exited(ExitStatus::from_raw(code << 8))
    }

    const TO_DO: &str = "ex2-sbrk: to do: step 1 (Find the initial program break) waits for \
        your code: the part `current_break` is still todo!() at exercises/ex2-sbrk/learn/parts.rs:21\n\
        ex2-sbrk: write it there, then run `cargo xtask learn`; a hint: `cargo xtask hint ex2-sbrk`\n";

    #[test]
    fn a_to_do_message_gives_the_part_and_its_place() {
        assert_eq!(
            parse_to_do(TO_DO),
            Some(Place {
                part: "current_break".to_owned(),
                file: "exercises/ex2-sbrk/learn/parts.rs".to_owned(),
                line: 21,
            })
        );
        assert_eq!(parse_to_do("ex2-sbrk: error: something\n"), None);
    }

    #[test]
    fn runs_are_judged_by_exit_status_and_pattern() {
        let expected = &expect("Step 1. A\n  a <A1>\n  [ok] holds\n");
        let good = "Step 1. A\n  a 0x10\n  [ok] holds\n";
        assert_eq!(classify(good, "", &exited(0), expected), Status::Done(None));

        let todo = classify("Step 1. A\n", TO_DO, &exited(EXIT_TO_DO), expected);
        assert!(
            matches!(todo, Status::ToDo(ref p) if p.part == "current_break"),
            "{todo:?}"
        );

        let failed = "Step 1. A\n  a 0x10\n  [FAILED] holds: 0x10 is not 0x20\n";
        let Status::Failed(why) = classify(failed, "", &exited(1), expected) else {
            panic!("a failed check is a failure");
        };
        assert_eq!(why[0], "[FAILED] holds: 0x10 is not 0x20");
        assert!(
            why.iter()
                .any(|l| l.contains("expected pattern: \"  [ok] holds\"")),
            "{why:?}"
        );
        assert!(
            why.iter().any(|l| l == "against the snapshot, x.snap:7:"),
            "{why:?}"
        );
        let actual = "actual pattern:   \"  [FAILED] holds: <A1> is not <A2>\"";
        assert!(why.iter().any(|l| l.contains(actual)), "{why:?}");
        assert!(why.iter().any(|l| l.contains("actual output:")), "{why:?}");

        // Exit 0 is not enough: the output must have the snapshot's pattern.
        let other = "Step 1. A\n  b 0x10\n  [ok] holds\n";
        assert!(matches!(
            classify(other, "", &exited(0), expected),
            Status::Failed(_)
        ));

        let crashed = ExitStatus::from_raw(libc::SIGSEGV);
        let Status::Failed(why) = classify("Step 1. A\n", "", &Ending::Exited(crashed), expected)
        else {
            panic!("a crash is a failure");
        };
        assert!(
            why.iter()
                .any(|l| l.contains("killed by SIGSEGV, during Step 1. A")),
            "{why:?}"
        );
    }

    #[test]
    fn an_optional_part_to_do_is_done_when_all_before_it_matches() {
        let expected =
            &expect("Step 1. A\n  [ok] a\n\nStep 2. Optional\n  [ok] b\n\nAll 2 checks passed.\n");
        let stdout = "Step 1. A\n  [ok] a\n\nStep 2. Optional\n\nAll 1 checks passed; the last, optional part is yours to write.\n";
        let stderr = TO_DO.replace("current_break", "release_chunk");
        let status = classify(stdout, &stderr, &exited(EXIT_OPTIONAL_TO_DO), expected);
        assert!(
            matches!(status, Status::Done(Some(ref p)) if p.part == "release_chunk"),
            "{status:?}"
        );
        let wrong = stdout.replace("[ok] a", "[FAILED] a: no");
        let status = classify(&wrong, &stderr, &exited(EXIT_OPTIONAL_TO_DO), expected);
        assert!(matches!(status, Status::Failed(_)), "{status:?}");
        // A setup that changes what the lesson shows by design: the checks decide.
        let differs_by_design = &Expected {
            differs_by_design: true,
            ..expected.clone()
        };
        let moved = stdout.replace("[ok] a", "c 0x10\n  [ok] a");
        let status = classify(&moved, &stderr, &exited(EXIT_OPTIONAL_TO_DO), expected);
        assert!(matches!(status, Status::Failed(_)), "{status:?}");
        let status = classify(
            &moved,
            &stderr,
            &exited(EXIT_OPTIONAL_TO_DO),
            differs_by_design,
        );
        assert!(matches!(status, Status::Done(Some(_))), "{status:?}");
        let status = classify(
            &wrong,
            &stderr,
            &exited(EXIT_OPTIONAL_TO_DO),
            differs_by_design,
        );
        assert!(matches!(status, Status::Failed(_)), "{status:?}");
    }
}
