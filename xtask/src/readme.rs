//! Each lesson's README shows its expected output as an address pattern, copied from the
//! snapshot between two markers; `--bless` rewrites it, and a test fails when the two differ.

/// The line before the pattern.
pub const BEGIN: &str =
    "<!-- expected-output: begin (written by `cargo xtask check-all --bless`) -->";
/// The line after it.
pub const END: &str = "<!-- expected-output: end -->";

/// The pattern between the markers, without its code fence.
pub fn extract(readme: &str) -> Option<String> {
    let start = readme.find(BEGIN)? + BEGIN.len();
    let end = start + readme[start..].find(END)?;
    let block = readme[start..end].trim();
    let body = block.strip_prefix("```text")?.strip_suffix("```")?;
    Some(body.trim_start_matches('\n').to_owned())
}

/// `readme` with the pattern between the markers replaced by `pattern`, or the section added at
/// the end if it has none yet.
pub fn replace(readme: &str, pattern: &str) -> String {
    let block = format!("{BEGIN}\n```text\n{}\n```\n{END}", pattern.trim_end());
    match (readme.find(BEGIN), readme.find(END)) {
        (Some(start), Some(end)) if end > start => {
            format!("{}{block}{}", &readme[..start], &readme[end + END.len()..])
        }
        _ => format!(
            "{}\n\n## Expected output\n\nWhat `cargo xtask check-all` expects this program to print, as an address \
             pattern: each address is a token by its rank (`<A1>` is the lowest, `:page` marks a \
             page-aligned one), and numbers that change from run to run read `~N`.\n\n{block}\n",
            readme.trim_end()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lessons::LESSONS;
    use crate::run::root;
    use crate::snapshot;

    #[test]
    fn replace_then_extract_gives_the_pattern_back() {
        let readme = "# Title\n\nText.\n";
        let once = replace(readme, "Step 1\n  <A1>\n");
        assert_eq!(extract(&once).as_deref(), Some("Step 1\n  <A1>\n"));
        let twice = replace(&once, "Step 2\n");
        assert_eq!(extract(&twice).as_deref(), Some("Step 2\n"));
        assert_eq!(twice.matches(BEGIN).count(), 1);
        assert!(twice.starts_with("# Title\n\nText.\n"));
    }

    /// The README of every lesson shows exactly its committed snapshot.
    #[test]
    fn every_readme_shows_its_snapshot() {
        for lesson in LESSONS {
            let expected = snapshot::load(lesson.name)
                .unwrap()
                .unwrap_or_else(|| panic!("{} has no snapshot", lesson.name));
            let readme = std::fs::read_to_string(root().join(lesson.readme)).unwrap();
            let shown = extract(&readme)
                .unwrap_or_else(|| panic!("{} has no expected-output section", lesson.readme));
            assert!(
                snapshot::matches(&expected, &shown),
                "{} and the snapshot of {} disagree: run `cargo xtask check-all --bless`",
                lesson.readme,
                lesson.name
            );
        }
    }
}
