//! `cargo xtask learn` (or `cargo xtask run milestone`): your `mem_chunk`,
//! from `learn/parts.rs`, checked against the lesson's contract by the same driver as the
//! reference answer and the library (`src/contract/mod.rs`).

mod parts;

/// The system's allocator, with the calls your parts make counted: they must make none.
#[global_allocator]
static ALLOCATOR: milestone::contract::CountingAllocator = milestone::contract::CountingAllocator;

fn main() -> std::process::ExitCode {
    milestone::contract::main(&parts::PARTS)
}
