//! The milestone demo run as learners run it, as a child process.

use lesson::testing::{assert_document_holds, assert_flags_behave, assert_pauses, run, run_json};

const BIN: &str = env!("CARGO_BIN_EXE_milestone");

#[test]
fn the_default_demo_passes_every_check() {
    let doc = run_json(BIN);
    // The registry empty at first, one check per chunk of the six, where they lie, the reuse
    // of released break memory, and the two of giving everything back: the library's own
    // claims (what any mem_chunk must do is the contract's).
    assert_eq!(assert_document_holds(&doc), 11);
}

#[test]
fn sizes_on_the_command_line_are_used() {
    for sizes in [&["100", "200000", "4096"][..], &["1"], &["131072"]] {
        let out = run(BIN, sizes);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{sizes:?}: {text}");
        for size in sizes {
            assert!(
                text.contains(&format!("({size} bytes")),
                "{sizes:?}: {text}"
            );
        }
    }
}

#[test]
fn bad_sizes_get_one_line_and_status_2() {
    let cases = [
        ("0", "at least 1 byte"),
        ("-5", "cannot be negative"),
        ("abc", "not a whole number"),
        ("4k", "not a whole number"),
        ("99999999999999999999999", "too large"),
        ("9223372036854775807", "too large"),
    ];
    for (arg, says) in cases {
        let out = run(BIN, &[arg]);
        assert_eq!(out.status.code(), Some(2), "{arg}");
        assert!(out.stdout.is_empty(), "{arg}: nothing on stdout");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{arg}: {err}");
        assert!(
            err.contains(says) && err.starts_with("milestone: "),
            "{arg}: {err}"
        );
    }
}

#[test]
fn an_os_refusal_gets_one_line_and_status_1() {
    // 64 TiB is a valid size that no machine here can map.
    let out = run(BIN, &["70368744177664"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("ENOMEM"), "{err}");
}

#[test]
fn help_and_bad_flags() {
    assert_flags_behave(BIN, "mem_chunk: memory from the OS by sbrk or mmap");
}

#[test]
fn pause_stops_after_every_step() {
    assert!(assert_pauses(BIN) >= 5);
}
