//! The judge's records in words, for the learner: how each exercise stands, each failure on its
//! own at its part, the claims not reached and why, how each part stands, and what to do next.

use super::{
    ALLOW_HEADER, Done, Finding, Kind, NotReached, Progress, Standing, Status, Verdict, run_command,
};
use crate::catalogue::Exercise;

/// The lines that follow "done": the note on the pattern, the compiler's warnings, and the
/// header still to delete.
fn done_lines(done: &Done) -> Vec<String> {
    let mut lines = done.note.clone();
    if !done.warnings.is_empty() {
        lines.push("the compiler warns about your file:".to_owned());
        lines.extend(done.warnings.iter().map(|l| format!("  {l}")));
    }
    if done.optional_to_do.is_none() && done.allow_header_left {
        lines.push(format!(
            "now delete the line `{ALLOW_HEADER}` at the top of your file: it hid the \
             compiler's warnings while parts were unwritten"
        ));
    }
    lines
}

/// `step N (title)`.
fn step(number: usize, title: Option<&str>) -> String {
    match title {
        Some(title) => format!("step {number} ({title})"),
        None if number == 0 => "before the first step".to_owned(),
        None => format!("step {number}"),
    }
}

/// `step 3`, `steps 3 and 5`, `steps 3, 5 and 7`, `steps 3 to 9`.
fn steps(numbers: &[usize]) -> String {
    let consecutive = numbers.windows(2).all(|w| w[1] == w[0] + 1);
    let words: Vec<String> = numbers.iter().map(usize::to_string).collect();
    match words.as_slice() {
        [one] => format!("step {one}"),
        [first, .., last] if consecutive && numbers.len() > 2 => {
            format!("steps {first} to {last}")
        }
        [rest @ .., last] => format!("steps {} and {last}", rest.join(", ")),
        [] => String::new(),
    }
}

/// Where a finding is: its step, and the learner's part with its file and line.
fn place(finding: &Finding) -> String {
    let at = step(finding.step, finding.title.as_deref());
    match (&finding.part, &finding.at) {
        (Some(part), Some(file)) => format!("in {at}, your `{part}` ({file})"),
        (Some(part), None) => format!("in {at}, your `{part}`"),
        (None, _) => format!("in {at}"),
    }
}

/// One finding, in words: where, the claim, what happened, the call, its consequences, and
/// the step's own last lines (at most `shown`).
fn finding_lines(finding: &Finding, shown: usize) -> Vec<String> {
    let mut lines = vec![format!("{}:", place(finding))];
    match (&finding.claim, finding.kind) {
        (Some(claim), _) => {
            lines.push(format!("  the lesson claims: {claim}"));
            lines.push(format!("  but: {}", finding.happened));
        }
        (None, Kind::Stopped) => lines.push(format!(
            "  the lesson could not go on: {}",
            finding.happened
        )),
        (None, _) => lines.push(format!("  {}", finding.happened)),
    }
    if let Some(call) = &finding.call {
        lines.push(format!("  the call that showed it: {call}"));
    }
    if !finding.again_in.is_empty() {
        lines.push(format!("  it failed again in {}", steps(&finding.again_in)));
    }
    for c in &finding.consequences {
        lines.push(format!(
            "  and so, in step {}: {}: {} ({})",
            c.step, c.claim, c.happened, c.how
        ));
    }
    let cut = finding.printed.len().saturating_sub(shown);
    if shown > 0 && cut < finding.printed.len() {
        lines.push(match cut {
            0 => format!("  what {} printed:", step(finding.step, None)),
            _ => format!(
                "  what {} printed, its last {shown} lines (`cargo xtask run` shows all):",
                step(finding.step, None)
            ),
        });
        lines.extend(finding.printed[cut..].iter().map(|l| format!("    | {l}")));
    }
    lines
}

/// The claims not reached, a line for each run of steps with one reason.
fn not_reached_lines(not_reached: &[NotReached]) -> Vec<String> {
    let total: usize = not_reached.iter().map(|n| n.claims.len()).sum();
    if total == 0 {
        return Vec::new();
    }
    let mut lines = vec![format!(
        "not reached: {} of the lesson did not run:",
        lesson::count(total, "claim")
    )];
    let mut i = 0;
    while i < not_reached.len() {
        let why = &not_reached[i].why;
        let run: Vec<&NotReached> = not_reached[i..]
            .iter()
            .take_while(|n| n.why == *why)
            .collect();
        let claims: usize = run.iter().map(|n| n.claims.len()).sum();
        let numbers: Vec<usize> = run.iter().map(|n| n.step).collect();
        let which = match numbers.as_slice() {
            [one] => step(*one, run[0].title.as_deref()),
            many => steps(many),
        };
        lines.push(format!(
            "  {which}, {}: {why}",
            lesson::count(claims, "claim")
        ));
        i += run.len();
    }
    lines
}

/// How one part stands, in a few words.
fn standing(part: &Standing) -> String {
    if part.is_done() {
        return format!("`{}` done", part.part);
    }
    if part.to_do {
        return format!("`{}` to do", part.part);
    }
    let mut said = vec![format!("{} met", lesson::count(part.met, "claim"))];
    if part.failed > 0 {
        said.push(format!("{} failed", part.failed));
    }
    if part.followed > 0 {
        said.push(format!("{} failed as a consequence", part.followed));
    }
    if part.not_reached > 0 {
        said.push(format!("{} not reached", part.not_reached));
    }
    if let Some(kind) = part.broke {
        said.push(
            match kind {
                Kind::Stopped => "its step could not go on",
                Kind::Panic => "it panicked",
                Kind::Crash => "the run crashed in it",
                Kind::Timeout => "it did not return in time",
                Kind::Exit => "the run exited in it",
                Kind::Claim => "a claim failed",
            }
            .to_owned(),
        );
    }
    format!("`{}` {}", part.part, said.join(", "))
}

/// How many parts are done; then each part that is begun but not done; then what
/// [`just_finished`] says.
fn progress_lines(progress: &Progress) -> Vec<String> {
    let mut lines = vec![format!(
        "parts done: {} of {}",
        progress.done(),
        progress.parts.len()
    )];
    let begun: Vec<String> = progress
        .parts
        .iter()
        .filter(|p| {
            !p.is_done() && !p.to_do && (p.met + p.failed + p.followed > 0 || p.broke.is_some())
        })
        .map(standing)
        .collect();
    if !begun.is_empty() {
        lines.push(format!("not done yet: {}", begun.join("; ")));
    }
    lines.extend(just_finished(progress));
    lines
}

/// The parts done for the first time in this run: one part with the claims it now meets, each
/// once; several by their names and how many claims each meets.
fn just_finished(progress: &Progress) -> Vec<String> {
    let mut lines = Vec::new();
    match progress.just_finished.as_slice() {
        [] => {}
        // One part: the claims it now meets, each once.
        [(part, claims)] => {
            lines.push(format!("just finished `{part}`:"));
            let mut seen = std::collections::BTreeSet::new();
            let once: Vec<&String> = claims.iter().filter(|c| seen.insert(*c)).collect();
            lines.extend(once.iter().take(8).map(|c| format!("  [ok] {c}")));
            if once.len() > 8 {
                lines.push(format!("  and {} more", once.len() - 8));
            }
        }
        // Several at once: their names, and how many claims each meets.
        several => {
            let named: Vec<String> = several
                .iter()
                .map(|(part, claims)| {
                    let once: std::collections::BTreeSet<&String> = claims.iter().collect();
                    format!("`{part}` ({})", lesson::count(once.len(), "claim"))
                })
                .collect();
            lines.push(format!("just finished: {}", named.join(", ")));
        }
    }
    lines
}

/// The heading of a failed exercise, and its findings, numbered when there are several.
fn failed_lines(verdict: &Verdict) -> (String, Vec<String>) {
    let independent = verdict.findings.len();
    let heading = match independent {
        0 => "not done: claims of the lesson did not run".to_owned(),
        1 => "failed:".to_owned(),
        n => format!("failed: {n} mistakes, each on its own:"),
    };
    let shown = if independent > 1 { 6 } else { 12 };
    let mut lines = Vec::new();
    for (i, finding) in verdict.findings.iter().enumerate() {
        let said = finding_lines(finding, shown);
        if independent == 1 {
            lines.extend(said);
            continue;
        }
        for (j, line) in said.into_iter().enumerate() {
            lines.push(match j {
                0 => format!("{}. {line}", i + 1),
                _ => format!("   {line}"),
            });
        }
    }
    lines.extend(not_reached_lines(&verdict.not_reached));
    (heading, lines)
}

/// Prints one exercise's status.
fn report_one(exercise: &Exercise, status: &Status, progress: Option<&Progress>, width: usize) {
    let name = exercise.name.as_str();
    let indent = |lines: &[String]| {
        for line in lines {
            println!("  {:width$}    {line}", "");
        }
    };
    let progress_lines = progress.map(progress_lines).unwrap_or_default();
    match status {
        Status::Done(done) => {
            match &done.optional_to_do {
                None => println!(
                    "  {name:<width$}  done (compare with the reference, {})",
                    &exercise.reference
                ),
                Some(place) => println!(
                    "  {name:<width$}  done; the optional part `{}` is still to do, at {}:{} \
                     (compare with the reference, {})",
                    place.part, place.file, place.line, &exercise.reference
                ),
            }
            // "parts done: N of N" would only repeat "done".
            indent(&progress.map(just_finished).unwrap_or_default());
            indent(&done_lines(done));
        }
        Status::ToDo(place) => {
            println!(
                "  {name:<width$}  to do: `{}`, {}:{}",
                place.part, place.file, place.line
            );
            indent(&progress_lines);
        }
        Status::DoesNotCompile(errors) => {
            println!("  {name:<width$}  does not compile: {}", &exercise.template);
            indent(errors);
        }
        Status::Failed(verdict) => {
            let (heading, lines) = failed_lines(verdict);
            println!("  {name:<width$}  {heading}");
            indent(&lines);
            indent(&progress_lines);
            indent(&[format!(
                "to see every line of yours, run `{}`",
                run_command(exercise)
            )]);
        }
    }
}

/// What to do next, after the report: the first exercise that failed, or else the first not
/// done.
fn next(results: &[(&Exercise, Status, Option<Progress>)]) -> Option<String> {
    // A failure first: it is where the learner is working, and it must not wait behind a part
    // still to do in an earlier exercise.
    let broken = |s: &Status| matches!(s, Status::Failed(_) | Status::DoesNotCompile(_));
    let (exercise, status, _) = results
        .iter()
        .find(|(_, s, _)| broken(s))
        .or_else(|| results.iter().find(|(_, s, _)| !s.is_done()))?;
    Some(match status {
        Status::ToDo(place) => format!(
            "Next: open {}:{} and write `{}`; for a hint, run `cargo xtask hint {}`.",
            place.file, place.line, place.part, &exercise.name
        ),
        Status::DoesNotCompile(_) => format!(
            "Next: open {} and mend the compiler's error above.",
            &exercise.template
        ),
        Status::Failed(_) => format!(
            "Next: open {} and mend {}; for a hint, run `cargo xtask hint {}`.",
            &exercise.template,
            status
                .failed_part()
                .map_or("what the failure above names".to_owned(), |p| format!(
                    "`{p}`, which the first failure above names"
                )),
            &exercise.name
        ),
        Status::Done(_) => return None,
    })
}

/// Prints how each exercise stands, a line or more each, and nothing about what comes next:
/// for a judgement of some exercises alone (`learn --verify`, `learn --answer`).
pub fn report_exercises(results: &[(&Exercise, Status, Option<Progress>)]) {
    let width = results
        .iter()
        .map(|(e, ..)| e.name.len())
        .max()
        .unwrap_or(0);
    for (exercise, status, progress) in results {
        report_one(exercise, status, progress.as_ref(), width);
    }
}

/// Prints how each exercise stands, what to do next and `learn: D of N done`; returns whether
/// all are done.
pub fn report(results: &[(&Exercise, Status, Option<Progress>)]) -> bool {
    println!("learn: your parts, run and checked by the lesson's own programs");
    report_exercises(results);
    let next = next(results);
    println!(
        "{}",
        next.as_deref().unwrap_or(
            "Next: every exercise is done. Compare your parts with the references named above, \
             then go on to lesson 2."
        )
    );
    let done = results.iter().filter(|(_, s, _)| s.is_done()).count();
    println!("learn: {done} of {} done", results.len());
    next.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(step: usize, part: &str, claim: &str) -> Finding {
        Finding {
            kind: Kind::Claim,
            step,
            title: Some("Write".to_owned()),
            part: Some(part.to_owned()),
            during_part: false,
            at: Some("learn/parts.rs:7".to_owned()),
            claim: Some(claim.to_owned()),
            happened: "1 byte does not".to_owned(),
            call: Some(format!("{part}(0x1000, 16)")),
            again_in: Vec::new(),
            consequences: Vec::new(),
            printed: vec!["  bytes written: 16".to_owned()],
        }
    }

    #[test]
    fn a_part_whose_step_could_not_go_on_is_not_said_to_have_not_returned() {
        let give_back = Standing {
            part: "give_back".to_owned(),
            met: 2,
            failed: 0,
            followed: 0,
            not_reached: 1,
            wait_for_optional: 0,
            to_do: false,
            broke: Some(Kind::Stopped),
            returned: true,
        };
        assert_eq!(
            standing(&give_back),
            "`give_back` 2 claims met, 1 not reached, its step could not go on"
        );
        let panicked = Standing {
            broke: Some(Kind::Panic),
            ..give_back
        };
        assert!(standing(&panicked).ends_with("it panicked"));
    }

    #[test]
    fn several_findings_are_numbered_each_with_its_part_and_call() {
        let verdict = Verdict {
            findings: vec![
                finding(3, "write", "all bytes hold the pattern"),
                finding(5, "give_back", "it refused"),
            ],
            ..Verdict::default()
        };
        let (heading, lines) = failed_lines(&verdict);
        assert_eq!(heading, "failed: 2 mistakes, each on its own:");
        assert_eq!(
            lines[..4],
            [
                "1. in step 3 (Write), your `write` (learn/parts.rs:7):",
                "     the lesson claims: all bytes hold the pattern",
                "     but: 1 byte does not",
                "     the call that showed it: write(0x1000, 16)",
            ]
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("2. in step 5 (Write), your `give_back`"))
        );
    }

    #[test]
    fn claims_not_reached_for_one_reason_share_a_line() {
        let not_reached = |step, why: &str| NotReached {
            step,
            title: None,
            claims: vec![(Some("a".to_owned()), "c".to_owned()); 2],
            why: why.to_owned(),
            waits_for: None,
        };
        let lines = not_reached_lines(&[
            not_reached(3, "step 3 did not run: it needs the memory"),
            not_reached(5, "the run stopped in step 4: `b` is still to do"),
            not_reached(6, "the run stopped in step 4: `b` is still to do"),
        ]);
        assert_eq!(
            lines,
            [
                "not reached: 6 claims of the lesson did not run:",
                "  step 3, 2 claims: step 3 did not run: it needs the memory",
                "  steps 5 and 6, 4 claims: the run stopped in step 4: `b` is still to do",
            ]
        );
    }
}
