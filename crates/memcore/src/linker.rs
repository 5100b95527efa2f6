//! The linker's own segment boundaries, `etext`, `edata` and `end`.
//!
//! The linker defines these three symbols in every executable: the first address past the code
//! (`etext`), past the initialised data (`edata`) and past the zero-initialised data, the bss
//! (`end`). They tell data from bss even where both share one page of the same mapping, which
//! `/proc/self/maps` cannot.
//!
//! # References
//! - <https://man7.org/linux/man-pages/man3/end.3.html>
//!
//! # Safety
//! The linker's symbols are `extern` statics: reading their addresses is unsafe to the compiler,
//! but only their addresses are taken, never their contents.

#![allow(unsafe_code)]

unsafe extern "C" {
    static etext: u8;
    static edata: u8;
    static end: u8;
}

/// The addresses of `etext`, `edata` and `end` in this executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentBounds {
    /// First address past the program text (code).
    pub etext: usize,
    /// First address past the initialised data segment.
    pub edata: usize,
    /// First address past the uninitialised data segment (bss).
    pub end: usize,
}

/// Where this executable's code, data and bss end, as the linker recorded it.
pub fn segment_bounds() -> SegmentBounds {
    SegmentBounds {
        // Taking a raw address of a static reads nothing, so it is safe.
        etext: &raw const etext as usize,
        edata: &raw const edata as usize,
        end: &raw const end as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boundaries_are_in_order() {
        let b = segment_bounds();
        assert!(b.etext > 0);
        assert!(b.etext <= b.edata, "{b:x?}");
        assert!(b.edata <= b.end, "{b:x?}");
    }
}
