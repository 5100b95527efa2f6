//! `cargo xtask trace NAME`: the memory system calls one lesson binary makes, step by step.
//!
//! Runs the binary under `strace`, keeps `brk`, `mmap`, `munmap`, `mprotect`, `mremap` and
//! `madvise`, and turns the binary's own writes of its events into dividers: from its setup
//! (`Event::Setup`, the lesson's start) on, each step (`Event::Step`) heads the calls that
//! follow, so each step's calls, and those malloc makes behind its back, stand under it. The
//! events are the light ones, without the address spaces, whose reading of the maps would add
//! calls of its own.

use std::process::Command;

use anyhow::{Context, Result, bail};
use lesson::events::{self, Event};

use xtask::catalogue::SnapshotRun;
use xtask::run::{self, Profile};

const CALLS: &str = "brk,mmap,munmap,mprotect,mremap,madvise,write";

/// Runs the trace and prints it.
pub fn trace(lesson: &SnapshotRun, profile: Profile) -> Result<()> {
    match Command::new("strace").arg("-V").output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "strace is not installed; install it with `sudo apt-get install strace` (Debian, \
             Ubuntu) or `sudo dnf install strace` (Fedora), then run this again"
        ),
        Err(e) => return Err(e).context("cannot run strace"),
        Ok(_) => {}
    }
    let bin_dir = run::build(profile)?;
    let log = std::env::temp_dir().join(format!("xtask-trace-{}.txt", std::process::id()));
    let events_file = log.with_extension("events");
    let status = Command::new("strace")
        .env(events::EVENTS_VAR, &events_file)
        .args([
            "-f",
            "-qq",
            "-s",
            "4096",
            "-e",
            &format!("trace={CALLS}"),
            "-o",
        ])
        .arg(&log)
        .arg(bin_dir.join(&lesson.binary))
        .args(&lesson.args)
        .stdout(std::process::Stdio::null())
        .status()
        .context("cannot run strace")?;
    let text = std::fs::read_to_string(&log).context("cannot read strace's log")?;
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::remove_file(&events_file);
    let _ = std::fs::remove_file(events::maps_path(&events_file));
    print!("{}", render(&text, &lesson.name));
    if !status.success() {
        println!("({} exited with {status})", &lesson.name);
    }
    Ok(())
}

/// The string a `write(fd, "…", n)` line wrote, unescaped as strace escapes it: `\n`, `\t`,
/// `\"`, `\\`, and any other byte in octal (`\342`) or hex (`\xe2`).
fn written(call: &str) -> Option<String> {
    let rest = call.strip_prefix("write(")?;
    let open = rest.find('"')?;
    let close = rest.rfind("\", ")?;
    let quoted = rest.get(open + 1..close)?.as_bytes();
    let mut out = Vec::with_capacity(quoted.len());
    let mut i = 0;
    while i < quoted.len() {
        if quoted[i] != b'\\' || i + 1 == quoted.len() {
            out.push(quoted[i]);
            i += 1;
            continue;
        }
        let escaped = quoted[i + 1];
        let digits = |from: usize, most: usize, radix: u32| {
            let text: String = quoted[from..]
                .iter()
                .take(most)
                .map(|&b| b as char)
                .take_while(|c| c.is_digit(radix))
                .collect();
            u8::from_str_radix(&text, radix)
                .ok()
                .map(|b| (b, text.len()))
        };
        let (byte, used) = match escaped {
            b'n' => (b'\n', 1),
            b't' => (b'\t', 1),
            b'r' => (b'\r', 1),
            b'v' => (0x0b, 1),
            b'f' => (0x0c, 1),
            b'x' => digits(i + 2, 2, 16).map_or((b'x', 1), |(b, n)| (b, n + 1)),
            b'0'..=b'7' => digits(i + 1, 3, 8).unwrap_or((escaped, 1)),
            other => (other, 1),
        };
        out.push(byte);
        i += 1 + used;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// A run of the same system call from one process longer than this shows its first
/// [`RUN_SHOWN`] lines and then how many more there were: the contract's children make tens of
/// thousands in a row. Shorter runs are shown whole.
const RUN_WHOLE: usize = 16;
/// See [`RUN_WHOLE`].
const RUN_SHOWN: usize = 3;

/// The calls of one run: one process, one system call.
struct Run<'a> {
    pid: &'a str,
    syscall: &'a str,
    /// Its first lines, as shown: at most [`RUN_WHOLE`].
    lines: Vec<String>,
    count: usize,
}

impl Run<'_> {
    /// Its lines: all of them, or the first few and how many more.
    fn show(self, out: &mut String, who: &str) {
        let shown = if self.count > RUN_WHOLE {
            RUN_SHOWN
        } else {
            self.count
        };
        for line in &self.lines[..shown] {
            out.push_str(line);
        }
        if self.count > shown {
            out.push_str(&format!(
                "{who}... and {} more {} calls in a row\n",
                self.count - shown,
                self.syscall
            ));
        }
    }
}

/// Turns strace's log into the trace learners read.
pub fn render(log: &str, name: &str) -> String {
    let mut out = String::new();
    let mut started = false;
    let mut main_pid: Option<&str> = None;
    let mut run: Option<Run> = None;
    let child = |pid: &str, main: &str| if pid == main { "" } else { "[child] " };
    for line in log.lines() {
        let (pid, call) = line.split_once(' ').unwrap_or(("", line));
        let call = call.trim_start();
        let main = *main_pid.get_or_insert(pid);
        if let Some(text) = written(call) {
            // Only the run's events divide it; what it prints for people is not read.
            match serde_json::from_str::<Event>(text.trim_end()) {
                Ok(Event::Setup { .. }) if !started => {
                    started = true;
                    out.push_str(&format!("== {name}: the lesson has started\n"));
                }
                Ok(Event::Step { number, title }) if started => {
                    if let Some(r) = run.take() {
                        let who = child(r.pid, main);
                        r.show(&mut out, who);
                    }
                    out.push_str(&format!("\n== {}\n", events::heading(number, &title)));
                }
                _ => {}
            }
            continue;
        }
        if !started {
            continue;
        }
        let syscall = call.split('(').next().unwrap_or(call);
        if run
            .as_ref()
            .is_some_and(|r| r.pid != pid || r.syscall != syscall)
            && let Some(r) = run.take()
        {
            let who = child(r.pid, main);
            r.show(&mut out, who);
        }
        let r = run.get_or_insert_with(|| Run {
            pid,
            syscall,
            lines: Vec::new(),
            count: 0,
        });
        r.count += 1;
        if r.lines.len() < RUN_WHOLE {
            let who = child(pid, main);
            r.lines.push(format!("{who}{call}{}\n", brk_note(call)));
        }
    }
    if let Some(r) = run {
        let who = child(r.pid, main_pid.unwrap_or(""));
        r.show(&mut out, who);
    }
    out
}

/// What a `brk` line means when the kernel refused it: the system call never returns an error
/// code; it returns the current break, which is below the address asked for.
fn brk_note(call: &str) -> &'static str {
    let parse = |text: &str| u64::from_str_radix(text.trim().trim_start_matches("0x"), 16).ok();
    let Some(rest) = call.strip_prefix("brk(") else {
        return "";
    };
    let Some((asked, answer)) = rest.split_once(')') else {
        return "";
    };
    let answer = answer.trim_start().trim_start_matches('=').trim();
    match (parse(asked), parse(answer)) {
        (Some(asked), Some(answer)) if answer < asked => {
            "  <- refused: the kernel returned the old break (not an error code); glibc's \
             wrapper turns that into -1 and ENOMEM"
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// strace's line for a write of `event` as the run writes it.
    fn event_write(event: &Event) -> String {
        let line = serde_json::to_string(event).unwrap() + "\n";
        let quoted = line
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        format!(
            "100 write(3, \"{quoted}\", {}) = {}\n",
            line.len(),
            line.len()
        )
    }

    fn setup() -> String {
        event_write(&Event::Setup {
            differs_by_design: None,
        })
    }

    #[test]
    fn the_trace_starts_at_the_lesson_and_divides_by_step_events() {
        let step = event_write(&Event::Step {
            number: 1,
            title: "Find the break \"now\"".to_owned(),
        });
        let log = format!(
            "\
100 brk(NULL)                     = 0x5555
100 write(1, \"ex2: title\\n\", 11) = 11
100 mmap(NULL, 65536, PROT_READ|PROT_WRITE) = 0x7e00
{}100 mmap(NULL, 8192, PROT_READ) = 0x7f00
100 write(1, \"\\nStep 9. Printed words are not read\\n\", 37) = 37
{step}100 brk(0x5566)                   = 0x5566
101 munmap(0x7f00, 4096) = 0
100 write(1, \"  [ok] fine\\n\", 12) = 12
",
            setup()
        );
        let out = render(&log, "ex2");
        assert_eq!(
            out,
            "== ex2: the lesson has started\nmmap(NULL, 8192, PROT_READ) = 0x7f00\n\n== Step 1. Find the break \"now\"\nbrk(0x5566)                   = 0x5566\n[child] munmap(0x7f00, 4096) = 0\n"
        );
        assert!(
            !out.contains("brk(NULL)") && !out.contains("65536"),
            "the loader's and the event log's calls come before the lesson"
        );
    }

    #[test]
    fn a_long_run_of_one_call_is_counted_not_listed() {
        let mut log = setup();
        for i in 0..1000 {
            log.push_str(&format!("101 mmap(NULL, 4096) = 0x{i:x}000\n"));
        }
        log.push_str("100 brk(0x5566) = 0x5566\n");
        let out = render(&log, "c");
        assert_eq!(out.matches("[child] mmap").count(), 3, "{out}");
        assert!(
            out.contains("[child] ... and 997 more mmap calls in a row\nbrk(0x5566)"),
            "{out}"
        );
    }

    #[test]
    fn a_refused_brk_is_explained() {
        assert!(brk_note("brk(0x95a0dddf0000)  = 0x55a0dddf0000").contains("refused"));
        assert_eq!(brk_note("brk(0x5566) = 0x5566"), "");
        assert_eq!(brk_note("brk(NULL) = 0x5566"), "");
        assert_eq!(brk_note("mmap(NULL, 1) = 0x1"), "");
    }

    #[test]
    fn writes_are_unescaped() {
        assert_eq!(
            written("write(1, \"a\\\"b\\n\", 4) = 4").as_deref(),
            Some("a\"b\n")
        );
        assert_eq!(
            written("write(3, \"\\342\\200\\224 \\xe2\\x80\\x94\\t\\\\\", 9) = 9").as_deref(),
            Some("\u{2014} \u{2014}\t\\")
        );
        assert_eq!(written("brk(NULL) = 0x1"), None);
    }
}
