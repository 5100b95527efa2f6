//! A max-tree over the leaves' longest free extents, for first fit in O(log leaves).

use super::leaf::LeafMeta;
use super::mapped_vec::MappedVec;
use crate::error::Error;

/// A max-tree over the leaves' longest free extents, so that first fit finds the lowest leaf
/// with room in O(log leaves) instead of scanning the index. A leaf's value changes in place in
/// O(log leaves); a leaf inserted or removed in the middle shifts the positions, so the tree is
/// marked stale and rebuilt on the next search.
pub(super) struct FitTree {
    /// `nodes[width + i]` is leaf i's value; `nodes[n]` is the max of its two children.
    pub(super) nodes: MappedVec<usize>,
    pub(super) width: usize,
    pub(super) stale: bool,
}

impl FitTree {
    pub(super) const fn new() -> FitTree {
        FitTree {
            nodes: MappedVec::new(),
            width: 0,
            stale: true,
        }
    }

    pub(super) fn rebuild(&mut self, leaves: &[LeafMeta]) -> Result<(), Error> {
        let width = leaves.len().next_power_of_two();
        self.nodes.reset_zeroed(2 * width)?;
        let nodes = self.nodes.as_mut_slice();
        for (i, leaf) in leaves.iter().enumerate() {
            nodes[width + i] = leaf.max_free;
        }
        for n in (1..width).rev() {
            nodes[n] = nodes[2 * n].max(nodes[2 * n + 1]);
        }
        self.width = width;
        self.stale = false;
        Ok(())
    }

    pub(super) fn set(&mut self, leaf: usize, value: usize) {
        if self.stale || leaf >= self.width {
            self.stale = true;
            return;
        }
        let nodes = self.nodes.as_mut_slice();
        let mut n = self.width + leaf;
        nodes[n] = value;
        while n > 1 {
            n /= 2;
            nodes[n] = nodes[2 * n].max(nodes[2 * n + 1]);
        }
    }

    /// The lowest leaf whose value is at least `len`.
    pub(super) fn first_at_least(&self, len: usize) -> Option<usize> {
        let nodes = self.nodes.as_slice();
        if self.stale || nodes.get(1).is_none_or(|&top| top < len) {
            return None;
        }
        let mut n = 1;
        while n < self.width {
            n = if nodes[2 * n] >= len {
                2 * n
            } else {
                2 * n + 1
            };
        }
        Some(n - self.width)
    }
}
