//! An owned anonymous mapping: `mmap` when made, `munmap` when dropped.

use std::fmt;
use std::ops::{Deref, DerefMut};

use crate::error::{Errno, Error};

/// Anonymous, private, read-write memory that owns its mapping and unmaps it on `Drop`.
///
/// A thin layer over `memmap2::MmapMut::map_anon`, which does the `mmap` and `munmap`; this type
/// adds memcore's error type and refuses a length of zero instead of mapping nothing.
pub struct Mapping {
    inner: memmap2::MmapMut,
}

impl Mapping {
    /// `mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)`—Maps `len`
    /// bytes of zero-filled memory, owned by the returned value.
    ///
    /// # Errors
    /// [`Error::ZeroSize`] for a length of 0; [`Error::Overflow`] above `isize::MAX`;
    /// [`Error::Os`] if the kernel refuses (`ENOMEM`).
    ///
    /// # References
    /// - <https://man7.org/linux/man-pages/man2/mmap.2.html>
    /// - <https://docs.rs/memmap2/latest/memmap2/struct.MmapMut.html#method.map_anon>
    pub fn anonymous(len: usize) -> Result<Mapping, Error> {
        if len == 0 {
            return Err(Error::ZeroSize);
        }
        if len > isize::MAX as usize {
            return Err(Error::Overflow { requested: len });
        }
        let inner = memmap2::MmapMut::map_anon(len).map_err(|e| Error::Os {
            call: "mmap",
            errno: Errno(e.raw_os_error().unwrap_or(libc::ENOMEM)),
        })?;
        Ok(Mapping { inner })
    }

    /// The first byte; page aligned.
    pub fn as_ptr(&self) -> *const u8 {
        self.inner.as_ptr()
    }

    /// The first byte, writable.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.inner.as_mut_ptr()
    }
}

impl Deref for Mapping {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.inner
    }
}

impl DerefMut for Mapping {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.inner
    }
}

impl fmt::Debug for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mapping")
            .field("addr", &self.as_ptr())
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::{MemoryMap, RegionKind};

    #[test]
    fn an_owned_mapping_is_zeroed_writable_and_gone_after_drop() {
        let mut map = Mapping::anonymous(10_000).unwrap();
        let addr = map.as_ptr() as usize;
        assert_eq!(addr % crate::sys::page_size(), 0);
        assert!(map.iter().all(|&b| b == 0));
        map.fill(0xa5);
        assert!(map.iter().all(|&b| b == 0xa5));
        let region = MemoryMap::read_self()
            .unwrap()
            .region_of(addr)
            .cloned()
            .unwrap();
        assert_eq!(region.kind, RegionKind::Anonymous);
        drop(map);
        let after = MemoryMap::read_self().unwrap();
        // Another test thread may map something new at the same place; it cannot be ours.
        if let Some(r) = after.region_of(addr) {
            assert_ne!((r.start, r.end), (region.start, region.end));
        }
    }

    #[test]
    fn zero_and_huge_lengths_are_refused() {
        assert_eq!(Mapping::anonymous(0).unwrap_err(), Error::ZeroSize);
        assert_eq!(
            Mapping::anonymous(usize::MAX).unwrap_err(),
            Error::Overflow {
                requested: usize::MAX
            }
        );
    }
}
