//! Where leaves come from: pages mapped for the registry alone, in batches.

use std::ptr::NonNull;

use super::leaf::LEAF_BYTES;
use super::mapped_vec::MappedVec;
use crate::error::Error;
use crate::sys;

/// Leaves are mapped this many at a time, with their pages populated at once: one system call
/// and no page faults per 16 leaves, instead of a call and a fault per leaf.
pub(super) const BATCH_LEAVES: usize = 16;
pub(super) const BATCH_BYTES: usize = LEAF_BYTES * BATCH_LEAVES;

/// Where leaves come from: batches mapped for the registry alone. A leaf given back is kept on a
/// free list (linked through its first word) for the next one; the batches are unmapped only
/// when the registry is dropped, so the registry holds as many leaves as it ever needed at once.
pub(super) struct LeafPool {
    pub(super) batches: MappedVec<NonNull<u8>>,
    /// The next never-used leaf of the newest batch, and how many are left there.
    pub(super) next: usize,
    pub(super) left: usize,
    pub(super) free: Option<NonNull<usize>>,
}

impl LeafPool {
    pub(super) const fn new() -> LeafPool {
        LeafPool {
            batches: MappedVec::new(),
            next: 0,
            left: 0,
            free: None,
        }
    }

    pub(super) fn take(&mut self) -> Result<NonNull<usize>, Error> {
        if let Some(leaf) = self.free {
            // SAFETY: a leaf on the free list holds the next free leaf (or null) in its first
            // word, written by `give`; nothing else uses a free leaf.
            self.free = NonNull::new(unsafe { leaf.cast::<*mut usize>().read() });
            return Ok(leaf);
        }
        if self.left == 0 {
            // Room for the batch's record first, so that a failure leaks nothing.
            self.batches.reserve_one()?;
            let batch = sys::mmap_anonymous_populated(BATCH_BYTES)?;
            self.batches.insert(self.batches.len, batch);
            self.next = batch.as_ptr() as usize;
            self.left = BATCH_LEAVES;
        }
        let leaf = NonNull::new(self.next as *mut usize).ok_or(Error::ZeroSize)?;
        self.next += LEAF_BYTES;
        self.left -= 1;
        Ok(leaf)
    }

    pub(super) fn give(&mut self, leaf: NonNull<usize>) {
        let next = self.free.map_or(std::ptr::null_mut(), NonNull::as_ptr);
        // SAFETY: the leaf is a page of ours that no index entry refers to any more; its first
        // word now links the free list.
        unsafe { leaf.cast::<*mut usize>().write(next) };
        self.free = Some(leaf);
    }

    pub(super) fn mapped_bytes(&self) -> usize {
        self.batches.len * BATCH_BYTES + self.batches.mapped_bytes()
    }

    pub(super) fn release_all(&mut self) {
        for &batch in self.batches.as_slice() {
            // SAFETY: each batch is a mapping this pool made; the registry is being dropped,
            // so no leaf in it is used any more. A failure only leaks the pages.
            let _ = unsafe { sys::munmap(batch, BATCH_BYTES) };
        }
        self.batches.release_mapping();
        self.free = None;
        self.left = 0;
    }
}
