//! `cargo xtask new-exercise NAME`: writes a working exercise from the files under
//! `xtask/new-exercise/` (a driver with one step and one claim, a reference with one marked
//! part, its template, a test, a README, a right and a wrong kept answer), adds it to the
//! workspace's members after the package `--after` names, and blesses its snapshot. Every file
//! is the author's to change; `docs/authoring.md` walks through them.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use xtask::catalogue::Exercise;
use xtask::learn::Workspace;
use xtask::run;

/// The files written, as (file under `xtask/new-exercise/`, where it goes, relative to the
/// exercise's folder or, for an answer, to the workspace root with `@NAME@` replaced).
const FILES: [(&str, &str, &str); 10] = [
    (
        "Cargo.toml.in",
        include_str!("../../new-exercise/Cargo.toml.in"),
        "Cargo.toml",
    ),
    (
        "README.md.in",
        include_str!("../../new-exercise/README.md.in"),
        "README.md",
    ),
    (
        "src/lib.rs.in",
        include_str!("../../new-exercise/src/lib.rs.in"),
        "src/lib.rs",
    ),
    (
        "src/main.rs.in",
        include_str!("../../new-exercise/src/main.rs.in"),
        "src/main.rs",
    ),
    (
        "src/parts.rs.in",
        include_str!("../../new-exercise/src/parts.rs.in"),
        "src/parts.rs",
    ),
    (
        "learn/Cargo.toml.in",
        include_str!("../../new-exercise/learn/Cargo.toml.in"),
        "learn/Cargo.toml",
    ),
    (
        "learn/main.rs.in",
        include_str!("../../new-exercise/learn/main.rs.in"),
        "learn/main.rs",
    ),
    (
        "tests/claims.rs.in",
        include_str!("../../new-exercise/tests/claims.rs.in"),
        "tests/claims.rs",
    ),
    (
        "answers/correct-try-from.rs.in",
        include_str!("../../new-exercise/answers/correct-try-from.rs.in"),
        "/xtask/answers/@NAME@/correct-try-from.rs",
    ),
    (
        "answers/wrong-clock-ticks.rs.in",
        include_str!("../../new-exercise/answers/wrong-clock-ticks.rs.in"),
        "/xtask/answers/@NAME@/wrong-clock-ticks.rs",
    ),
];

/// What `new-exercise` is asked for.
#[derive(Debug, Clone)]
pub struct NewExercise {
    /// The package's name, also its folder under `exercises/`.
    pub name: String,
    /// What the lesson calls it ("exercise 4, guard pages").
    pub title: String,
    /// The package it comes after in the lesson's order; `None`: after the last under
    /// `exercises/`.
    pub after: Option<String>,
}

impl NewExercise {
    /// The crate's name in Rust code.
    fn crate_name(&self) -> String {
        self.name.replace('-', "_")
    }

    /// `text` with the placeholders filled in.
    fn fill(&self, text: &str) -> String {
        text.replace("@NAME@", &self.name)
            .replace("@CRATE@", &self.crate_name())
            .replace("@TITLE@", &self.title)
    }

    /// Its folder, relative to the workspace root.
    fn folder(&self) -> String {
        format!("exercises/{}", self.name)
    }
}

/// Whether `name` can be a package name that is also a folder and a crate: lowercase letters,
/// digits and `-`, starting with a letter.
fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

/// The root `Cargo.toml`'s text with `folder` and its learner's package, `folder/learn`, added
/// to its members right after the member whose last component is `after` and the members
/// inside it (or after the last under `exercises/`).
///
/// # Errors
/// When there is no such member, or `folder` is one already.
pub fn with_member(manifest: &str, folder: &str, after: Option<&str>) -> Result<String> {
    let member = |line: &str| -> Option<String> {
        let text = line.trim().trim_end_matches(',');
        let inner = text.strip_prefix('"')?.strip_suffix('"')?;
        Some(inner.to_owned())
    };
    let lines: Vec<&str> = manifest.lines().collect();
    let members: Vec<(usize, String)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| member(l).map(|m| (i, m)))
        .collect();
    if members.iter().any(|(_, m)| m == folder) {
        bail!("{folder} is already a member of the workspace");
    }
    let place = match after {
        Some(after) => {
            let (_, package) = members
                .iter()
                .find(|(_, m)| m.rsplit('/').next() == Some(after))
                .with_context(|| format!("no member of the workspace is called {after}"))?;
            let inside = format!("{package}/");
            members
                .iter()
                .rfind(|(_, m)| m == package || m.starts_with(&inside))
                .context("the member is gone")?
        }
        None => members
            .iter()
            .rfind(|(_, m)| m.starts_with("exercises/"))
            .context("no member of the workspace is under exercises/; say where with --after")?,
    };
    let line = lines[place.0];
    let indent = &line[..line.len() - line.trim_start().len()];
    let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    out.insert(place.0 + 1, format!("{indent}\"{folder}\","));
    out.insert(place.0 + 2, format!("{indent}\"{folder}/learn\","));
    Ok(out.join("\n") + "\n")
}

/// Writes the exercise into `root`'s workspace, without its template and snapshot (see
/// [`new_exercise`]). Returns the files written.
///
/// # Errors
/// When the name is not one, the exercise exists, or a file cannot be written.
pub fn write_files(root: &Path, new: &NewExercise) -> Result<Vec<PathBuf>> {
    if !valid_name(&new.name) {
        bail!(
            "`{}` cannot name an exercise: use lowercase letters, digits and `-`, starting \
             with a letter (ex4-mprotect)",
            new.name
        );
    }
    let folder = root.join(new.folder());
    if folder.exists() {
        bail!("{} exists already", folder.display());
    }
    let answers = root.join("xtask/answers").join(&new.name);
    if answers.exists() {
        bail!("{} exists already", answers.display());
    }
    let cargo_toml = root.join("Cargo.toml");
    let manifest = std::fs::read_to_string(&cargo_toml)
        .with_context(|| format!("cannot read {}", cargo_toml.display()))?;
    let manifest = with_member(&manifest, &new.folder(), new.after.as_deref())?;
    let mut written = Vec::new();
    for (source, text, destination) in FILES {
        let path = match destination.strip_prefix('/') {
            Some(from_root) => root.join(new.fill(from_root)),
            None => folder.join(destination),
        };
        let dir = path.parent().context("a file without a folder")?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::write(&path, new.fill(text))
            .with_context(|| format!("cannot write {} (from {source})", path.display()))?;
        written.push(path);
    }
    std::fs::write(&cargo_toml, manifest)
        .with_context(|| format!("cannot write {}", cargo_toml.display()))?;
    Ok(written)
}

/// `cargo xtask new-exercise NAME`: writes the exercise, its template (from its reference, as
/// `cargo xtask templates` does) and its snapshot (`cargo xtask check NAME --bless`), and says
/// what to do next.
///
/// # Errors
/// As [`write_files`], or when the template or the snapshot cannot be written.
pub fn new_exercise(new: &NewExercise) -> Result<bool> {
    let workspace = Workspace::here();
    for path in write_files(&workspace.root, new)? {
        println!("new-exercise: wrote {}", shown(&workspace.root, &path));
    }
    // The catalogue of this process was read before the package existed: the template is
    // written from what its manifest says.
    let folder = new.folder();
    let exercise = Exercise {
        name: new.name.clone(),
        title: new.title.clone(),
        binary: format!("{}-learn", new.name),
        reference: format!("{folder}/src/parts.rs"),
        template: format!("{folder}/learn/parts.rs"),
        snapshot: new.name.clone(),
    };
    let template = xtask::learn::fresh_template(&workspace, &exercise)?;
    let path = workspace.template(&exercise);
    std::fs::write(&path, template).with_context(|| format!("cannot write {}", path.display()))?;
    println!("new-exercise: wrote {}", shown(&workspace.root, &path));
    println!("new-exercise: added {folder} and {folder}/learn to the workspace's members");
    println!(
        "new-exercise: blessing its snapshot (cargo xtask check {} --bless)",
        new.name
    );
    let status = Command::new(run::cargo())
        .current_dir(&workspace.root)
        .args(["xtask", "check", &new.name, "--bless"])
        .status()
        .context("failed to run `cargo xtask check --bless`")?;
    if !status.success() {
        println!("new-exercise: FAILED: its snapshot was not written ({status})");
        return Ok(false);
    }
    println!(
        "new-exercise: done. Next: cargo xtask check-all, cargo xtask learn, cargo xtask learn \
         --verify {}; docs/authoring.md says what each file holds",
        new.name
    );
    Ok(true)
}

fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "[workspace]\nmembers = [\n    \"crates/lesson\",\n    \
                            \"exercises/ex1-a\",\n    \"exercises/ex1-a/learn\",\n    \
                            \"exercises/ex2-b\",\n    \"exercises/ex2-b/learn\",\n    \
                            \"milestone\",\n]\n";

    #[test]
    fn the_members_go_where_after_says_or_after_the_last_exercise() {
        let new = "\"exercises/ex9\",\n    \"exercises/ex9/learn\",\n";
        let after_first = with_member(MANIFEST, "exercises/ex9", Some("ex1-a")).unwrap();
        assert!(after_first.contains(&format!(
            "\"exercises/ex1-a/learn\",\n    {new}    \"exercises/ex2-b\""
        )));
        let last = with_member(MANIFEST, "exercises/ex9", None).unwrap();
        assert!(last.contains(&format!(
            "\"exercises/ex2-b/learn\",\n    {new}    \"milestone\""
        )));
        assert!(with_member(MANIFEST, "exercises/ex9", Some("nothing")).is_err());
        assert!(with_member(MANIFEST, "exercises/ex2-b", None).is_err());
    }

    #[test]
    fn a_name_is_a_package_a_folder_and_a_crate() {
        assert!(valid_name("ex4-mprotect"));
        for bad in ["", "Ex4", "4ex", "ex4_x", "ex 4", "ex4-", "../ex4"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    /// Every placeholder of every file is filled in.
    #[test]
    fn every_file_is_filled_in() {
        let new = NewExercise {
            name: "ex9-page".to_owned(),
            title: "exercise 9, the page".to_owned(),
            after: None,
        };
        for (source, text, destination) in FILES {
            let filled = new.fill(text);
            assert!(!filled.contains('@'), "{source}: {filled}");
            assert!(!new.fill(destination).contains('@'));
        }
    }
}
