//! ex0-virtual-memory run as learners run it, as root and as an ordinary user.

use lesson::normalize::normalize;
use lesson::testing::{
    assert_document_holds, assert_flags_behave, assert_pauses, observation, run, run_json,
};

const BIN: &str = env!("CARGO_BIN_EXE_ex0-virtual-memory");

#[test]
fn every_check_holds() {
    let doc = run_json(BIN);
    assert!(assert_document_holds(&doc) >= 8);
    assert_eq!(
        observation(&doc, "the value's address")["region"]["kind"],
        "heap"
    );
    assert_eq!(
        observation(&doc, "the read-only page")["region"]["perms"],
        "r--p"
    );
}

#[test]
fn frames_are_shown_or_said_to_be_hidden() {
    let out = run(BIN, &["--frames"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let pages = text
        .lines()
        .filter(|l| l.trim_start().starts_with("page "))
        .count();
    assert_eq!(pages, 8, "{text}");
    // Never a row of zeros: a number, or the word that it is hidden.
    assert!(!text.contains("frame 0\n"), "{text}");
}

#[test]
fn help_and_bad_flags() {
    assert_flags_behave(BIN, "virtual memory: more than the machine has");
}

/// The pattern learners compare against must not depend on who runs the program.
#[test]
fn an_ordinary_user_sees_the_same_pattern_as_root() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let setpriv = std::path::Path::new("/usr/bin/setpriv").exists();
    if !(root && setpriv) {
        eprintln!("skipped: needs root and setpriv to run the program as another user");
        return;
    }
    let as_root = run(BIN, &[]);
    // The build folder may sit where another user cannot reach (under /root, say): run a copy
    // from the temporary folder instead; the program does not depend on where it lies.
    let copy = std::env::temp_dir().join(format!("ex0-virtual-memory-{}", std::process::id()));
    std::fs::copy(BIN, &copy).expect("copy the binary");
    std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("make the copy executable");
    // While another test thread forks, its child holds every descriptor open until it execs,
    // the one that wrote the copy too: executing the copy then fails with ETXTBSY ("Text file
    // busy", about one run in 15). That is this harness's, not the program's: try again.
    let as_nobody = || {
        std::process::Command::new("/usr/bin/setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&copy)
            .output()
            .expect("setpriv runs")
    };
    let mut as_user = as_nobody();
    for _ in 0..20 {
        if !String::from_utf8_lossy(&as_user.stderr).contains("Text file busy") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        as_user = as_nobody();
    }
    let _ = std::fs::remove_file(&copy);
    let user_text = String::from_utf8_lossy(&as_user.stdout);
    assert!(
        as_user.status.success(),
        "as nobody: {user_text}{}",
        String::from_utf8_lossy(&as_user.stderr)
    );
    assert_eq!(
        normalize(&String::from_utf8_lossy(&as_root.stdout)),
        normalize(&user_text)
    );
}

#[test]
fn pause_stops_after_every_step() {
    assert!(assert_pauses(BIN) >= 4);
}
