//! `cargo xtask`'s course commands, handed on by the `xtask` binary: this file parses the same
//! command line and dispatches to one module per command.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use xtask::catalogue::{self, snapshot_runs};
use xtask::cli::{CheckFlags, Cli, Command, held};
use xtask::run::Profile;
use xtask_course::check_all::{Options, check_all};
use xtask_course::trace;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn options(flags: &CheckFlags) -> Options {
    Options {
        bless: flags.bless,
        profile: if flags.release {
            Profile::Release
        } else {
            Profile::Debug
        },
        timeout: Duration::from_secs(flags.timeout),
    }
}

fn lesson(name: &str) -> Result<&'static catalogue::SnapshotRun> {
    catalogue::find(name).with_context(|| {
        let names: Vec<_> = snapshot_runs().iter().map(|l| l.name.as_str()).collect();
        format!(
            "no lesson binary {name}; the binaries are {}",
            names.join(", ")
        )
    })
}

/// `cargo xtask picture`: draws the pages asked for and prints their paths.
fn picture(name: Option<&str>, learn: bool, readme: bool) -> Result<()> {
    if readme {
        return xtask_course::picture::readme_picture::update();
    }
    let pages = match (learn, name) {
        (true, Some(name)) => {
            let exercise = catalogue::exercise(name).with_context(|| {
                let names: Vec<_> = catalogue::exercises()
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect();
                format!("no exercise {name}; the exercises are {}", names.join(", "))
            })?;
            xtask_course::picture::learners(std::slice::from_ref(exercise))?
        }
        (true, None) => xtask_course::picture::learners(catalogue::exercises())?,
        (false, Some(name)) => xtask_course::picture::lessons(std::slice::from_ref(lesson(name)?))?,
        (false, None) => xtask_course::picture::lessons(snapshot_runs())?,
    };
    for page in pages {
        println!("{}", page.path.display());
    }
    Ok(())
}

fn dispatch(command: Command) -> Result<ExitCode> {
    let command = match xtask::cli::learners(command) {
        Ok(done) => return done,
        Err(course) => course,
    };
    catalogue::load()?;
    match command {
        Command::CheckAll(flags) => check_all(snapshot_runs(), options(&flags)).map(held),
        Command::Check { name, flags } => {
            let lesson = lesson(&name)?;
            check_all(std::slice::from_ref(lesson), options(&flags)).map(held)
        }
        Command::Trace { name, release } => {
            let profile = if release {
                Profile::Release
            } else {
                Profile::Debug
            };
            trace::trace(lesson(&name)?, profile)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { cold: false } => xtask_course::bench::bench().map(held),
        Command::Bench { cold: true } => xtask_course::first_verdict::cold().map(held),
        Command::Matrix { quick } => xtask_course::matrix::matrix(quick).map(held),
        Command::Memcheck => xtask_course::memcheck::memcheck().map(held),
        Command::Picture {
            name,
            // Without a name, clap has made sure of --all.
            all: _,
            learn,
            readme,
        } => {
            picture(name.as_deref(), learn, readme)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Mutants { name } => xtask_course::mutants::run(name.as_deref()).map(held),
        Command::NewExercise { name, title, after } => {
            xtask_course::new_exercise::new_exercise(&xtask_course::new_exercise::NewExercise {
                name,
                title,
                after,
            })
            .map(held)
        }
        learner => bail!("{learner:?} is a learner's command, which the xtask binary runs"),
    }
}
