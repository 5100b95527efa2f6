//! Two clones can share one target folder, and so one xtask binary: `cargo xtask` must check
//! the clone it runs in (cargo names it at run time), not the one the binary was built in.

use std::path::Path;
use std::process::Command;

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

#[test]
fn the_xtask_of_one_clone_checks_the_clone_it_runs_in() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let other = std::env::temp_dir().join(format!("xtask-other-clone-{}", std::process::id()));
    xtask::run::copy_sources(here, &other).expect("copy the workspace");
    let reference = other.join("exercises/ex2-sbrk/src/parts.rs");
    let text = std::fs::read_to_string(&reference).unwrap();
    let changed = text.replacen(
        "// HINT: `libc::sbrk(0)`",
        "// HINT: this hint exists only in the other clone. `libc::sbrk(0)`",
        1,
    );
    assert_ne!(text, changed, "the reference's first hint moved");
    std::fs::write(&reference, changed).unwrap();
    let out = Command::new(XTASK)
        .args(["hint", "ex2-sbrk", "--all", "--more"])
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
