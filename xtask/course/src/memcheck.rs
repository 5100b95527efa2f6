//! `cargo xtask memcheck`: runs under valgrind's memcheck the runs the lesson's packages name
//! (`[[package.metadata.lesson.memcheck]]` in their `Cargo.toml`), and fails on any invalid read
//! or write or use of uninitialised memory.
//!
//! Valgrind emulates the program break and caps it at 8 MiB, so a run may ask for more than
//! that (the milestone's does): what does not fit must fall back to `mmap` and stay clean.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use xtask::catalogue::{MemcheckRun, memcheck_runs};
use xtask::run::{self, Profile, Stop, root};

/// The exit status valgrind uses when it found errors (the programs never use it).
const ERRORS: i32 = 99;

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
    let runs = memcheck_runs();
    if runs.is_empty() {
        bail!("no package names a run for memcheck ([[package.metadata.lesson.memcheck]])");
    }
    let mut failed = 0;
    for MemcheckRun { name, binary, args } in runs {
        let mut argv = vec![
            "-q".to_owned(),
            format!("--error-exitcode={ERRORS}"),
            "--leak-check=no".to_owned(),
            format!("--suppressions={}", suppressions.display()),
            bin_dir.join(binary).display().to_string(),
        ];
        argv.extend(args.iter().cloned());
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let outcome = run::run(
            std::path::Path::new("valgrind"),
            &argv,
            Duration::from_secs(300),
        )?;
        // Valgrind says so by its exit status, and by its reports on stderr.
        let found_errors = outcome.ending.stop() == Stop::Exited(ERRORS)
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
            None => println!("memcheck {name} ... ok"),
            Some(why) => {
                failed += 1;
                println!("memcheck {name} ... FAILED: {why}");
                for line in outcome.stderr.lines().take(40) {
                    println!("    {line}");
                }
            }
        }
    }
    println!("memcheck: {} passed, {failed} failed", runs.len() - failed);
    Ok(failed == 0)
}
