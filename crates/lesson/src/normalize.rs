//! Turns a lesson binary's output into its *address pattern*: what ASLR and the build change is
//! masked, what the lesson teaches stays. It reads the marks that [`crate::varying_bytes`] and its kin write (`~`
//! numbers, `~{…}` text, `~0x…` addresses); both live here, in one crate, so that the writer
//! and the reader of the convention cannot drift apart.
//!
//! The rules form an ordered list, applied in turn, specific before general; each has a name
//! and a fixture test. Add new rules at the end, so that old snapshots keep passing. A rule that
//! is only a pattern is a regular expression; the addresses' rank rule, which no pattern can
//! express, and the line ends are code.
//!
//! Why these rules: every address in the output becomes a token by its rank among the output's
//! distinct addresses (`<A1>` is the lowest), the same address always the same token. Relative
//! order and identity are what the lessons teach about addresses; their absolute values are
//! ASLR's. Alignment is never read from a value (an address that is not aligned by design can
//! land on a page boundary by chance): where the lesson claims it, the program checks it. Numbers the binaries mark
//! with `~` (gaps, region sizes, anything that changes from run to run or build to build) are
//! masked; all other numbers (sizes asked, deltas, counts) are compared exactly.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex_lite::{Captures, Regex};

/// One normalisation rule.
#[derive(Debug)]
pub struct Rule {
    /// Its name, for messages and tests.
    pub name: &'static str,
    /// What it does, in a sentence.
    pub does: &'static str,
    apply: fn(&str) -> String,
}

/// The rules, in the order they apply. New rules go at the end.
pub const RULES: &[Rule] = &[
    Rule {
        name: "varying-numbers",
        does: "masks numbers marked with `~` (and a unit right after): `~30408704` -> `~N`",
        apply: varying_numbers,
    },
    Rule {
        name: "addresses",
        does: "replaces each distinct `0x…` address by its rank: `<A1>` is the lowest; \
               alignment is never read from the value: where it matters, the program checks it",
        apply: addresses,
    },
    Rule {
        name: "padding",
        does: "folds runs of spaces after a line's indentation into one, so column padding \
               that depends on an address's width does not matter",
        apply: padding,
    },
    Rule {
        name: "line-ends",
        does: "drops trailing spaces and trailing empty lines",
        apply: line_ends,
    },
    Rule {
        name: "varying-text",
        does: "masks text the binaries mark as machine-dependent: `~{granted}` -> `~{?}`",
        apply: varying_text,
    },
    Rule {
        name: "varying-addresses",
        does: "masks addresses marked with `~`, whose place among the others is not part of the \
               lesson (it depends on whose code made them): `~0x55d0a000` -> `~<A>`",
        apply: varying_addresses,
    },
];

/// Applies every rule in order.
pub fn normalize(raw: &str) -> String {
    RULES
        .iter()
        .fold(raw.to_owned(), |text, rule| (rule.apply)(&text))
}

/// A pattern rule's regular expression, compiled once.
macro_rules! pattern {
    ($re:literal) => {{
        static RE: LazyLock<Regex> =
            LazyLock::new(|| Regex::new($re).expect("a rule's pattern compiles"));
        &*RE
    }};
}

/// `~` and a number, with a unit right after if there is one; or a marked address, which the
/// varying-addresses rule masks and this rule leaves alone.
fn varying_numbers(text: &str) -> String {
    pattern!(r"~(0x[0-9a-f]+|\d[\d.]*(?: (?:B|KiB|MiB|GiB|TiB|PiB)\b)?)")
        .replace_all(text, |c: &Captures| match c[1].starts_with("0x") {
            true => c[0].to_owned(),
            false => "~N".to_owned(),
        })
        .into_owned()
}

/// The byte ranges of `~{…}` spans, whose contents the varying-text rule masks.
fn varying_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("~{").map(|a| a + from) {
        let Some(close) = text[at..].find('}') else {
            break;
        };
        spans.push(at..at + close + 1);
        from = at + close + 1;
    }
    spans
}

/// Where each `0x…` address lies in `text`, as (byte range, value). Addresses marked with `~`
/// and those inside `~{…}` are not part of the pattern, and are left out.
fn find_addresses(text: &str) -> Vec<(std::ops::Range<usize>, u64)> {
    let all = find_all_addresses(text);
    let spans = varying_spans(text);
    all.into_iter()
        .filter(|(range, _)| {
            let marked = range.start > 0 && text.as_bytes()[range.start - 1] == b'~';
            !marked && !spans.iter().any(|s| s.contains(&range.start))
        })
        .collect()
}

/// Where every `0x…` address lies in `text`, as (byte range, value).
fn find_all_addresses(text: &str) -> Vec<(std::ops::Range<usize>, u64)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 2 < bytes.len() {
        let boundary = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if boundary && bytes[i] == b'0' && bytes[i + 1] == b'x' {
            let start = i + 2;
            let end = start
                + bytes[start..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
                    .count();
            let whole = end == bytes.len() || !bytes[end].is_ascii_alphanumeric();
            if end > start && end - start <= 16 && whole {
                if let Ok(value) = u64::from_str_radix(&text[start..end], 16) {
                    found.push((i..end, value));
                }
                i = end;
                continue;
            }
        }
        i += 1;
    }
    found
}

fn addresses(text: &str) -> String {
    let found = find_addresses(text);
    let ranks: BTreeMap<u64, usize> = found
        .iter()
        .map(|(_, v)| *v)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .enumerate()
        .map(|(rank, value)| (value, rank + 1))
        .collect();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (range, value) in found {
        out.push_str(&text[last..range.start]);
        out.push_str(&format!("<A{}>", ranks[&value]));
        last = range.end;
    }
    out.push_str(&text[last..]);
    out
}

/// Spaces after a line's first word fold into one: indentation stays.
fn padding(text: &str) -> String {
    pattern!(r"(\S)  +").replace_all(text, "$1 ").into_owned()
}

fn line_ends(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let keep = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(0, |i| i + 1);
    let mut out = lines[..keep].join("\n");
    out.push('\n');
    out
}

fn varying_addresses(text: &str) -> String {
    pattern!(r"~0x[0-9a-f]{1,16}\b")
        .replace_all(text, "~<A>")
        .into_owned()
}

fn varying_text(text: &str) -> String {
    pattern!(r"~\{[^}]*\}")
        .replace_all(text, "~{?}")
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str) -> &'static Rule {
        RULES.iter().find(|r| r.name == name).unwrap()
    }

    #[test]
    fn varying_numbers_fixture() {
        let apply = rule("varying-numbers").apply;
        assert_eq!(
            apply("gap: ~30408704 bytes (~29 MiB), ~1.5 KiB, ~7 regions"),
            "gap: ~N bytes (~N), ~N, ~N regions"
        );
        assert_eq!(
            apply("no ~ here, ~x, 4096 bytes"),
            "no ~ here, ~x, 4096 bytes"
        );
        assert_eq!(apply("~12 Bytes"), "~N Bytes", "B must be a whole word");
    }

    #[test]
    fn addresses_fixture() {
        let apply = rule("addresses").apply;
        assert_eq!(
            apply("stack 0x7ffd00001238, heap 0x55d000001000, again 0x7ffd00001238"),
            "stack <A2>, heap <A1>, again <A2>"
        );
        assert_eq!(
            apply("not 0xzz, not a0x10, range 0x1000-0x2010"),
            "not 0xzz, not a0x10, range <A1>-<A2>"
        );
        assert_eq!(apply("0xffffffffff600000"), "<A1>");
    }

    /// A stack address moves in 16-byte steps with ASLR, so one run in 256 lands on a page
    /// boundary: the pattern must not change then (it once did, about once in 70 runs).
    #[test]
    fn an_address_on_a_page_boundary_by_chance_changes_nothing() {
        let usual = "  a local 0x7ffcddb2fff0 in [stack]\n  a Box 0x55d000002010 in [heap]\n";
        let on_a_page = "  a local 0x7ffcddb30000 in [stack]\n  a Box 0x55d000002010 in [heap]\n";
        assert_eq!(normalize(usual), normalize(on_a_page));
        assert_eq!(
            normalize(on_a_page),
            "  a local <A2> in [stack]\n  a Box <A1> in [heap]\n"
        );
    }

    #[test]
    fn padding_fixture() {
        let apply = rule("padding").apply;
        assert_eq!(
            apply("  label      <A1>  in [heap]\n    x  y"),
            "  label <A1> in [heap]\n    x y"
        );
    }

    #[test]
    fn varying_text_fixture() {
        let apply = rule("varying-text").apply;
        assert_eq!(
            apply("policy: ~{0 (heuristic)}, plain: ~{refused: ENOMEM}\n"),
            "policy: ~{?}, plain: ~{?}\n"
        );
        assert_eq!(apply("an open ~{ stays"), "an open ~{ stays");
    }

    #[test]
    fn varying_addresses_fixture() {
        let apply = rule("varying-addresses").apply;
        assert_eq!(
            apply("chunk ~0x55d0a0001000 in [heap], plain 0x10"),
            "chunk ~<A> in [heap], plain 0x10"
        );
    }

    /// Marked addresses, and addresses inside `~{…}`, neither count among the ranks nor
    /// change the others'.
    #[test]
    fn marked_addresses_leave_the_ranks_alone() {
        let plain = "a 0x2000\nb 0x1000\n";
        let marked = "a 0x2000\nx ~0x1800 and ~{at 0x1400}\nb 0x1000\n";
        assert_eq!(normalize(marked), "a <A2>\nx ~<A> and ~{?}\nb <A1>\n");
        assert_eq!(normalize(plain), "a <A2>\nb <A1>\n");
        assert_eq!(
            (rule("varying-numbers").apply)("~0x10 and ~12"),
            "~0x10 and ~N"
        );
    }

    #[test]
    fn line_ends_fixture() {
        let apply = rule("line-ends").apply;
        assert_eq!(apply("a  \nb\t\n\n\n"), "a\nb\n");
        assert_eq!(apply(""), "\n");
    }

    /// The pattern must change whenever what the lesson teaches changes.
    #[test]
    fn the_pattern_is_sensitive_to_what_the_lesson_teaches() {
        let base = "  a local 0x7ffd0010 in [stack] rw-p\n  a Box 0x55d00020 in [heap] rw-p\n  moved by 10000 bytes\n";
        let swapped = "  a local 0x55d00020 in [stack] rw-p\n  a Box 0x7ffd0010 in [heap] rw-p\n  moved by 10000 bytes\n";
        let region = "  a local 0x7ffd0010 in [stack] rw-p\n  a Box 0x55d00020 in anonymous rw-p\n  moved by 10000 bytes\n";
        let size = "  a local 0x7ffd0010 in [stack] rw-p\n  a Box 0x55d00020 in [heap] rw-p\n  moved by 10001 bytes\n";
        let missing = "  a local 0x7ffd0010 in [stack] rw-p\n  moved by 10000 bytes\n";
        for changed in [swapped, region, size, missing] {
            assert!(normalize(base) != normalize(changed), "{changed}");
        }
    }

    /// And blind to what ASLR changes.
    #[test]
    fn the_pattern_ignores_what_aslr_changes() {
        let one = "  a local 0x7ffd00001010 in [stack]\n  a Box 0x55d000002020 in [heap]\n  gap ~1234 bytes (~1.2 KiB)\n";
        let two = "  a local 0x7fff12341010 in [stack]\n  a Box 0x563400007020 in [heap]\n  gap ~99999 bytes (~97.7 KiB)\n";
        assert_eq!(normalize(one), normalize(two));
    }
}
