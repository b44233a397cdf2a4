//! Human-readable sizes as Nomad prints them (go-humanize `IBytes`): `4.0 KiB`, `300 MiB`.

/// go-humanize's `IBytes`: powers of 1024, one decimal below 10, none from 10 up;
/// values under 10 bytes print as `N B`.
///
/// ```
/// assert_eq!(caravan_cli::byte_size::ibytes(4096), "4.0 KiB");
/// assert_eq!(caravan_cli::byte_size::ibytes(300 * 1024 * 1024), "300 MiB");
/// ```
pub fn ibytes(size: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if size < 10 {
        return format!("{size} B");
    }
    let mut exp = 0usize;
    let mut scaled = size as f64;
    while scaled >= 1024.0 && exp + 1 < UNITS.len() {
        scaled /= 1024.0;
        exp += 1;
    }
    let value = (scaled * 10.0 + 0.5).floor() / 10.0;
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[exp])
    } else {
        format!("{value:.0} {}", UNITS[exp])
    }
}

/// [`ibytes`] of a size in megabytes (Nomad's `MemoryMB`, `DiskMB`); negative is 0.
pub fn ibytes_mb(megabytes: i64) -> String {
    ibytes(megabytes.max(0) as u64 * 1024 * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(u64, &str)] = &[
            (0, "0 B"),
            (9, "9 B"),
            (10, "10 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1536, "1.5 KiB"),
            (4096, "4.0 KiB"),
            (10 * 1024, "10 KiB"),
            (10 * 1024 - 1, "10 KiB"),
            (300 * 1024 * 1024, "300 MiB"),
            (1024 * 1024 * 1024, "1.0 GiB"),
        ];
        for (size, want) in cases {
            assert_eq!(ibytes(*size), *want, "size {size}");
        }
        assert_eq!(ibytes_mb(300), "300 MiB");
        assert_eq!(ibytes_mb(-1), "0 B");
    }
}
