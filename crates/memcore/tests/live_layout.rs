//! The memory layout of a live process, checked against the kernel's `/proc/self/maps` and the
//! linker's `etext`/`edata`/`end`.
//!
//! This file is its own test binary with `harness = false` (see Cargo.toml), and runs its tests
//! one after another on the main thread: some move the program break, which must not race with
//! glibc's malloc on other threads, and one needs the main thread's `[stack]`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use libtest_mimic::{Arguments, Failed, Trial};
use memcore::linker::segment_bounds;
use memcore::sys::{self, page_size};
use memcore::{Errno, Error, MemoryMap, RegionKind};

static INITIALISED: AtomicU64 = AtomicU64::new(0x1234_5678);
static ZEROED: AtomicU64 = AtomicU64::new(0);

fn region_kind(addr: usize) -> Result<RegionKind, Failed> {
    let map = MemoryMap::read_self()?;
    Ok(map
        .region_of(addr)
        .ok_or_else(|| format!("no region holds {addr:#x}"))?
        .kind)
}

#[inline(never)]
fn a_function() -> usize {
    black_box(7)
}

fn a_local_is_on_the_stack() -> Result<(), Failed> {
    let local = black_box(1u64);
    let kind = region_kind(&raw const local as usize)?;
    assert!(kind == RegionKind::Stack, "local in {kind:?}");
    Ok(())
}

fn a_small_box_is_in_the_heap() -> Result<(), Failed> {
    let boxed = black_box(Box::new(5u64));
    let kind = region_kind(&raw const *boxed as usize)?;
    assert!(kind == RegionKind::Heap, "Box in {kind:?}");
    Ok(())
}

fn a_one_mib_vec_is_in_an_anonymous_mapping() -> Result<(), Failed> {
    // glibc raises its mmap threshold after the first free of an mmapped block; pin it at the
    // default 128 KiB so this test does not depend on what ran before it.
    // SAFETY: mallopt only changes malloc's tuning parameters.
    let pinned = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024) };
    assert!(pinned == 1, "mallopt refused");
    let big = black_box(vec![1u8; 1 << 20]);
    let kind = region_kind(big.as_ptr() as usize)?;
    assert!(kind == RegionKind::Anonymous, "1 MiB Vec in {kind:?}");
    Ok(())
}

fn a_function_is_in_text_below_etext() -> Result<(), Failed> {
    let addr = a_function as fn() -> usize as usize;
    let kind = region_kind(addr)?;
    assert!(kind == RegionKind::Text, "function in {kind:?}");
    let etext = segment_bounds().etext;
    assert!(
        addr < etext,
        "function {addr:#x} not below etext {etext:#x}"
    );
    Ok(())
}

fn an_initialised_static_is_in_data_below_edata() -> Result<(), Failed> {
    INITIALISED.fetch_add(1, Ordering::Relaxed);
    let addr = &raw const INITIALISED as usize;
    let kind = region_kind(addr)?;
    assert!(kind == RegionKind::Data, "static in {kind:?}");
    let b = segment_bounds();
    assert!(
        addr >= b.etext && addr < b.edata,
        "{addr:#x} not in [etext, edata) = [{:#x}, {:#x})",
        b.etext,
        b.edata
    );
    Ok(())
}

fn a_zero_static_is_in_bss_between_edata_and_end() -> Result<(), Failed> {
    ZEROED.fetch_add(1, Ordering::Relaxed);
    let addr = &raw const ZEROED as usize;
    let kind = region_kind(addr)?;
    assert!(
        matches!(kind, RegionKind::Data | RegionKind::Bss),
        "zero static in {kind:?}"
    );
    let b = segment_bounds();
    assert!(
        addr >= b.edata && addr < b.end,
        "{addr:#x} not in [edata, end) = [{:#x}, {:#x})",
        b.edata,
        b.end
    );
    Ok(())
}

fn the_program_break_is_at_or_above_end() -> Result<(), Failed> {
    let brk = sys::program_break() as usize;
    let end = segment_bounds().end;
    assert!(brk >= end, "break {brk:#x} below end {end:#x}");
    let map = MemoryMap::read_self()?;
    let heap = map.first(RegionKind::Heap).ok_or("no [heap]")?;
    // The kernel maps the heap in whole pages up to the break.
    assert!(
        brk > heap.start && brk <= heap.end,
        "break {brk:#x} outside [heap] {:#x}-{:#x}",
        heap.start,
        heap.end
    );
    Ok(())
}

fn an_mmap_is_page_aligned_anonymous_and_gone_after_munmap() -> Result<(), Failed> {
    let len = 3 * page_size() + 5;
    let addr = sys::mmap_anonymous(len)?;
    let a = addr.as_ptr() as usize;
    assert!(a.is_multiple_of(page_size()), "{a:#x} not page aligned");
    let map = MemoryMap::read_self()?;
    let region = map.region_of(a).ok_or("no region")?;
    assert!(region.kind == RegionKind::Anonymous, "{region}");
    assert!(region.perms.to_string() == "rw-p", "{region}");
    // SAFETY: we mapped this range above and nothing refers to it.
    unsafe { sys::munmap(addr, len) }?;
    let map = MemoryMap::read_self()?;
    assert!(map.region_of(a).is_none(), "{a:#x} still mapped");
    Ok(())
}

fn an_absurd_sbrk_is_refused_and_the_break_stays() -> Result<(), Failed> {
    let before = sys::program_break();
    let result = sys::sbrk(1 << 46); // 64 TiB
    assert!(
        result
            == Err(Error::Os {
                call: "sbrk",
                errno: Errno(libc::ENOMEM),
            }),
        "sbrk(64 TiB) gave {result:?}"
    );
    assert!(sys::program_break() == before, "the break moved");
    Ok(())
}

fn an_increment_above_isize_max_is_refused_without_a_call() -> Result<(), Failed> {
    let before = sys::program_break();
    let huge = isize::MAX as usize + 1;
    assert!(
        sys::sbrk(huge) == Err(Error::Overflow { requested: huge }),
        "not refused"
    );
    assert!(sys::program_break() == before, "the break moved");
    Ok(())
}

fn sbrk_grows_by_exactly_the_increment_and_shrinks_back() -> Result<(), Failed> {
    let start = sys::program_break();
    let old = sys::sbrk(1000)?;
    assert!(old == start, "sbrk did not return the old break");
    let grown = sys::program_break();
    assert!(
        grown as usize == start as usize + 1000,
        "break moved by {}",
        grown as usize - start as usize
    );
    // SAFETY: the 1000 bytes above `start` are ours, from the sbrk above, and unused.
    let back = unsafe { sys::sbrk_shrink(grown, 1000) }?;
    assert!(
        back == start && sys::program_break() == start,
        "the break did not come back"
    );
    Ok(())
}

/// The tests by name: each function becomes a trial called after it.
macro_rules! trials {
    ($($test:ident),* $(,)?) => {
        vec![$(Trial::test(stringify!($test), $test)),*]
    };
}

fn main() {
    let mut args = Arguments::from_args();
    args.test_threads = Some(1);
    let trials = trials![
        a_local_is_on_the_stack,
        a_small_box_is_in_the_heap,
        a_one_mib_vec_is_in_an_anonymous_mapping,
        a_function_is_in_text_below_etext,
        an_initialised_static_is_in_data_below_edata,
        a_zero_static_is_in_bss_between_edata_and_end,
        the_program_break_is_at_or_above_end,
        an_mmap_is_page_aligned_anonymous_and_gone_after_munmap,
        an_absurd_sbrk_is_refused_and_the_break_stays,
        an_increment_above_isize_max_is_refused_without_a_call,
        sbrk_grows_by_exactly_the_increment_and_shrinks_back,
    ];
    libtest_mimic::run(&args, trials).exit();
}
