//! The course's own commands, which `cargo xtask` hands on to this crate's binary: check-all
//! and check, the matrix of setups, trace, memcheck, bench, the pictures, mutants and
//! new-exercise. A library so that their logic is tested by `cargo test --workspace`;
//! `main.rs` only dispatches.

pub mod bench;
pub mod check_all;
pub mod first_verdict;
pub mod matrix;
pub mod memcheck;
pub mod mutants;
pub mod new_exercise;
pub mod picture;
pub mod readme_output;
pub mod snapshot_tests;
pub mod trace;
