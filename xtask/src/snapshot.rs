//! The committed snapshots under `xtask/snapshots/`, written by insta through its public API:
//! one insta test per lesson binary (`xtask/tests/snapshots.rs`), so that `cargo insta test`
//! and `cargo insta review` work on them as on any insta snapshot. `check-all` reads them,
//! compares, and adds the first differing line, the way a learner needs it; to write one (a
//! `.snap.new` for review, or the `.snap` itself with `--bless`) it runs that test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use insta::Snapshot;

use crate::lessons::LessonBinary;
use crate::run::{self, root};

/// Where the snapshot of `name` lives.
pub fn path(name: &str) -> PathBuf {
    root().join("xtask/snapshots").join(format!("{name}.snap"))
}

/// The committed pattern of `name`, or `None` if there is none yet.
pub fn load(name: &str) -> Result<Option<String>> {
    let path = path(name);
    if !path.exists() {
        return Ok(None);
    }
    let snapshot = Snapshot::from_file(&path)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("cannot read the snapshot {}", path.display()))?;
    let text = snapshot
        .as_text()
        .with_context(|| format!("{} is not a text snapshot", path.display()))?;
    Ok(Some(text.to_string()))
}

/// Why this run's patterns may differ from their snapshots by design, if they may: the legacy
/// mmap layout reorders the address space, and some settings of glibc's malloc change what the
/// lessons show. The programs inherit both from this process; their own checks must still hold.
pub fn differs_by_design() -> Option<String> {
    let legacy = memcore::layout::legacy_mmap_reasons();
    if !legacy.is_empty() {
        return Some(format!(
            "this run has the legacy mmap layout ({}), which reorders the address space",
            legacy.join(", ")
        ));
    }
    let malloc = lesson::glibc::GlibcMalloc::read().ok()?;
    malloc
        .changes_the_lessons()
        .map(|why| format!("glibc's malloc is tuned here: {why}"))
}

/// Whether two patterns match: the same lines (a snapshot file keeps no final newline).
pub fn matches(expected: &str, actual: &str) -> bool {
    let lines = |text: &str| text.replace("\r\n", "\n").trim_end_matches('\n').to_owned();
    lines(expected) == lines(actual)
}

/// The first line where the actual output leaves the snapshot.
#[derive(Debug, PartialEq, Eq)]
pub struct FirstDifference {
    /// The line of the snapshot file (1-based, counting its header).
    pub file_line: usize,
    /// The pattern the snapshot expects there (`None`: the snapshot ended).
    pub expected: Option<String>,
    /// The pattern the binary printed there (`None`: the output ended).
    pub actual: Option<String>,
    /// The same line as printed, with its real addresses.
    pub raw: Option<String>,
}

/// A line of a difference, quoted; `None` (the text ended) said in words.
pub fn show(line: &Option<String>) -> String {
    line.as_deref()
        .map_or("(nothing: it ended)".to_owned(), |s| format!("{s:?}"))
}

/// Lines of the snapshot file before its contents: insta's header, up to the second `---`.
pub fn header_lines(name: &str) -> usize {
    let text = std::fs::read_to_string(path(name)).unwrap_or_default();
    text.lines()
        .enumerate()
        .filter(|(_, l)| *l == "---")
        .nth(1)
        .map_or(0, |(i, _)| i + 1)
}

/// Compares line by line; `raw` is the output before normalisation (the same lines).
pub fn first_difference(
    header: usize,
    expected: &str,
    actual: &str,
    raw: &str,
) -> Option<FirstDifference> {
    let (e, a, r): (Vec<&str>, Vec<&str>, Vec<&str>) = (
        expected.lines().collect(),
        actual.lines().collect(),
        raw.lines().collect(),
    );
    let at = (0..e.len().max(a.len())).find(|&i| e.get(i) != a.get(i))?;
    Some(FirstDifference {
        file_line: header + at + 1,
        expected: e.get(at).map(|s| s.to_string()),
        actual: a.get(at).map(|s| s.to_string()),
        raw: r.get(at).map(|s| s.trim_end().to_string()),
    })
}

/// Explains the first difference of `name`'s output from its snapshot.
pub fn explain(name: &str, expected: &str, actual: &str, raw: &str) -> String {
    let file = path(name);
    let file = file
        .strip_prefix(root())
        .unwrap_or(&file)
        .display()
        .to_string();
    let Some(d) = first_difference(header_lines(name), expected, actual, raw) else {
        return format!("    {file}: the patterns differ only in line ends");
    };
    format!(
        "    first difference at {file}:{}\n      expected pattern: {}\n      actual pattern:   {}\n      actual output:    {}",
        d.file_line,
        show(&d.expected),
        show(&d.actual),
        show(&d.raw)
    )
}

/// The whole diff from the snapshot's pattern to the actual one, unified, with context.
pub fn diff(expected: &str, actual: &str) -> String {
    // insta keeps no final newline; compare the lines, not how the last one ends.
    let expected = format!("{}\n", expected.trim_end());
    let actual = format!("{}\n", actual.trim_end());
    similar::TextDiff::from_lines(&expected, &actual)
        .unified_diff()
        .context_radius(2)
        .header("snapshot", "actual")
        .to_string()
}

/// What insta's test does with a pattern that differs from the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Writes the `.snap` itself (`--bless`).
    Snapshot,
    /// Writes a `.snap.new` beside it, for `cargo insta review`.
    ForReview,
}

/// The name of the insta test of `lesson` in `xtask/tests/snapshots.rs`.
pub fn test_name(lesson: &LessonBinary) -> String {
    format!("snapshot_of_{}", lesson.name.replace('-', "_"))
}

/// The command that `lesson`'s insta test says made its snapshot.
pub fn command_of(lesson: &LessonBinary) -> String {
    let mut command = format!("cargo run -p {}", &lesson.binary);
    if !lesson.args.is_empty() {
        command = format!("{command} -- {}", lesson.args.join(" "));
    }
    command
}

/// Runs the insta tests of `lessons`, which run the binaries again and let insta write their
/// snapshots as `how` says. (Under CI insta writes nothing; `check-all` does not ask it to.)
///
/// # Errors
/// When cargo cannot be run, or insta did not write the snapshots asked for.
pub fn write_with_insta(lessons: &[&LessonBinary], how: Write) -> Result<()> {
    if lessons.is_empty() {
        return Ok(());
    }
    let update = match how {
        Write::Snapshot => "always",
        Write::ForReview => "new",
    };
    let status = Command::new(run::cargo())
        .current_dir(root())
        .args([
            "test",
            "--quiet",
            "-p",
            "xtask",
            "--test",
            "snapshots",
            "--",
        ])
        .args(lessons.iter().map(|l| test_name(l)))
        .arg("--exact")
        .env("INSTA_UPDATE", update)
        .env("INSTA_OUTPUT", "none")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("failed to run the insta tests (cargo test -p xtask --test snapshots)")?;
    if how == Write::Snapshot && !status.success() {
        bail!("insta did not write the snapshots ({status})");
    }
    Ok(())
}

/// A snapshot path shown relative to the workspace root.
pub fn shown(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_difference_names_the_line_and_both_patterns() {
        let expected = "Step 1\n  a <A1> in [heap]\n  end\n";
        let actual = "Step 1\n  a <A1> in anonymous\n  end\n";
        let raw = "Step 1\n  a 0x55d0 in anonymous   \n  end\n";
        let d = first_difference(5, expected, actual, raw).unwrap();
        assert_eq!(d.file_line, 7);
        assert_eq!(d.expected.as_deref(), Some("  a <A1> in [heap]"));
        assert_eq!(d.actual.as_deref(), Some("  a <A1> in anonymous"));
        assert_eq!(d.raw.as_deref(), Some("  a 0x55d0 in anonymous"));
        assert!(first_difference(5, expected, expected, raw).is_none());
        let shorter = first_difference(0, expected, "Step 1\n", "Step 1\n").unwrap();
        assert_eq!((shorter.file_line, shorter.actual), (2, None));
    }

    #[test]
    fn a_match_ignores_only_the_final_newline() {
        assert!(matches("a\nb\n", "a\nb"));
        assert!(!matches("a\nb\n", "a\nc\n"));
    }
}
