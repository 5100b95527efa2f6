//! Reaching the kernel's limit on mappings (`vm.max_map_count`, 65,530 by default), so that a
//! test or a lesson can watch the one refusal it causes: a `munmap` or a shrinking `brk` that
//! would split a mapping in three fails with `ENOMEM`. Nothing else makes those calls fail.
//!
//! # Safety
//! Each `unsafe` block unmaps a page this module mapped itself.

#![allow(unsafe_code)]

use std::ptr::NonNull;
use std::time::{Duration, Instant};

use super::{mmap_anonymous, mmap_anonymous_noreserve, munmap, page_size};

/// How many of the last mappings made are kept, to be given back (1,024, as the docs say).
const KEPT: usize = 1024;

/// One-page mappings made until the kernel refused one more. The last 1,024 are kept in a
/// ring on the stack: a list of all of them would take 2 MiB from malloc, which may have none
/// to give (`glibc.malloc.mmap_max=0`, with the break moved by others).
#[derive(Debug)]
pub struct MapCountFull {
    ring: [usize; KEPT],
    made: usize,
}

impl MapCountFull {
    /// Makes one-page mappings until the kernel refuses one. Returns `None`, having given back
    /// the last 1,024, if it never refused within `most` mappings or `longest` (under
    /// `strace`, each call is slow). Each mapping differs from the one before (with and without
    /// `MAP_NORESERVE`), so that the kernel merges no two of them.
    ///
    /// The mappings stay until the process ends, but for those [`MapCountFull::give_back`]
    /// unmaps: use it in a child process of its own.
    pub fn fill(most: usize, longest: Duration) -> Option<MapCountFull> {
        let page = page_size();
        let mut full = MapCountFull {
            ring: [0; KEPT],
            made: 0,
        };
        let started = Instant::now();
        while full.made < most && started.elapsed() < longest {
            let mapped = if full.made.is_multiple_of(2) {
                mmap_anonymous(page)
            } else {
                mmap_anonymous_noreserve(page)
            };
            let Ok(p) = mapped else {
                return Some(full);
            };
            full.ring[full.made % KEPT] = p.as_ptr() as usize;
            full.made += 1;
        }
        full.give_back();
        None
    }

    /// How many mappings were made.
    pub fn made(&self) -> usize {
        self.made
    }

    /// Unmaps the last 1,024 mappings made: room again for what the process allocates.
    pub fn give_back(&self) {
        for &addr in &self.ring[..self.made.min(KEPT)] {
            if let Some(page) = NonNull::new(addr as *mut u8) {
                // SAFETY: a page `fill` mapped, which nothing else knows of.
                let _ = unsafe { munmap(page, page_size()) };
            }
        }
    }
}
