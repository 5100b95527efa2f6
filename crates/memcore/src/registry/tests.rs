//! The registry against a sorted model, and its invariants after every change.

use super::*;

/// The registry only records addresses; the tests' extents point at nothing.
fn at(start: usize) -> std::ptr::NonNull<u8> {
    std::ptr::NonNull::new(std::ptr::without_provenance_mut(start))
        .expect("a test address is not 0")
}

fn live(start: usize, len: usize) -> Extent {
    Extent {
        start: at(start),
        len,
        state: State::Live(Source::Sbrk),
    }
}

fn free(start: usize, len: usize) -> Extent {
    Extent {
        start: at(start),
        len,
        state: State::Free,
    }
}

#[test]
fn an_empty_registry_finds_nothing_and_maps_nothing() {
    let mut r = ChunkRegistry::new();
    assert!(r.is_empty());
    assert_eq!(r.containing(0x1000), None);
    assert_eq!(r.get(0), None);
    assert_eq!(r.first_free_fit(16), None);
    assert_eq!(r.metadata_bytes(), 0);
}

#[test]
fn lookups_find_the_extent_holding_any_interior_byte() {
    let mut r = ChunkRegistry::new();
    r.insert(live(0x1000, 64)).unwrap();
    r.insert(free(0x1040, 32)).unwrap();
    r.insert(live(0x2000, 16)).unwrap();
    assert_eq!(r.containing(0x1000), Some(live(0x1000, 64)));
    assert_eq!(r.containing(0x103f), Some(live(0x1000, 64)));
    assert_eq!(r.containing(0x1040), Some(free(0x1040, 32)));
    assert_eq!(r.containing(0x1060), None);
    assert_eq!(r.containing(0xfff), None);
    assert_eq!(r.get(0x1010), None, "an interior address is not a start");
    assert_eq!(r.before(0x1040), Some(live(0x1000, 64)));
    assert_eq!(r.after(0x1040), Some(live(0x2000, 16)));
    assert_eq!(r.after(0x2000), None);
    assert_eq!(r.before(0x1000), None);
    r.check_invariants().unwrap();
}

#[test]
fn a_registry_emptied_again_and_again_finds_nothing_and_takes_new_records() {
    let mut r = ChunkRegistry::new();
    r.insert(free(0x8000, 64)).unwrap();
    let maps = r.metadata_mmaps();
    let mut last = 0x8000;
    // One chunk at a time, each above or below the one before, as mappings come and go.
    for start in [0x9000, 0x1000, 0x5000] {
        r.remove(last).unwrap();
        assert!(r.is_empty());
        r.check_invariants().unwrap();
        assert_eq!(r.containing(last), None);
        assert_eq!(r.get(last), None);
        assert_eq!(r.first_free_fit(16), None);
        r.insert(live(start, 4096)).unwrap();
        r.check_invariants().unwrap();
        assert_eq!(r.containing(start + 4095), Some(live(start, 4096)));
        last = start;
    }
    assert_eq!(r.metadata_mmaps(), maps, "the one leaf is reused");
}

#[test]
fn many_ascending_inserts_fill_leaves_and_stay_searchable() {
    let mut r = ChunkRegistry::new();
    let n = 100_000;
    for k in 0..n {
        r.insert(live(0x10_0000 + k * 64, 64)).unwrap();
    }
    r.check_invariants().unwrap();
    assert_eq!(r.len(), n);
    // Appends fill each leaf: 16 bytes a record, plus the index.
    let per = r.metadata_bytes() as f64 / n as f64;
    assert!(per < 17.0, "{per} bytes per record");
    for k in (0..n).step_by(997) {
        assert_eq!(
            r.containing(0x10_0000 + k * 64 + 63),
            Some(live(0x10_0000 + k * 64, 64))
        );
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]

    /// Each step removes the extent in a slot if there is one, or inserts one (a third of them
    /// free) of 1 to 16 granules; first fit is compared with the model every 97 steps.
    #[test]
    fn random_inserts_and_removes_match_a_sorted_model(
        steps in proptest::collection::vec((0usize..5_000, 0u8..3, 1usize..=16, 1usize..=16), 1..20_000)
    ) {
        let mut r = ChunkRegistry::new();
        let mut model = std::collections::BTreeMap::new();
        for (step, &(slot, kind, units, wanted_units)) in steps.iter().enumerate() {
            let start = 0x4000_0000 + slot * 256;
            if let Some(old) = model.remove(&start) {
                assert_eq!(r.remove(start), Some(old));
            } else {
                let e = if kind == 0 {
                    free(start, 16 * units)
                } else {
                    live(start, 16 * units)
                };
                r.insert(e).unwrap();
                model.insert(start, e);
            }
            if step % 97 == 0 {
                // First fit agrees with the model, and the fit tree stays consistent.
                let want = 16 * wanted_units;
                let fit = model
                    .values()
                    .find(|e| e.state == State::Free && e.len >= want)
                    .copied();
                assert_eq!(r.first_free_fit(want), fit, "step {step}");
            }
            if step % 1_000 == 0 {
                r.check_invariants().unwrap();
            }
        }
        r.check_invariants().unwrap();
        let mut seen = Vec::new();
        r.for_each(|e| seen.push(*e));
        assert_eq!(seen, model.values().copied().collect::<Vec<_>>());
        let fit = model
            .values()
            .find(|e| e.state == State::Free && e.len >= 200)
            .copied();
        assert_eq!(r.first_free_fit(200), fit);
        // Removing everything keeps the leaves for reuse: the same records again need no more.
        let held = r.metadata_bytes();
        for start in model.keys() {
            r.remove(*start).unwrap();
        }
        assert!(r.is_empty());
        r.check_invariants().unwrap();
        for e in model.values() {
            r.insert(*e).unwrap();
        }
        r.check_invariants().unwrap();
        assert_eq!(r.metadata_bytes(), held);
    }
}

#[test]
fn replace_keeps_the_largest_free_extent_current() {
    let mut r = ChunkRegistry::new();
    r.insert(free(0x1000, 256)).unwrap();
    r.insert(free(0x2000, 64)).unwrap();
    assert_eq!(r.first_free_fit(200), Some(free(0x1000, 256)));
    r.replace(0x1000, live(0x1000, 208)).unwrap();
    r.insert(free(0x10d0, 48)).unwrap();
    assert_eq!(r.first_free_fit(200), None);
    assert_eq!(r.first_free_fit(64), Some(free(0x2000, 64)));
    assert_eq!(r.first_free_fit(48), Some(free(0x10d0, 48)));
    assert_eq!(r.replace(0x1234, live(0x1234, 16)), None);
    r.check_invariants().unwrap();
    let t = r.tally();
    assert_eq!(
        (t.sbrk_count, t.sbrk_bytes, t.free_count, t.free_bytes),
        (1, 208, 2, 112)
    );
}
