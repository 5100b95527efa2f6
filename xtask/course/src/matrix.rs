//! `cargo xtask matrix`: every lesson binary on every setup a learner has (each linker, the
//! legacy mmap layout, one CPU, resource limits, glibc's tunables, root or not, deep folders),
//! each run required to exit 0 and to match its snapshot. A setup that changes what the lessons
//! show by design (the legacy mmap layout reorders the address space; some malloc settings
//! leave glibc without a heap) is reported with the reason each run records for it
//! (`lesson::events::Event::Setup`) where its pattern differs; its own checks must still pass.
//! A run that fails is told by the first claim it recorded as failed.
//!
//! `--quick` leaves out the setups that need a build of their own (the linkers): that part fits
//! CI's time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use lesson::events::{Event, differs_by_design};
use xtask::catalogue::{SnapshotRun, snapshot_runs};
use xtask::run::{self, Profile};
use xtask::snapshot::{Comparison, Snapshot};

/// Where a setup's binaries run from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Folder {
    /// The build's own folder.
    Build,
    /// A copy that the user `nobody` can read (the build folder may sit under /root).
    ForNobody,
    /// Copies in folders whose paths are up to 250 characters long: the path is in
    /// `/proc/self/maps`, which the binaries read, so it changes how much they allocate, and
    /// when glibc's malloc grows the heap.
    Deep,
}

/// One setup: how it differs from the default, field by field. The fields compose: one
/// command builder ([`command`]) reads them all.
#[derive(Debug, Clone, Copy)]
struct Setup {
    name: &'static str,
    /// The command each binary runs under (`setarch -R`), if any.
    wrapper: &'static [&'static str],
    /// A shell line run first, in the binary's own process (`ulimit -s unlimited`), if any.
    shell: Option<&'static str>,
    /// `GLIBC_TUNABLES`, if set.
    tunables: Option<&'static str>,
    /// The `RUSTFLAGS` of a build of its own (another linker), if any.
    rustflags: Option<&'static str>,
    /// Where the binaries run from.
    folder: Folder,
}

/// The default: rust-lld on x86_64, ASLR on, glibc's defaults, root, the build's folder.
const DEFAULT: Setup = Setup {
    name: "default",
    wrapper: &[],
    shell: None,
    tunables: None,
    rustflags: None,
    folder: Folder::Build,
};

const SETUPS: &[Setup] = &[
    Setup {
        name: "default",
        ..DEFAULT
    },
    Setup {
        name: "setarch -R (ASLR off)",
        wrapper: &["setarch", "-R"],
        ..DEFAULT
    },
    Setup {
        name: "setarch -L (legacy mmap layout)",
        wrapper: &["setarch", "-L"],
        ..DEFAULT
    },
    Setup {
        name: "ulimit -s unlimited",
        shell: Some("ulimit -s unlimited"),
        ..DEFAULT
    },
    Setup {
        name: "one CPU (taskset -c 0)",
        wrapper: &["taskset", "-c", "0"],
        ..DEFAULT
    },
    Setup {
        name: "ulimit -v 4000000 (a 3.8 GiB address space)",
        shell: Some("ulimit -v 4000000"),
        ..DEFAULT
    },
    Setup {
        name: "ulimit -d 1000000 (954 MiB of private writable memory)",
        shell: Some("ulimit -d 1000000"),
        ..DEFAULT
    },
    Setup {
        name: "glibc.malloc.top_pad=0",
        tunables: Some("glibc.malloc.top_pad=0"),
        ..DEFAULT
    },
    Setup {
        name: "glibc.malloc.mmap_threshold=1048576",
        tunables: Some("glibc.malloc.mmap_threshold=1048576"),
        ..DEFAULT
    },
    Setup {
        name: "glibc.malloc.tcache_count=0",
        tunables: Some("glibc.malloc.tcache_count=0"),
        ..DEFAULT
    },
    Setup {
        name: "glibc.malloc.arena_max=1",
        tunables: Some("glibc.malloc.arena_max=1"),
        ..DEFAULT
    },
    Setup {
        name: "glibc.malloc.perturb=165",
        tunables: Some("glibc.malloc.perturb=165"),
        ..DEFAULT
    },
    Setup {
        name: "glibc.malloc.hugetlb=1",
        tunables: Some("glibc.malloc.hugetlb=1"),
        ..DEFAULT
    },
    Setup {
        name: "glibc.malloc.mmap_max=0",
        tunables: Some("glibc.malloc.mmap_max=0"),
        ..DEFAULT
    },
    Setup {
        name: "glibc.malloc.top_pad=16777216",
        tunables: Some("glibc.malloc.top_pad=16777216"),
        ..DEFAULT
    },
    Setup {
        name: "glibc.malloc.hugetlb=2",
        tunables: Some("glibc.malloc.hugetlb=2"),
        ..DEFAULT
    },
    Setup {
        name: "glibc.malloc.mmap_threshold=0",
        tunables: Some("glibc.malloc.mmap_threshold=0"),
        ..DEFAULT
    },
    Setup {
        name: "the legacy layout (ulimit -s unlimited) with glibc.malloc.mmap_threshold=0",
        shell: Some("ulimit -s unlimited"),
        tunables: Some("glibc.malloc.mmap_threshold=0"),
        ..DEFAULT
    },
    Setup {
        name: "glibc.malloc.mmap_threshold=4096",
        tunables: Some("glibc.malloc.mmap_threshold=4096"),
        ..DEFAULT
    },
    Setup {
        name: "glibc.malloc.top_pad=0, from folders up to 250 characters deep",
        tunables: Some("glibc.malloc.top_pad=0"),
        folder: Folder::Deep,
        ..DEFAULT
    },
    Setup {
        name: "an ordinary user",
        wrapper: &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ],
        folder: Folder::ForNobody,
        ..DEFAULT
    },
    Setup {
        name: "GNU ld",
        rustflags: Some("-C link-arg=-fuse-ld=bfd"),
        ..DEFAULT
    },
    Setup {
        name: "GNU ld -z noseparate-code",
        rustflags: Some("-C link-arg=-fuse-ld=bfd -C link-arg=-Wl,-z,noseparate-code"),
        ..DEFAULT
    },
    Setup {
        name: "gold",
        rustflags: Some("-C link-arg=-fuse-ld=gold"),
        ..DEFAULT
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

/// This run's folder for copies of the binaries, under the temporary folder.
fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!("xtask-matrix-{}", std::process::id()))
}

/// A copy of the binaries of `bin_dir` in `folder` (under [`scratch`]), which everyone
/// can read: the build folder may sit under /root, where `nobody` cannot. With `link`, a hard
/// link where it can be one (the path a binary runs from is the link's): only ever from a copy
/// of our own, as a link into the build folder would share cargo's files.
fn copy_binaries(bin_dir: &Path, folder: &str, link: bool) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let top = scratch();
    let folder = top.join(folder);
    std::fs::create_dir_all(&folder)?;
    for dir in folder.ancestors().take_while(|d| d.starts_with(&top)) {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    }
    for lesson in snapshot_runs() {
        let (from, copy) = (bin_dir.join(&lesson.binary), folder.join(&lesson.binary));
        // Never write into a file already there: it may be a link, and share its bytes.
        match std::fs::remove_file(&copy) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot replace {}", copy.display()));
            }
            _ => {}
        }
        if !(link && std::fs::hard_link(&from, &copy).is_ok()) {
            std::fs::copy(&from, &copy)
                .with_context(|| format!("cannot copy {}", &lesson.binary))?;
            std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    Ok(folder)
}

/// The path lengths of [`Folder::Deep`]: every 4 characters up to 250, from the
/// shortest the temporary folder allows. (The lengths at which a failure showed, before it was
/// fixed, spanned 8: 173 to 180.)
fn depths(top: &Path) -> impl Iterator<Item = usize> + use<> {
    let shortest = top.as_os_str().len() + "/L000".len() + "/milestone".len();
    (shortest..=250.max(shortest)).step_by(4)
}

/// A folder that makes the copied binaries' paths `depth` characters long, or one more.
///
/// Each `depth` gets a folder of its own. The length is that of the longest binary's path,
/// `milestone`'s.
fn deep_folder(top: &Path, depth: usize) -> String {
    let mut name = format!("L{depth:03}");
    let fixed = top.as_os_str().len() + 1 + "/milestone".len();
    while fixed + name.len() < depth {
        let left = depth - fixed - name.len();
        // A '/' and a component of at most 100 characters.
        name.push('/');
        name.push_str(&"d".repeat(left.saturating_sub(1).clamp(1, 100)));
    }
    name
}

/// The command line that runs `lesson` from `bin_dir` as `setup` says, program first: the
/// binary and its arguments, after a shell line if there is one, under a wrapper if there is
/// one.
fn command(setup: &Setup, lesson: &SnapshotRun, bin_dir: &Path) -> Vec<String> {
    let mut argv = vec![bin_dir.join(&lesson.binary).display().to_string()];
    argv.extend(lesson.args.iter().cloned());
    if let Some(line) = setup.shell {
        // `exec` keeps the binary in the shell's process, under the shell's limits.
        let script = format!("{line} && exec \"$0\" \"$@\"");
        argv.splice(0..0, ["/bin/sh".to_owned(), "-c".to_owned(), script]);
    }
    argv.splice(0..0, setup.wrapper.iter().map(|a| (*a).to_owned()));
    argv
}

/// Where the runs write their events: a folder under [`scratch`] that every user may write
/// in, so that the runs as an ordinary user can.
fn events_folder() -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let folder = scratch().join("events");
    std::fs::create_dir_all(&folder)?;
    std::fs::set_permissions(scratch(), std::fs::Permissions::from_mode(0o755))?;
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o1777))?;
    Ok(folder)
}

/// Runs `lesson` as the setup says; returns what it printed, how it ended, and the events it
/// recorded.
fn run_one(setup: &Setup, lesson: &SnapshotRun, bin_dir: &Path) -> Result<(run::Run, Vec<Event>)> {
    let argv = command(setup, lesson, bin_dir);
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    let env: Vec<(&str, &str)> = setup
        .tunables
        .map(|t| ("GLIBC_TUNABLES", t))
        .into_iter()
        .collect();
    let file = events_folder()?.join(format!("{}.events", &lesson.name));
    run::run_recorded(Path::new(&argv[0]), &args, TIMEOUT, &env, &file)
}

/// The first claim `events` recorded as failed, with why.
fn first_failed_claim(events: &[Event]) -> Option<String> {
    events.iter().find_map(|event| match event {
        Event::Check {
            claim,
            passed: false,
            detail,
            ..
        } => Some(format!(
            "the claim \"{claim}\" did not hold: {}",
            detail.as_deref().unwrap_or("")
        )),
        _ => None,
    })
}

/// How one run went.
enum Verdict {
    /// It exited 0 and has its snapshot's pattern.
    Matches,
    /// It exited 0; its pattern differs, as the setup changes what the lesson shows by design,
    /// for the reason the run recorded.
    DiffersByDesign(String),
    /// Why it failed.
    Failed(String),
}

/// Judges one run by what it printed, how it ended and the events it recorded.
fn judge(lesson: &SnapshotRun, run: &run::Run, events: &[Event]) -> Result<Verdict> {
    if let Some(failure) = run.failure() {
        let first_error = first_failed_claim(events)
            .or_else(|| run.stderr.lines().next().map(|l| l.trim().to_owned()))
            .unwrap_or_default();
        return Ok(Verdict::Failed(format!("{failure}: {first_error}")));
    }
    let Comparison::Differs { first, .. } =
        Snapshot::expect(&lesson.snapshot)?.compare(&run.stdout)
    else {
        return Ok(Verdict::Matches);
    };
    if let Some(why) = differs_by_design(events) {
        return Ok(Verdict::DiffersByDesign(why.to_owned()));
    }
    Ok(Verdict::Failed(first.map_or_else(
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

/// The line of a setup whose every run passed: those whose patterns differ by design, if any,
/// with the reasons the runs recorded.
fn setup_passed(setup: &Setup, differing: &[&str], reasons: &[String]) -> String {
    if differing.is_empty() {
        return format!("{}: ok", setup.name);
    }
    format!(
        "{}: ok (by design: {}; so the patterns of {} differ from their snapshots, and their \
         own checks passed)",
        setup.name,
        reasons.join("; "),
        differing.join(", ")
    )
}

/// Runs the matrix (without the linker setups when `quick`); returns whether every run passed.
///
/// # Errors
/// When a build fails or a binary cannot be started.
pub fn matrix(quick: bool) -> Result<bool> {
    let default_bins = run::build(Profile::Debug)?;
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for setup in SETUPS {
        if quick && setup.rustflags.is_some() {
            continue;
        }
        let bin_dir = match (setup.rustflags, setup.folder) {
            (Some(flags), _) => build_linked(setup.name, flags)?,
            (None, Folder::ForNobody) if !is_root() => {
                println!(
                    "{}: skipped (only root can run the binaries as another user; this run is an ordinary user's already)",
                    setup.name
                );
                skipped += 1;
                continue;
            }
            (None, Folder::ForNobody) => copy_binaries(&default_bins, "nobody", false)?,
            (None, Folder::Build | Folder::Deep) => default_bins.clone(),
        };
        // Where each run's binaries are: one folder, or one per depth.
        let folders: Vec<(String, PathBuf)> = match setup.folder {
            Folder::Deep => {
                let first = copy_binaries(&default_bins, "copy", false)?;
                let top = scratch();
                depths(&top)
                    .map(|depth| {
                        let folder = copy_binaries(&first, &deep_folder(&top, depth), true)?;
                        let shown = format!(" (from {})", folder.display());
                        Ok((shown, folder))
                    })
                    .collect::<Result<_>>()?
            }
            Folder::Build | Folder::ForNobody => vec![(String::new(), bin_dir.clone())],
        };
        let mut differing = Vec::new();
        let mut reasons: Vec<String> = Vec::new();
        let failed_before = failed;
        for (shown, bin_dir) in &folders {
            for lesson in snapshot_runs() {
                let (run, events) = run_one(setup, lesson, bin_dir)?;
                match judge(lesson, &run, &events)? {
                    Verdict::Matches => passed += 1,
                    Verdict::DiffersByDesign(why) => {
                        passed += 1;
                        if !differing.contains(&lesson.name.as_str()) {
                            differing.push(lesson.name.as_str());
                        }
                        if !reasons.contains(&why) {
                            reasons.push(why);
                        }
                    }
                    Verdict::Failed(why) => {
                        failed += 1;
                        println!("{}{shown}: {} ... FAILED: {why}", setup.name, &lesson.name);
                    }
                }
            }
        }
        if setup.folder != Folder::Build {
            let _ = std::fs::remove_dir_all(scratch());
        }
        if failed > failed_before {
            continue;
        }
        println!("{}", setup_passed(setup, &differing, &reasons));
    }
    let _ = std::fs::remove_dir_all(scratch());
    println!("matrix: {passed} passed, {failed} failed, {skipped} setups skipped");
    Ok(failed == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(claim: &str, passed: bool, detail: Option<&str>) -> Event {
        Event::Check {
            step: 1,
            part: None,
            claim: claim.to_owned(),
            passed,
            detail: detail.map(str::to_owned),
            call: None,
            because: None,
        }
    }

    #[test]
    fn a_failed_run_is_told_by_the_first_claim_it_recorded_as_failed() {
        let events = [
            check("it held", true, None),
            check("the break moved", false, Some("it stayed")),
            check("later", false, Some("no")),
        ];
        assert_eq!(
            first_failed_claim(&events).as_deref(),
            Some("the claim \"the break moved\" did not hold: it stayed")
        );
        assert_eq!(first_failed_claim(&events[..1]), None);
    }

    #[test]
    fn a_setup_s_fields_compose_into_one_command() {
        let lesson = SnapshotRun {
            name: "milestone-contract".to_owned(),
            binary: "milestone".to_owned(),
            args: vec!["contract".to_owned()],
            snapshot: "milestone-contract".to_owned(),
            readme: None,
            shows: String::new(),
        };
        let bin = Path::new("/b");
        assert_eq!(
            command(&DEFAULT, &lesson, bin),
            ["/b/milestone", "contract"]
        );
        let both = Setup {
            wrapper: &["taskset", "-c", "0"],
            shell: Some("ulimit -s unlimited"),
            ..DEFAULT
        };
        assert_eq!(
            command(&both, &lesson, bin),
            [
                "taskset",
                "-c",
                "0",
                "/bin/sh",
                "-c",
                "ulimit -s unlimited && exec \"$0\" \"$@\"",
                "/b/milestone",
                "contract"
            ]
        );
    }

    #[test]
    fn each_depth_has_a_folder_of_its_own_and_that_length() {
        let top = Path::new("/tmp/xtask-matrix-12345");
        let mut seen = std::collections::HashSet::new();
        let all: Vec<usize> = depths(top).collect();
        assert_eq!((all[0], all.len()), (38, 54), "{all:?}");
        for depth in all {
            let folder = deep_folder(top, depth);
            let path = top.join(&folder).join("milestone");
            let length = path.as_os_str().len();
            assert!(length == depth || length == depth + 1, "{depth}: {length}");
            assert!(folder.split('/').all(|c| c.len() <= 100), "{folder}");
            assert!(seen.insert(folder), "{depth}");
        }
    }
}
