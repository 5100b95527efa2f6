//! Helpers for the lesson binaries' own tests: run a binary, read its `--json` document, and
//! check it against itself and against the conventions.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// Runs `binary` with `args` and returns its output.
///
/// # Panics
/// If the binary cannot be started (a test helper: the test fails with the reason).
pub fn run(binary: &str, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {binary}: {e}"))
}

/// Runs `binary` with `args` and asserts that it exited 0, which a lesson binary does only when
/// every claim it checks held. Nothing else is asserted: `cargo xtask mutants` judges each
/// mutant of a reference's parts by this alone, as the lesson judges a learner's.
///
/// # Panics
/// If the binary cannot be started or does not exit 0 (the message holds its output).
pub fn assert_every_claim_holds(binary: &str, args: &[&str]) {
    let out = run(binary, args);
    assert!(
        out.status.success(),
        "{binary} {args:?} failed ({}): {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `binary --json`, asserts it exited 0, and returns the parsed document.
///
/// # Panics
/// If the binary fails or its output is not JSON.
pub fn run_json(binary: &str) -> Value {
    let out = run(binary, &["--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{binary} --json failed ({}): {stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn hex(text: &Value) -> usize {
    let text = text.as_str().expect("an address is a string");
    let digits = text.strip_prefix("0x").expect("an address starts with 0x");
    assert_eq!(digits, digits.to_lowercase(), "addresses are lowercase hex");
    usize::from_str_radix(digits, 16).expect("an address is hex")
}

/// Asserts that the document says it passed, that every check in it passed, that there were
/// checks at all, and that every observed address lies inside the region it names.
/// Returns the number of checks.
///
/// # Panics
/// On the first thing that does not hold.
pub fn assert_document_holds(doc: &Value) -> usize {
    assert_eq!(doc["passed"], true, "the document says it failed: {doc:#}");
    assert_eq!(doc["checks_failed"], 0);
    let steps = doc["steps"].as_array().expect("steps");
    assert!(!steps.is_empty(), "no steps");
    let mut checks = 0;
    for step in steps {
        for check in step["checks"].as_array().expect("checks") {
            assert_eq!(check["passed"], true, "check failed: {check}");
            checks += 1;
        }
        for obs in step["observations"].as_array().expect("observations") {
            let addr = hex(&obs["address"]);
            if let Some(region) = obs["region"].as_object() {
                let (start, end) = (hex(&region["start"]), hex(&region["end"]));
                assert!(
                    start <= addr && addr < end,
                    "{obs} lies outside the region it names"
                );
                assert_eq!(region["size"].as_u64(), Some((end - start) as u64));
            }
        }
    }
    assert_eq!(doc["checks_passed"].as_u64(), Some(checks as u64));
    assert!(checks > 0, "no checks were made");
    checks
}

/// Finds the observation with `label` anywhere in the document.
///
/// # Panics
/// If there is none.
pub fn observation<'a>(doc: &'a Value, label: &str) -> &'a Value {
    doc["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["observations"].as_array().into_iter().flatten())
        .find(|o| o["label"] == label)
        .unwrap_or_else(|| panic!("no observation {label:?}"))
}

/// The address of the observation with `label`.
///
/// # Panics
/// If there is none, or its address is not `0x` and lowercase hex.
pub fn address(doc: &Value, label: &str) -> usize {
    hex(&observation(doc, label)["address"])
}

/// Asserts that `--help` exits 0 and says `about`, and that an unknown flag gets one line with
/// the usage and exit status 2.
///
/// # Panics
/// If either does not hold.
pub fn assert_flags_behave(binary: &str, about: &str) {
    let help = run(binary, &["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains(about),
        "--help does not say {about:?}: {text}"
    );
    assert!(text.contains("--json"));

    let bad = run(binary, &["--no-such-flag"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(bad.stdout.is_empty(), "nothing goes to stdout on bad input");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    let name = Path::new(binary).file_name().unwrap().to_string_lossy();
    assert!(err.starts_with(&format!("{name}: ")), "{err}");
    assert!(
        err.contains("--no-such-flag") && err.contains("usage:"),
        "{err}"
    );
}

/// Asserts that `binary --pause` stops after every step, and once more before its summary,
/// naming its own pid, and goes on at each Enter; three Enters are given, then the input ends,
/// which must let it run to the end as well. Returns how many times it paused.
///
/// # Panics
/// If it does not exit 0, or does not pause after step 1 with its pid.
pub fn assert_pauses(binary: &str) -> usize {
    use std::io::Write as _;
    use std::process::Stdio;
    let events = std::env::temp_dir().join(format!(
        "lesson-pauses-{}-{}.events",
        std::process::id(),
        Path::new(binary).file_name().unwrap().to_string_lossy()
    ));
    let _ = std::fs::remove_file(&events);
    let mut child = Command::new(binary)
        .arg("--pause")
        .env(crate::events::EVENTS_VAR, &events)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {binary}: {e}"));
    let pid = child.id();
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"\n\n\n")
        .expect("write to stdin");
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "-- paused after step 1 (pid {pid}): look at /proc/{pid}/maps"
        )),
        "{stderr}"
    );
    // The steps the run recorded, as events: not its printed headings.
    let recorded = crate::events::read_events(&events).expect("the run's events");
    let _ = std::fs::remove_file(&events);
    let _ = std::fs::remove_file(crate::events::maps_path(&events));
    let steps = recorded
        .iter()
        .filter(|e| matches!(e, crate::events::Event::Step { .. }))
        .count();
    assert!(steps > 0, "the run recorded no step");
    let pauses = stderr.matches("-- paused after step").count();
    assert_eq!(pauses, steps, "one pause after each step: {stderr}");
    pauses
}
