//! The lesson binaries that `check-all` runs, in the order a learner meets them, and the
//! exercises whose core the learner writes (`cargo xtask learn`).
//!
//! They are described once, in each package's `Cargo.toml` (`[package.metadata.lesson]`, with
//! the package's description as what it shows), and read here with `cargo metadata`.

use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::run;

/// One run that `check-all` checks against a snapshot.
#[derive(Debug, Clone)]
pub struct LessonBinary {
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

impl LessonBinary {
    /// Its arguments, as `&str`s.
    pub fn arg_strs(&self) -> Vec<&str> {
        self.args.iter().map(String::as_str).collect()
    }
}

/// An exercise whose core the learner writes: a template of parts, run by the lesson's own
/// driver as a second binary.
#[derive(Debug, Clone)]
pub struct Exercise {
    /// The name learners type (`cargo xtask hint ex2-sbrk`); also the package.
    pub name: String,
    /// What the lesson calls it.
    pub title: String,
    /// The binary that runs the learner's parts.
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
    runs: Vec<LessonBinary>,
    exercises: Vec<Exercise>,
}

fn text(value: &Value, key: &str, package: &str) -> Result<String> {
    value[key]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("{package}: [package.metadata.lesson] has no {key}"))
}

/// Reads the catalogue from `cargo metadata`'s document.
fn read(doc: &Value) -> Result<Catalogue> {
    let root = run::root();
    let mut packages: Vec<(u64, &Value)> = doc["packages"]
        .as_array()
        .context("cargo metadata lists no packages")?
        .iter()
        .filter_map(|p| {
            let lesson = &p["metadata"]["lesson"];
            lesson["order"].as_u64().map(|order| (order, p))
        })
        .collect();
    packages.sort_by_key(|(order, _)| *order);
    let mut catalogue = Catalogue::default();
    for (_, package) in packages {
        let name = text(package, "name", "a package")?;
        let lesson = &package["metadata"]["lesson"];
        let manifest = package["manifest_path"].as_str().unwrap_or_default();
        let folder = std::path::Path::new(manifest)
            .parent()
            .and_then(|f| f.strip_prefix(&root).ok())
            .map(|f| f.display().to_string())
            .with_context(|| format!("{name} is not inside the workspace"))?;
        let from_root = |file: String| format!("{folder}/{file}");
        let description = text(package, "description", &name)?;
        for run in lesson["runs"].as_array().into_iter().flatten() {
            catalogue.runs.push(LessonBinary {
                name: text(run, "name", &name)?,
                binary: text(run, "binary", &name)?,
                args: run["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .collect(),
                snapshot: text(run, "snapshot", &name)?,
                readme: run["readme"].as_str().map(|r| from_root(r.to_owned())),
                shows: run["shows"]
                    .as_str()
                    .map_or_else(|| description.clone(), str::to_owned),
            });
        }
        let learn = &lesson["learn"];
        if learn.is_object() {
            catalogue.exercises.push(Exercise {
                name: name.clone(),
                title: text(learn, "title", &name)?,
                binary: text(learn, "binary", &name)?,
                reference: from_root(text(learn, "reference", &name)?),
                template: from_root(text(learn, "template", &name)?),
                snapshot: text(learn, "snapshot", &name)?,
            });
        }
    }
    if catalogue.runs.is_empty() {
        bail!("no package has [package.metadata.lesson] runs");
    }
    Ok(catalogue)
}

fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        let doc = run::metadata();
        match doc.map(read) {
            Some(Ok(catalogue)) => catalogue,
            Some(Err(error)) => {
                eprintln!(
                    "xtask: the lesson catalogue in the Cargo.toml files is wrong: {error:#}"
                );
                std::process::exit(2);
            }
            None => {
                eprintln!("xtask: `cargo metadata` failed, so the lesson binaries are unknown");
                std::process::exit(2);
            }
        }
    })
}

/// Every run `check-all` checks, in the lesson's order.
pub fn lessons() -> &'static [LessonBinary] {
    &catalogue().runs
}

/// The run called `name`.
pub fn find(name: &str) -> Option<&'static LessonBinary> {
    lessons().iter().find(|l| l.name == name)
}

/// The exercises of learner mode, in the lesson's order.
pub fn exercises() -> &'static [Exercise] {
    &catalogue().exercises
}

/// The exercise called `name`.
pub fn exercise(name: &str) -> Option<&'static Exercise> {
    exercises().iter().find(|e| e.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The workspace describes every lesson binary and exercise, in the lesson's order.
    #[test]
    fn the_catalogue_lists_the_lesson_in_order() {
        let names: Vec<&str> = lessons().iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ex0-virtual-memory",
                "ex1-segments",
                "ex2-sbrk",
                "ex3-mmap",
                "milestone",
                "milestone-contract",
                "milestone-contract-library"
            ]
        );
        let exercises: Vec<&str> = exercises().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            exercises,
            ["ex1-segments", "ex2-sbrk", "ex3-mmap", "milestone"]
        );
        let ex2 = exercise("ex2-sbrk").unwrap();
        assert_eq!(ex2.template, "exercises/ex2-sbrk/learn/parts.rs");
        let contract = find("milestone-contract").unwrap();
        assert_eq!(contract.args, ["contract"]);
        assert_eq!(
            contract.readme.as_deref(),
            Some("milestone/learn/README.md")
        );
        assert_eq!(
            find("ex2-sbrk").unwrap().shows,
            "the program break, grown with sbrk, written, read back and given back"
        );
    }
}
