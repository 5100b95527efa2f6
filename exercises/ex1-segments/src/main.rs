//! `cargo run -p ex1-segments`: exercise 1 with the reference parts (`src/parts.rs`).
//! The learner's own parts run as `ex1-segments-learn` (`learn/parts.rs`).

mod parts;

fn main() -> std::process::ExitCode {
    ex1_segments::main(&parts::PARTS)
}
