//! `cargo run -p ex3-mmap`: exercise 3 with the reference parts (`src/parts.rs`).
//! The learner's own parts run as `ex3-mmap-learn` (`learn/parts.rs`).

mod parts;

fn main() -> std::process::ExitCode {
    ex3_mmap::main(&parts::PARTS)
}
