//! `cargo xtask bench`: runs milestone's benchmarks and prints one table of figures, baselines,
//! ratios and goals. A report, not a test: it never fails on a timing.
//!
//! The timed figures come from criterion (`milestone/benches/timings.rs`), read from the
//! medians it writes to `target/criterion/GROUP/BENCH/new/estimates.json`; the counted ones
//! from `milestone/benches/counters.rs`, which prints `counter: ID VALUE …` lines.

use std::process::Command;

use anyhow::{Context, Result, bail};

use xtask::run::{cargo, root, target_dir};

/// The median time of one criterion benchmark, in nanoseconds.
fn median_ns(group: &str, bench: &str) -> Result<f64> {
    let path = target_dir()
        .join("criterion")
        .join(group)
        .join(bench)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("no criterion result at {}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    json["median"]["point_estimate"]
        .as_f64()
        .with_context(|| format!("no median in {}", path.display()))
}

/// One row of the table.
#[derive(Debug, PartialEq)]
pub struct Row {
    /// B1 …
    pub id: &'static str,
    /// What is measured.
    pub figure: &'static str,
    /// This run's value, as shown.
    pub value: String,
    /// The baseline, as shown.
    pub baseline: String,
    /// The ratio or the counted figure compared with the goal.
    pub ratio: String,
    /// The goal.
    pub goal: &'static str,
    /// Whether the goal is met.
    pub met: bool,
}

/// The `counter: ID VALUE …` lines of the counters benchmark: (id, value, the rest).
pub fn counters(output: &str) -> Vec<(String, f64, String)> {
    output
        .lines()
        .filter_map(|l| l.strip_prefix("counter: "))
        .filter_map(|l| {
            let mut parts = l.splitn(3, ' ');
            let id = parts.next()?.to_owned();
            let value = parts.next()?.parse().ok()?;
            Some((id, value, parts.next().unwrap_or("").to_owned()))
        })
        .collect()
}

fn ratio_row(
    id: &'static str,
    figure: &'static str,
    (value, baseline): (f64, f64),
    unit: &str,
    goal: &'static str,
    met: impl Fn(f64) -> bool,
) -> Row {
    let ratio = value / baseline;
    Row {
        id,
        figure,
        value: format!("{value:.1} {unit}"),
        baseline: format!("{baseline:.1} {unit}"),
        ratio: format!("{ratio:.3}"),
        goal,
        met: met(ratio),
    }
}

/// The `paired: ID MEASURED BASELINE` line of the timings benchmark: the two means of a
/// side-by-side measurement.
pub fn paired(output: &str, id: &str) -> Option<(f64, f64)> {
    let line = output.lines().find_map(|l| {
        l.strip_prefix("paired: ")?
            .strip_prefix(id)?
            .strip_prefix(' ')
    })?;
    let mut numbers = line.split_whitespace().map(str::parse::<f64>);
    Some((numbers.next()?.ok()?, numbers.next()?.ok()?))
}

/// B1's two side-by-side measures, each the means of its median round: `interleaved` (one pair
/// of each kind in turn) and `batches` (alternating batches of each kind).
#[derive(Debug, Clone, Copy)]
pub struct B1 {
    /// The interleaved means (criterion's medians when the line is missing).
    pub interleaved: Option<(f64, f64)>,
    /// The means in batches.
    pub batches: Option<(f64, f64)>,
}

/// Builds the table from criterion's medians, the counters' output, and B1's paired means.
pub fn table(counted: &[(String, f64, String)], b1_paired: B1) -> Result<Vec<Row>> {
    let mut rows = timed_rows(b1_paired)?;
    let mut counted = counted_rows(counted)?;
    // B7 is timed, between B6 and B8 in the table.
    let b8 = counted.split_off(3);
    rows.append(&mut counted);
    rows.push(throughput_row()?);
    rows.extend(b8);
    Ok(rows)
}

/// B1, B1b, B2 and B3: timed against a baseline in the same run.
fn timed_rows(b1_paired: B1) -> Result<Vec<Row>> {
    let b1 = "B1 1 MiB chunk";
    let b2 = "B2 stream of 100000 64-byte requests, new process";
    let b3 = "B3 find_chunk of a random interior address";
    let per_call = |ns: f64| ns / 100_000.0;
    Ok(vec![
        ratio_row(
            "B1",
            "mem_chunk(1 MiB) + release_chunk, against raw mmap + munmap of 1 MiB, one pair of each in turn, in random order (the median of 7 rounds of 2,000; interrupted pairs set aside)",
            match b1_paired.interleaved {
                Some(pair) => pair,
                None => (
                    median_ns(b1, "mem_chunk+release_chunk")?,
                    median_ns(b1, "raw mmap+munmap")?,
                ),
            },
            "ns",
            "ratio at most 1.02",
            |r| r <= 1.02,
        ),
        ratio_row(
            "B1b",
            "the same, in alternating batches of 2,000 pairs of each (the median of 7 rounds; interrupted pairs set aside)",
            b1_paired
                .batches
                .context("the timings benchmark printed no B1b line")?,
            "ns",
            "ratio at most 1.02",
            |r| r <= 1.02,
        ),
        ratio_row(
            "B2",
            "a stream of 100,000 mem_chunk(64) in a new process, per call, against glibc malloc(64) without free",
            (
                per_call(median_ns(b2, "mem_chunk(64)")?),
                per_call(median_ns(b2, "glibc malloc(64) without free")?),
            ),
            "ns",
            "ratio at most 1.0 (aim 0.5)",
            |r| r <= 1.0,
        ),
        ratio_row(
            "B3",
            "find_chunk of a random interior address, 100,000 live chunks against 100",
            (
                median_ns(b3, "100000 live chunks")?,
                median_ns(b3, "100 live chunks")?,
            ),
            "ns",
            "ratio at most 3",
            |r| r <= 3.0,
        ),
    ])
}

/// B4, B5, B6 and B8: counted by the counters benchmark.
fn counted_rows(counted: &[(String, f64, String)]) -> Result<Vec<Row>> {
    let counter = |id: &str| {
        counted
            .iter()
            .find(|(c, ..)| c == id)
            .cloned()
            .with_context(|| format!("the counters benchmark printed no {id}"))
    };
    let mut rows = Vec::new();
    let counted_row = |id, figure, value: f64, shown: String, goal, met: bool| Row {
        id,
        figure,
        value: shown.clone(),
        baseline: "-".into(),
        ratio: shown,
        goal,
        met: met && value.is_finite(),
    };
    let (_, b4, _) = counter("B4")?;
    rows.push(counted_row(
        "B4",
        "brk system calls per MiB of 64-byte chunks",
        b4,
        format!("{b4}"),
        "at most 16",
        b4 <= 16.0,
    ));
    let (_, b5, _) = counter("B5")?;
    rows.push(counted_row(
        "B5",
        "registry bytes per live chunk at 100,000 chunks",
        b5,
        format!("{b5:.2}"),
        "at most 32",
        b5 <= 32.0,
    ));
    let (_, b6, rest) = counter("B6")?;
    rows.push(counted_row(
        "B6",
        "memory held from the OS under random churn, over peak live bytes (worst moment)",
        b6,
        format!("{b6:.3}x"),
        "at most 2x + 1 MiB at every step",
        rest.contains("every step: true"),
    ));
    let (_, b8, _) = counter("B8")?;
    rows.push(counted_row(
        "B8",
        "the registry's own bytes at most, while at most 100 chunks are live (random churn)",
        b8,
        format!("{b8}"),
        "at most 16384 (16 KiB)",
        b8 <= 16384.0,
    ));
    Ok(rows)
}

/// B7: two threads' throughput against one's.
fn throughput_row() -> Result<Row> {
    let b7 = "B7 small-chunk throughput";
    // Throughput is the inverse of the time for the same number of pairs.
    let one = median_ns(b7, "1 threads")?;
    let two = median_ns(b7, "2 threads")?;
    let pairs = 20_000.0;
    Ok(Row {
        id: "B7",
        figure: "small-chunk throughput (mem_chunk(64) + release_chunk), 2 threads both calling, against 1",
        value: format!("{:.2} M pairs/s", pairs / two * 1e3),
        baseline: format!("{:.2} M pairs/s", pairs / one * 1e3),
        ratio: format!("{:.2}", one / two),
        goal: "ratio at least 0.7",
        met: one / two >= 0.7,
    })
}

/// Renders the table as Markdown, for the terminal and BENCHMARKS.md alike.
pub fn render(rows: &[Row]) -> String {
    let mut out = String::from(
        "| id | figure | this run | baseline | ratio or value | goal | met |\n|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            r.id,
            r.figure,
            r.value,
            r.baseline,
            r.ratio,
            r.goal,
            if r.met { "yes" } else { "no" }
        ));
    }
    let met = rows.iter().filter(|r| r.met).count();
    out.push_str(&format!("\nbench: {met} of {} goals met\n", rows.len()));
    out
}

fn machine() -> String {
    let read = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!(
        "{} cores ({cpu}), Linux {}, {}, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        read("uname", &["-r"]),
        read("ldd", &["--version"]).lines().next().unwrap_or(""),
        read("rustc", &["--version"]),
    )
}

/// Runs both benchmarks and prints the table.
pub fn bench() -> Result<bool> {
    let cargo = cargo();
    // Echo criterion's report as it comes, and keep it for the paired B1 line.
    let mut child = Command::new(&cargo)
        .current_dir(root())
        .args(["bench", "-p", "milestone", "--bench", "timings"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("failed to run `{cargo} bench`"))?;
    let mut timings = String::new();
    let stdout = child.stdout.take().context("no stdout")?;
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let line = line?;
        println!("{line}");
        timings.push_str(&line);
        timings.push('\n');
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("`cargo bench -p milestone --bench timings` failed ({status})");
    }
    let out = Command::new(&cargo)
        .current_dir(root())
        .args(["bench", "-p", "milestone", "--bench", "counters"])
        .output()
        .with_context(|| format!("failed to run `{cargo} bench`"))?;
    if !out.status.success() {
        bail!(
            "`cargo bench -p milestone --bench counters` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let counted = counters(&String::from_utf8_lossy(&out.stdout));
    let b1 = B1 {
        interleaved: paired(&timings, "B1"),
        batches: paired(&timings, "B1b"),
    };
    let rows = table(&counted, b1)?;
    println!("\nMachine: {}", machine());
    println!("{}", render(&rows));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_lines_are_read() {
        let out = "noise\ncounter: B4 16 brk calls per MiB\ncounter: B5 16.18 registry bytes\n";
        let c = counters(out);
        assert_eq!(c[0], ("B4".into(), 16.0, "brk calls per MiB".into()));
        assert_eq!(c[1].1, 16.18);
    }

    #[test]
    fn the_paired_line_is_read() {
        let out = "B1 stuff\npaired: B1b 3600.0 3500.0\npaired: B1 7811.4 7480.8\nother";
        assert_eq!(paired(out, "B1"), Some((7811.4, 7480.8)));
        assert_eq!(paired(out, "B1b"), Some((3600.0, 3500.0)));
        assert_eq!(paired(out, "B2"), None);
    }

    #[test]
    fn a_ratio_row_judges_its_goal() {
        let row = ratio_row("B1", "x", (105.0, 100.0), "ns", "at most 1.05", |r| {
            r <= 1.05
        });
        assert!(row.met);
        assert_eq!(row.ratio, "1.050");
        let row = ratio_row("B1", "x", (106.0, 100.0), "ns", "at most 1.05", |r| {
            r <= 1.05
        });
        assert!(!row.met);
        assert!(render(&[row]).contains("bench: 0 of 1 goals met"));
    }
}
