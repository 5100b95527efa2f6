//! ex1-segments run as learners run it: every claim holds, and every address lies where the
//! JSON says. The binary runs as a child process, so nothing here shares its address space.

use lesson::testing::{
    assert_document_holds, assert_flags_behave, assert_pauses, observation, run, run_json,
};

const BIN: &str = env!("CARGO_BIN_EXE_ex1-segments");

#[test]
fn every_check_holds_and_every_address_is_in_its_region() {
    let doc = run_json(BIN);
    assert!(assert_document_holds(&doc) >= 15);
    let kind = |label: &str| observation(&doc, label)["region"]["kind"].clone();
    assert_eq!(kind("a local variable (main)"), "stack");
    assert_eq!(kind("a Box<u64>"), "heap");
    assert_eq!(kind("a Vec of 262144 bytes (256 KiB)"), "anonymous");
    assert_eq!(kind("an initialised global"), "data");
    assert_eq!(kind("a string literal"), "read-only data");
    assert_eq!(kind("a function's code"), "text");
}

/// The README's "try next": a large Vec below the mmap threshold stays in the heap, and the
/// program says so instead of failing.
#[test]
fn a_vec_below_the_threshold_lies_in_the_heap() {
    let out = run(BIN, &["--large", "100000", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_document_holds(&doc);
    assert_eq!(
        observation(&doc, "a Vec of 100000 bytes (97.7 KiB)")["region"]["kind"],
        "heap"
    );
    let bad = run(BIN, &["--large", "0"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn help_and_bad_flags() {
    assert_flags_behave(
        BIN,
        "where a program's stack, heap, data, bss and code live",
    );
}

#[test]
fn pause_stops_after_every_step() {
    assert!(assert_pauses(BIN) >= 5);
}
