//! ex3-mmap run as learners run it, as a child process.

use lesson::testing::{
    assert_document_holds, assert_flags_behave, assert_pauses, observation, run_json,
};

const BIN: &str = env!("CARGO_BIN_EXE_ex3-mmap");

#[test]
fn every_check_holds_and_the_mapping_is_gone_after_munmap() {
    let doc = run_json(BIN);
    assert!(assert_document_holds(&doc) >= 10);
    let mapped = observation(&doc, "mmap returned");
    assert_eq!(mapped["region"]["kind"], "anonymous");
    assert_eq!(mapped["region"]["perms"], "rw-p");
    let address = mapped["address"].as_str().unwrap();
    assert!(address.ends_with("000"), "page aligned: {address}");
    assert!(observation(&doc, "the old address")["region"].is_null());
    assert!(observation(&doc, "the old address after Drop")["region"].is_null());
}

#[test]
fn help_and_bad_flags() {
    assert_flags_behave(BIN, "anonymous memory from mmap");
}

#[test]
fn pause_stops_after_every_step() {
    assert!(assert_pauses(BIN) >= 5);
}
