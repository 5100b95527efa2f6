//! `cargo xtask bench --cold`: how long a fresh clone takes to reach the learner's first verdict,
//! the path the README starts with: `cargo run -p ex1-segments`, then `cargo xtask learn`, then
//! `cargo xtask learn` again, as after a save.
//!
//! It clones this workspace's committed state (`HEAD`) under `target/cold/`, with a target
//! folder of its own, and times each command there: the wall time, which depends on what else
//! the machine runs, and the CPU time of the command and of every process it waited for (the
//! compilers), which does not (`man 2 getrusage`, `RUSAGE_CHILDREN`). A report, never a test:
//! it exits 0 whatever the figures.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use xtask::run::{cargo, root, target_dir};

/// The CPU seconds, user and system, of every child process waited for so far.
fn children_cpu_seconds() -> f64 {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage` for getrusage to fill.
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &raw mut usage) } != 0 {
        return f64::NAN;
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The load average over the last minute, as `/proc/loadavg` says it.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// How many units cargo's `--timings` report in `target` says the build compiled.
fn units(target: &Path) -> Option<String> {
    let html = std::fs::read_to_string(target.join("cargo-timings/cargo-timing.html")).ok()?;
    let after = html.split("Total units:</td><td>").nth(1)?;
    Some(after.chars().take_while(char::is_ascii_digit).collect())
}

/// Runs `args` with cargo in `dir`, and prints its wall and CPU seconds.
fn timed(dir: &Path, what: &str, args: &[&str]) -> Result<f64> {
    let cpu = children_cpu_seconds();
    let start = Instant::now();
    let status = Command::new(cargo())
        .current_dir(dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_MANIFEST_DIR")
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .with_context(|| format!("failed to run `{} {}`", cargo(), args.join(" ")))?;
    let wall = start.elapsed().as_secs_f64();
    println!(
        "{what:<44} {wall:>7.1} s wall {:>7.1} CPU-s  (exit {})",
        children_cpu_seconds() - cpu,
        status
            .code()
            .map_or("by a signal".to_owned(), |c| c.to_string())
    );
    Ok(wall)
}

/// Clones `HEAD` into `target/cold/` and times the learner's first commands there.
///
/// # Errors
/// When git or cargo cannot be run, or the clone fails.
pub fn cold() -> Result<bool> {
    let dir = target_dir().join("cold");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    let root = root();
    let clone = Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(&root)
        .arg(&dir)
        .status()
        .context("failed to run `git clone`")?;
    let head = Command::new("git")
        .current_dir(&root)
        .args(["rev-parse", "HEAD"])
        .output()
        .context("failed to run `git rev-parse`")?;
    let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    let checkout = Command::new("git")
        .current_dir(&dir)
        .args(["checkout", "--quiet", "--detach", &head])
        .status()
        .context("failed to run `git checkout`")?;
    if !clone.success() || !checkout.success() {
        bail!(
            "cannot clone {} at {head} into {}",
            root.display(),
            dir.display()
        );
    }
    println!(
        "bench --cold: a fresh clone of {} at {head}, load average {} at the start",
        root.display(),
        load()
    );
    let first = timed(
        &dir,
        "cargo build --timings -p ex1-segments",
        &["build", "--timings", "-p", "ex1-segments"],
    )?;
    let run = timed(
        &dir,
        "cargo run -p ex1-segments",
        &["run", "-p", "ex1-segments"],
    )?;
    let learn = timed(
        &dir,
        "cargo xtask learn (the first verdict)",
        &["xtask", "learn"],
    )?;
    let again = timed(
        &dir,
        "cargo xtask learn (again, as after a save)",
        &["xtask", "learn"],
    )?;
    if let Some(units) = units(&dir.join("target")) {
        println!("the first build compiled {units} units");
    }
    println!(
        "first verdict: {:.1} s from the clone (goal: 30 s on a quiet machine); a save: {again:.1} s \
         (goal: 1 s); load average {} at the end",
        first + run + learn,
        load()
    );
    Ok(true)
}
