//! The learner's templates, written from the reference parts, never by hand.
//!
//! A reference parts file (`src/parts.rs`) marks each part's body:
//!
//! ```text
//! pub fn current_break() -> *mut u8 {
//!     // ANCHOR: current_break
//!     // IDEA: what `cargo xtask hint` prints first: the idea, the one call and how it fails.
//!     // SHAPE: what `cargo xtask hint --shape` prints: the code's shape, in words.
//!     // HINT: what `cargo xtask hint --more` prints: the code,
//!     // HINT: over as many lines as it needs.
//!     // WHEN: words of a failure (its claim, or what happened instead), and
//!     // CAUSE: what `cargo xtask hint` says after a failure with those words: its cause.
//!     unsafe { libc::sbrk(0) }.cast()
//!     // ANCHOR_END: current_break
//! }
//! ```
//!
//! The template (`learn/parts.rs`) is the same file with a header of its own in place of the
//! reference's module doc, and each marked body, hints included, replaced by `todo!()`.

use anyhow::{Result, bail};

/// One part of a reference file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Its name (the function's).
    pub name: String,
    /// Its idea, the first hint: one string per line.
    pub idea: Vec<String>,
    /// The shape of its code in words (the order of the checks, what to compute first), the
    /// second hint: one string per line.
    pub shape: Vec<String>,
    /// Its hint with the code, the third: one string per line.
    pub hint: Vec<String>,
    /// What a failure of this part most likely comes from, keyed by words of the failure.
    pub causes: Vec<Cause>,
}

/// A failure's likely cause, for the hint after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// Words the failure's claim, or what happened instead, holds (`past a multiple of`).
    pub when: String,
    /// Where such a failure comes from and how to remove it: one string per line.
    pub cause: Vec<String>,
}

impl Part {
    /// The cause of a failure that said `failure`, if the part names one for it.
    pub fn cause_of(&self, failure: &str) -> Option<&Cause> {
        let failure = failure.to_lowercase();
        self.causes
            .iter()
            .find(|c| failure.contains(&c.when.to_lowercase()))
    }
}

const ANCHOR: &str = "// ANCHOR: ";
const ANCHOR_END: &str = "// ANCHOR_END: ";
const HINT: &str = "// HINT:";
const IDEA: &str = "// IDEA:";
const SHAPE: &str = "// SHAPE:";
const WHEN: &str = "// WHEN:";
const CAUSE: &str = "// CAUSE:";

/// The parts of a reference file, in order, with their hints.
///
/// # Errors
/// When an anchor is unclosed, closed under another name, nested, or named twice, or a part has
/// no hint.
pub fn parts(reference: &str) -> Result<Vec<Part>> {
    let mut parts: Vec<Part> = Vec::new();
    let mut open: Option<Part> = None;
    for (i, line) in reference.lines().enumerate() {
        let text = line.trim_start();
        let at = i + 1;
        if let Some(name) = text.strip_prefix(ANCHOR) {
            if let Some(part) = &open {
                bail!("line {at}: part `{name}` opens inside part `{}`", part.name);
            }
            if parts.iter().any(|p| p.name == name) {
                bail!("line {at}: part `{name}` is marked twice");
            }
            open = Some(Part {
                name: name.trim().to_owned(),
                idea: Vec::new(),
                shape: Vec::new(),
                hint: Vec::new(),
                causes: Vec::new(),
            });
        } else if let Some(name) = text.strip_prefix(ANCHOR_END) {
            match open.take() {
                Some(part) if part.name == name.trim() => {
                    if part.hint.is_empty() || part.idea.is_empty() || part.shape.is_empty() {
                        bail!(
                            "line {at}: part `{name}` needs `{IDEA}`, `{SHAPE}` and `{HINT}` lines"
                        );
                    }
                    parts.push(part);
                }
                Some(part) => bail!("line {at}: `{name}` closes part `{}`", part.name),
                None => bail!("line {at}: `{name}` closes no part"),
            }
        } else if let (Some(part), Some(hint)) = (&mut open, text.strip_prefix(HINT)) {
            part.hint.push(hint.trim().to_owned());
        } else if let (Some(part), Some(idea)) = (&mut open, text.strip_prefix(IDEA)) {
            part.idea.push(idea.trim().to_owned());
        } else if let (Some(part), Some(shape)) = (&mut open, text.strip_prefix(SHAPE)) {
            part.shape.push(shape.trim().to_owned());
        } else if let (Some(part), Some(when)) = (&mut open, text.strip_prefix(WHEN)) {
            part.causes.push(Cause {
                when: when.trim().to_owned(),
                cause: Vec::new(),
            });
        } else if let (Some(part), Some(cause)) = (&mut open, text.strip_prefix(CAUSE)) {
            match part.causes.last_mut() {
                Some(last) => last.cause.push(cause.trim().to_owned()),
                None => bail!("line {at}: `{CAUSE}` with no `{WHEN}` above it"),
            }
        }
    }
    if let Some(part) = open {
        bail!("part `{}` is never closed", part.name);
    }
    Ok(parts)
}

/// `text` as `//!` lines of at most 100 columns.
fn doc_lines(text: &str) -> String {
    let mut out = String::new();
    for paragraph in text.split("\n\n") {
        if !out.is_empty() {
            out.push_str("//!\n");
        }
        let mut line = String::from("//!");
        for word in paragraph.split_whitespace() {
            if line.len() + 1 + word.len() > 100 {
                out.push_str(&line);
                out.push('\n');
                line = String::from("//!");
            }
            line.push(' ');
            line.push_str(word);
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// What a template says about itself, in place of the reference's module doc.
fn header(exercise: &str, title: &str, reference: &str) -> String {
    let doc = doc_lines(&format!(
        "Your parts of {title} ({exercise}). Replace each `todo!()` below, in order, with your \
         code, then run `cargo xtask learn`: the lesson's own program runs your parts and \
         checks what they did.\n\n\
         Each part's doc comment says what it must do. `cargo xtask hint {exercise}` gives a \
         hint for the next one. `cargo xtask learn --reset {exercise}` brings this file back as \
         it was (keeping a copy of yours). When the exercise is done, compare with the \
         reference, `{reference}`, from which `cargo xtask templates` wrote this file."
    ));
    format!(
        "{doc}\n\
         // Until every part is written, their arguments, and the names they will use, are unused:\n\
         // this keeps the compiler quiet meanwhile. Delete it when you are done.\n\
         #![allow(unused_variables, unused_imports, dead_code)]\n"
    )
}

/// The calls into C and the OS (`libc::…`, `last_os_error`) that the parts' code makes but the
/// reference's comments outside the parts never name: the template keeps only those comments,
/// so a learner would have to guess the call.
pub fn unnamed_calls(reference: &str) -> Vec<String> {
    let mut in_part = false;
    let mut named = String::new();
    let mut called = Vec::new();
    for line in reference.lines() {
        let text = line.trim_start();
        if text.starts_with(ANCHOR) {
            in_part = true;
        } else if text.starts_with(ANCHOR_END) {
            in_part = false;
        } else if !in_part && text.starts_with("//") {
            named.push_str(text);
            named.push('\n');
        } else if in_part && !text.starts_with("//") {
            called.extend(calls_in(text));
        }
    }
    let mut unnamed: Vec<String> = called
        .into_iter()
        .filter(|call| !names(&named, call))
        .collect();
    unnamed.sort();
    unnamed.dedup();
    unnamed
}

/// Whether `text` holds `name` as a whole word (`libc::MAP` is not named by `libc::MAP_FAILED`).
fn names(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(at, _)| {
        let word = |c: char| c.is_alphanumeric() || c == '_';
        let before = text[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !word(c) || c == ':');
        let after = text[at + name.len()..]
            .chars()
            .next()
            .is_none_or(|c| !word(c));
        before && after
    })
}

/// The `libc::NAME` paths and `last_os_error` in a line of code.
fn calls_in(code: &str) -> Vec<String> {
    let mut calls = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("libc::") {
        let name: String = rest[at + 6..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        calls.push(format!("libc::{name}"));
        rest = &rest[at + 6..];
    }
    if code.contains("last_os_error") {
        calls.push("last_os_error".to_owned());
    }
    calls
}

/// The template of `reference`.
///
/// # Errors
/// As [`parts`], and when the parts make a call the file's comments never name
/// ([`unnamed_calls`]).
pub fn template(
    reference: &str,
    exercise: &str,
    title: &str,
    reference_path: &str,
) -> Result<String> {
    parts(reference)?;
    let unnamed = unnamed_calls(reference);
    if !unnamed.is_empty() {
        bail!(
            "the parts call {} but no comment outside them says so: add each, with its type, \
             to the list of what the parts call",
            unnamed.join(", ")
        );
    }
    let mut out = header(exercise, title, reference_path);
    let mut in_part = false;
    let body = reference
        .lines()
        .skip_while(|l| l.starts_with("//!"))
        .skip_while(|l| l.trim().is_empty());
    out.push('\n');
    for line in body {
        let text = line.trim_start();
        if text.starts_with(ANCHOR) {
            let indent = &line[..line.len() - text.len()];
            out.push_str(indent);
            out.push_str("todo!()\n");
            in_part = true;
        } else if text.starts_with(ANCHOR_END) {
            in_part = false;
        } else if !in_part {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

/// Whether `text` still holds a `todo!()`: the line of the first one (1-based) and the name
/// of the function around it, if it can tell.
pub fn first_todo(text: &str) -> Option<(usize, Option<String>)> {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim_start().starts_with("todo!(") && !l.trim_start().starts_with("//"))?;
    let name = lines[..at].iter().rev().find_map(|l| function_name(l));
    Some((at + 1, name))
}

/// The name of the function a line declares (`pub unsafe fn give_back(` gives `give_back`).
fn function_name(line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    words.by_ref().find(|w| *w == "fn")?;
    let name: String = words
        .next()?
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE: &str = "\
//! The reference.

use std::io;

/// Doc.
pub fn one() -> usize {
    // ANCHOR: one
    // IDEA: one is one.
    // SHAPE: a constant.
    // HINT: return 1.
    1
    // ANCHOR_END: one
}

pub unsafe fn two(x: usize) -> io::Result<usize> {
    // ANCHOR: two
    // IDEA: add one.
    // SHAPE: add, then wrap.
    // WHEN: past a multiple of
    // CAUSE: the padding,
    // CAUSE: left out.
    // HINT: first line,
    // HINT: second line.
    let y = x + 1;
    Ok(y)
    // ANCHOR_END: two
}
";

    #[test]
    fn parts_come_in_order_with_their_hints() {
        let parts = parts(REFERENCE).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "one");
        assert_eq!(parts[0].hint, ["return 1."]);
        assert_eq!(parts[0].idea, ["one is one."]);
        assert_eq!(parts[0].shape, ["a constant."]);
        let cause = parts[1].cause_of("it is 8 PAST a multiple of 16").unwrap();
        assert_eq!(cause.cause, ["the padding,", "left out."]);
        assert!(parts[1].cause_of("it is aligned").is_none());
        assert_eq!(parts[1].hint, ["first line,", "second line."]);
    }

    #[test]
    fn a_template_keeps_everything_but_the_bodies() {
        let t = template(REFERENCE, "exN", "exercise N", "src/parts.rs").unwrap();
        assert!(t.starts_with("//! Your parts of exercise N (exN)."), "{t}");
        assert!(!t.contains("The reference."));
        assert!(
            !t.contains("HINT")
                && !t.contains("IDEA")
                && !t.contains("SHAPE")
                && !t.contains("ANCHOR")
                && !t.contains("x + 1"),
            "{t}"
        );
        assert!(
            t.contains("/// Doc.\npub fn one() -> usize {\n    todo!()\n}\n"),
            "{t}"
        );
        assert!(t.contains("pub unsafe fn two(x: usize) -> io::Result<usize> {\n    todo!()\n}"));
        assert!(t.contains("\nuse std::io;\n"));
        assert_eq!(
            first_todo(&t).map(|(_, name)| name),
            Some(Some("one".to_owned()))
        );
    }

    #[test]
    fn a_call_the_list_does_not_name_is_refused() {
        let calls = "// What your parts call:\n// - `libc::sbrk(increment: isize)`: moves the break.\n\
                     fn f() {\n    // ANCHOR: f\n    // IDEA: i\n    // SHAPE: s\n    // HINT: h\n    \
                     libc::sbrk(0); libc::brk(p); io::Error::last_os_error()\n    // ANCHOR_END: f\n}\n";
        assert_eq!(unnamed_calls(calls), ["last_os_error", "libc::brk"]);
        let err = template(calls, "exN", "exercise N", "src/parts.rs").unwrap_err();
        assert!(err.to_string().contains("libc::brk"), "{err}");
    }

    #[test]
    fn bad_marks_are_refused() {
        let unclosed = "// ANCHOR: a\n// IDEA: i\n// SHAPE: s\n// HINT: h\n";
        assert!(
            parts(unclosed)
                .unwrap_err()
                .to_string()
                .contains("never closed")
        );
        let crossed = "// ANCHOR: a\n// IDEA: i\n// SHAPE: s\n// HINT: h\n// ANCHOR_END: b\n";
        assert!(
            parts(crossed)
                .unwrap_err()
                .to_string()
                .contains("closes part `a`")
        );
        let hintless = "// ANCHOR: a\nx\n// ANCHOR_END: a\n";
        assert!(
            parts(hintless)
                .unwrap_err()
                .to_string()
                .contains("needs `// IDEA:`, `// SHAPE:` and `// HINT:` lines")
        );
        let causeless = "// ANCHOR: a\n// CAUSE: c\n";
        assert!(
            parts(causeless)
                .unwrap_err()
                .to_string()
                .contains("no `// WHEN:`")
        );
        let shapeless = "// ANCHOR: a\n// IDEA: i\n// HINT: h\n// ANCHOR_END: a\n";
        assert!(
            parts(shapeless)
                .unwrap_err()
                .to_string()
                .contains("`// SHAPE:`")
        );
        let twice =
            "// ANCHOR: a\n// IDEA: i\n// SHAPE: s\n// HINT: h\n// ANCHOR_END: a\n// ANCHOR: a\n";
        assert!(parts(twice).unwrap_err().to_string().contains("twice"));
    }

    #[test]
    fn the_first_todo_names_its_function() {
        let text = "fn done() {}\npub unsafe fn give_back(start: *mut u8) {\n    todo!()\n}\n";
        assert_eq!(first_todo(text), Some((3, Some("give_back".to_owned()))));
        assert_eq!(first_todo("fn f() { 1 }\n// todo!() in a comment\n"), None);
    }
}
