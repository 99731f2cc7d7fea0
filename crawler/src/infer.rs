//! CSV type inference: each column's sampled values climb a candidate ladder, as DuckDB's
//! sniffer does: BOOLEAN → INT → BIGINT → DOUBLE → DECIMAL (where a double would not keep the
//! digits) → DATE → TIMESTAMP → VARCHAR. The first rung every non-null value fits is the type,
//! and the reason names the count and, for a rung given up, the value that broke it.

use chrono::{NaiveDate, NaiveDateTime};
use tarn_catalog::SqlType;

/// Digits a double keeps exactly when printed back (IEEE 754 binary64 guarantees 15).
const DOUBLE_EXACT_DIGITS: u32 = 15;

/// A date or timestamp spelling: the chrono pattern used to recognise it and the Hive (Java)
/// pattern written to the table's SerDe parameters, the form Hive and Athena read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemporalFormat {
    pub chrono: &'static str,
    pub hive: &'static str,
}

/// Date spellings in order of preference (ISO first, as the engine's default).
pub const DATE_FORMATS: &[TemporalFormat] = &[
    TemporalFormat { chrono: "%Y-%m-%d", hive: "yyyy-MM-dd" },
    TemporalFormat { chrono: "%Y/%m/%d", hive: "yyyy/MM/dd" },
    TemporalFormat { chrono: "%m/%d/%Y", hive: "MM/dd/yyyy" },
];

/// Timestamp spellings: each date spelling with `T` or a space, seconds with an optional
/// fraction, or minutes only. The Hive pattern names the fraction when one was seen.
pub const TIMESTAMP_FORMATS: &[TemporalFormat] = &[
    TemporalFormat { chrono: "%Y-%m-%d %H:%M:%S%.f", hive: "yyyy-MM-dd HH:mm:ss" },
    TemporalFormat { chrono: "%Y-%m-%dT%H:%M:%S%.f", hive: "yyyy-MM-dd'T'HH:mm:ss" },
    TemporalFormat { chrono: "%Y/%m/%d %H:%M:%S%.f", hive: "yyyy/MM/dd HH:mm:ss" },
    TemporalFormat { chrono: "%m/%d/%Y %H:%M:%S%.f", hive: "MM/dd/yyyy HH:mm:ss" },
    TemporalFormat { chrono: "%Y-%m-%d %H:%M", hive: "yyyy-MM-dd HH:mm" },
    TemporalFormat { chrono: "%Y-%m-%dT%H:%M", hive: "yyyy-MM-dd'T'HH:mm" },
    TemporalFormat { chrono: "%m/%d/%Y %H:%M", hive: "MM/dd/yyyy HH:mm" },
];

/// Whether `text` (already trimmed) spells NULL in delimited text.
pub fn is_null_spelling(text: &str) -> bool {
    text.is_empty() || text == "\\N" || text.eq_ignore_ascii_case("null")
}

/// The inferred type of one column, its reason, and its temporal format if any.
#[derive(Debug, Clone, PartialEq)]
pub struct InferredType {
    pub data_type: SqlType,
    pub reason: String,
    /// For DATE and TIMESTAMP: the spelling every value matched, in Hive's pattern language.
    pub format: Option<String>,
}

/// The running state of one column's ladder.
#[derive(Debug, Clone)]
pub struct ColumnInference {
    values: u64,
    nulls: u64,
    /// `NULL`/`null` spelled out (rather than empty or `\N`): the table needs that null format.
    word_nulls: u64,
    boolean: Rung,
    int: Rung,
    bigint: Rung,
    /// Every value a numeral (the double and decimal rungs both need this).
    numeric: Rung,
    /// A value with more significant digits than a double keeps.
    inexact_double: Option<String>,
    /// A numeral a decimal cannot hold (exponent, or more than 38 digits).
    decimal: Rung,
    int_digits: u32,
    scale: u32,
    /// A numeral with a leading zero (`007`): codes, not numbers.
    leading_zero: Option<String>,
    dates: Vec<usize>,
    date_rejection: Option<String>,
    timestamps: Vec<usize>,
    timestamp_rejection: Option<String>,
    fraction_seen: bool,
    /// The first value that is no boolean, number, date or timestamp at all.
    text_example: Option<String>,
}

/// One rung: still possible, or the first value that ruled it out.
#[derive(Debug, Clone, Default)]
struct Rung {
    rejected_by: Option<String>,
}

impl Rung {
    fn ok(&self) -> bool {
        self.rejected_by.is_none()
    }

    fn reject(&mut self, value: &str) {
        if self.rejected_by.is_none() {
            self.rejected_by = Some(value.to_string());
        }
    }
}

impl Default for ColumnInference {
    fn default() -> Self {
        ColumnInference {
            values: 0,
            nulls: 0,
            word_nulls: 0,
            boolean: Rung::default(),
            int: Rung::default(),
            bigint: Rung::default(),
            numeric: Rung::default(),
            inexact_double: None,
            decimal: Rung::default(),
            int_digits: 0,
            scale: 0,
            leading_zero: None,
            dates: (0..DATE_FORMATS.len()).collect(),
            date_rejection: None,
            timestamps: (0..TIMESTAMP_FORMATS.len()).collect(),
            timestamp_rejection: None,
            fraction_seen: false,
            text_example: None,
        }
    }
}

/// A numeral's shape: what the numeric rungs need to know about it.
struct Numeral {
    int_digits: u32,
    scale: u32,
    significant: u32,
    exponent: bool,
    leading_zero: bool,
}

impl ColumnInference {
    /// Feeds one raw field (surrounding whitespace is ignored, as scans ignore it).
    pub fn observe(&mut self, raw: &str) {
        let text = raw.trim();
        if is_null_spelling(text) {
            self.nulls += 1;
            if text.eq_ignore_ascii_case("null") {
                self.word_nulls += 1;
            }
            return;
        }
        self.values += 1;
        if !matches!(text.to_ascii_lowercase().as_str(), "true" | "false" | "t" | "f" | "yes" | "no") {
            self.boolean.reject(text);
        }
        match numeral(text) {
            Some(n) => self.observe_numeral(text, &n),
            None => {
                for rung in [&mut self.int, &mut self.bigint, &mut self.numeric, &mut self.decimal] {
                    rung.reject(text);
                }
                if self.text_example.is_none()
                    && !is_temporal(text)
                    && self.boolean.rejected_by.as_deref() == Some(text)
                {
                    self.text_example = Some(text.to_string());
                }
            }
        }
        if !self.dates.is_empty() {
            self.dates.retain(|&i| NaiveDate::parse_from_str(text, DATE_FORMATS[i].chrono).is_ok());
            if self.dates.is_empty() {
                self.date_rejection = Some(text.to_string());
            }
        }
        if !self.timestamps.is_empty() {
            self.timestamps.retain(|&i| timestamp_matches(text, &TIMESTAMP_FORMATS[i]));
            if self.timestamps.is_empty() {
                self.timestamp_rejection = Some(text.to_string());
            } else if text.contains('.') && text.contains(':') {
                self.fraction_seen = true;
            }
        }
    }

    /// Feeds a value known to be text (a JSON string): it may be a date or a timestamp, never
    /// a number or a boolean.
    pub fn observe_text(&mut self, raw: &str) {
        let text = raw.trim();
        if !is_null_spelling(text) {
            for rung in [&mut self.boolean, &mut self.int, &mut self.bigint, &mut self.numeric, &mut self.decimal] {
                rung.reject(text);
            }
        }
        self.observe(raw);
    }

    fn observe_numeral(&mut self, text: &str, n: &Numeral) {
        if n.leading_zero && self.leading_zero.is_none() {
            self.leading_zero = Some(text.to_string());
        }
        let integer = n.scale == 0 && !n.exponent && !text.contains('.');
        match text.parse::<i64>() {
            Ok(v) if integer => {
                if i32::try_from(v).is_err() {
                    self.int.reject(text);
                }
            }
            _ => {
                self.int.reject(text);
                self.bigint.reject(text);
            }
        }
        if n.significant > DOUBLE_EXACT_DIGITS && self.inexact_double.is_none() {
            self.inexact_double = Some(text.to_string());
        }
        if n.exponent || n.int_digits + n.scale > 38 {
            self.decimal.reject(text);
        } else {
            self.int_digits = self.int_digits.max(n.int_digits);
            self.scale = self.scale.max(n.scale);
            if self.int_digits + self.scale > 38 {
                self.decimal.reject(text);
            }
        }
    }

    /// How many non-null values were seen.
    pub fn values(&self) -> u64 {
        self.values
    }

    /// Whether some nulls were spelled `NULL` rather than empty or `\N`.
    pub fn has_word_nulls(&self) -> bool {
        self.word_nulls > 0
    }

    /// Whether `text` fits `data_type` as this ladder reads values (used to test a header row
    /// against the data below it).
    pub fn fits(text: &str, data_type: &SqlType) -> bool {
        let mut probe = ColumnInference::default();
        probe.observe(text);
        if probe.values == 0 {
            return true;
        }
        let found = probe.conclude().data_type;
        let (have, want) = (found.widen_rank(), data_type.widen_rank());
        let numeric = 1..=4;
        found == *data_type
            || (numeric.contains(&have) && numeric.contains(&want) && have <= want)
            || (found == SqlType::Date && *data_type == SqlType::Timestamp)
    }

    /// The type: the first rung every value fits, with the reason.
    pub fn conclude(&self) -> InferredType {
        let n = self.values;
        let count = format_count(n);
        let plain = |data_type: SqlType, reason: String| InferredType { data_type, reason, format: None };
        if n == 0 {
            return plain(SqlType::String, format!("no non-null values among {} sampled", format_count(self.nulls)));
        }
        if let Some(example) = &self.leading_zero {
            if self.numeric.ok() {
                return plain(
                    SqlType::String,
                    format!("numerals with leading zeros (e.g. '{example}') are codes, kept as text"),
                );
            }
        }
        if self.boolean.ok() {
            return plain(SqlType::Boolean, format!("{count} sampled values are all true/false"));
        }
        if self.int.ok() {
            return plain(SqlType::Int, format!("{count} sampled values are all integers within int range"));
        }
        if self.bigint.ok() {
            let example = self.int.rejected_by.as_deref().unwrap_or_default();
            return plain(SqlType::BigInt, format!("{count} sampled values are integers; '{example}' exceeds int"));
        }
        if self.numeric.ok() {
            let fraction = self.bigint.rejected_by.as_deref().unwrap_or_default();
            match (&self.inexact_double, self.decimal.ok()) {
                (None, _) => {
                    return plain(
                        SqlType::Double,
                        format!("{count} sampled values are numbers; '{fraction}' is not an integer"),
                    )
                }
                (Some(example), true) => {
                    let precision = (self.int_digits + self.scale).max(1);
                    return plain(
                        SqlType::Decimal(precision as u8, self.scale as i8),
                        format!(
                            "{count} sampled values are numbers; '{example}' has more digits than a double keeps, \
                             decimal({precision},{}) holds every value exactly",
                            self.scale
                        ),
                    );
                }
                (Some(example), false) => {
                    return plain(
                        SqlType::Double,
                        format!(
                            "{count} sampled values are numbers; '{example}' fits neither exactly, double is nearest"
                        ),
                    )
                }
            }
        }
        if let Some(&i) = self.dates.first() {
            let hive = DATE_FORMATS[i].hive;
            return InferredType {
                data_type: SqlType::Date,
                reason: format!("{count} sampled values all match {hive}"),
                format: Some(hive.to_string()),
            };
        }
        if let Some(&i) = self.timestamps.first() {
            let mut hive = TIMESTAMP_FORMATS[i].hive.to_string();
            if self.fraction_seen && hive.ends_with("ss") {
                hive.push_str(".SSSSSS");
            }
            return InferredType {
                data_type: SqlType::Timestamp,
                reason: format!("{count} sampled values all match {hive}"),
                format: Some(hive),
            };
        }
        let reason = match (&self.text_example, &self.numeric.rejected_by, &self.timestamp_rejection) {
            (Some(example), _, _) => format!("'{}' is not a boolean, number, date or timestamp", shorten(example)),
            (None, Some(not_number), Some(not_time)) => format!(
                "values mix kinds: '{}' is not a number and '{}' is not a date or timestamp",
                shorten(not_number),
                shorten(not_time)
            ),
            _ => "values are not all of one boolean, number, date or timestamp type".to_string(),
        };
        plain(SqlType::String, reason)
    }
}

/// Whether `text` is a date or timestamp in any recognised spelling.
fn is_temporal(text: &str) -> bool {
    DATE_FORMATS.iter().any(|f| NaiveDate::parse_from_str(text, f.chrono).is_ok())
        || TIMESTAMP_FORMATS.iter().any(|f| timestamp_matches(text, f))
}

/// A timestamp value in `format`, or a bare date in its date part (midnight), as scans read it.
fn timestamp_matches(text: &str, format: &TemporalFormat) -> bool {
    if NaiveDateTime::parse_from_str(text, format.chrono).is_ok() {
        return true;
    }
    let date_part = format.chrono.split([' ', 'T']).next().unwrap_or_default();
    NaiveDate::parse_from_str(text, date_part).is_ok()
}

/// The shape of a plain numeral (`-12`, `3.50`, `.5`, `1e-3`); `None` for anything else,
/// including `inf` and `NaN`, which Rust would parse but no one means as a number column.
fn numeral(text: &str) -> Option<Numeral> {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    if let Some(exp) = exponent {
        let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int_trimmed = int_part.trim_start_matches('0');
    let all_digits = format!("{int_trimmed}{frac_part}");
    let significant = all_digits.trim_start_matches('0').trim_end_matches('0').len() as u32;
    Some(Numeral {
        int_digits: int_trimmed.len() as u32,
        scale: frac_part.len() as u32,
        significant,
        exponent: exponent.is_some(),
        leading_zero: int_part.len() > 1 && int_part.starts_with('0'),
    })
}

/// `20480` → `20,480`, as counts read in the plan.
pub fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text.to_string()
    }
}

/// The order in which types widen into each other, for comparisons.
pub trait WidenRank {
    fn widen_rank(&self) -> u8;
}

impl WidenRank for SqlType {
    fn widen_rank(&self) -> u8 {
        match self {
            SqlType::Boolean => 0,
            SqlType::TinyInt | SqlType::SmallInt | SqlType::Int => 1,
            SqlType::BigInt => 2,
            SqlType::Real | SqlType::Double => 3,
            SqlType::Decimal(..) => 4,
            SqlType::Date => 5,
            SqlType::Timestamp => 6,
            SqlType::Varchar(_) | SqlType::Char(_) | SqlType::String => 7,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(values: &[&str]) -> InferredType {
        let mut column = ColumnInference::default();
        for value in values {
            column.observe(value);
        }
        column.conclude()
    }

    #[test]
    fn climbs_the_ladder() {
        assert_eq!(infer(&["true", "FALSE", "", "t"]).data_type, SqlType::Boolean);
        assert_eq!(infer(&["1", "-2", "NULL", "\\N", " 3 "]).data_type, SqlType::Int);
        let big = infer(&["1", "9876543210"]);
        assert_eq!(big.data_type, SqlType::BigInt);
        assert!(big.reason.contains("'9876543210' exceeds int"), "{}", big.reason);
        assert_eq!(infer(&["1", "2.5", "1e3", "-.5"]).data_type, SqlType::Double);
        let exact = infer(&["12345678901234567.25", "1.5"]);
        assert_eq!(exact.data_type, SqlType::Decimal(19, 2));
        assert!(exact.reason.contains("more digits than a double keeps"), "{}", exact.reason);
        assert_eq!(infer(&["123456789012345678901234"]).data_type, SqlType::Decimal(24, 0));
        assert_eq!(infer(&["0", "1", "0"]).data_type, SqlType::Int, "0/1 are integers, not booleans");
        let text = infer(&["1", "abc"]);
        assert_eq!(text.data_type, SqlType::String);
        assert!(text.reason.contains("'abc'"), "{}", text.reason);
        assert_eq!(infer(&["", "NULL"]).data_type, SqlType::String);
        assert_eq!(infer(&["inf", "NaN"]).data_type, SqlType::String);
    }

    #[test]
    fn leading_zeros_stay_text() {
        let zip = infer(&["02134", "90210"]);
        assert_eq!(zip.data_type, SqlType::String);
        assert!(zip.reason.contains("'02134'"), "{}", zip.reason);
        assert_eq!(infer(&["0.5", "0"]).data_type, SqlType::Double);
    }

    #[test]
    fn recognises_dates_and_timestamps_with_their_format() {
        let iso = infer(&["2024-01-31", "2023-12-01"]);
        assert_eq!((iso.data_type, iso.format.as_deref()), (SqlType::Date, Some("yyyy-MM-dd")));
        assert_eq!(infer(&["2024/01/31"]).format.as_deref(), Some("yyyy/MM/dd"));
        assert_eq!(infer(&["01/31/2024", "12/01/2023"]).format.as_deref(), Some("MM/dd/yyyy"));
        let ts = infer(&["2024-01-31 10:00:00", "2024-02-01 11:30:15.250", "2024-02-02"]);
        assert_eq!(ts.data_type, SqlType::Timestamp);
        assert_eq!(ts.format.as_deref(), Some("yyyy-MM-dd HH:mm:ss.SSSSSS"));
        assert!(ts.reason.starts_with("3 sampled values all match"), "{}", ts.reason);
        let t = infer(&["2024-01-31T10:00:00"]);
        assert_eq!(t.format.as_deref(), Some("yyyy-MM-dd'T'HH:mm:ss"));
        assert_eq!(infer(&["2024-01-31 10:00"]).format.as_deref(), Some("yyyy-MM-dd HH:mm"));
        assert_eq!(infer(&["2024-02-30"]).data_type, SqlType::String);
    }

    #[test]
    fn counts_read_with_separators() {
        assert_eq!(format_count(20480), "20,480");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1_000_000), "1,000,000");
    }
}
