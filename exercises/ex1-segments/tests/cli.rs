//! ex1-segments run as learners run it: every claim holds, and every address lies where the
//! JSON says. The binary runs as a child process, so nothing here shares its address space.

use lesson::testing::{assert_document_holds, assert_flags_behave, observation, run_json};

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
    assert_eq!(kind("the function a_function"), "text");
}

#[test]
fn help_and_bad_flags() {
    assert_flags_behave(
        BIN,
        "where a program's stack, heap, data, bss and code live",
    );
}
