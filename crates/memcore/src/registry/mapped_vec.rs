//! A growable array of `Copy` values in memory mapped for it alone, never the global
//! allocator's.

use std::ptr::NonNull;

use crate::error::Error;
use crate::sys;

/// A growable array of `Copy` values in memory mapped for it alone.
pub(super) struct MappedVec<T: Copy> {
    pub(super) ptr: NonNull<T>,
    pub(super) len: usize,
    pub(super) cap: usize,
    /// How many mappings it has made.
    pub(super) maps: usize,
}

impl<T: Copy> MappedVec<T> {
    pub(super) const fn new() -> Self {
        MappedVec {
            ptr: NonNull::dangling(),
            len: 0,
            cap: 0,
            maps: 0,
        }
    }

    pub(super) fn as_slice(&self) -> &[T] {
        // SAFETY: `ptr` is either dangling with len 0, or a mapping of `cap >= len` values whose
        // first `len` were written; `&self` keeps them from being changed meanwhile.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    pub(super) fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as in as_slice; `&mut self` makes this the only access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    pub(super) fn mapped_bytes(&self) -> usize {
        if self.cap == 0 {
            0
        } else {
            sys::round_up_to_page(self.cap * size_of::<T>()).unwrap_or(0)
        }
    }

    /// Makes room for one more value; on failure nothing changes.
    pub(super) fn reserve_one(&mut self) -> Result<(), Error> {
        if self.len < self.cap {
            return Ok(());
        }
        let bytes = (self.cap * size_of::<T>()).max(sys::page_size()) * 2;
        let bytes = sys::round_up_to_page(bytes).ok_or(Error::Overflow { requested: bytes })?;
        let new = sys::mmap_anonymous(bytes)?.cast::<T>();
        self.maps += 1;
        // SAFETY: the new mapping holds `bytes / size_of::<T>() > len` values and does not
        // overlap the old one; the old one holds `len` initialised values.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.as_ptr(), new.as_ptr(), self.len) };
        self.release_mapping();
        self.ptr = new;
        self.cap = bytes / size_of::<T>();
        Ok(())
    }

    pub(super) fn release_mapping(&mut self) {
        if self.cap > 0 {
            // SAFETY: the mapping is this vector's own and nothing refers to it after this.
            // munmap of a mapping we made cannot fail in a way we could act on; ignoring its
            // result at worst leaks the pages, as memmap2's Drop does.
            let _ = unsafe { sys::munmap(self.ptr.cast(), self.mapped_bytes()) };
            self.cap = 0;
            self.ptr = NonNull::dangling();
        }
    }

    /// Makes it `n` zeroed values long, mapping afresh if it has less room.
    pub(super) fn reset_zeroed(&mut self, n: usize) -> Result<(), Error> {
        if n > self.cap {
            let bytes = n
                .checked_mul(size_of::<T>())
                .and_then(sys::round_up_to_page);
            let bytes = bytes.ok_or(Error::Overflow { requested: n })?;
            let new = sys::mmap_anonymous(bytes)?.cast::<T>();
            self.maps += 1;
            self.release_mapping();
            self.ptr = new;
            self.cap = bytes / size_of::<T>();
        }
        // SAFETY: the mapping holds `cap >= n` values; all-zero bytes are a valid value of the
        // integer types this is used with.
        unsafe { std::ptr::write_bytes(self.ptr.as_ptr(), 0, n) };
        self.len = n;
        Ok(())
    }

    /// Inserts at `at`; the caller has reserved room.
    pub(super) fn insert(&mut self, at: usize, value: T) {
        debug_assert!(self.len < self.cap && at <= self.len);
        let p = self.ptr.as_ptr().wrapping_add(at);
        // SAFETY: room was reserved, so `len + 1 <= cap`; this moves the `len - at` initialised
        // values from `at` one place up, inside the mapping.
        unsafe { std::ptr::copy(p, p.wrapping_add(1), self.len - at) };
        // SAFETY: `at <= len < cap`, so `p` is inside the mapping.
        unsafe { p.write(value) };
        self.len += 1;
    }

    pub(super) fn remove(&mut self, at: usize) -> T {
        let value = self.as_slice()[at];
        let p = self.ptr.as_ptr().wrapping_add(at);
        // SAFETY: `at < len` (checked by the indexing above); this moves the values after it
        // one place down, inside the mapping.
        unsafe { std::ptr::copy(p.wrapping_add(1), p, self.len - at - 1) };
        self.len -= 1;
        value
    }
}
