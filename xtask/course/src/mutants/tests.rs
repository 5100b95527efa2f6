use std::time::Duration;

use super::*;

const CAPTURED: &str = include_str!("../../tests/fixtures/mutants/outcomes.json");

fn outcome(file: &str, line: usize, mutant: &str, judged: Judged) -> Outcome {
    Outcome {
        file: file.to_owned(),
        line,
        mutant: mutant.to_owned(),
        judged,
        diff: None,
    }
}

fn entry(file: &str, mutant: &str, code: &str) -> Entry {
    Entry {
        file: file.to_owned(),
        mutant: mutant.to_owned(),
        code: code.to_owned(),
        why: "a reason".to_owned(),
    }
}

#[test]
fn unsafe_is_dropped_from_signatures_and_left_in_blocks() {
    let text = "pub unsafe fn write(memory: *mut u8) {\n    \
                // SAFETY: the caller promises it.\n    \
                let bytes = unsafe { slice(memory) };\n}\n\
                unsafe fn private() {}\n    pub(crate) unsafe fn inner() {}\n\
                pub fn safe() {}\npub unsafe extern \"C\" fn c() {}\n";
    let (safe, dropped) = drop_unsafe(text);
    assert_eq!(dropped, 3);
    assert_eq!(
        safe,
        "pub fn write(memory: *mut u8) {\n    \
         // SAFETY: the caller promises it.\n    \
         let bytes = unsafe { slice(memory) };\n}\n\
         fn private() {}\n    pub(crate) fn inner() {}\n\
         pub fn safe() {}\npub unsafe extern \"C\" fn c() {}\n"
    );
}

#[test]
fn captured_outcomes_give_each_mutant_without_the_baseline() {
    let outcomes = parse_outcomes(CAPTURED).unwrap();
    let ex3 = "exercises/ex3-mmap/src/parts.rs";
    assert_eq!(
        outcomes,
        [
            Outcome {
                diff: Some(
                    "diff/exercises__ex3-mmap__src__parts.rs_line_42_col_29.diff".to_owned()
                ),
                ..outcome(ex3, 42, "replace | with & in map", Judged::Caught)
            },
            Outcome {
                diff: Some(
                    "diff/exercises__ex3-mmap__src__parts.rs_line_42_col_29_001.diff".to_owned()
                ),
                ..outcome(ex3, 42, "replace | with ^ in map", Judged::Survived)
            },
            Outcome {
                diff: Some(
                    "diff/exercises__ex3-mmap__src__parts.rs_line_44_col_13.diff".to_owned()
                ),
                ..outcome(ex3, 44, "delete - in map", Judged::Survived)
            },
            Outcome {
                diff: Some(
                    "diff/exercises__ex3-mmap__src__parts.rs_line_110_col_5.diff".to_owned()
                ),
                ..outcome(
                    ex3,
                    110,
                    "replace owned_mapping -> io::Result<memmap2::MmapMut> with \
                     Ok(Default::default())",
                    Judged::Unviable
                )
            },
            Outcome {
                diff: Some("diff/milestone__src__parts.rs_line_29_col_39.diff".to_owned()),
                ..outcome(
                    "milestone/src/parts.rs",
                    29,
                    "replace * with +",
                    Judged::Survived
                )
            },
            Outcome {
                diff: Some(
                    "diff/exercises__ex1-segments__src__parts.rs_line_39_col_14.diff".to_owned()
                ),
                ..outcome(
                    "exercises/ex1-segments/src/parts.rs",
                    39,
                    "replace += with *= in address_of_a_local",
                    Judged::TimedOut
                )
            },
        ]
    );
}

#[test]
fn an_unknown_outcome_or_another_file_is_an_error() {
    let unknown = CAPTURED.replace("\"CaughtMutant\"", "\"Exploded\"");
    let error = parse_outcomes(&unknown).unwrap_err();
    assert!(format!("{error:#}").contains("an outcome this does not know, Exploded"));
    let error = parse_outcomes("{\"mutants\": []}").unwrap_err();
    assert!(format!("{error:#}").contains("not the outcomes.json of cargo-mutants 27.1.0"));
}

#[test]
fn the_list_parses_and_refuses_a_missing_why_a_twin_and_an_unknown_field() {
    let good = "[[harmless]]\nfile = \"a.rs\"\nmutant = \"replace | with ^ in map\"\n\
                code = \"PROT_READ | PROT_WRITE,\"\nwhy = \"Disjoint bits.\"\n\n\
                [[blind_spot]]\nfile = \"a.rs\"\nmutant = \"delete - in f\"\n\
                code = \"sbrk(-len)\"\nwhy = \"The break is never checked.\"\n";
    let allowed = Allowed::parse(good).unwrap();
    let kinds: Vec<Kind> = allowed.entries().map(|(k, _)| k).collect();
    assert_eq!(kinds, [Kind::Harmless, Kind::BlindSpot]);
    assert_eq!(allowed.harmless[0].code, "PROT_READ | PROT_WRITE,");

    let no_why = good.replace("why = \"Disjoint bits.\"", "why = \" \"");
    let error = Allowed::parse(&no_why).unwrap_err();
    assert!(format!("{error:#}").contains("needs its why, in one line"));
    let twin = good
        .replace("delete - in f", "replace | with ^ in map")
        .replace(
            "code = \"sbrk(-len)\"",
            "code = \"PROT_READ | PROT_WRITE,\"",
        );
    let error = Allowed::parse(&twin).unwrap_err();
    assert!(
        format!("{error:#}").contains("is listed twice"),
        "{error:#}"
    );
    let unknown = good.replace("why = \"Disjoint bits.\"", "reason = \"Disjoint bits.\"");
    assert!(Allowed::parse(&unknown).is_err());
    assert!(Allowed::parse("[[harmles]]\nfile = \"a.rs\"\n").is_err());
}

#[test]
fn an_entry_naming_no_reference_is_an_error() {
    let allowed = Allowed {
        harmless: vec![entry("src/other.rs", "replace + with -", "a + b")],
        ..Allowed::default()
    };
    let error = allowed.check_files(&["a.rs"]).unwrap_err();
    assert!(format!("{error:#}").contains("which is no reference"));
    assert!(Allowed::default().check_files(&["a.rs"]).is_ok());
}

fn sources() -> BTreeMap<String, String> {
    let text = "fn map() {\n    a | b,\n    c | d,\n    -1,\n}\n";
    BTreeMap::from([("a.rs".to_owned(), text.to_owned())])
}

#[test]
fn survivors_are_listed_by_file_name_and_line_and_the_score_counts_timeouts_as_caught() {
    let outcomes = [
        outcome("a.rs", 2, "replace | with ^ in map", Judged::Survived),
        outcome("a.rs", 3, "replace | with ^ in map", Judged::Survived),
        outcome("a.rs", 4, "delete - in map", Judged::Survived),
        outcome("a.rs", 2, "replace | with & in map", Judged::Caught),
        outcome("a.rs", 1, "replace map with ()", Judged::TimedOut),
        outcome(
            "a.rs",
            1,
            "replace map with Default::default()",
            Judged::Unviable,
        ),
    ];
    let allowed = Allowed {
        harmless: vec![entry("a.rs", "replace | with ^ in map", "a | b,")],
        blind_spot: vec![entry("a.rs", "delete - in map", "-1,")],
    };
    let verdict = judge(&outcomes, &allowed, &["a.rs"], &sources());
    let score = &verdict.scores[0];
    assert_eq!((score.caught, score.timed_out, score.survived), (2, 1, 3));
    assert_eq!((score.judged(), score.unviable), (5, 1));
    assert_eq!((score.harmless, score.blind_spots), (1, 1));
    assert_eq!(
        score_line(score),
        "2 of 5 caught (1 by the time limit); of the 3 survivors, 1 harmless, 1 blind \
         spot, 1 not listed; 1 more did not build"
    );
    let listed: Vec<(usize, Kind)> = verdict
        .listed
        .iter()
        .map(|(s, k, _)| (s.outcome.line, *k))
        .collect();
    assert_eq!(listed, [(2, Kind::Harmless), (4, Kind::BlindSpot)]);
    // The same mutant on another line is another mutant: unlisted.
    assert_eq!(verdict.unlisted.len(), 1);
    assert_eq!(verdict.unlisted[0].code, "c | d,");
    assert!(verdict.stale.is_empty());
    assert!(!verdict.holds());
    assert_eq!(verdict.overall().file, "overall");
    assert_eq!(verdict.overall().caught, 2);
}

#[test]
fn an_entry_that_is_caught_unviable_or_gone_is_stale() {
    let outcomes = [
        outcome("a.rs", 2, "replace | with ^ in map", Judged::Caught),
        outcome("a.rs", 3, "replace | with ^ in map", Judged::TimedOut),
        outcome("a.rs", 4, "delete - in map", Judged::Unviable),
    ];
    let allowed = Allowed {
        harmless: vec![
            entry("a.rs", "replace | with ^ in map", "a | b,"),
            entry("a.rs", "replace | with ^ in map", "c | d,"),
            entry("a.rs", "replace & with ^ in map", "a | b,"),
        ],
        blind_spot: vec![entry("a.rs", "delete - in map", "-1,")],
    };
    let verdict = judge(&outcomes, &allowed, &["a.rs"], &sources());
    let stale: Vec<(Kind, &str, Stale)> = verdict
        .stale
        .iter()
        .map(|(k, e, s)| (*k, e.code.as_str(), *s))
        .collect();
    assert_eq!(
        stale,
        [
            (Kind::Harmless, "a | b,", Stale::Caught),
            (Kind::Harmless, "c | d,", Stale::Caught),
            (Kind::Harmless, "a | b,", Stale::Gone),
            (Kind::BlindSpot, "-1,", Stale::Unviable),
        ]
    );
    assert!(!verdict.holds());
    // Entries of a reference that was not run are not judged.
    let verdict = judge(&[], &allowed, &["b.rs"], &sources());
    assert!(verdict.holds());
}

#[test]
fn an_unlisted_survivor_comes_with_an_entry_to_paste() {
    let survivor = outcome("a.rs", 2, "replace | with ^ in map", Judged::Survived);
    let pasted = entry_for(
        &Survivor {
            outcome: &survivor,
            code: "\"hello\".as_ptr() as usize".to_owned(),
        },
        Kind::Harmless,
    );
    let back = Allowed::parse(&pasted.replace("(the one line that says why)", "Because.")).unwrap();
    assert_eq!(back.harmless[0].code, "\"hello\".as_ptr() as usize");
    assert!(pasted.starts_with("[[harmless]]\n"), "{pasted}");
}

/// CI installs the release that the list is exact for, and that `run` asks for.
#[test]
fn ci_installs_the_pinned_cargo_mutants() {
    let ci = read(&run::root().join(".ci/run")).unwrap();
    assert!(ci.contains(&format!(
        "\"$(cargo mutants --version 2>/dev/null)\" != \"cargo-mutants {CARGO_MUTANTS}\""
    )));
    assert!(ci.contains(&format!(
        "cargo install cargo-mutants --version {CARGO_MUTANTS} --locked"
    )));
    assert!(ci.contains("\ncargo xtask mutants\n"));
}

#[test]
fn the_run_takes_minutes_and_seconds() {
    assert_eq!(took(Duration::from_secs(42)), "took 42 s");
    assert_eq!(took(Duration::from_secs(293)), "took 4 min 53 s");
}
