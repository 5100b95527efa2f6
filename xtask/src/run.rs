//! Building the workspace once, and running one binary with a time limit.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The workspace root: the nearest folder, from the running package's manifest directory up,
/// whose `Cargo.toml` declares the `[workspace]` (`xtask` is one folder below it,
/// `xtask-course` two). `cargo run` (and so `cargo xtask`) names that directory at run time;
/// the value from compile time is the fallback: two clones sharing one target folder can share
/// one xtask binary, which must check the clone it was run in, not the one it was built in.
pub fn root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    let declares_the_workspace = |dir: &&Path| {
        std::fs::read_to_string(dir.join("Cargo.toml"))
            .is_ok_and(|manifest| manifest.lines().any(|line| line.trim() == "[workspace]"))
    };
    manifest_dir
        .ancestors()
        .find(declares_the_workspace)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Cargo as the `CARGO` variable names it (set when run through `cargo xtask`).
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// `cargo metadata` of the workspace's own packages, read once (`None` if cargo cannot tell).
pub fn metadata() -> Option<&'static serde_json::Value> {
    static METADATA: OnceLock<Option<serde_json::Value>> = OnceLock::new();
    METADATA
        .get_or_init(|| {
            Command::new(cargo())
                .current_dir(root())
                .args([
                    "metadata",
                    "--format-version",
                    "1",
                    "--no-deps",
                    "--offline",
                ])
                .stderr(Stdio::null())
                .output()
                .ok()
                .filter(|out| out.status.success())
                .and_then(|out| serde_json::from_slice(&out.stdout).ok())
        })
        .as_ref()
}

/// Cargo's target folder, as `cargo metadata` reports it: it knows every way to set it
/// (`CARGO_TARGET_DIR`, `build.target-dir` in any config file). If cargo cannot tell,
/// `CARGO_TARGET_DIR` (relative to the root) or `target/`.
pub fn target_dir() -> PathBuf {
    let reported = metadata().and_then(|doc| doc["target_directory"].as_str());
    reported.map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|t| if t.is_absolute() { t } else { root().join(t) })
            .unwrap_or_else(|| root().join("target"))
    })
}

/// Copies a workspace's sources from `from` to `to`: everything but `target/` and `.git`.
///
/// # Errors
/// When a folder or file cannot be read, made or copied.
pub fn copy_sources(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry?;
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let (source, dest) = (entry.path(), to.join(&name));
        if entry.file_type()?.is_dir() {
            copy_sources(&source, &dest)?;
        } else {
            std::fs::copy(&source, &dest)
                .with_context(|| format!("cannot copy {}", source.display()))?;
        }
    }
    Ok(())
}

/// How the binaries are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `cargo build`
    Debug,
    /// `cargo build --release`
    Release,
}

/// Builds every binary of the workspace once; returns the folder holding them.
pub fn build(profile: Profile) -> Result<PathBuf> {
    let cargo = cargo();
    let mut command = Command::new(&cargo);
    command
        .current_dir(root())
        .args(["build", "--workspace", "--bins", "--quiet"]);
    if profile == Profile::Release {
        command.arg("--release");
    }
    let status = command
        .status()
        .with_context(|| format!("failed to run `{cargo} build`"))?;
    if !status.success() {
        bail!("`{cargo} build --workspace --bins` failed ({status})");
    }
    Ok(target_dir().join(match profile {
        Profile::Debug => "debug",
        Profile::Release => "release",
    }))
}

/// How a run ended.
#[derive(Debug, Clone, Copy)]
pub enum Ending {
    /// It exited (with this status).
    Exited(ExitStatus),
    /// It did not finish within the limit and was killed.
    TimedOut,
}

/// Why a run stopped, read from its [`Ending`] once, for every place that words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// It exited 0.
    Finished,
    /// It exited with this status, not 0.
    Exited(i32),
    /// It aborted itself (`SIGABRT`: `abort()`, or a panic that could not unwind).
    Aborted,
    /// A signal killed it: its name (`SIGSEGV`).
    Killed(&'static str),
    /// It ran past its time limit and was killed.
    TimedOut,
}

impl Ending {
    /// Why the run stopped.
    pub fn stop(&self) -> Stop {
        match self {
            Ending::TimedOut => Stop::TimedOut,
            Ending::Exited(status) => match (status.signal(), status.code()) {
                (Some(libc::SIGABRT), _) => Stop::Aborted,
                (Some(signal), _) => Stop::Killed(memcore::sys::signal_name(signal)),
                (None, Some(0)) => Stop::Finished,
                (None, code) => Stop::Exited(code.unwrap_or(-1)),
            },
        }
    }
}

impl Stop {
    /// "killed by SIGSEGV" and the like, for a run a signal ended; `None` for any other.
    pub fn killed_by(self) -> Option<String> {
        match self {
            Stop::Aborted => Some("killed by SIGABRT".to_owned()),
            Stop::Killed(signal) => Some(format!("killed by {signal}")),
            _ => None,
        }
    }
}

/// The exit code with which a command that ran `status`'s process ends as that process ended:
/// its own status, or 128 + the signal that killed it, as a shell says it.
pub fn exit_code_of(status: ExitStatus) -> u8 {
    let code = status
        .code()
        .or_else(|| status.signal().map(|signal| 128 + signal))
        .unwrap_or(1);
    u8::try_from(code).unwrap_or(1)
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// How it ended.
    pub ending: Ending,
}

impl Run {
    /// `None` if it exited 0; otherwise what went wrong, in a few words.
    pub fn failure(&self) -> Option<String> {
        describe(&self.ending)
    }
}

/// `None` for an exit with status 0; otherwise what went wrong, in a few words.
pub fn describe(ending: &Ending) -> Option<String> {
    let stop = ending.stop();
    match stop {
        Stop::Finished => None,
        Stop::TimedOut => Some("timed out".to_owned()),
        Stop::Exited(code) => Some(format!("failed: exit status {code}")),
        Stop::Aborted | Stop::Killed(_) => stop.killed_by().map(|k| format!("crashed: {k}")),
    }
}

fn drain(mut from: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = from.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn wait(child: &mut Child, limit: Duration) -> Result<Ending> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Ending::Exited(status));
        }
        if started.elapsed() > limit {
            // Kill the whole process group: a child it forked could otherwise keep the output
            // pipes open, and reading them would hang.
            let group = i32::try_from(child.id()).unwrap_or(0);
            // SAFETY: kill only sends a signal; the group is the one made for this child.
            unsafe { libc::kill(-group, libc::SIGKILL) };
            let _ = child.wait();
            return Ok(Ending::TimedOut);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// As [`run_with_env`], with the lesson run's events written to `file` (`LESSON_EVENTS`), and
/// read back: what it printed, how it ended, and what it recorded. A run that wrote no file
/// (it ended before it could) has no events; the caller says what that means.
///
/// # Errors
/// When `file`'s folder cannot be made, or the program cannot be started.
pub fn run_recorded(
    program: &Path,
    args: &[&str],
    limit: Duration,
    env: &[(&str, &str)],
    file: &Path,
) -> Result<(Run, Vec<lesson::events::Event>)> {
    let folder = file.parent().context("the events file has no folder")?;
    std::fs::create_dir_all(folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let _ = std::fs::remove_file(file);
    let path = file.to_string_lossy().into_owned();
    let mut env = env.to_vec();
    env.push((lesson::events::EVENTS_VAR, path.as_str()));
    let run = run_with_env(program, args, limit, &env)?;
    let events = lesson::events::read_events(file).unwrap_or_default();
    Ok((run, events))
}

/// Runs `program` with `args`, capturing its output, killing it after `limit`.
pub fn run(program: &Path, args: &[&str], limit: Duration) -> Result<Run> {
    run_with_env(program, args, limit, &[])
}

/// As [`run`], with these variables in the environment as well.
pub fn run_with_env(
    program: &Path,
    args: &[&str],
    limit: Duration,
    env: &[(&str, &str)],
) -> Result<Run> {
    let mut command = Command::new(program);
    command.envs(env.iter().copied());
    let mut child = command
        .args(args)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("failed to run `{}`", program.display()))?;
    let stdout = drain(child.stdout.take().context("no stdout")?);
    let stderr = drain(child.stderr.take().context("no stderr")?);
    let ending = wait(&mut child, limit)?;
    Ok(Run {
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        ending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn why_a_run_stopped_is_read_from_its_status_once() {
        let ended = |raw: i32| Ending::Exited(ExitStatus::from_raw(raw)).stop();
        assert_eq!(ended(0), Stop::Finished);
        assert_eq!(ended(3 << 8), Stop::Exited(3));
        assert_eq!(ended(libc::SIGABRT), Stop::Aborted);
        assert_eq!(ended(libc::SIGSEGV), Stop::Killed("SIGSEGV"));
        assert_eq!(Ending::TimedOut.stop(), Stop::TimedOut);
        assert_eq!(
            Stop::Killed("SIGBUS").killed_by().as_deref(),
            Some("killed by SIGBUS")
        );
        assert_eq!(
            Stop::Aborted.killed_by().as_deref(),
            Some("killed by SIGABRT")
        );
        assert_eq!(Stop::Exited(1).killed_by(), None);
    }

    #[test]
    fn a_command_ends_as_the_process_it_ran_ended() {
        assert_eq!(exit_code_of(ExitStatus::from_raw(0)), 0);
        assert_eq!(exit_code_of(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code_of(ExitStatus::from_raw(libc::SIGSEGV)), 128 + 11);
    }

    #[test]
    fn a_run_reports_exit_status_signal_and_timeout() {
        let sh = Path::new("/bin/sh");
        let limit = Duration::from_secs(10);
        let ok = run(sh, &["-c", "echo out; echo err >&2"], limit).unwrap();
        assert_eq!((ok.stdout.as_str(), ok.stderr.as_str()), ("out\n", "err\n"));
        assert_eq!(ok.failure(), None);
        let failed = run(sh, &["-c", "exit 3"], limit).unwrap();
        assert_eq!(failed.failure().as_deref(), Some("failed: exit status 3"));
        let crashed = run(sh, &["-c", "kill -SEGV $$"], limit).unwrap();
        assert_eq!(
            crashed.failure().as_deref(),
            Some("crashed: killed by SIGSEGV")
        );
        // The shell's own child keeps the pipes open; the whole group must go.
        let started = Instant::now();
        let hung = run(sh, &["-c", "sleep 30; echo"], Duration::from_millis(100)).unwrap();
        assert_eq!(hung.failure().as_deref(), Some("timed out"));
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
}
