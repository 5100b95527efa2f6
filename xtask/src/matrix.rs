//! `cargo xtask matrix`: every lesson binary on every setup a learner has (each linker, the
//! legacy mmap layout, glibc's tunables, root or not), each run required to exit 0 and to match
//! its snapshot. A setup that reorders the address space by design (the legacy mmap layout) is
//! reported by name where its pattern differs; its own checks must still pass.
//!
//! `--quick` leaves out the setups that need a build of their own (the linkers): that part fits
//! CI's time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::lessons::{LessonBinary, lessons};
use crate::run::{self, Profile};
use crate::snapshot;
use lesson::normalize::normalize;

/// How one setup differs from the default.
#[derive(Debug, Clone, Copy)]
enum Change {
    /// Nothing: the default (rust-lld on x86_64, ASLR on, glibc's defaults).
    Nothing,
    /// The binaries are linked with these `RUSTFLAGS`, in a target folder of their own.
    Link(&'static str),
    /// Each binary runs under this command (`setarch -R`).
    Wrap(&'static [&'static str]),
    /// Each binary runs from a shell that first runs this (`ulimit -s unlimited`).
    Shell(&'static str),
    /// Each binary runs with `GLIBC_TUNABLES` set to this.
    Tunables(&'static str),
    /// Each binary runs as the user `nobody`, from a copy in a folder it can read.
    OrdinaryUser,
}

/// One setup.
#[derive(Debug, Clone, Copy)]
struct Setup {
    name: &'static str,
    change: Change,
    /// The address space is laid out otherwise by design: a pattern that differs is reported
    /// by name, not as a failure.
    reorders: bool,
}

const SETUPS: &[Setup] = &[
    Setup {
        name: "default",
        change: Change::Nothing,
        reorders: false,
    },
    Setup {
        name: "setarch -R (ASLR off)",
        change: Change::Wrap(&["setarch", "-R"]),
        reorders: false,
    },
    Setup {
        name: "setarch -L (legacy mmap layout)",
        change: Change::Wrap(&["setarch", "-L"]),
        reorders: true,
    },
    Setup {
        name: "ulimit -s unlimited",
        change: Change::Shell("ulimit -s unlimited"),
        reorders: true,
    },
    Setup {
        name: "glibc.malloc.top_pad=0",
        change: Change::Tunables("glibc.malloc.top_pad=0"),
        reorders: false,
    },
    Setup {
        name: "glibc.malloc.mmap_threshold=1048576",
        change: Change::Tunables("glibc.malloc.mmap_threshold=1048576"),
        reorders: false,
    },
    Setup {
        name: "glibc.malloc.tcache_count=0",
        change: Change::Tunables("glibc.malloc.tcache_count=0"),
        reorders: false,
    },
    Setup {
        name: "glibc.malloc.arena_max=1",
        change: Change::Tunables("glibc.malloc.arena_max=1"),
        reorders: false,
    },
    Setup {
        name: "glibc.malloc.perturb=165",
        change: Change::Tunables("glibc.malloc.perturb=165"),
        reorders: false,
    },
    Setup {
        name: "an ordinary user",
        change: Change::OrdinaryUser,
        reorders: false,
    },
    Setup {
        name: "GNU ld",
        change: Change::Link("-C link-arg=-fuse-ld=bfd"),
        reorders: false,
    },
    Setup {
        name: "GNU ld -z noseparate-code",
        change: Change::Link("-C link-arg=-fuse-ld=bfd -C link-arg=-Wl,-z,noseparate-code"),
        reorders: false,
    },
    Setup {
        name: "gold",
        change: Change::Link("-C link-arg=-fuse-ld=gold"),
        reorders: false,
    },
];

/// How long one binary may run.
const TIMEOUT: Duration = Duration::from_secs(60);

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Builds the binaries for a linker setup in a target folder of its own; returns its folder of
/// binaries.
fn build_linked(name: &str, rustflags: &str) -> Result<PathBuf> {
    let folder: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let target = run::target_dir().join("matrix").join(folder);
    let status = Command::new(run::cargo())
        .current_dir(run::root())
        .args(["build", "--workspace", "--bins", "--quiet"])
        .env("CARGO_TARGET_DIR", &target)
        .env("RUSTFLAGS", rustflags)
        .status()
        .context("failed to run `cargo build`")?;
    if !status.success() {
        bail!("the build with RUSTFLAGS={rustflags:?} failed");
    }
    Ok(target.join("debug"))
}

/// A copy of the binaries in a folder that `nobody` can read (the build folder may sit under
/// /root).
fn copy_for_nobody(bin_dir: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let folder = std::env::temp_dir().join(format!("xtask-matrix-{}", std::process::id()));
    std::fs::create_dir_all(&folder)?;
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755))?;
    for lesson in lessons() {
        let copy = folder.join(&lesson.binary);
        std::fs::copy(bin_dir.join(&lesson.binary), &copy)
            .with_context(|| format!("cannot copy {}", &lesson.binary))?;
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(folder)
}

/// Runs `lesson` as the setup says; returns what it printed and how it ended.
fn run_one(setup: &Setup, lesson: &LessonBinary, bin_dir: &Path) -> Result<run::Run> {
    let binary = bin_dir.join(&lesson.binary);
    let (program, args): (PathBuf, Vec<String>) = match setup.change {
        Change::Nothing | Change::Link(_) | Change::Tunables(_) => (
            binary,
            lesson.args.iter().map(|a| (*a).to_owned()).collect(),
        ),
        Change::Wrap(wrapper) => {
            let mut args: Vec<String> = wrapper[1..].iter().map(|a| (*a).to_owned()).collect();
            args.push(binary.display().to_string());
            args.extend(lesson.args.iter().map(|a| (*a).to_owned()));
            (PathBuf::from(wrapper[0]), args)
        }
        Change::Shell(first) => {
            let mut line = format!("{first} && exec \"$0\"");
            for i in 0..lesson.args.len() {
                line.push_str(&format!(" \"${}\"", i + 1));
            }
            let mut args = vec!["-c".to_owned(), line, binary.display().to_string()];
            args.extend(lesson.args.iter().map(|a| (*a).to_owned()));
            (PathBuf::from("/bin/sh"), args)
        }
        Change::OrdinaryUser => {
            let mut args: Vec<String> = ["--reuid=65534", "--regid=65534", "--clear-groups"]
                .iter()
                .map(|a| (*a).to_owned())
                .collect();
            args.push(binary.display().to_string());
            args.extend(lesson.args.iter().map(|a| (*a).to_owned()));
            (PathBuf::from("setpriv"), args)
        }
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let tunables = match setup.change {
        Change::Tunables(t) => Some(t),
        _ => None,
    };
    run::run_with_env(
        &program,
        &args,
        TIMEOUT,
        tunables.map(|t| ("GLIBC_TUNABLES", t)),
    )
}

/// How one run went.
enum Verdict {
    /// It exited 0 and has its snapshot's pattern.
    Matches,
    /// It exited 0; its pattern differs, as the setup reorders the address space by design.
    Reordered,
    /// Why it failed.
    Failed(String),
}

/// Judges one run.
fn judge(setup: &Setup, lesson: &LessonBinary, run: &run::Run) -> Result<Verdict> {
    if let Some(failure) = run.failure() {
        let first_error = run
            .stdout
            .lines()
            .filter(|l| l.contains("[FAILED]"))
            .chain(run.stderr.lines())
            .next()
            .unwrap_or("")
            .trim()
            .to_owned();
        return Ok(Verdict::Failed(format!("{failure}: {first_error}")));
    }
    let expected = snapshot::load(&lesson.snapshot)?
        .with_context(|| format!("no snapshot {}", &lesson.snapshot))?;
    let pattern = normalize(&run.stdout);
    if snapshot::matches(&expected, &pattern) {
        return Ok(Verdict::Matches);
    }
    if setup.reorders {
        return Ok(Verdict::Reordered);
    }
    let d = snapshot::first_difference(0, &expected, &pattern, &run.stdout);
    Ok(Verdict::Failed(d.map_or_else(
        || "the pattern differs only in line ends".to_owned(),
        |d| {
            format!(
                "pattern differs at line {}: expected {:?}, got {:?}",
                d.file_line,
                d.expected.unwrap_or_default(),
                d.actual.unwrap_or_default()
            )
        },
    )))
}

/// Runs the matrix (without the linker setups when `quick`); returns whether every run passed.
///
/// # Errors
/// When a build fails or a binary cannot be started.
pub fn matrix(quick: bool) -> Result<bool> {
    let default_bins = run::build(Profile::Debug)?;
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for setup in SETUPS {
        if quick && matches!(setup.change, Change::Link(_)) {
            continue;
        }
        let bin_dir = match setup.change {
            Change::Link(flags) => build_linked(setup.name, flags)?,
            Change::OrdinaryUser if !is_root() => {
                println!(
                    "{}: skipped (only root can run the binaries as another user; this run is an ordinary user's already)",
                    setup.name
                );
                skipped += 1;
                continue;
            }
            Change::OrdinaryUser => copy_for_nobody(&default_bins)?,
            _ => default_bins.clone(),
        };
        let mut reordered = Vec::new();
        let failed_before = failed;
        for lesson in lessons() {
            let run = run_one(setup, lesson, &bin_dir)?;
            match judge(setup, lesson, &run)? {
                Verdict::Matches => passed += 1,
                Verdict::Reordered => {
                    passed += 1;
                    reordered.push(lesson.name.as_str());
                }
                Verdict::Failed(why) => {
                    failed += 1;
                    println!("{}: {} ... FAILED: {why}", setup.name, &lesson.name);
                }
            }
        }
        if matches!(setup.change, Change::OrdinaryUser) {
            let _ = std::fs::remove_dir_all(&bin_dir);
        }
        if failed > failed_before {
            continue;
        }
        if reordered.is_empty() {
            println!("{}: ok", setup.name);
        } else {
            println!(
                "{}: ok (the legacy layout reorders the address space by design, so the \
                 patterns of {} differ from their snapshots; their own checks passed)",
                setup.name,
                reordered.join(", ")
            );
        }
    }
    println!("matrix: {passed} passed, {failed} failed, {skipped} setups skipped");
    Ok(failed == 0)
}
