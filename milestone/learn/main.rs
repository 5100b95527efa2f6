//! `cargo xtask learn` (or `cargo run -p milestone --bin milestone-learn`): your `mem_chunk`,
//! from `learn/parts.rs`, checked against the lesson's contract by the same driver as the
//! reference answer and the library (`src/contract/mod.rs`).

mod parts;

fn main() -> std::process::ExitCode {
    milestone::contract::main(&parts::PARTS)
}
