//! The learner's files: the hint for the next part, the templates written from the
//! references, and bringing a file back as its template.

use std::path::Path;

use anyhow::{Context, Result};

use super::Workspace;
use crate::catalogue::{Exercise, exercises};
use crate::template;

/// How much a hint says: three rungs, each more than the part's doc comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rung {
    /// The idea, the one call and how it fails, and the man page.
    Idea,
    /// The shape of the code in words: the order of the checks, what to compute first.
    Shape,
    /// The code.
    Code,
}

/// `cargo xtask hint NAME [--shape | --more] [--all]`: the hint for the part that failed last,
/// or the next part still to do; or every hint. A hint comes in three rungs: first the idea;
/// then, with `--shape`, the shape of the code; then, with `--more`, the code.
///
/// # Errors
/// When the exercise is unknown or its files cannot be read.
pub fn hint(workspace: &Workspace, name: &str, all: bool, rung: Rung) -> Result<()> {
    let exercise = find(name)?;
    let reference = read(&workspace.root.join(&exercise.reference))?;
    let parts = template::parts(&reference)
        .with_context(|| format!("{} is not a well-marked reference", &exercise.reference))?;
    let show = |part: &template::Part| {
        let (kind, text) = match rung {
            Rung::Idea => ("The idea for", &part.idea),
            Rung::Shape => ("The shape of", &part.shape),
            Rung::Code => ("The code for", &part.hint),
        };
        println!("{kind} `{}` ({}):", part.name, &exercise.name);
        print_wrapped(&text.join(" "));
        match rung {
            Rung::Idea => println!(
                "  (Stuck after trying it? `cargo xtask hint {} --shape` gives the shape of \
                 the code,\n  and `--more` the code.)",
                &exercise.name
            ),
            Rung::Shape => println!(
                "  (Still stuck? `cargo xtask hint {} --more` shows the code.)",
                &exercise.name
            ),
            Rung::Code => {}
        }
    };
    if all {
        for part in &parts {
            show(part);
        }
        return Ok(());
    }
    if let Some((failed, words)) = failed_part(workspace, exercise)
        && let Some(part) = parts.iter().find(|p| p.name == failed)
    {
        println!(
            "Your `{failed}` failed the last time `cargo xtask learn` ran (`--all` shows every hint)."
        );
        if let Some(cause) = part.cause_of(&words) {
            println!("Where that failure most likely comes from:");
            print_wrapped(&cause.cause.join(" "));
        }
        show(part);
        return Ok(());
    }
    let mine = read(&workspace.template(exercise))?;
    match template::first_todo(&mine) {
        None => println!(
            "Every part of {} is written: run `cargo xtask learn` to see whether it holds \
             (`cargo xtask hint {} --all` shows every hint).",
            &exercise.name, &exercise.name
        ),
        Some((line, function)) => {
            let part = function
                .as_deref()
                .and_then(|f| parts.iter().find(|p| p.name == f));
            match part {
                Some(part) => show(part),
                None => {
                    println!(
                        "{}:{line} is still todo!(), in no part this exercise knows; every hint:",
                        &exercise.template
                    );
                    for part in &parts {
                        show(part);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Prints `text` indented by two spaces, in lines of at most 96 columns; a numbered step
/// (`2.`) starts a line of its own.
fn print_wrapped(text: &str) {
    let mut line = String::from(" ");
    for word in text.split_whitespace() {
        // A shape's numbered steps start lines of their own.
        let step = word.len() > 1
            && word.ends_with('.')
            && word[..word.len() - 1].bytes().all(|b| b.is_ascii_digit());
        if line.len() + word.len() > 96 || (step && line.len() > 1) {
            println!("{line}");
            line = String::from(" ");
        }
        line.push(' ');
        line.push_str(word);
    }
    println!("{line}");
}

pub(super) fn find(name: &str) -> Result<&'static Exercise> {
    crate::catalogue::exercise(name).with_context(|| {
        let names: Vec<_> = exercises().iter().map(|e| e.name.as_str()).collect();
        let names = names.join(", ");
        match crate::catalogue::find(name) {
            Some(run) if run.binary == name => format!(
                "{name} has no part for you to write (run it with `cargo run -p {name}`); \
                 the exercises with parts are {names}"
            ),
            _ => format!("no exercise {name}; the exercises are {names}"),
        }
    })
}

/// Where `learn` notes the part that failed last in `exercise`, for `hint`.
fn failed_part_file(workspace: &Workspace, exercise: &Exercise) -> std::path::PathBuf {
    workspace
        .target
        .join("learn")
        .join(format!("{}.failed-part", &exercise.name))
}

/// Notes the part of `exercise` that failed in the run just judged, or that none did. A note
/// that cannot be written only costs `hint` its aim, so the error is ignored.
/// The note holds the part's name on its first line, and the failure's words (its claim and
/// what happened instead) after it, for the hint to find the failure's cause.
pub(super) fn remember_failed_part(
    workspace: &Workspace,
    exercise: &Exercise,
    failed: Option<(&str, String)>,
) {
    let file = failed_part_file(workspace, exercise);
    let _ = match failed {
        Some((part, words)) => std::fs::write(&file, format!("{part}\n{words}")),
        None => std::fs::remove_file(&file),
    };
}

/// The part of `exercise` that failed the last time `learn` ran, if one did, and the words of
/// that failure.
fn failed_part(workspace: &Workspace, exercise: &Exercise) -> Option<(String, String)> {
    let note = std::fs::read_to_string(failed_part_file(workspace, exercise)).ok()?;
    let (part, words) = note.split_once('\n').unwrap_or((&note, ""));
    Some((part.trim().to_owned(), words.to_owned())).filter(|(p, _)| !p.is_empty())
}

pub(super) fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The template of `exercise`, written fresh from its reference.
///
/// # Errors
/// When the reference cannot be read or is badly marked.
pub fn fresh_template(workspace: &Workspace, exercise: &Exercise) -> Result<String> {
    let reference = read(&workspace.root.join(&exercise.reference))?;
    template::template(
        &reference,
        &exercise.name,
        &exercise.title,
        &exercise.reference,
    )
    .with_context(|| format!("{} is not a well-marked reference", &exercise.reference))
}

/// Writes the template of `exercise`, unless the file holds something else and `yes` is not
/// given; a file that is replaced is first copied under `target/learn-saved/`. Returns whether
/// the file now is the template.
///
/// # Errors
/// When a file cannot be read or written.
pub fn write_template(workspace: &Workspace, exercise: &Exercise, yes: bool) -> Result<bool> {
    let fresh = fresh_template(workspace, exercise)?;
    let path = workspace.template(exercise);
    let current = std::fs::read_to_string(&path).ok();
    match current {
        Some(current) if current == fresh => {
            println!(
                "{}: already the template; nothing to do",
                &exercise.template
            );
            return Ok(true);
        }
        Some(current) => {
            if !yes {
                println!(
                    "{}: not replaced: it differs from the template, so it may hold your work. \
                     Add --yes to replace it (a copy is kept under target/learn-saved/).",
                    &exercise.template
                );
                return Ok(false);
            }
            let saved_dir = workspace.target.join("learn-saved");
            std::fs::create_dir_all(&saved_dir)
                .with_context(|| format!("cannot create {}", saved_dir.display()))?;
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let saved = saved_dir.join(format!("{}-{stamp}.rs", &exercise.name));
            std::fs::write(&saved, current)
                .with_context(|| format!("cannot write {}", saved.display()))?;
            println!(
                "{}: your version is kept at {}",
                &exercise.template,
                saved.display()
            );
        }
        None => {}
    }
    std::fs::write(&path, fresh).with_context(|| format!("cannot write {}", path.display()))?;
    println!(
        "{}: written from {}",
        &exercise.template, &exercise.reference
    );
    Ok(true)
}

/// `cargo xtask learn --reset NAME [--yes]`.
///
/// # Errors
/// As [`write_template`], or for an unknown exercise.
pub fn reset(workspace: &Workspace, name: &str, yes: bool) -> Result<bool> {
    write_template(workspace, find(name)?, yes)
}

/// `cargo xtask templates [--yes]`: writes every template from its reference.
///
/// # Errors
/// As [`write_template`].
pub fn templates(workspace: &Workspace, yes: bool) -> Result<bool> {
    let mut all = true;
    for exercise in exercises() {
        all &= write_template(workspace, exercise, yes)?;
    }
    Ok(all)
}

/// The header the template asks the learner to delete once every part is written.
pub(crate) const ALLOW_HEADER: &str = "#![allow(unused_variables, unused_imports, dead_code)]";
