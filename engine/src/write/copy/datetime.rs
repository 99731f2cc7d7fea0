//! Dates and timestamps as Redshift COPY reads them: `DATEFORMAT`/`TIMEFORMAT 'auto'` recognise
//! the common spellings, an explicit format uses Redshift's format elements (`YYYY`, `MM`, `DD`,
//! `MON`, `HH24`, `MI`, `SS`, ...), and `TIMEFORMAT 'epochsecs'|'epochmillisecs'` read numbers.

use chrono::{NaiveDate, NaiveDateTime};

/// Days from 0001-01-01 (chrono's day 1 of the common era) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// The date spellings `DATEFORMAT 'auto'` accepts, in the order tried (Redshift's auto list:
/// month before day when ambiguous).
const AUTO_DATES: &[&str] = &[
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y%m%d",
    "%d-%b-%Y",
    "%d %b %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%m-%d-%Y",
];

/// The time-of-day spellings `TIMEFORMAT 'auto'` accepts after a date.
const AUTO_TIMES: &[&str] = &["%H:%M:%S%.f", "%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p"];

/// How a COPY reads timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeFormat {
    Auto,
    EpochSecs,
    EpochMillis,
    /// A chrono format converted from Redshift's elements.
    Pattern(String),
}

impl TimeFormat {
    pub fn parse(text: &str) -> TimeFormat {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => TimeFormat::Auto,
            "epochsecs" => TimeFormat::EpochSecs,
            "epochmillisecs" => TimeFormat::EpochMillis,
            _ => TimeFormat::Pattern(chrono_pattern(text)),
        }
    }
}

/// A Redshift datetime format (`YYYY-MM-DD HH24:MI:SS`) as a chrono format.
pub fn chrono_pattern(format: &str) -> String {
    const ELEMENTS: &[(&str, &str)] = &[
        ("YYYY", "%Y"),
        ("HH24", "%H"),
        ("HH12", "%I"),
        ("MONTH", "%B"),
        ("MON", "%b"),
        ("YY", "%y"),
        ("MM", "%m"),
        ("DD", "%d"),
        ("HH", "%H"),
        ("MI", "%M"),
        ("SS", "%S"),
        ("AM", "%p"),
        ("PM", "%p"),
    ];
    let mut out = String::new();
    let mut rest = format;
    'outer: while !rest.is_empty() {
        for (element, chrono) in ELEMENTS {
            if rest.len() >= element.len() && rest[..element.len()].eq_ignore_ascii_case(element) {
                out.push_str(chrono);
                rest = &rest[element.len()..];
                // Fractions after seconds (`SS.SSS`, `SS.US`) read any number of digits.
                if *element == "SS" {
                    for fraction in [".SSSSSS", ".SSS", ".US", ".MS"] {
                        if rest.len() >= fraction.len() && rest[..fraction.len()].eq_ignore_ascii_case(fraction) {
                            out.push_str("%.f");
                            rest = &rest[fraction.len()..];
                        }
                    }
                }
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or_default();
        if c == '%' {
            out.push_str("%%");
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn days(date: NaiveDate) -> i32 {
    use chrono::Datelike;
    date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

fn micros(ts: NaiveDateTime) -> i64 {
    ts.and_utc().timestamp_micros()
}

/// A date in days since 1970-01-01; `format` is `None` for 'auto'.
pub fn parse_date(text: &str, format: Option<&str>) -> Option<i32> {
    let text = text.trim();
    if let Some(format) = format {
        return NaiveDate::parse_from_str(text, format).ok().map(days);
    }
    AUTO_DATES
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(text, f).ok())
        .or_else(|| auto_timestamp(text).map(|ts| ts.date()))
        .map(days)
}

/// A timestamp in microseconds since 1970-01-01 00:00:00.
pub fn parse_timestamp(text: &str, format: &TimeFormat) -> Option<i64> {
    let text = text.trim();
    match format {
        TimeFormat::Auto => auto_timestamp(text).map(micros),
        TimeFormat::EpochSecs => text.parse::<i64>().ok().and_then(|s| s.checked_mul(1_000_000)),
        TimeFormat::EpochMillis => text.parse::<i64>().ok().and_then(|ms| ms.checked_mul(1_000)),
        TimeFormat::Pattern(pattern) => NaiveDateTime::parse_from_str(text, pattern)
            .ok()
            .or_else(|| NaiveDate::parse_from_str(text, pattern).ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
            .map(micros),
    }
}

/// `TIMEFORMAT 'auto'`: a date spelling, optionally followed by `T` or spaces and a time, an
/// optional `Z`; a bare date is midnight.
fn auto_timestamp(text: &str) -> Option<NaiveDateTime> {
    let text = text.strip_suffix('Z').unwrap_or(text);
    for date_format in AUTO_DATES {
        if let Ok(date) = NaiveDate::parse_from_str(text, date_format) {
            return date.and_hms_opt(0, 0, 0);
        }
        for separator in [" ", "T"] {
            for time_format in AUTO_TIMES {
                let format = format!("{date_format}{separator}{time_format}");
                if let Ok(ts) = NaiveDateTime::parse_from_str(text, &format) {
                    return Some(ts);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_dates_and_timestamps() {
        for text in ["2024-03-05", "03/05/2024", "20240305", "05-Mar-2024", "Mar 05, 2024", "2024-03-05 10:11:12"] {
            assert_eq!(parse_date(text, None), Some(19_787), "{text}");
        }
        let ten = 1_709_633_472_000_000; // 2024-03-05 10:11:12
        for text in ["2024-03-05 10:11:12", "2024-03-05T10:11:12Z", "03/05/2024 10:11:12", "2024-03-05 10:11:12.000"] {
            assert_eq!(parse_timestamp(text, &TimeFormat::Auto), Some(ten), "{text}");
        }
        assert_eq!(parse_timestamp("2024-03-05 10:11:12.5", &TimeFormat::Auto), Some(ten + 500_000));
        assert_eq!(parse_timestamp("2024-03-05", &TimeFormat::Auto), Some(ten - 36_672_000_000));
        assert_eq!(parse_date("2024-02-30", None), None);
        assert_eq!(parse_timestamp("yesterday", &TimeFormat::Auto), None);
    }

    #[test]
    fn explicit_formats_and_epochs() {
        assert_eq!(chrono_pattern("YYYY-MM-DD HH24:MI:SS"), "%Y-%m-%d %H:%M:%S");
        assert_eq!(chrono_pattern("DD/MM/YYYY"), "%d/%m/%Y");
        assert_eq!(parse_date("05/03/2024", Some(&chrono_pattern("DD/MM/YYYY"))), Some(19_787));
        let pattern = TimeFormat::parse("MM.DD.YYYY HH:MI:SS.SSS");
        assert_eq!(parse_timestamp("03.05.2024 10:11:12.250", &pattern), Some(1_709_633_472_250_000));
        assert_eq!(parse_timestamp("1709633472", &TimeFormat::parse("epochsecs")), Some(1_709_633_472_000_000));
        assert_eq!(parse_timestamp("1709633472250", &TimeFormat::parse("epochmillisecs")), Some(1_709_633_472_250_000));
    }
}
