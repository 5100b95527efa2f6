//! The committed snapshots under `xtask/snapshots/`, written by insta through its public API:
//! one insta test per lesson binary (`xtask/course/tests/snapshots.rs`), so that `cargo insta
//! test` and `cargo insta review` work on them as on any insta snapshot. `learn` and
//! `check-all` read them here, compare, and show the first differing line, the way a learner
//! needs it; writing one is `xtask-course`'s (`snapshot_tests.rs`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::run::root;

/// Where the snapshot of `name` lives.
pub fn path(name: &str) -> PathBuf {
    root().join("xtask/snapshots").join(format!("{name}.snap"))
}

/// The committed pattern of `name`, or `None` if there is none yet: the file's contents after
/// insta's header (up to its second `---` line), without the final newline, which insta does
/// not keep. insta writes and reviews these files; this reader, which the learner's commands
/// use without building insta, is held to insta's own reading of every committed snapshot by
/// a test in `xtask-course` (`tests/snapshots.rs`).
pub fn load(name: &str) -> Result<Option<String>> {
    let path = path(name);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the snapshot {}", path.display()))?;
    contents(&text)
        .map(Some)
        .with_context(|| format!("{} has no insta header (two `---` lines)", path.display()))
}

/// What a snapshot file holds after its header; `None` when it has no header.
fn contents(file: &str) -> Option<String> {
    let header = header_length(file)?;
    let body: Vec<&str> = file.lines().skip(header).collect();
    Some(body.join("\n").trim_end_matches('\n').to_owned())
}

/// How many lines insta's header takes, up to and with its second `---` line.
fn header_length(file: &str) -> Option<usize> {
    file.lines()
        .enumerate()
        .filter(|(_, l)| *l == "---")
        .nth(1)
        .map(|(i, _)| i + 1)
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
    header_length(&text).unwrap_or(0)
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
