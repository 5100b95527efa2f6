//! The lesson's contract, run as learners run it: on the lesson's reference answer and on the
//! library. (The learner's template is proven by `cargo xtask learn --verify`: `cargo test`
//! never builds the learner's file.)

use lesson::testing::{assert_document_holds, run};

const BIN: &str = env!("CARGO_BIN_EXE_milestone");

fn contract(args: &[&str]) -> serde_json::Value {
    let out = run(BIN, args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{args:?}: {stdout}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

#[test]
fn the_reference_answer_meets_the_contract() {
    let doc = contract(&["contract", "--json"]);
    assert!(assert_document_holds(&doc) >= 12);
    assert_eq!(
        doc["title"],
        "mem_chunk, checked against the lesson's contract"
    );
}

#[test]
fn the_library_meets_the_same_contract() {
    let library = contract(&["contract", "library", "--json"]);
    let lesson = contract(&["--json", "contract", "lesson"]);
    assert_eq!(
        assert_document_holds(&library),
        assert_document_holds(&lesson)
    );
}

#[test]
fn an_unknown_implementation_is_a_usage_error() {
    let out = run(BIN, &["contract", "mine"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'mine'") && stderr.contains("[possible values: lesson, library]"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}
