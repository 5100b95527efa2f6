//! The lesson's own judgement of the reference parts (`src/parts.rs`): the binary exits 0
//! only when every claim held. `cargo xtask mutants` runs this test alone on each mutant of the
//! parts, so a mutant it lets through is a mistake the lesson's claims miss.

const BIN: &str = env!("CARGO_BIN_EXE_ex3-mmap");

#[test]
fn every_claim_holds_with_the_reference_parts() {
    lesson::testing::assert_every_claim_holds(BIN, &[]);
}
