//! The top README's picture of a real run: `docs/picture.png`, a screenshot of the page that
//! `cargo xtask picture` draws, with a fingerprint of what it was made from. It is kept current
//! as the READMEs' sample output is: `cargo xtask picture --readme` writes both, and a test fails,
//! saying that command, when the picture's code or its lesson's snapshot has changed since.

use std::path::Path;

use anyhow::{Context, Result, bail};

use xtask::run;

/// The lesson binary the README shows.
pub const LESSON: &str = "ex2-sbrk";
/// The frame it shows: step 2, where the break moves by 10000 bytes inside whole pages.
pub const FRAME: &str = "s2-f1";
/// The PNG, relative to the workspace root.
pub const PNG: &str = "docs/picture.png";
/// The command that writes it.
pub const COMMAND: &str = "cargo xtask picture --readme";
/// The line before the picture in the README.
pub const BEGIN: &str = "<!-- picture: begin (written by `cargo xtask picture --readme`) -->";
/// The line after it.
pub const END: &str = "<!-- picture: end -->";

/// FNV-1a, 64 bits: a hash that is the same on every machine and every Rust release.
fn fnv1a(bytes: &[u8], mut hash: u64) -> u64 {
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// What the picture is made from, as a hash: the picture's code (`xtask/course/src/picture/`) and the
/// snapshot of the lesson it shows (which changes when the lesson's output does).
///
/// # Errors
/// When a file cannot be read.
pub fn fingerprint(root: &Path) -> Result<String> {
    let folder = root.join("xtask/course/src/picture");
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .with_context(|| format!("cannot read {}", folder.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    files.push(root.join(format!("xtask/snapshots/{LESSON}.snap")));
    let mut hash = 0xcbf2_9ce4_8422_2325;
    for file in &files {
        let text =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        hash = fnv1a(name.as_bytes(), hash);
        hash = fnv1a(&text, hash);
    }
    Ok(format!("{hash:016x}"))
}

/// The README's picture section, markers included.
pub fn section(fingerprint: &str) -> String {
    format!(
        "{BEGIN}\n![`cargo xtask picture {LESSON}`, step 2: the break moved up 10000 bytes, close up, \
         beside the whole address space]({PNG})\n\n<sub>One real run of `cargo xtask picture {LESSON}` \
         (picture {fingerprint}).</sub>\n{END}"
    )
}

/// The fingerprint the README's picture section records, if it has one.
pub fn recorded(readme: &str) -> Option<&str> {
    let start = readme.find(BEGIN)?;
    let end = readme[start..].find(END)? + start;
    let section = &readme[start..end];
    let at = section.find("(picture ")? + "(picture ".len();
    section[at..].split(')').next()
}

/// `readme` with its picture section replaced by `section`.
///
/// # Errors
/// When the README has no picture section.
pub fn replace(readme: &str, section: &str) -> Result<String> {
    let start = readme
        .find(BEGIN)
        .context("the README has no picture section")?;
    let end = readme[start..]
        .find(END)
        .context("the picture section has no end")?
        + start;
    Ok(format!(
        "{}{section}{}",
        &readme[..start],
        &readme[end + END.len()..]
    ))
}

/// Draws [`LESSON`]'s page, takes its screenshot into [`PNG`] and records the fingerprint in
/// the top README.
///
/// # Errors
/// When the lesson cannot be drawn, Chromium is missing or fails, or a file cannot be written.
pub fn update() -> Result<()> {
    let root = run::root();
    let lesson = xtask::catalogue::find(LESSON).context("the README's lesson is gone")?;
    let page = super::lessons(std::slice::from_ref(lesson))?.remove(0);
    if !page.frames.iter().any(|f| f == FRAME) {
        bail!("{LESSON}'s page has no frame {FRAME}");
    }
    let png = root.join(PNG);
    if let Some(folder) = png.parent() {
        std::fs::create_dir_all(folder)?;
    }
    let (width, height) = super::SCREEN;
    super::browser::screenshot(&page.path, FRAME, &png, width, height)?;
    let path = root.join("README.md");
    let readme = std::fs::read_to_string(&path).context("cannot read README.md")?;
    let updated = replace(&readme, &section(&fingerprint(&root)?))?;
    std::fs::write(&path, updated).context("cannot write README.md")?;
    println!("{}", png.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_section_is_found_and_replaced_whole() {
        let readme = format!("intro\n{}\noutro\n", section("0123456789abcdef"));
        assert_eq!(recorded(&readme), Some("0123456789abcdef"));
        let replaced = replace(&readme, &section("fedcba9876543210")).unwrap();
        assert_eq!(recorded(&replaced), Some("fedcba9876543210"));
        assert!(replaced.starts_with("intro\n") && replaced.ends_with("\noutro\n"));
        assert!(replace("no section", "x").is_err());
    }

    /// The top README's picture was made by the picture's current code, from the lesson's
    /// current output.
    #[test]
    fn the_readme_picture_is_current() {
        let root = run::root();
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let now = fingerprint(&root).unwrap();
        assert!(root.join(PNG).exists(), "{PNG} is missing: run `{COMMAND}`");
        assert_eq!(
            recorded(&readme),
            Some(now.as_str()),
            "the README's picture is out of date (the picture's code or {LESSON}'s snapshot \
             changed): run `{COMMAND}` (it needs chromium)"
        );
    }
}
