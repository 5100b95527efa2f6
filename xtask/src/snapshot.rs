//! The committed snapshots under `xtask/snapshots/`, written by insta through its public API:
//! one insta test per lesson binary (`xtask/course/tests/snapshots.rs`), so that `cargo insta
//! test` and `cargo insta review` work on them as on any insta snapshot. `learn`, `check-all`,
//! the matrix and the README check read them here, and hold a run's output to one in one place
//! ([`Snapshot::compare`]), which names the first differing line the way a learner needs it;
//! writing one is `xtask-course`'s (`snapshot_tests.rs`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use lesson::normalize::normalize;

use crate::run::root;

/// A committed snapshot, read once: the pattern it holds, and where that begins in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Its name (`ex2-sbrk`).
    pub name: String,
    /// The pattern: the lesson's output with addresses and varying values turned into marks.
    pub pattern: String,
    /// How many lines of insta's header come before the pattern in the file.
    pub header: usize,
}

/// What a run's output is to its snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comparison {
    /// Its pattern is the snapshot's.
    Matches,
    /// It is not.
    Differs {
        /// The output's pattern.
        pattern: String,
        /// The first line where the two part; `None` when they differ only in line ends.
        first: Option<FirstDifference>,
    },
}

impl Snapshot {
    /// The committed snapshot `name`, or `None` if there is none yet.
    ///
    /// # Errors
    /// When the file cannot be read or has no insta header.
    pub fn load(name: &str) -> Result<Option<Snapshot>> {
        let path = path(name);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the snapshot {}", path.display()))?;
        let header = header_length(&text)
            .with_context(|| format!("{} has no insta header (two `---` lines)", path.display()))?;
        Ok(Some(Snapshot {
            name: name.to_owned(),
            pattern: contents(&text, header),
            header,
        }))
    }

    /// As [`Snapshot::load`], with no snapshot an error.
    ///
    /// # Errors
    /// When there is no snapshot `name`, or it cannot be read.
    pub fn expect(name: &str) -> Result<Snapshot> {
        Snapshot::load(name)?.with_context(|| format!("no snapshot {name}"))
    }

    /// Its file, relative to the workspace root.
    pub fn file(&self) -> String {
        shown(&path(&self.name))
    }

    /// Holds `output` (a run's stdout, or a README's sample run) to the snapshot: its pattern,
    /// line by line, and where it first differs, with that line's place in the file.
    pub fn compare(&self, output: &str) -> Comparison {
        self.compare_through(output, None)
    }

    /// As [`Snapshot::compare`], with both patterns cut after their last line `heading` when
    /// it is given (a step's heading: a run that stopped in that step is compared up to it).
    pub fn compare_through(&self, output: &str, heading: Option<&str>) -> Comparison {
        let pattern = normalize(output);
        let cut = |text: &str| -> String {
            let lines: Vec<&str> = text.lines().collect();
            let end = heading
                .and_then(|h| lines.iter().rposition(|l| *l == h))
                .map_or(lines.len(), |i| i + 1);
            lines[..end].join("\n")
        };
        let (want, got) = (cut(&self.pattern), cut(&pattern));
        if matches(&want, &got) {
            return Comparison::Matches;
        }
        let first = first_difference(self.header, &want, &got, output);
        Comparison::Differs { pattern, first }
    }

    /// Whether the snapshot holds `pattern`, a pattern already made (what a blessing wrote, or
    /// what a README shows).
    pub fn holds(&self, pattern: &str) -> bool {
        matches(&self.pattern, pattern)
    }

    /// The first difference `first` of an output from the snapshot, explained on three lines.
    pub fn explain(&self, first: Option<&FirstDifference>) -> String {
        let file = self.file();
        let Some(d) = first else {
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
}

/// Where the snapshot of `name` lives.
pub fn path(name: &str) -> PathBuf {
    root().join("xtask/snapshots").join(format!("{name}.snap"))
}

/// What a snapshot file holds after its `header` lines, without the final newline, which insta
/// does not keep. This reader, which the learner's commands use without building insta, is
/// held to insta's own reading of every committed snapshot by a test in `xtask-course`
/// (`tests/snapshots.rs`).
fn contents(file: &str, header: usize) -> String {
    let body: Vec<&str> = file.lines().skip(header).collect();
    body.join("\n").trim_end_matches('\n').to_owned()
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
fn matches(expected: &str, actual: &str) -> bool {
    let lines = |text: &str| text.replace("\r\n", "\n").trim_end_matches('\n').to_owned();
    lines(expected) == lines(actual)
}

/// The first line where the actual output leaves the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Compares line by line; `raw` is the output before normalisation (the same lines).
fn first_difference(
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
    fn a_run_is_compared_through_a_heading_when_one_is_given() {
        let snapshot = Snapshot {
            name: "x".to_owned(),
            pattern: "Step 1. a\n  <A1>\nStep 2. b\n  one".to_owned(),
            header: 4,
        };
        assert_eq!(
            snapshot.compare("Step 1. a\n  0x10\nStep 2. b\n  one\n"),
            Comparison::Matches
        );
        let stopped = "Step 1. a\n  0x10\nStep 2. b\n";
        let Comparison::Differs { first, .. } = snapshot.compare(stopped) else {
            panic!("a run that stopped early differs");
        };
        assert_eq!(
            first.map(|d| d.file_line),
            Some(8),
            "the line in the file, header and all"
        );
        assert_eq!(
            snapshot.compare_through(stopped, Some("Step 2. b")),
            Comparison::Matches
        );
        let other = "Step 1. a\n  0x10\n  more\nStep 2. b\n";
        assert!(matches!(
            snapshot.compare_through(other, Some("Step 2. b")),
            Comparison::Differs {
                first: Some(FirstDifference { file_line: 7, .. }),
                ..
            }
        ));
        assert!(snapshot.holds("Step 1. a\n  <A1>\nStep 2. b\n  one\n"));
    }

    #[test]
    fn a_match_ignores_only_the_final_newline() {
        assert!(matches("a\nb\n", "a\nb"));
        assert!(!matches("a\nb\n", "a\nc\n"));
    }
}
