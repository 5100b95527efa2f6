//! The registry's invariants, checked by its tests after every change.

use super::ChunkRegistry;
use super::leaf::{BLOCK, LEAF_CAP};
use super::tally::Tally;

impl ChunkRegistry {
    /// Checks every internal invariant; for tests.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut previous_end = 0;
        let mut tally = Tally::default();
        if self.firsts.len != self.metas.len {
            return Err("the index's two tables differ in length".into());
        }
        for (i, meta) in self.metas.as_slice().iter().enumerate() {
            let leaf = self.leaf(i);
            // Only a registry's only leaf may be empty (kept for the next insert).
            if leaf.len() > LEAF_CAP || (leaf.len() == 0 && self.metas.len > 1) {
                return Err(format!("leaf {i} has {} records", leaf.len()));
            }
            if leaf
                .starts
                .first()
                .is_some_and(|&s| self.firsts.as_slice()[i] != s)
            {
                return Err(format!("leaf {i}'s first is stale"));
            }
            for (b, &f) in leaf.fence.iter().enumerate() {
                if f != leaf.starts[b * BLOCK] {
                    return Err(format!("leaf {i}'s fence {b} is stale"));
                }
            }
            let max = leaf.iter().filter(|r| r.is_free()).map(|r| r.len()).max();
            if meta.max_free != max.unwrap_or(0) {
                return Err(format!("leaf {i}'s max_free is stale"));
            }
            for r in leaf.iter() {
                if r.start < previous_end || r.len() == 0 {
                    return Err(format!("record at {:#x} overlaps or is empty", r.start));
                }
                previous_end = r.start + r.len();
                tally.add(r.unpack(), 1);
            }
        }
        if tally != self.tally {
            return Err(format!("tally {:?} != recount {tally:?}", self.tally));
        }
        if !self.fit.stale {
            let nodes = self.fit.nodes.as_slice();
            for i in 0..self.fit.width {
                let want = self.metas.as_slice().get(i).map_or(0, |m| m.max_free);
                if nodes[self.fit.width + i] != want {
                    return Err(format!("the fit tree's leaf {i} is stale"));
                }
            }
            for n in 1..self.fit.width {
                if nodes[n] != nodes[2 * n].max(nodes[2 * n + 1]) {
                    return Err(format!("the fit tree's node {n} is stale"));
                }
            }
        }
        Ok(())
    }
}
