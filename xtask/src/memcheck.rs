//! `cargo xtask memcheck`: runs ex3-mmap and the milestone demo under valgrind's memcheck and
//! fails on any invalid read or write or use of uninitialised memory.
//!
//! Valgrind emulates the program break and caps it at 8 MiB, so one run asks the demo for more
//! small chunks than that: they must fall back to `mmap` and stay clean.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::run::{self, Ending, Profile, root};

/// The exit status valgrind uses when it found errors (the programs never use it).
const ERRORS: i32 = 99;

/// The runs: a binary and its arguments.
fn runs() -> Vec<(&'static str, Vec<String>)> {
    // 100 chunks of 100,000 bytes: below the mmap threshold, 10 MB in all, past the 8 MiB cap.
    let past_the_cap = vec!["100000".to_owned(); 100];
    vec![
        ("ex3-mmap", vec![]),
        ("milestone", vec![]),
        ("milestone", past_the_cap),
    ]
}

/// Runs every memcheck run; returns whether all were clean and passed their own checks.
pub fn memcheck() -> Result<bool> {
    match Command::new("valgrind").arg("--version").output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "valgrind is not installed; install it with `sudo apt-get install valgrind` \
             (Debian, Ubuntu) or `sudo dnf install valgrind` (Fedora)"
        ),
        Err(e) => return Err(e).context("cannot run valgrind"),
        Ok(_) => {}
    }
    let bin_dir = run::build(Profile::Debug)?;
    let suppressions = root().join("xtask/valgrind.supp");
    let runs = runs();
    let mut failed = 0;
    for (name, args) in &runs {
        let name = *name;
        let mut argv = vec![
            "-q".to_owned(),
            format!("--error-exitcode={ERRORS}"),
            "--leak-check=no".to_owned(),
            format!("--suppressions={}", suppressions.display()),
            bin_dir.join(name).display().to_string(),
        ];
        argv.extend(args.iter().cloned());
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let outcome = run::run(
            std::path::Path::new("valgrind"),
            &argv,
            Duration::from_secs(300),
        )?;
        let shown = match args.first() {
            Some(_) => format!("{name} (past the 8 MiB cap)"),
            None => name.to_owned(),
        };
        // Valgrind says so by its exit status, and by its reports on stderr.
        let found_errors = matches!(outcome.ending, Ending::Exited(s) if s.code() == Some(ERRORS))
            || outcome
                .stderr
                .lines()
                .any(|l| l.contains("Invalid") || l.contains("uninitialised"));
        let why = if found_errors {
            Some("memcheck found errors".to_owned())
        } else {
            outcome.failure()
        };
        match why {
            None => println!("memcheck {shown} ... ok"),
            Some(why) => {
                failed += 1;
                println!("memcheck {shown} ... FAILED: {why}");
                for line in outcome.stderr.lines().take(40) {
                    println!("    {line}");
                }
            }
        }
    }
    println!("memcheck: {} passed, {failed} failed", runs.len() - failed);
    Ok(failed == 0)
}
