//! An owned anonymous mapping: `mmap` when made, `munmap` when dropped.
//!
//! # Safety
//! memmap2 maps the memory; mapping a file is unsafe because another process could change the
//! file under the slice. `file_shared` and `file_private` pass that promise on to their callers.

#![allow(unsafe_code)]

use std::fmt;
use std::ops::{Deref, DerefMut};

use crate::error::{Errno, Error};

fn os_error(e: std::io::Error) -> Error {
    Error::Os {
        call: "mmap",
        errno: Errno(e.raw_os_error().unwrap_or(libc::ENOMEM)),
    }
}

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
        let inner = memmap2::MmapMut::map_anon(len).map_err(os_error)?;
        Ok(Mapping { inner })
    }

    /// As [`Mapping::anonymous`], with `MAP_POPULATE`: the kernel backs every page at once,
    /// so that the first touch of each costs no page fault.
    ///
    /// # Errors
    /// As [`Mapping::anonymous`].
    pub fn anonymous_populated(len: usize) -> Result<Mapping, Error> {
        if len == 0 {
            return Err(Error::ZeroSize);
        }
        if len > isize::MAX as usize {
            return Err(Error::Overflow { requested: len });
        }
        let inner = memmap2::MmapOptions::new()
            .len(len)
            .populate()
            .map_anon()
            .map_err(os_error)?;
        Ok(Mapping { inner })
    }

    /// Its length in bytes, as asked for (the kernel maps whole pages).
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Always false: a mapping has at least one byte.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// `mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)`—The whole of `file`, shared:
    /// a write through the mapping is a write to the file, which an ordinary `read` sees at
    /// once (both go through the same page cache).
    ///
    /// # Safety
    /// Nothing else may change the file's length or contents while it is mapped: the mapping
    /// is read as an ordinary `&[u8]`, and a file cut short under it makes an access fault.
    ///
    /// # Errors
    /// [`Error::ZeroSize`] for an empty file; [`Error::Os`] if the kernel refuses (a file not
    /// open for reading and writing gives `EACCES`).
    ///
    /// # References
    /// - <https://man7.org/linux/man-pages/man2/mmap.2.html>
    /// - <https://docs.rs/memmap2/latest/memmap2/struct.MmapMut.html#method.map_mut>
    pub unsafe fn file_shared(file: &std::fs::File) -> Result<Mapping, Error> {
        Self::nonempty(file)?;
        // SAFETY: the caller promises nobody else changes the file while it is mapped.
        let inner = unsafe { memmap2::MmapMut::map_mut(file) }.map_err(os_error)?;
        Ok(Mapping { inner })
    }

    /// `mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)`—The whole of `file`,
    /// private: it reads the file, but the first write to a page gives this process a copy of
    /// its own (copy on write), and the file never sees the change.
    ///
    /// # Safety
    /// As [`Mapping::file_shared`]: a page not yet written still shows the file's own bytes.
    ///
    /// # Errors
    /// As [`Mapping::file_shared`].
    ///
    /// # References
    /// - <https://man7.org/linux/man-pages/man2/mmap.2.html>
    /// - <https://docs.rs/memmap2/latest/memmap2/struct.MmapOptions.html#method.map_copy>
    pub unsafe fn file_private(file: &std::fs::File) -> Result<Mapping, Error> {
        Self::nonempty(file)?;
        // SAFETY: the caller promises nobody else changes the file while it is mapped.
        let inner = unsafe { memmap2::MmapOptions::new().map_copy(file) }.map_err(os_error)?;
        Ok(Mapping { inner })
    }

    fn nonempty(file: &std::fs::File) -> Result<(), Error> {
        let len = file.metadata().map_err(os_error)?.len();
        if len == 0 {
            return Err(Error::ZeroSize);
        }
        Ok(())
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
        // Other test threads map and unmap pages meanwhile, and a read of /proc/self/maps
        // while they do can miss a line (the kernel does not read it in one go): read again.
        let region = (0..10)
            .find_map(|_| MemoryMap::read_self().unwrap().region_of(addr).cloned())
            .expect("the mapping is in /proc/self/maps");
        assert_eq!(region.kind, RegionKind::Anonymous);
        drop(map);
        let after = MemoryMap::read_self().unwrap();
        // Another test thread may map something new at the same place; it cannot be ours.
        if let Some(r) = after.region_of(addr) {
            assert_ne!((r.start, r.end), (region.start, region.end));
        }
    }

    #[test]
    fn a_shared_file_mapping_writes_the_file_and_a_private_one_does_not() {
        use std::io::Write as _;
        let path = std::env::temp_dir().join(format!("memcore-map-{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        file.write_all(&[b'.'; 100]).unwrap();
        // SAFETY: the file is this test's own, new and named by its pid.
        let mut shared = unsafe { Mapping::file_shared(&file) }.unwrap();
        shared[..5].copy_from_slice(b"hello");
        assert_eq!(&std::fs::read(&path).unwrap()[..6], b"hello.");
        // SAFETY: as above.
        let mut private = unsafe { Mapping::file_private(&file) }.unwrap();
        assert_eq!(&private[..5], b"hello");
        private[..5].copy_from_slice(b"HELLO");
        assert_eq!(&std::fs::read(&path).unwrap()[..5], b"hello");
        drop((shared, private));
        file.set_len(0).unwrap();
        // SAFETY: as above.
        let empty = unsafe { Mapping::file_shared(&file) };
        assert_eq!(empty.unwrap_err(), Error::ZeroSize);
        std::fs::remove_file(&path).unwrap();
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
