//! Number formats shared by every lesson binary.

/// A human form of a byte count: `512 B`, `4 KiB`, `1.5 MiB`, `195.3 KiB`.
pub fn human(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut unit = 0;
    let mut scale = 1u64;
    while unit + 1 < UNITS.len() && n >= scale * 1024 {
        scale *= 1024;
        unit += 1;
    }
    if n.is_multiple_of(scale) {
        format!("{} {}", n / scale, UNITS[unit])
    } else {
        format!("{:.1} {}", n as f64 / scale as f64, UNITS[unit])
    }
}

/// `n` things, in the plural where it needs one: `1 byte`, `0 bytes`, `2 bytes`.
pub fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// How far `to` lies from `from`, in words: `16 bytes higher`, `4096 bytes lower`, `the same`.
pub fn moved(from: usize, to: usize) -> String {
    match to.cmp(&from) {
        std::cmp::Ordering::Equal => "the same".to_owned(),
        std::cmp::Ordering::Greater => format!("{} higher", count(to - from, "byte")),
        std::cmp::Ordering::Less => format!("{} lower", count(from - to, "byte")),
    }
}

/// A size that is the same on every run: `4096 bytes (4 KiB)`; below 1 KiB just `100 bytes`.
pub fn bytes(n: u64) -> String {
    if n < 1024 {
        format!("{n} bytes")
    } else {
        format!("{n} bytes ({})", human(n))
    }
}

/// A size that changes from run to run (ASLR, the build, the machine), marked with `~` so that
/// `check-all` masks it: `~30408704 bytes (~29 MiB)`. The human form is always there, even
/// for small values (`~0 bytes (~0 B)`), so that the masked pattern does not depend on the size.
pub fn varying_bytes(n: u64) -> String {
    format!("~{n} bytes (~{})", human(n))
}

/// Text that depends on the machine (a policy, an outcome that follows from it), marked so that
/// `check-all` masks it: `~{granted}`. The line around it must not change.
pub fn varying_text(text: &str) -> String {
    format!("~{{{text}}}")
}

/// What a failed system call said, as the lessons print it: `ENOMEM (Cannot allocate memory)`
/// for an errno, the error's own words otherwise (`invalid input parameter`).
pub fn io_error(error: &std::io::Error) -> String {
    match error.raw_os_error() {
        Some(code) => memcore::Errno(code).to_string(),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_read_as_their_errno_name() {
        let enomem = std::io::Error::from_raw_os_error(12);
        assert_eq!(io_error(&enomem), "ENOMEM (Cannot allocate memory)");
        let invalid = std::io::Error::from(std::io::ErrorKind::InvalidInput);
        assert_eq!(io_error(&invalid), "invalid input parameter");
    }

    #[test]
    fn sizes_read_as_decimal_with_a_human_form() {
        assert_eq!(bytes(100), "100 bytes");
        assert_eq!(bytes(4096), "4096 bytes (4 KiB)");
        assert_eq!(bytes(135_168), "135168 bytes (132 KiB)");
        assert_eq!(bytes(200_000), "200000 bytes (195.3 KiB)");
        assert_eq!(bytes(3 << 20), "3145728 bytes (3 MiB)");
        assert_eq!(human(1 << 46), "64 TiB");
        assert_eq!(human(u64::MAX), "16384.0 PiB");
    }

    #[test]
    fn varying_text_is_marked() {
        assert_eq!(varying_text("0 (heuristic)"), "~{0 (heuristic)}");
    }

    #[test]
    fn varying_sizes_are_marked() {
        assert_eq!(varying_bytes(0), "~0 bytes (~0 B)");
        assert_eq!(varying_bytes(12), "~12 bytes (~12 B)");
        assert_eq!(varying_bytes(30_408_704), "~30408704 bytes (~29 MiB)");
    }
}
