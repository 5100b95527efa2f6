//! `cargo xtask`: the workspace's own commands. This file parses the command line and
//! dispatches to one module per command.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use xtask::check::{self, Options};
use xtask::lessons::{self, LESSONS};
use xtask::run::Profile;
use xtask::trace;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  check-all [--bless] [--release] [--timeout SECS]
                   run every lesson binary and compare its output's address pattern with
                   its snapshot in xtask/snapshots/ (--bless rewrites them, never under CI)
  check NAME [...] the same for one binary
  list             the lesson binaries and what each shows
  trace NAME [--release]
                   the memory system calls NAME makes, step by step (needs strace)
  memcheck         run ex3-mmap and the milestone demo under valgrind (needs valgrind)
  bench            run milestone's benchmarks and print the table of figures and goals
  help             this text";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn options(flags: &[String]) -> Result<Options> {
    let mut options = Options {
        bless: false,
        profile: Profile::Debug,
        timeout: Duration::from_secs(30),
    };
    let mut flags = flags.iter();
    while let Some(flag) = flags.next() {
        match flag.as_str() {
            "--bless" => options.bless = true,
            "--release" => options.profile = Profile::Release,
            "--timeout" => {
                let secs = flags
                    .next()
                    .context("--timeout needs a number of seconds")?;
                let secs: u64 =
                    secs.parse().ok().filter(|&s| s > 0).with_context(|| {
                        format!("--timeout {secs}: not a positive whole number")
                    })?;
                options.timeout = Duration::from_secs(secs);
            }
            other => bail!("unknown flag {other}\n{USAGE}"),
        }
    }
    Ok(options)
}

fn configure_insta(bless: bool) {
    for (key, value) in xtask::snapshot::insta_environment(bless) {
        // SAFETY: this runs before the xtask starts any thread, so nothing reads the
        // environment at the same time.
        unsafe { std::env::set_var(key, value) };
    }
}

fn lesson(name: Option<&String>) -> Result<&'static lessons::LessonBinary> {
    let name = name.context("which binary? `cargo xtask list` shows them")?;
    lessons::find(name).with_context(|| {
        let names: Vec<_> = LESSONS.iter().map(|l| l.name).collect();
        format!(
            "no lesson binary {name}; the binaries are {}",
            names.join(", ")
        )
    })
}

fn dispatch(args: &[String]) -> Result<bool> {
    let Some(command) = args.first() else {
        bail!("{USAGE}");
    };
    match command.as_str() {
        "check-all" => {
            let options = options(&args[1..])?;
            configure_insta(options.bless);
            check::check(LESSONS, options)
        }
        "check" => {
            let lesson = lesson(args.get(1))?;
            let options = options(&args[2..])?;
            configure_insta(options.bless);
            check::check(std::slice::from_ref(lesson), options)
        }
        "list" => {
            for l in LESSONS {
                println!("{:<14} {}", l.name, l.shows);
            }
            Ok(true)
        }
        "trace" => {
            let lesson = lesson(args.get(1))?;
            let profile = match args.get(2).map(String::as_str) {
                None => Profile::Debug,
                Some("--release") => Profile::Release,
                Some(other) => bail!("unknown flag {other}\n{USAGE}"),
            };
            trace::trace(lesson, profile)?;
            Ok(true)
        }
        "bench" => xtask::bench::bench(),
        "memcheck" => xtask::memcheck::memcheck(),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(true)
        }
        other => bail!("unknown command {other}\n{USAGE}"),
    }
}
