//! Where a lesson's text goes and comes from: lines on stdout (and what a write that fails
//! means), pauses that wait for Enter, and one-line usage errors.

use std::io::Write;

use clap::Command;

/// The exit status when stdout's reader has gone: what a C program killed by SIGPIPE shows.
const EXIT_CLOSED_PIPE: i32 = 128 + 13;

/// Writes one line of `name`'s output to stdout. A closed pipe (the reader has gone, as with
/// `| head`) ends the program quietly, with status 141, as SIGPIPE would end a C program; any
/// other write error (a full disk) ends it with one line on stderr and status 1, since the
/// output would be lost.
pub(crate) fn emit(name: &str, line: &str) {
    if let Err(error) = writeln!(std::io::stdout().lock(), "{line}") {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(EXIT_CLOSED_PIPE);
        }
        eprintln!("{name}: error: cannot write the output: {error}");
        std::process::exit(1);
    }
}

/// Says where the run paused and this process's pid on stderr, and waits for a line on stdin
/// (or its end) without allocating.
pub(crate) fn wait_for_enter(when: &str) {
    let pid = std::process::id();
    let _ = std::io::stdout().lock().flush();
    let _ = writeln!(
        std::io::stderr().lock(),
        "-- paused {when} (pid {pid}): look at /proc/{pid}/maps or /proc/{pid}/smaps, or \
         attach gdb -p {pid}; press Enter to go on"
    );
    memcore::sys::wait_for_line();
}

/// Handles a command-line error from clap: `--help` is printed as is (exit 0); anything else
/// becomes one line with the usage (exit 2). Returns the exit status.
pub(crate) fn usage_error(name: &str, mut command: Command, err: &clap::Error) -> i32 {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = err.print();
        return 0;
    }
    let text = err.to_string();
    let first = text.lines().next().unwrap_or("bad arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // clap says the values it takes on a line of its own: keep them on this one.
    let possible = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("[possible values:"));
    let first = match possible {
        Some(values) => format!("{first} {values}"),
        None => first.to_owned(),
    };
    let usage = command.render_usage().to_string();
    // A command with a subcommand has a usage of several lines: one line, joined with `|`.
    let usage: Vec<&str> = usage
        .trim()
        .trim_start_matches("Usage: ")
        .lines()
        .map(str::trim)
        .collect();
    let usage = usage.join(" | ");
    eprintln!("{name}: {first}; usage: {usage} (--help explains)");
    2
}

#[cfg(test)]
mod tests {
    use clap::Arg;

    use super::*;

    #[test]
    fn an_unknown_flag_is_a_usage_error_with_status_2() {
        let command = Command::new("ex9").arg(Arg::new("json").long("json"));
        let err = command
            .clone()
            .try_get_matches_from(["ex9", "--nope"])
            .unwrap_err();
        assert_eq!(usage_error("ex9", command, &err), 2);
    }
}
