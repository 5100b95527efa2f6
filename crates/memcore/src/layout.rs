//! What decides the shape of this process's address space, read from the kernel: whether the
//! mmap area is laid out the legacy way (bottom-up, from a third of the address space, below
//! the program) or top-down (just below the stack), and how much the kernel randomises.
//!
//! The kernel picks the legacy layout when the process has the `ADDR_COMPAT_LAYOUT`
//! personality (`setarch -L`), when its stack limit is unlimited (`ulimit -s unlimited`), or
//! when `vm.legacy_va_layout` is 1.
//!
//! # References
//! - <https://man7.org/linux/man-pages/man2/personality.2.html>
//! - <https://man7.org/linux/man-pages/man8/setarch.8.html>
//! - <https://docs.kernel.org/admin-guide/sysctl/vm.html#legacy-va-layout>
//! - <https://docs.kernel.org/admin-guide/sysctl/kernel.html#randomize-va-space>

use crate::sys;

/// `ADDR_COMPAT_LAYOUT` from `<sys/personality.h>`.
const ADDR_COMPAT_LAYOUT: u32 = 0x020_0000;
/// `ADDR_NO_RANDOMIZE` from `<sys/personality.h>`.
const ADDR_NO_RANDOMIZE: u32 = 0x004_0000;

/// Why this process has the legacy mmap layout; empty when it has the usual top-down one.
pub fn legacy_mmap_reasons() -> Vec<&'static str> {
    let mut reasons = Vec::new();
    if sys::personality() & ADDR_COMPAT_LAYOUT != 0 {
        reasons.push("the ADDR_COMPAT_LAYOUT personality (setarch -L)");
    }
    if sys::stack_limit().is_none() {
        reasons.push("an unlimited stack limit (ulimit -s unlimited)");
    }
    if read_number("/proc/sys/vm/legacy_va_layout") == Some(1) {
        reasons.push("vm.legacy_va_layout = 1");
    }
    reasons
}

/// How much the kernel randomises this process's addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Randomization {
    /// Turned off for this process (`setarch -R`: the `ADDR_NO_RANDOMIZE` personality).
    OffForThisProcess,
    /// `randomize_va_space` = 0: nothing is randomised.
    Off,
    /// 1: the stack, mmap area and vDSO, but not the heap's distance above the program.
    Partial,
    /// 2: all of that and the heap's start too (the default).
    Full,
    /// The file could not be read.
    Unknown,
}

impl Randomization {
    /// In words.
    pub fn describe(self) -> &'static str {
        match self {
            Randomization::OffForThisProcess => {
                "off for this process (setarch -R): every run gets the same addresses"
            }
            Randomization::Off => "off (randomize_va_space = 0): every run gets the same addresses",
            Randomization::Partial => {
                "partial (randomize_va_space = 1): the heap starts right after the program"
            }
            Randomization::Full => {
                "full (randomize_va_space = 2): the heap starts a random distance above the program"
            }
            Randomization::Unknown => "unknown (randomize_va_space cannot be read)",
        }
    }

    /// Whether the heap starts a random distance above the program's bss.
    pub fn randomizes_the_heap(self) -> bool {
        matches!(self, Randomization::Full | Randomization::Unknown)
    }
}

/// How much the kernel randomises this process's addresses.
pub fn randomization() -> Randomization {
    if sys::personality() & ADDR_NO_RANDOMIZE != 0 {
        return Randomization::OffForThisProcess;
    }
    match read_number("/proc/sys/kernel/randomize_va_space") {
        Some(0) => Randomization::Off,
        Some(1) => Randomization::Partial,
        Some(_) => Randomization::Full,
        None => Randomization::Unknown,
    }
}

fn read_number(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test harness runs with whatever layout it was started with; the answer must agree
    /// with the kernel's own inputs, read independently here.
    #[test]
    fn the_reasons_follow_the_kernel_inputs() {
        let reasons = legacy_mmap_reasons();
        let unlimited = reasons.iter().any(|r| r.contains("ulimit"));
        assert_eq!(unlimited, sys::stack_limit().is_none());
        assert_eq!(
            reasons.iter().any(|r| r.contains("legacy_va_layout")),
            std::fs::read_to_string("/proc/sys/vm/legacy_va_layout").is_ok_and(|t| t.trim() == "1")
        );
    }

    #[test]
    fn randomization_is_read_from_the_kernel() {
        let level = std::fs::read_to_string("/proc/sys/kernel/randomize_va_space").unwrap();
        let r = randomization();
        if r != Randomization::OffForThisProcess {
            let expected = match level.trim() {
                "0" => Randomization::Off,
                "1" => Randomization::Partial,
                _ => Randomization::Full,
            };
            assert_eq!(r, expected);
        }
    }
}
