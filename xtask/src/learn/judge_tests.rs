//! The judge's tests: runs described as events, judged into records.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use lesson::events::{Because, Event, LineKind};

use super::*;
use crate::learn::outcome::LearnerFile;
use crate::run::Ending;
use crate::snapshot::Snapshot;

const FILE: LearnerFile = LearnerFile {
    path: "learn/parts.rs",
    text: "//! mine\n\npub fn current_break() -> usize {\n    0\n}\n\npub fn request(n: usize) {\n}\n\npub unsafe fn write(p: *mut u8) {\n}\n\npub unsafe fn give_back(p: *mut u8) {\n}\n",
};

fn parts() -> Vec<String> {
    ["current_break", "request", "write", "give_back"]
        .map(str::to_owned)
        .to_vec()
}

fn expect(pattern: &str, claims: Option<Vec<Claim>>) -> Expected {
    Expected {
        snapshot: Snapshot {
            name: "x".to_owned(),
            pattern: pattern.to_owned(),
            header: 4,
        },
        differs_by_design: false,
        claims,
    }
}

fn exited(code: i32) -> Ending {
    Ending::Exited(ExitStatus::from_raw(code << 8))
}

fn step(number: usize, title: &str) -> Event {
    Event::Step {
        number,
        title: title.to_owned(),
    }
}

fn line(step: usize, text: &str) -> Event {
    Event::Line {
        step,
        text: text.to_owned(),
        kind: LineKind::Observation,
    }
}

fn called(step: usize, part: &str, call: Option<&str>) -> Event {
    Event::PartCalled {
        step,
        part: part.to_owned(),
        call: call.map(str::to_owned),
    }
}

fn returned(step: usize, part: &str) -> Event {
    Event::PartReturned {
        step,
        part: part.to_owned(),
    }
}

fn check(step: usize, part: &str, claim: &str, detail: Option<&str>) -> Event {
    Event::Check {
        step,
        part: Some(part.to_owned()),
        claim: claim.to_owned(),
        passed: detail.is_none(),
        detail: detail.map(str::to_owned),
        call: None,
        because: None,
    }
}

/// `check`, a Check event, naming the call that showed it.
fn with_call(mut check: Event, shown_by: &str) -> Event {
    if let Event::Check { call, .. } = &mut check {
        *call = Some(shown_by.to_owned());
    }
    check
}

fn claim(step: usize, part: &str, claim: &str) -> Claim {
    Claim {
        step,
        part: Some(part.to_owned()),
        claim: claim.to_owned(),
    }
}

fn to_do(step: usize, part: &str, optional: bool) -> Event {
    Event::ToDo {
        step,
        part: part.to_owned(),
        optional,
        file: "learn/parts.rs".to_owned(),
        line: 9,
    }
}

const FINISHED: Event = Event::Finished {
    passed: 1,
    failed: 0,
};

fn outcome<'a>(events: &'a [Event], ending: &'a Ending, stdout: &'a str) -> Outcome<'a> {
    Outcome {
        file: FILE,
        stdout,
        stderr: "",
        events,
        ending,
        fault_maps: None,
    }
}

fn verdict_of(events: &[Event], ending: &Ending, expected: &Expected) -> Verdict {
    judge(&outcome(events, ending, ""), expected, &parts())
}

fn status_of(events: &[Event], ending: &Ending, expected: &Expected, stdout: &str) -> Status {
    let outcome = outcome(events, ending, stdout);
    classify(&outcome, expected, judge(&outcome, expected, &parts()))
}

#[test]
fn every_claim_held_is_done_and_a_different_pattern_is_only_a_note() {
    let expected = &expect("Step 1. A\n  a <A1>\n  [ok] holds\n", None);
    let events = [
        step(1, "A"),
        called(1, "current_break", None),
        returned(1, "current_break"),
        check(1, "current_break", "holds", None),
        FINISHED,
    ];
    let same = "Step 1. A\n  a 0x10\n  [ok] holds\n";
    let Status::Done(done) = status_of(&events, &exited(0), expected, same) else {
        panic!("every claim held");
    };
    assert!(done.note.is_empty(), "{done:?}");
    let other = "Step 1. A\n  b 0x10\n  [ok] holds\n";
    let Status::Done(done) = status_of(&events, &exited(0), expected, other) else {
        panic!("a different pattern is not a failure");
    };
    assert!(
        done.note[0].contains("a note, not a failure), xtask/snapshots/x.snap:6:"),
        "{done:?}"
    );
    // Exit 0 without the end recorded is not done: the run never got there.
    let cut_short = &events[..4];
    let Status::Failed(verdict) = status_of(cut_short, &exited(0), expected, same) else {
        panic!("a run that never finished is not done");
    };
    assert_eq!(verdict.findings[0].kind, Kind::Exit);
}

#[test]
fn three_mistakes_in_three_parts_are_three_findings_each_at_its_part() {
    let events = [
        step(2, "Grow"),
        called(2, "request", Some("request(10000)")),
        returned(2, "request"),
        // The runner names the one call since the claim before (`Calls::claimed`).
        with_call(
            check(
                2,
                "request",
                "sbrk returned the old break",
                Some("16 bytes higher"),
            ),
            "request(10000)",
        ),
        step(3, "Write"),
        line(3, "  bytes written: 10000"),
        called(3, "write", Some("write(0x1000, 10000)")),
        returned(3, "write"),
        check(
            3,
            "write",
            "all bytes hold the pattern",
            Some("1 byte does not"),
        ),
        check(
            3,
            "write",
            "all bytes hold the pattern",
            Some("1 byte does not"),
        ),
        step(5, "Give back"),
        called(5, "give_back", None),
        returned(5, "give_back"),
        check(5, "give_back", "it refused", Some("it accepted")),
        step(7, "Too much"),
        called(7, "request", None),
        returned(7, "request"),
        check(7, "request", "sbrk returned the old break", Some("again")),
        FINISHED,
    ];
    let verdict = verdict_of(&events, &exited(1), &expect("", None));
    let found: Vec<(Option<&str>, Option<&str>, usize)> = verdict
        .findings
        .iter()
        .map(|f| (f.part.as_deref(), f.claim.as_deref(), f.step))
        .collect();
    assert_eq!(
        found,
        [
            (Some("request"), Some("sbrk returned the old break"), 2),
            (Some("write"), Some("all bytes hold the pattern"), 3),
            (Some("give_back"), Some("it refused"), 5),
        ]
    );
    let request = &verdict.findings[0];
    assert_eq!(request.call.as_deref(), Some("request(10000)"));
    assert_eq!(request.at.as_deref(), Some("learn/parts.rs:7"));
    assert_eq!(request.again_in, [7], "the same claim is said once");
    assert_eq!(
        verdict.findings[1].call, None,
        "a claim that names no call gets none, not the part's last call"
    );
    assert_eq!(verdict.findings[1].printed, ["  bytes written: 10000"]);
}

#[test]
fn a_known_consequence_hangs_under_its_cause_and_an_unknown_one_stands_alone() {
    let because = |claim: &str| {
        Some(Because {
            claim: claim.to_owned(),
            how: "it cannot be found".to_owned(),
        })
    };
    let mut found = check(3, "find_chunk", "each is found", Some("2 not found"));
    let mut alone = check(
        3,
        "find_chunk",
        "none is found twice",
        Some("1 found twice"),
    );
    if let (Event::Check { because: found, .. }, Event::Check { because: alone, .. }) =
        (&mut found, &mut alone)
    {
        *found = because("mem_chunk recorded every chunk");
        *alone = because("a claim that held");
    }
    let events = [
        step(2, "Registry"),
        check(2, "mem_chunk", "a claim that held", None),
        check(
            2,
            "mem_chunk",
            "mem_chunk recorded every chunk",
            Some("2 never recorded"),
        ),
        step(3, "Find"),
        found,
        alone,
        FINISHED,
    ];
    let verdict = verdict_of(&events, &exited(1), &expect("", None));
    assert_eq!(verdict.findings.len(), 2, "{verdict:#?}");
    let cause = &verdict.findings[0];
    assert_eq!(cause.part.as_deref(), Some("mem_chunk"));
    assert_eq!(cause.consequences.len(), 1);
    assert_eq!(cause.consequences[0].claim, "each is found");
    assert_eq!(cause.consequences[0].how, "it cannot be found");
    assert_eq!(
        verdict.findings[1].claim.as_deref(),
        Some("none is found twice"),
        "the claim it names held, so it is a failure of its own"
    );
}

#[test]
fn claims_not_reached_say_why_and_a_part_is_done_only_when_all_of_its_ran() {
    let reference = vec![
        claim(1, "current_break", "it read the break"),
        claim(2, "request", "sbrk returned the old break"),
        claim(3, "write", "all bytes hold the pattern"),
        claim(4, "write", "the byte past the end is untouched"),
        claim(5, "give_back", "it refused"),
        claim(7, "request", "a refusal comes back as an error"),
    ];
    let events = [
        step(1, "Find"),
        called(1, "current_break", None),
        returned(1, "current_break"),
        check(1, "current_break", "it read the break", None),
        step(2, "Grow"),
        called(2, "request", None),
        returned(2, "request"),
        check(2, "request", "sbrk returned the old break", None),
        step(3, "Write"),
        Event::NotRun {
            step: 3,
            needs: "the memory of step 2".to_owned(),
        },
        step(4, "Past the end"),
        called(4, "write", None),
        returned(4, "write"),
        Event::Stopped {
            step: 4,
            part: Some("write".to_owned()),
            message: "the mark is gone".to_owned(),
            goes_on: true,
        },
        step(5, "Give back"),
        to_do(5, "give_back", false),
    ];
    let expected = expect("", Some(reference));
    let ending = exited(3);
    let outcome = outcome(&events, &ending, "");
    let verdict = judge(&outcome, &expected, &parts());
    let why: Vec<(usize, &str)> = verdict
        .not_reached
        .iter()
        .map(|n| (n.step, n.why.as_str()))
        .collect();
    assert_eq!(
        why,
        [
            (3, "step 3 did not run: it needs the memory of step 2"),
            (4, "step 4 stopped: the mark is gone"),
            (5, "the run stopped in step 5: `give_back` is still to do"),
            (7, "the run stopped in step 5: `give_back` is still to do"),
        ]
    );
    let standing = |part: &str| {
        verdict
            .parts
            .iter()
            .find(|p| p.part == part)
            .cloned()
            .unwrap_or_default()
    };
    assert!(standing("current_break").is_done());
    let request = standing("request");
    assert_eq!((request.met, request.not_reached), (1, 1));
    assert!(!request.is_done(), "its failure path never ran");
    assert!(standing("give_back").to_do);
    // A step that stopped alone, with no claim of its own failed, is a finding at its part.
    assert_eq!(verdict.findings.len(), 1, "{:#?}", verdict.findings);
    assert_eq!(verdict.findings[0].kind, Kind::Stopped);
    assert_eq!(verdict.findings[0].part.as_deref(), Some("write"));
    let status = classify(&outcome, &expected, verdict);
    assert!(matches!(status, Status::Failed(_)), "{status:?}");
}

#[test]
fn a_step_that_stops_after_its_own_claim_failed_adds_no_second_finding() {
    let events = [
        step(2, "Grow"),
        called(2, "request", None),
        returned(2, "request"),
        check(
            2,
            "request",
            "sbrk returned the old break",
            Some("16 bytes higher"),
        ),
        Event::Stopped {
            step: 2,
            part: Some("request".to_owned()),
            message: "the memory is not where it should be".to_owned(),
            goes_on: true,
        },
        FINISHED,
    ];
    let verdict = verdict_of(&events, &exited(1), &expect("", None));
    assert_eq!(verdict.findings.len(), 1, "{:#?}", verdict.findings);
    assert_eq!(verdict.findings[0].kind, Kind::Claim);
}

#[test]
fn an_exit_inside_a_part_names_the_part_and_says_a_part_must_return() {
    let events = [
        step(7, "Too much"),
        called(7, "request", Some("request(1 << 46)")),
    ];
    let verdict = verdict_of(&events, &exited(0), &expect("", None));
    let finding = &verdict.findings[0];
    assert_eq!(finding.kind, Kind::Exit);
    assert_eq!(finding.part.as_deref(), Some("request"));
    assert!(finding.during_part);
    assert!(
        finding.happened.contains("a part must return its answer"),
        "{finding:?}"
    );
    assert!(!finding.happened.contains("Some("), "no debug values");
    assert_eq!(finding.call.as_deref(), Some("request(1 << 46)"));
}

#[test]
fn a_fault_is_said_against_the_memory_given_and_the_maps() {
    let events = [
        step(3, "Write"),
        Event::Given {
            step: 3,
            part: "write".to_owned(),
            what: "the 16 bytes from request".to_owned(),
            start: 0x1000,
            len: 16,
        },
        called(3, "write", None),
        Event::Fault {
            signal: "SIGSEGV".to_owned(),
            address: 0x3010,
        },
    ];
    let maps = "00001000-00002000 rw-p 00000000 00:00 0          [heap]\n\
                00005000-00006000 rw-p 00000000 00:00 0 \n";
    let crashed = Ending::Exited(ExitStatus::from_raw(libc::SIGSEGV));
    let outcome = Outcome {
        fault_maps: Some(maps),
        ..outcome(&events, &crashed, "")
    };
    let verdict = judge(&outcome, &expect("", None), &parts());
    let finding = &verdict.findings[0];
    assert_eq!(
        (finding.kind, finding.part.as_deref()),
        (Kind::Crash, Some("write"))
    );
    assert!(
        finding.happened.ends_with(
            "the SIGSEGV struck at 0x3010, 8192 bytes past the end of the 16 bytes from request; \
             in /proc/self/maps at that moment, no mapping holds it: it lies 4112 bytes past the \
             end of [heap] rw-p, below anonymous rw-p at 0x5000"
        ),
        "{finding:?}"
    );
}

#[test]
fn a_timeout_inside_a_part_names_the_usual_causes() {
    let events = [step(9, "Give back"), called(9, "give_back", None)];
    let verdict = verdict_of(&events, &Ending::TimedOut, &expect("", None));
    let finding = &verdict.findings[0];
    assert_eq!(finding.kind, Kind::Timeout);
    assert!(
        finding.happened.contains("a lock taken twice"),
        "{finding:?}"
    );
}

/// A run whose `request` held in step 1, stopped in step 2 at the optional `give_back`.
fn took_then_stopped_at_the_optional_give_back() -> [Event; 6] {
    [
        step(1, "Take"),
        called(1, "request", None),
        returned(1, "request"),
        check(1, "request", "it grew", None),
        step(2, "Give back"),
        to_do(2, "give_back", true),
    ]
}

#[test]
fn claims_that_wait_only_for_the_optional_part_do_not_hold_the_others_back() {
    let reference = vec![
        claim(1, "request", "it grew"),
        claim(2, "request", "taken again after the release"),
        claim(2, "give_back", "it was given back"),
    ];
    let events = took_then_stopped_at_the_optional_give_back();
    let expected = expect("Step 1. Take\n", Some(reference));
    let stdout = "Step 1. Take\n";
    let ending = exited(4);
    let outcome = outcome(&events, &ending, stdout);
    let verdict = judge(&outcome, &expected, &parts());
    let request = verdict.parts.iter().find(|p| p.part == "request").cloned();
    let request = request.unwrap_or_default();
    assert_eq!((request.not_reached, request.wait_for_optional), (1, 1));
    assert!(request.is_done());
    let status = classify(&outcome, &expected, verdict);
    assert!(
        matches!(&status, Status::Done(d) if d.optional_to_do.as_ref().is_some_and(|p| p.part == "give_back")),
        "{status:?}"
    );
}

/// Stopped at an optional part, a run is compared with the snapshot up to the heading of the
/// step it stopped in, as its events name it: what the step did not print is no difference.
#[test]
fn a_run_stopped_at_an_optional_part_is_compared_up_to_its_last_step_heading() {
    let events = took_then_stopped_at_the_optional_give_back();
    let expected = expect(
        "Step 1. Take\n  a <A1>\n  [ok] it grew\nStep 2. Give back\n  given\n",
        None,
    );
    let ending = exited(4);
    let note = |stdout: &str| match status_of(&events, &ending, &expected, stdout) {
        Status::Done(done) => done.note,
        status => panic!("done but for the optional part: {status:?}"),
    };
    assert!(
        note("Step 1. Take\n  a 0x10\n  [ok] it grew\nStep 2. Give back\n").is_empty(),
        "the step it stopped in is cut at its heading"
    );
    let differs = note("Step 1. Take\n  b 0x10\n  [ok] it grew\nStep 2. Give back\n");
    assert!(differs[0].contains("a note, not a failure"), "{differs:?}");
}

#[test]
fn a_claim_is_known_by_its_words_with_what_varies_masked() {
    assert_eq!(
        claim_key("mem_chunk(~131072 bytes (~128 KiB)) has a mapping"),
        claim_key("mem_chunk(~65536 bytes (~64 KiB)) has a mapping")
    );
    assert_ne!(claim_key("it refused"), claim_key("it accepted"));
}
