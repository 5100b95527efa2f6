//! The command line of `cargo xtask`, every command of it, so that `cargo xtask --help` lists
//! them all and each is checked the same way in both binaries: `xtask` runs the learner's
//! commands ([`learners`]) and hands the rest on to `xtask-course` ([`hand_on_to_course`]),
//! which parses the same line again.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use crate::learn::{self, Workspace};
use crate::run;

/// The workspace's own commands.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    disable_version_flag = true
)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// How `check-all` and `check` build and run.
#[derive(Debug, clap::Args)]
pub struct CheckFlags {
    /// Rewrite the snapshots and the READMEs' expected output (never under CI).
    #[arg(long)]
    pub bless: bool,
    /// Check release binaries.
    #[arg(long)]
    pub release: bool,
    /// How long one binary may run, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
}

/// Every command of `cargo xtask`, the learner's and the course's.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every lesson binary and compare its output's address pattern with its snapshot in
    /// xtask/snapshots/.
    CheckAll(CheckFlags),
    /// The same for one binary.
    Check {
        /// The binary, as `cargo xtask list` names it.
        name: String,
        #[command(flatten)]
        flags: CheckFlags,
    },
    /// List the lesson binaries and what each shows.
    List,
    /// Show the memory system calls a binary makes, step by step (needs strace).
    Trace {
        /// The binary, as `cargo xtask list` names it.
        name: String,
        /// Trace the release binary.
        #[arg(long)]
        release: bool,
    },
    /// Run the lesson binaries that map memory under valgrind (needs valgrind).
    Memcheck,
    /// Run milestone's benchmarks and print the table of figures and goals.
    Bench {
        /// Instead, time a fresh clone's first verdict: `cargo run -p ex1-segments`, then
        /// `cargo xtask learn`, in a clone of HEAD under target/cold/ (a few minutes).
        #[arg(long)]
        cold: bool,
    },
    /// Run every lesson binary on every setup a learner has: each linker, the legacy mmap
    /// layout, glibc's tunables, root or not.
    Matrix {
        /// Leave out the setups that need a build of their own (the linkers).
        #[arg(long)]
        quick: bool,
    },
    /// Build and run your parts of each exercise, checked by the lesson's own programs.
    Learn {
        /// Check again whenever one of your files is saved.
        #[arg(long, conflicts_with_all = ["reset", "verify"])]
        watch: bool,
        /// Bring one exercise's file back as the template (it keeps a copy of yours).
        #[arg(long, value_name = "NAME", conflicts_with = "verify")]
        reset: Option<String>,
        /// With --reset: replace the file even if it holds your work.
        #[arg(long, requires = "reset")]
        yes: bool,
        /// For CI and whoever changes a reference: the templates are fresh, build clippy-clean
        /// and stop at their first part; the references and the kept answers pass. With NAME,
        /// only that exercise and its answers (xtask/answers/NAME/).
        #[arg(long, value_name = "NAME", num_args = 0..=1)]
        verify: Option<Option<String>>,
        /// For authors: judge one kept answer (xtask/answers/NAME/FILE.rs) against its header,
        /// as --verify does.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["verify", "reset", "watch"])]
        answer: Option<std::path::PathBuf>,
    },
    /// Build and run your own program of an exercise (your learn/parts.rs with the lesson's
    /// driver), every line of it; flags after the name go to it (`--pause`, `--json`).
    Run {
        /// The exercise, as `cargo xtask list` names it (your own programs).
        name: String,
        /// Flags for your program.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The hint for the next part of an exercise that is still to do.
    Hint {
        /// The exercise, as `cargo xtask list` names it (your own programs).
        name: String,
        /// Every hint of the exercise.
        #[arg(long)]
        all: bool,
        /// The second rung of a hint: the shape of the code, in words.
        #[arg(long, conflicts_with = "more")]
        shape: bool,
        /// The third rung of a hint: the code itself.
        #[arg(long)]
        more: bool,
    },
    /// Draw a lesson binary's address space one step at a time, what each step changed close
    /// up, as one HTML page under target/picture/; prints its path.
    Picture {
        /// The binary, as `cargo xtask list` names it (with --learn, the exercise).
        #[arg(required_unless_present_any = ["all", "readme"], conflicts_with_all = ["all", "readme"])]
        name: Option<String>,
        /// Every lesson binary (with --learn, every exercise).
        #[arg(long, conflicts_with = "readme")]
        all: bool,
        /// Draw your own program: your learn/parts.rs run by the lesson's driver.
        #[arg(long, conflicts_with = "readme")]
        learn: bool,
        /// Write the top README's picture, docs/picture.png, from a real run (needs chromium).
        #[arg(long)]
        readme: bool,
    },
    /// Mutate every reference's parts with cargo-mutants and judge each mutant by the lesson's
    /// claims; fails on a survivor that xtask/mutants-allowed.toml does not list with why.
    Mutants {
        /// Only this exercise, as `cargo xtask list` names it (your own programs).
        name: Option<String>,
    },
    /// For authors: write a working exercise, exercises/NAME/, with a driver of one step and
    /// one claim, a reference of one part, its template, test, README, kept answers and
    /// snapshot, and add it to the workspace's members (see docs/authoring.md).
    NewExercise {
        /// The package's name, also its folder under exercises/ (ex4-mprotect).
        name: String,
        /// What the lesson calls it ("exercise 4, guard pages").
        #[arg(long)]
        title: String,
        /// The package it comes after in the lesson's order (default: the last under
        /// exercises/).
        #[arg(long, value_name = "PACKAGE")]
        after: Option<String>,
    },
    /// Write every learner's template from its reference (for whoever changes a reference).
    Templates {
        /// Replace files that differ from the template (a copy of each is kept).
        #[arg(long)]
        yes: bool,
    },
}

/// Exit status 0 when a command's work held, 1 when it did not.
pub fn held(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs `command` if it is one of the learner's (learn, run, hint, list, templates), which this
/// crate holds; gives it back if it is the course's.
///
/// # Errors
/// `Ok(Err(_))`: the command ran and failed to do its work (cargo could not be run, a file
/// could not be read).
pub fn learners(command: Command) -> std::result::Result<Result<ExitCode>, Command> {
    let learners = matches!(
        command,
        Command::Learn { .. }
            | Command::Run { .. }
            | Command::Hint { .. }
            | Command::List
            | Command::Templates { .. }
    );
    if !learners {
        return Err(command);
    }
    Ok(crate::catalogue::load().and_then(|()| run_learners(command)))
}

/// Runs one of the learner's commands.
fn run_learners(command: Command) -> Result<ExitCode> {
    match command {
        Command::Learn {
            watch,
            reset,
            yes,
            verify,
            answer,
        } => {
            let workspace = Workspace::here();
            let done = if let Some(answer) = answer {
                learn::verify_answer(&workspace, &answer)
            } else if let Some(only) = verify {
                learn::verify(&workspace, only.as_deref())
            } else if let Some(name) = reset {
                learn::reset(&workspace, &name, yes)
            } else if watch {
                learn::watch(&workspace)
            } else {
                learn::learn(&workspace)
            };
            done.map(held)
        }
        Command::Run { name, args } => learn::run(&Workspace::here(), &name, &args),
        Command::Hint {
            name,
            all,
            shape,
            more,
        } => {
            let rung = match (shape, more) {
                (_, true) => learn::Rung::Code,
                (true, false) => learn::Rung::Shape,
                (false, false) => learn::Rung::Idea,
            };
            learn::hint(&Workspace::here(), &name, all, rung).map(|()| ExitCode::SUCCESS)
        }
        Command::List => {
            learn::list();
            Ok(ExitCode::SUCCESS)
        }
        Command::Templates { yes } => learn::templates(&Workspace::here(), yes).map(held),
        course => bail!("{course:?} is a course's command, which xtask-course runs"),
    }
}

/// Hands this process's command line on to `xtask-course`, built and run by cargo (`cargo run
/// -p xtask-course`, in the workspace this runs in), and ends as it ends.
///
/// # Errors
/// When cargo cannot be run.
pub fn hand_on_to_course() -> Result<ExitCode> {
    // cargo runs quietly, so say why the first course command takes a while: xtask-course is
    // built beside this binary, and is not there yet.
    let built = std::env::current_exe().map(|exe| exe.with_file_name("xtask-course"));
    if built.is_ok_and(|course| !course.exists()) {
        eprintln!(
            "xtask: building the course's commands (the xtask-course package) first; that \
             takes about 15 s, once"
        );
    }
    let status = std::process::Command::new(run::cargo())
        .current_dir(run::root())
        .args(["run", "--quiet", "--package", "xtask-course", "--"])
        .args(std::env::args_os().skip(1))
        .status()
        .with_context(|| format!("failed to run `{} run -p xtask-course`", run::cargo()))?;
    Ok(ExitCode::from(run::exit_code_of(status)))
}
