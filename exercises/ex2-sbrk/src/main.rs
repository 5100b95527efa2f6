//! `cargo run -p ex2-sbrk`: exercise 2 with the reference parts (`src/parts.rs`).
//! The learner's own parts run as `ex2-sbrk-learn` (`learn/parts.rs`).

mod parts;

fn main() -> std::process::ExitCode {
    ex2_sbrk::main(&parts::PARTS)
}
