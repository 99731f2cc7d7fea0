//! Byte sizes as users write them in settings (`'2GB'`, `'512MB'`, `1000000`) and as errors and
//! `EXPLAIN ANALYZE` print them (`2.1 GB`). Units are decimal (1 KB = 1000 bytes) and the `KiB`
//! spellings binary, as DuckDB reads `memory_limit`, so a limit copied from DuckDB means the same.

/// Decimal units, largest first, for printing.
const UNITS: &[(&str, u64)] = &[("TB", 1_000_000_000_000), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1_000)];

/// Parses `10GB`, `1.5 GB`, `512MiB`, `100kb` or a plain byte count.
pub fn parse_byte_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" | "bytes" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return None,
    };
    let bytes = number * multiplier as f64;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// A size as a setting value that parses back to the same bytes: `2GB`, `1500`.
pub fn setting_text(bytes: u64) -> String {
    UNITS
        .iter()
        .find(|(_, size)| bytes >= *size && bytes.is_multiple_of(*size))
        .map(|(unit, size)| format!("{}{unit}", bytes / size))
        .unwrap_or_else(|| bytes.to_string())
}

/// A size for people, one decimal: `2.1 GB`, `812 bytes`.
pub fn human(bytes: u64) -> String {
    match UNITS.iter().find(|(_, size)| bytes >= *size) {
        Some((unit, size)) => format!("{:.1} {unit}", bytes as f64 / *size as f64),
        None => format!("{bytes} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_plain_numbers() {
        assert_eq!(parse_byte_size("10GB"), Some(10_000_000_000));
        assert_eq!(parse_byte_size("1.5 gb"), Some(1_500_000_000));
        assert_eq!(parse_byte_size("512MiB"), Some(512 << 20));
        assert_eq!(parse_byte_size("1000"), Some(1000));
        assert_eq!(parse_byte_size("ten GB"), None);
        assert_eq!(parse_byte_size("10 parsecs"), None);
    }

    #[test]
    fn prints_settings_and_figures() {
        assert_eq!(setting_text(2_000_000_000), "2GB");
        assert_eq!(setting_text(1500), "1500");
        assert_eq!(human(2_100_000_000), "2.1 GB");
        assert_eq!(human(812), "812 bytes");
    }
}
