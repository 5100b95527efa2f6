//! Each lesson's README shows its expected output twice, between two markers: one real run (its
//! addresses and sizes are that run's) and the address pattern `check-all` compares, which is
//! the snapshot. `--bless` rewrites both; a test fails when either disagrees with the snapshot.

use xtask::snapshot::{Comparison, Snapshot};

/// The line before the expected output.
pub const BEGIN: &str =
    "<!-- expected-output: begin (written by `cargo xtask check-all --bless`) -->";
/// The line after it.
pub const END: &str = "<!-- expected-output: end -->";

const SAMPLE_INTRO: &str = "One real run, as it printed (its addresses and the sizes marked `~` are that run's; yours \
will differ):";
const PATTERN_INTRO: &str = "Its address pattern, which `cargo xtask check-all` compares with the snapshot (the \
notation is explained in the top README, under \"Reading the output\"):";

/// What a README shows between the markers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// The real run.
    pub sample: String,
    /// Its pattern.
    pub pattern: String,
}

/// The text of the `n`th (0-based) ```` ```text ```` block of `section`, without its fence.
fn text_block(section: &str, n: usize) -> Option<String> {
    let mut rest = section;
    for _ in 0..n {
        let open = rest.find("```text")?;
        let close = rest[open + 7..].find("```")? + open + 7;
        rest = &rest[close + 3..];
    }
    let open = rest.find("```text")? + "```text".len();
    let close = rest[open..].find("```")? + open;
    Some(rest[open..close].trim_start_matches('\n').to_owned())
}

/// The sample run and the pattern between the markers.
pub fn extract(readme: &str) -> Option<Shown> {
    let start = readme.find(BEGIN)? + BEGIN.len();
    let end = start + readme[start..].find(END)?;
    let section = &readme[start..end];
    Some(Shown {
        sample: text_block(section, 0)?,
        pattern: text_block(section, 1)?,
    })
}

/// Whether the README shows `expected`: its pattern is the snapshot, and its sample run turns
/// into the snapshot too. `Err` says which part does not.
pub fn agrees(readme: &str, expected: &Snapshot) -> Result<(), &'static str> {
    let shown =
        extract(readme).ok_or("has no expected-output section with a sample and a pattern")?;
    if !expected.holds(&shown.pattern) {
        return Err("does not show the snapshot's pattern");
    }
    if expected.compare(&shown.sample) != Comparison::Matches {
        return Err("shows a sample run whose pattern is not the snapshot's");
    }
    Ok(())
}

fn fenced(text: &str) -> String {
    let lines: Vec<&str> = text.trim_end().lines().map(str::trim_end).collect();
    format!("```text\n{}\n```", lines.join("\n"))
}

/// `readme` with the section between the markers showing `sample` and `pattern`, or the
/// section added at the end if it has none yet.
pub fn replace(readme: &str, sample: &str, pattern: &str) -> String {
    let block = format!(
        "{BEGIN}\n{SAMPLE_INTRO}\n\n{}\n\n{PATTERN_INTRO}\n\n{}\n{END}",
        fenced(sample),
        fenced(pattern)
    );
    match (readme.find(BEGIN), readme.find(END)) {
        (Some(start), Some(end)) if end > start => {
            format!("{}{block}{}", &readme[..start], &readme[end + END.len()..])
        }
        _ => format!("{}\n\n## Expected output\n\n{block}\n", readme.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xtask::catalogue::snapshot_runs;
    use xtask::run::root;

    #[test]
    fn replace_then_extract_gives_both_back() {
        let readme = "# Title\n\nText.\n";
        let once = replace(readme, "Step 1\n  0x10  \n", "Step 1\n  <A1>\n");
        let shown = extract(&once).unwrap();
        assert_eq!(shown.sample, "Step 1\n  0x10\n");
        assert_eq!(shown.pattern, "Step 1\n  <A1>\n");
        let twice = replace(&once, "Step 2\n", "Step 2\n");
        assert_eq!(extract(&twice).unwrap().pattern, "Step 2\n");
        assert_eq!(twice.matches(BEGIN).count(), 1);
        assert!(twice.starts_with("# Title\n\nText.\n"));
    }

    #[test]
    fn a_sample_that_does_not_match_is_caught() {
        let snapshot = |pattern: &str| Snapshot {
            name: "t".to_owned(),
            pattern: pattern.to_owned(),
            header: 4,
        };
        let readme = replace("# T\n", "a 0x20\nb 0x10\n", "a <A2>\nb <A1>\n");
        assert_eq!(agrees(&readme, &snapshot("a <A2>\nb <A1>")), Ok(()));
        assert!(agrees(&readme, &snapshot("a <A1>\nb <A2>")).is_err());
        let swapped = replace("# T\n", "a 0x10\nb 0x20\n", "a <A2>\nb <A1>\n");
        assert!(agrees(&swapped, &snapshot("a <A2>\nb <A1>")).is_err());
        assert!(agrees("# no section\n", &snapshot("a")).is_err());
    }

    /// The README of every lesson shows exactly its committed snapshot, and a run that has it.
    #[test]
    fn every_readme_shows_its_snapshot() {
        for lesson in snapshot_runs() {
            let Some(readme_file) = lesson.readme.as_deref() else {
                continue;
            };
            let expected = Snapshot::expect(&lesson.snapshot).unwrap();
            let readme = std::fs::read_to_string(root().join(readme_file)).unwrap();
            if let Err(why) = agrees(&readme, &expected) {
                panic!(
                    "{readme_file} {why} ({}): run `cargo xtask check-all --bless`",
                    &lesson.snapshot
                );
            }
        }
    }
}
