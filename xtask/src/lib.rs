//! The workspace's own commands, as a library so that their logic is tested by
//! `cargo test --workspace`; `main.rs` only parses the command line and dispatches.

pub mod bench;
pub mod check;
pub mod first_verdict;
pub mod learn;
pub mod lessons;
pub mod matrix;
pub mod memcheck;
pub mod mutants;
pub mod new_exercise;
pub mod picture;
pub mod readme;
pub mod run;
pub mod snapshot;
pub mod template;
pub mod trace;
