//! Where `mem_chunk` gets memory from, and how much the break grows and shrinks at a time.

/// The program break grows by at least this much at a time, so that small chunks do not cost a
/// system call each.
pub const BREAK_STEP: usize = 64 * 1024;

/// When more than this much unused memory lies at the top of the break, it is given back,
/// keeping [`BREAK_STEP`] for the next requests.
pub const TRIM_THRESHOLD: usize = 256 * 1024;

/// Where `mem_chunk` gets memory from.
///
/// # Choosing
/// - [`Policy::glibc`] (the default) is glibc's own: chunks below 128 KiB are carved from the
///   program break, larger ones get a mapping of their own. Small chunks then cost no system
///   call each, and large ones go straight back to the OS when released. Use it when this
///   layer is the only one moving the break, or when whatever else moves it does so on the same
///   thread (glibc's malloc in a single-threaded program is fine: its moves are detected).
/// - [`Policy::with_threshold`] moves the boundary: a lower threshold maps more chunks
///   (more system calls, memory returned sooner), a higher one carves more from the break.
/// - [`Policy::mmap_only`] never touches the break. Use it when another thread may move the
///   break at the same time, above all glibc's malloc in a multi-threaded program: glibc's
///   `sbrk` is not thread-safe, and no lock of ours can stop its malloc from calling it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    mmap_threshold: usize,
    use_break: bool,
}

impl Policy {
    /// glibc's default mmap threshold.
    pub const DEFAULT_MMAP_THRESHOLD: usize = 128 * 1024;

    /// Below 128 KiB from the break, at or above it from `mmap`.
    pub const fn glibc() -> Policy {
        Policy::with_threshold(Policy::DEFAULT_MMAP_THRESHOLD)
    }

    /// Below `threshold` bytes from the break, at or above it from `mmap`.
    pub const fn with_threshold(threshold: usize) -> Policy {
        Policy {
            mmap_threshold: threshold,
            use_break: true,
        }
    }

    /// Every chunk from `mmap`; the break is never moved.
    pub const fn mmap_only() -> Policy {
        Policy {
            mmap_threshold: 0,
            use_break: false,
        }
    }

    /// Requests of at least this many bytes are mapped.
    pub fn mmap_threshold(&self) -> usize {
        self.mmap_threshold
    }

    /// Whether small requests are carved from the break.
    pub fn uses_break(&self) -> bool {
        self.use_break
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::glibc()
    }
}
