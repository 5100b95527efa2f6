//! ex2-sbrk run as learners run it. It moves the program break, so it runs as a child process
//! of its own, never inside this multi-threaded test harness.

use lesson::testing::{
    address as addr, assert_document_holds, assert_flags_behave, assert_pauses, observation,
    run_json,
};

const BIN: &str = env!("CARGO_BIN_EXE_ex2-sbrk");

#[test]
fn every_check_holds_and_the_break_comes_back() {
    let doc = run_json(BIN);
    assert!(assert_document_holds(&doc) >= 14);
    let initial = addr(&doc, "the initial program break");
    let new = addr(&doc, "sbrk returned (the new memory)");
    let grown = addr(&doc, "the new program break");
    assert_eq!(new, initial);
    assert_eq!(grown - new, 10_000);
    assert_eq!(addr(&doc, "the program break after shrinking"), initial);
    assert_eq!(
        observation(&doc, "the last new byte")["region"]["kind"],
        "heap"
    );
}

#[test]
fn help_and_bad_flags() {
    assert_flags_behave(BIN, "the program break, grown with sbrk");
}

#[test]
fn pause_stops_after_every_step() {
    assert!(assert_pauses(BIN) >= 5);
}

/// The race of step 8 must never touch glibc's heap: with a raised mmap threshold the program's
/// own buffers come from the heap, and a malloc on the main thread while the child's threads
/// still raced once crashed the child (9 runs in 40). Twenty runs in a row must all pass.
#[test]
fn the_sbrk_race_leaves_glibcs_heap_alone() {
    for run in 0..20 {
        let out = std::process::Command::new(BIN)
            .env("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=1048576")
            .output()
            .expect("ex2-sbrk runs");
        assert!(
            out.status.success(),
            "run {run}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
