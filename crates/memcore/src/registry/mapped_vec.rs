//! A growable array in memory mapped for it alone, never the global allocator's.
//!
//! # Safety
//! The values live in a [`Mapping`] the array owns, which unmaps itself when dropped: the
//! unsafe code here only reads and moves the first `len` values, which were written, inside a
//! mapping of `capacity() >= len` values.

#![allow(unsafe_code)]

use std::marker::PhantomData;
use std::ptr::NonNull;

use crate::error::Error;
use crate::mapping::Mapping;
use crate::sys;

/// A growable array in memory mapped for it alone. It starts with one page and doubles.
pub(super) struct MappedVec<T> {
    /// The values' memory; `None` until the first value.
    mapping: Option<Mapping>,
    /// How many values are written.
    pub(super) len: usize,
    /// How many mappings it has made.
    pub(super) maps: usize,
    values: PhantomData<T>,
}

impl<T> MappedVec<T> {
    pub(super) const fn new() -> Self {
        MappedVec {
            mapping: None,
            len: 0,
            maps: 0,
            values: PhantomData,
        }
    }

    /// How many values fit in the mapping.
    fn capacity(&self) -> usize {
        self.mapping
            .as_ref()
            .map_or(0, |m| m.len() / size_of::<T>())
    }

    fn ptr(&self) -> *mut T {
        self.mapping
            .as_ref()
            .map_or(NonNull::dangling().as_ptr(), |m| {
                m.as_ptr().cast_mut().cast()
            })
    }

    pub(super) fn as_slice(&self) -> &[T] {
        // SAFETY: the pointer is dangling (and aligned) with len 0, or a page-aligned mapping
        // of `capacity() >= len` values whose first `len` were written; `&self` keeps them from
        // being changed meanwhile.
        unsafe { std::slice::from_raw_parts(self.ptr(), self.len) }
    }

    pub(super) fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as in as_slice; `&mut self` makes this the only access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr(), self.len) }
    }

    /// Bytes mapped.
    pub(super) fn mapped_bytes(&self) -> usize {
        self.mapping.as_ref().map_or(0, |m| m.len())
    }

    /// A new mapping of `bytes` (a multiple of the page size) holding the current values; the
    /// old mapping is unmapped when it is replaced.
    fn remap(&mut self, bytes: usize) -> Result<(), Error> {
        let new = Mapping::anonymous(bytes)?;
        self.maps += 1;
        // SAFETY: the new mapping holds `bytes / size_of::<T>() >= len` values and does not
        // overlap the old one, whose first `len` values are moved, not copied: the old mapping
        // is then unmapped without dropping them.
        unsafe {
            std::ptr::copy_nonoverlapping(self.ptr(), new.as_ptr().cast_mut().cast(), self.len);
        }
        self.mapping = Some(new);
        Ok(())
    }

    /// Makes room for one more value; on failure nothing changes.
    pub(super) fn reserve_one(&mut self) -> Result<(), Error> {
        if self.len < self.capacity() {
            return Ok(());
        }
        let bytes = match self.mapped_bytes() {
            0 => sys::round_up_to_page(size_of::<T>()),
            now => now.checked_mul(2),
        };
        let bytes = bytes.ok_or(Error::Overflow {
            requested: self.len,
        })?;
        self.remap(bytes)
    }

    /// Inserts at `at`; the caller has reserved room.
    pub(super) fn insert(&mut self, at: usize, value: T) {
        assert!(
            self.len < self.capacity() && at <= self.len,
            "no room reserved"
        );
        let p = self.ptr().wrapping_add(at);
        // SAFETY: `len < capacity`, so this moves the `len - at` written values from `at` one
        // place up, inside the mapping...
        unsafe { std::ptr::copy(p, p.wrapping_add(1), self.len - at) };
        // SAFETY: ...and `at <= len < capacity`, so `p` is inside it too.
        unsafe { p.write(value) };
        self.len += 1;
    }

    /// Adds at the end; the caller has reserved room.
    pub(super) fn push(&mut self, value: T) {
        self.insert(self.len, value);
    }

    pub(super) fn remove(&mut self, at: usize) -> T {
        assert!(at < self.len, "remove {at} of {}", self.len);
        let p = self.ptr().wrapping_add(at);
        // SAFETY: `at < len`: the value is written; it is moved out, and the values after it
        // move one place down over it, inside the mapping.
        let value = unsafe { p.read() };
        // SAFETY: as above.
        unsafe { std::ptr::copy(p.wrapping_add(1), p, self.len - at - 1) };
        self.len -= 1;
        value
    }
}

impl MappedVec<usize> {
    /// Makes it `n` zeros long, mapping afresh if it has less room.
    pub(super) fn reset_zeroed(&mut self, n: usize) -> Result<(), Error> {
        if n > self.capacity() {
            let bytes = n
                .checked_mul(size_of::<usize>())
                .and_then(sys::round_up_to_page);
            self.len = 0;
            self.remap(bytes.ok_or(Error::Overflow { requested: n })?)?;
        }
        self.len = n;
        self.as_mut_slice().fill(0);
        Ok(())
    }
}

impl<T> Drop for MappedVec<T> {
    fn drop(&mut self) {
        // Drops the values; the mapping unmaps itself after.
        // SAFETY: the first `len` values are written, and nothing uses them after this.
        unsafe { std::ptr::drop_in_place(self.as_mut_slice()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_grows_from_one_page_and_keeps_its_values_in_order() {
        let mut v: MappedVec<usize> = MappedVec::new();
        assert_eq!((v.mapped_bytes(), v.maps), (0, 0));
        let per_page = sys::page_size() / size_of::<usize>();
        for i in 0..=per_page {
            v.reserve_one().unwrap();
            v.insert(0, i);
        }
        assert_eq!(v.mapped_bytes(), 2 * sys::page_size());
        assert_eq!(v.maps, 2);
        assert_eq!(v.as_slice()[0], per_page);
        assert_eq!(v.remove(per_page), 0);
        assert_eq!(v.len, per_page);
        v.reset_zeroed(3).unwrap();
        assert_eq!(v.as_slice(), [0, 0, 0]);
    }

    #[test]
    fn its_values_are_dropped_with_it_and_removed_ones_are_moved_out() {
        /// Counts its drops.
        struct Counted<'a>(&'a std::cell::Cell<usize>);
        impl Drop for Counted<'_> {
            fn drop(&mut self) {
                self.0.set(self.0.get() + 1);
            }
        }
        let drops = std::cell::Cell::new(0);
        let mut v: MappedVec<Counted<'_>> = MappedVec::new();
        for _ in 0..3 {
            v.reserve_one().unwrap();
            v.push(Counted(&drops));
        }
        let removed = v.remove(1);
        assert_eq!(drops.get(), 0, "a removed value is moved out, not dropped");
        drop(removed);
        assert_eq!(drops.get(), 1);
        drop(v);
        assert_eq!(
            drops.get(),
            3,
            "the two values left are dropped with the vector"
        );
    }
}
