//! What happens to the output when it cannot be written. In a file of its own: a test that
//! spawns a process while this one spawns its own could hold a copy of the pipe's read end for
//! a moment (between its fork and exec), and the "closed" pipe would take the output after all.

const BIN: &str = env!("CARGO_BIN_EXE_ex1-segments");

/// Output that cannot be written is an error, said on stderr; a reader that has gone (`| head`)
/// ends the program quietly.
#[test]
fn a_full_disk_is_an_error_and_a_closed_pipe_is_not() {
    use std::process::{Command, Stdio};
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = Command::new(BIN)
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("ex1-segments: error: cannot write the output:"),
        "{stderr}"
    );

    // The read end is closed before the program starts: nobody will ever read.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(BIN)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(141));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
