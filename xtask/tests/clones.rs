//! Two clones can share one target folder, and so one xtask binary: `cargo xtask` must check
//! the clone it runs in (cargo names it at run time), not the one the binary was built in.

use std::path::Path;
use std::process::Command;

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn the_xtask_of_one_clone_checks_the_clone_it_runs_in() {
    let other = std::env::temp_dir().join(format!("xtask-other-clone-{}", std::process::id()));
    let reference = "\
pub fn current_break() -> *mut u8 {
    // ANCHOR: current_break
    // HINT: this hint exists only in the other clone.
    std::ptr::null_mut()
    // ANCHOR_END: current_break
}
";
    write(&other.join("exercises/ex2-sbrk/src/parts.rs"), reference);
    std::fs::create_dir_all(other.join("xtask")).unwrap();
    let out = Command::new(XTASK)
        .args(["hint", "ex2-sbrk", "--all"])
        .env("CARGO_MANIFEST_DIR", other.join("xtask"))
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&other);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("this hint exists only in the other clone"),
        "{stdout}"
    );
}
