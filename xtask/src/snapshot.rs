//! The committed snapshots under `xtask/snapshots/`, in insta's format, so that
//! `cargo insta review` finds and reviews them.
//!
//! insta decides whether a pattern matches and writes snapshots (`.snap.new` for review, or the
//! `.snap` itself with `--bless`); this module adds the first differing line, the way a learner
//! needs it, before insta's whole diff.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use insta::internals::TextSnapshotContents;
use insta::{Snapshot, TextSnapshotKind};

use crate::lessons::LessonBinary;
use crate::run::root;

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

/// Whether two patterns match, as insta judges it.
pub fn matches(expected: &str, actual: &str) -> bool {
    let kind = TextSnapshotKind::File;
    TextSnapshotContents::new(expected.to_owned(), kind)
        .matches_latest(&TextSnapshotContents::new(actual.to_owned(), kind))
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
    let show = |s: &Option<String>| {
        s.as_deref()
            .map_or("(nothing: it ended)".to_owned(), |s| format!("{s:?}"))
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

/// The environment insta reads once, at its first snapshot: it prints nothing (check-all
/// reports for it), and with `bless` writes snapshots in place instead of `.snap.new` files.
pub fn insta_environment(bless: bool) -> [(&'static str, &'static str); 2] {
    let update = if bless { "always" } else { "auto" };
    [("INSTA_OUTPUT", "none"), ("INSTA_UPDATE", update)]
}

/// Hands the pattern to insta, which writes it as `.snap.new` for `cargo insta review` (or,
/// with `--bless`, as the snapshot itself); under CI it writes nothing. Returns whether insta
/// accepted it.
pub fn record(lesson: &LessonBinary, pattern: &str) -> bool {
    let name = lesson.snapshot;
    let mut command = format!("cargo run -p {}", lesson.binary);
    if !lesson.args.is_empty() {
        command = format!("{command} -- {}", lesson.args.join(" "));
    }
    let mut settings = insta::Settings::clone_current();
    // Relative to this source file: xtask/snapshots.
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(format!(
        "`{command}` as an address pattern (see crates/lesson/src/normalize.rs)"
    ));
    // insta reports a mismatch by panicking; its diff is already printed by then.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    // The settings are only read, and dropped after, so a panic cannot leave them half-changed.
    let accepted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_snapshot!(name, pattern));
    }))
    .is_ok();
    std::panic::set_hook(hook);
    accepted
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
    fn insta_judges_the_match() {
        assert!(matches("a\nb\n", "a\nb"));
        assert!(!matches("a\nb\n", "a\nc\n"));
    }
}
