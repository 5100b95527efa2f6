//! `cargo xtask`: the workspace's own commands. This binary parses the command line, runs the
//! learner's commands and hands the course's on to `xtask-course` (see `cli.rs`).

use std::process::ExitCode;

use clap::Parser;
use xtask::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let done = cli::learners(cli.command).unwrap_or_else(|_| cli::hand_on_to_course());
    match done {
        Ok(code) => code,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::from(2)
        }
    }
}
