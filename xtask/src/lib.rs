//! The learner's commands of `cargo xtask` (learn, hint, run, list, templates), and what the
//! course's commands in `xtask-course` build on: the lesson catalogue, running programs,
//! reading snapshots and templates. A library so that their logic is tested by `cargo test
//! --workspace`; `main.rs` runs the learner's commands and hands the others on.

pub mod catalogue;
pub mod cli;
pub mod learn;
pub mod run;
pub mod snapshot;
pub mod template;
