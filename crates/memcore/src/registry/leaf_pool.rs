//! Where leaves come from: pages mapped for the registry alone, in batches.
//!
//! # Safety
//! A leaf given back is kept on a free list linked through its first word; the unsafe code
//! here reads and writes that word, in a page of a batch the pool owns, which no index entry
//! refers to any more.

#![allow(unsafe_code)]

use std::ptr::NonNull;

use super::leaf::LEAF_BYTES;
use super::mapped_vec::MappedVec;
use crate::error::Error;
use crate::mapping::Mapping;

/// The most leaves mapped at once. Batches grow 1, 2, 4, 8, 16, 16, …: a small registry holds
/// one page of leaves, and a large one makes one system call, with its pages populated at once
/// (no page faults), per 16 leaves.
const MAX_BATCH_LEAVES: usize = 16;

/// Where leaves come from: batches mapped for the registry alone, owned as [`Mapping`]s, so
/// that they are unmapped when the registry is dropped. A leaf given back is kept on a free
/// list for the next one, so the registry holds as many leaves as it ever needed at once.
pub(super) struct LeafPool {
    /// The first batch, kept here so that a small registry needs no list of batches.
    first: Option<Mapping>,
    /// The later batches.
    more: MappedVec<Mapping>,
    /// The next never-used leaf of the newest batch, and how many are left there.
    next: usize,
    left: usize,
    free: Option<NonNull<usize>>,
}

impl LeafPool {
    pub(super) const fn new() -> LeafPool {
        LeafPool {
            first: None,
            more: MappedVec::new(),
            next: 0,
            left: 0,
            free: None,
        }
    }

    fn batches(&self) -> usize {
        usize::from(self.first.is_some()) + self.more.len
    }

    pub(super) fn take(&mut self) -> Result<NonNull<usize>, Error> {
        if let Some(leaf) = self.free {
            // SAFETY: a leaf on the free list holds the next free leaf (or null) in its first
            // word, written by `give`; nothing else uses a free leaf.
            self.free = NonNull::new(unsafe { leaf.cast::<*mut usize>().read() });
            return Ok(leaf);
        }
        if self.left == 0 {
            let leaves = MAX_BATCH_LEAVES.min(1 << self.batches().min(4));
            // Room for the batch's record first, so that a failure leaks nothing.
            if self.first.is_some() {
                self.more.reserve_one()?;
            }
            let batch = Mapping::anonymous_populated(leaves * LEAF_BYTES)?;
            self.next = batch.as_ptr() as usize;
            self.left = leaves;
            match self.first {
                None => self.first = Some(batch),
                Some(_) => self.more.push(batch),
            }
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

    /// Bytes mapped: the batches, and the list of them.
    pub(super) fn mapped_bytes(&self) -> usize {
        let first = self.first.as_ref().map_or(0, |m| m.len());
        let more: usize = self.more.as_slice().iter().map(|m| m.len()).sum();
        first + more + self.more.mapped_bytes()
    }

    /// `mmap` calls made: one per batch, and the list's.
    pub(super) fn mmaps(&self) -> usize {
        self.batches() + self.more.maps
    }
}
