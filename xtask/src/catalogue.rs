//! The lesson's catalogue: the runs that `check-all` compares with their snapshots, in the
//! order a learner meets them, the runs `memcheck` makes, and the exercises whose core the
//! learner writes (`cargo xtask learn`).
//!
//! They are described once, in each package's `Cargo.toml` (`[package.metadata.lesson]`, with
//! the package's description as what it shows), and read here with `cargo metadata`. The
//! lesson's order is the order of the workspace's `members` in the root `Cargo.toml`: inserting
//! an exercise is one line there, and renumbers nothing.

use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;

use crate::run;

/// One run that `check-all` checks against a snapshot.
#[derive(Debug, Clone)]
pub struct SnapshotRun {
    /// The name `check NAME` takes and the output reports.
    pub name: String,
    /// The binary to run (`cargo run --bin BINARY`).
    pub binary: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// The snapshot its address pattern is compared with (several runs may share one).
    pub snapshot: String,
    /// The README that shows the expected output, relative to the workspace root, if any.
    pub readme: Option<String>,
    /// One line on what it shows.
    pub shows: String,
}

impl SnapshotRun {
    /// Its arguments, as `&str`s.
    pub fn arg_strs(&self) -> Vec<&str> {
        self.args.iter().map(String::as_str).collect()
    }
}

/// One run that `cargo xtask memcheck` makes under valgrind
/// (`[[package.metadata.lesson.memcheck]]`).
#[derive(Debug, Clone)]
pub struct MemcheckRun {
    /// What the report calls it.
    pub name: String,
    /// The binary to run.
    pub binary: String,
    /// Its arguments.
    pub args: Vec<String>,
}

/// An exercise whose core the learner writes: a template of parts, run by the lesson's own
/// driver as the binary of a package of its own (`learn/Cargo.toml`), of the same name.
#[derive(Debug, Clone)]
pub struct Exercise {
    /// The name learners type (`cargo xtask hint ex2-sbrk`); also the package.
    pub name: String,
    /// What the lesson calls it.
    pub title: String,
    /// The binary that runs the learner's parts, and the package that holds it.
    pub binary: String,
    /// The reference parts, relative to the workspace root.
    pub reference: String,
    /// The learner's file, written from the reference.
    pub template: String,
    /// The snapshot the learner's run is compared with.
    pub snapshot: String,
}

/// Everything `[package.metadata.lesson]` says, in the lesson's order.
#[derive(Debug, Default)]
struct Catalogue {
    runs: Vec<SnapshotRun>,
    exercises: Vec<Exercise>,
    memcheck: Vec<MemcheckRun>,
}

/// `[package.metadata.lesson]` as a package's `Cargo.toml` writes it. A key it does not know is
/// an error, so that a misspelt one is not silently left unread.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LessonMetadata {
    /// `[[package.metadata.lesson.runs]]`: the runs `check-all` checks.
    #[serde(default)]
    runs: Vec<RunMetadata>,
    /// `[[package.metadata.lesson.memcheck]]`: the runs `memcheck` makes.
    #[serde(default)]
    memcheck: Vec<MemcheckMetadata>,
    /// `[package.metadata.lesson.learn]`: the package is an exercise.
    learn: Option<LearnMetadata>,
}

/// One of `[[package.metadata.lesson.runs]]`; see [`SnapshotRun`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunMetadata {
    name: String,
    binary: String,
    #[serde(default)]
    args: Vec<String>,
    snapshot: String,
    /// Relative to the package's folder.
    readme: Option<String>,
    /// The package's description when absent.
    shows: Option<String>,
}

/// One of `[[package.metadata.lesson.memcheck]]`; see [`MemcheckRun`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemcheckMetadata {
    name: String,
    binary: String,
    #[serde(default)]
    args: Vec<String>,
}

/// `[package.metadata.lesson.learn]`; see [`Exercise`]. Its files are relative to the package's
/// folder.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LearnMetadata {
    title: String,
    binary: String,
    reference: String,
    template: String,
    snapshot: String,
}

fn text(value: &Value, key: &str, package: &str) -> Result<String> {
    value[key]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("{package}: [package.metadata.lesson] has no {key}"))
}

/// The workspace's members, in the order the root `Cargo.toml` lists them (folders relative to
/// the root): the lesson's order.
fn members(root: &std::path::Path) -> Result<Vec<String>> {
    let path = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let manifest: toml::Table = text
        .parse()
        .with_context(|| format!("{} is not TOML", path.display()))?;
    let members = manifest
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(toml::Value::as_array)
        .context("the root Cargo.toml has no [workspace] members")?;
    Ok(members
        .iter()
        .filter_map(toml::Value::as_str)
        .map(|m| m.trim_end_matches('/').to_owned())
        .collect())
}

/// The folder of `package`, relative to `root`.
fn folder_of(package: &Value, root: &std::path::Path, name: &str) -> Result<String> {
    let manifest = package["manifest_path"].as_str().unwrap_or_default();
    std::path::Path::new(manifest)
        .parent()
        .and_then(|f| f.strip_prefix(root).ok())
        .map(|f| f.display().to_string())
        .with_context(|| format!("{name} is not inside the workspace"))
}

/// The packages that describe a part of the lesson (`[package.metadata.lesson]`), each with its
/// folder, in the order of `members`.
fn in_lesson_order<'a>(
    doc: &'a Value,
    root: &std::path::Path,
    members: &[String],
) -> Result<Vec<(String, &'a Value)>> {
    let mut packages = Vec::new();
    for package in doc["packages"]
        .as_array()
        .context("cargo metadata lists no packages")?
    {
        let lesson = &package["metadata"]["lesson"];
        if !lesson.is_object() {
            continue;
        }
        let name = text(package, "name", "a package")?;
        if !lesson["order"].is_null() {
            bail!(
                "{name}: [package.metadata.lesson] has `order`, which nothing reads: the \
                 lesson's order is the order of the members in the root Cargo.toml"
            );
        }
        let folder = folder_of(package, root, &name)?;
        let place = members.iter().position(|m| *m == folder).with_context(|| {
            format!("{name} ({folder}) is not in the root Cargo.toml's [workspace] members")
        })?;
        packages.push((place, folder, package));
    }
    packages.sort_by_key(|(place, _, _)| *place);
    Ok(packages
        .into_iter()
        .map(|(_, folder, package)| (folder, package))
        .collect())
}

/// Reads the catalogue from `cargo metadata`'s document and the root's `members`.
fn read(doc: &Value, root: &std::path::Path, members: &[String]) -> Result<Catalogue> {
    let mut catalogue = Catalogue::default();
    for (folder, package) in in_lesson_order(doc, root, members)? {
        let name = text(package, "name", "a package")?;
        let lesson = LessonMetadata::deserialize(&package["metadata"]["lesson"])
            .with_context(|| format!("{name}: [package.metadata.lesson] is wrong"))?;
        let from_root = |file: &str| format!("{folder}/{file}");
        let description = text(package, "description", &name)?;
        catalogue
            .runs
            .extend(lesson.runs.into_iter().map(|run| SnapshotRun {
                name: run.name,
                binary: run.binary,
                args: run.args,
                snapshot: run.snapshot,
                readme: run.readme.as_deref().map(from_root),
                shows: run.shows.unwrap_or_else(|| description.clone()),
            }));
        catalogue
            .memcheck
            .extend(lesson.memcheck.into_iter().map(|run| MemcheckRun {
                name: run.name,
                binary: run.binary,
                args: run.args,
            }));
        if let Some(learn) = lesson.learn {
            catalogue.exercises.push(Exercise {
                name: name.clone(),
                title: learn.title,
                binary: learn.binary,
                reference: from_root(&learn.reference),
                template: from_root(&learn.template),
                snapshot: learn.snapshot,
            });
        }
    }
    if catalogue.runs.is_empty() {
        bail!("no package has [package.metadata.lesson] runs");
    }
    Ok(catalogue)
}

/// Reads the catalogue once: `cargo metadata` and the root's `members`.
fn read_once() -> &'static std::result::Result<Catalogue, String> {
    static CATALOGUE: OnceLock<std::result::Result<Catalogue, String>> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        let root = run::root();
        let doc = run::metadata()
            .ok_or("`cargo metadata` failed, so the lesson binaries are unknown".to_owned())?;
        members(&root)
            .and_then(|members| read(doc, &root, &members))
            .map_err(|error| {
                format!("the lesson catalogue in the Cargo.toml files is wrong: {error:#}")
            })
    })
}

/// Reads the lesson catalogue, or says why it cannot be read: `main` calls it first, so that a
/// wrong `[package.metadata.lesson]` is an error of the command, with its cause.
///
/// # Errors
/// When `cargo metadata` fails, or a package's `[package.metadata.lesson]` is wrong.
pub fn load() -> Result<()> {
    match read_once() {
        Ok(_) => Ok(()),
        Err(why) => bail!("{why}"),
    }
}

/// The catalogue, read by [`load`] already in every command; should it be wrong here still, the
/// command ends as [`load`] would have ended it.
fn loaded() -> &'static Catalogue {
    match read_once() {
        Ok(catalogue) => catalogue,
        Err(why) => {
            eprintln!("xtask: {why}");
            std::process::exit(2);
        }
    }
}

/// Every run `check-all` checks, in the lesson's order.
pub fn snapshot_runs() -> &'static [SnapshotRun] {
    &loaded().runs
}

/// The run called `name`.
pub fn find(name: &str) -> Option<&'static SnapshotRun> {
    snapshot_runs().iter().find(|l| l.name == name)
}

/// The runs `cargo xtask memcheck` makes, in the lesson's order.
pub fn memcheck_runs() -> &'static [MemcheckRun] {
    &loaded().memcheck
}

/// The exercises of learner mode, in the lesson's order.
pub fn exercises() -> &'static [Exercise] {
    &loaded().exercises
}

/// The exercise called `name`.
pub fn exercise(name: &str) -> Option<&'static Exercise> {
    exercises().iter().find(|e| e.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A `cargo metadata` document of packages in the folders `folders` under `/w`, each with
    /// one run.
    fn doc_with(folders: &[&str]) -> Value {
        let packages: Vec<Value> = folders
            .iter()
            .map(|folder| {
                let name = folder.rsplit('/').next().unwrap();
                json!({
                    "name": name,
                    "description": format!("what {name} shows"),
                    "manifest_path": format!("/w/{folder}/Cargo.toml"),
                    "metadata": {"lesson": {"runs": [
                        {"name": name, "binary": name, "snapshot": name}
                    ]}},
                })
            })
            .collect();
        json!({ "packages": packages })
    }

    fn names(catalogue: &Catalogue) -> Vec<&str> {
        catalogue.runs.iter().map(|r| r.name.as_str()).collect()
    }

    /// The members' order is the lesson's, whatever order cargo lists the packages in.
    #[test]
    fn memcheck_runs_are_read_from_the_package_that_names_them() {
        let mut doc = doc_with(&["exercises/a", "milestone"]);
        doc["packages"][1]["metadata"]["lesson"]["memcheck"] = json!([
            {"name": "milestone", "binary": "milestone"},
            {"name": "milestone (big)", "binary": "milestone", "args": ["100000", "7"]},
        ]);
        let members = ["exercises/a", "milestone"].map(str::to_owned);
        let catalogue = read(&doc, std::path::Path::new("/w"), &members).unwrap();
        let runs: Vec<(&str, &str, Vec<&str>)> = catalogue
            .memcheck
            .iter()
            .map(|r| {
                let args = r.args.iter().map(String::as_str).collect();
                (r.name.as_str(), r.binary.as_str(), args)
            })
            .collect();
        assert_eq!(
            runs,
            [
                ("milestone", "milestone", vec![]),
                ("milestone (big)", "milestone", vec!["100000", "7"]),
            ]
        );
        doc["packages"][0]["metadata"]["lesson"]["memcheck"] = json!([{"binary": "a"}]);
        let error = read(&doc, std::path::Path::new("/w"), &members).unwrap_err();
        let said = format!("{error:#}");
        assert!(
            said.contains("a: [package.metadata.lesson] is wrong"),
            "{said}"
        );
        assert!(said.contains("missing field `name`"), "{said}");
    }

    /// A misspelt key is an error, not a key silently left unread.
    #[test]
    fn a_key_the_catalogue_does_not_know_is_an_error() {
        let mut doc = doc_with(&["exercises/a"]);
        doc["packages"][0]["metadata"]["lesson"]["runs"][0]["snapshto"] = json!("a");
        let members = ["exercises/a"].map(str::to_owned);
        let said = format!(
            "{:#}",
            read(&doc, std::path::Path::new("/w"), &members).unwrap_err()
        );
        assert!(said.contains("unknown field `snapshto`"), "{said}");
    }

    #[test]
    fn the_lesson_is_in_the_order_of_the_members() {
        let root = std::path::Path::new("/w");
        let members = [
            "crates/x",
            "exercises/a",
            "exercises/b",
            "milestone",
            "xtask",
        ]
        .map(str::to_owned);
        let listed = doc_with(&["exercises/b", "exercises/a", "milestone"]);
        assert_eq!(
            names(&read(&listed, root, &members).unwrap()),
            ["a", "b", "milestone"]
        );
        // Inserting an exercise is one member more; nothing else moves.
        let inserted =
            ["exercises/a", "exercises/c", "exercises/b", "milestone"].map(str::to_owned);
        let listed = doc_with(&["exercises/b", "exercises/c", "exercises/a", "milestone"]);
        assert_eq!(
            names(&read(&listed, root, &inserted).unwrap()),
            ["a", "c", "b", "milestone"]
        );
    }

    /// A package the members do not list, or one that still says `order`, is refused, not
    /// placed by chance.
    #[test]
    fn a_package_out_of_the_members_or_with_an_order_is_refused() {
        let root = std::path::Path::new("/w");
        let members = ["exercises/a".to_owned()];
        let error = read(&doc_with(&["exercises/a", "exercises/z"]), root, &members).unwrap_err();
        assert!(
            format!("{error:#}").contains("z (exercises/z) is not in"),
            "{error:#}"
        );
        let mut ordered = doc_with(&["exercises/a"]);
        ordered["packages"][0]["metadata"]["lesson"]["order"] = json!(3);
        let error = read(&ordered, root, &members).unwrap_err();
        assert!(format!("{error:#}").contains("has `order`"), "{error:#}");
    }

    /// This workspace: every exercise has the run its learner's run is compared with, and the
    /// paths are the package's own.
    #[test]
    fn every_exercise_of_the_workspace_has_its_reference_run() {
        assert!(!snapshot_runs().is_empty());
        for exercise in exercises() {
            assert!(
                snapshot_runs()
                    .iter()
                    .any(|l| l.snapshot == exercise.snapshot),
                "{}: no run has the snapshot {}",
                exercise.name,
                exercise.snapshot
            );
            assert!(run::root().join(&exercise.template).exists());
            assert!(run::root().join(&exercise.reference).exists());
        }
    }
}
