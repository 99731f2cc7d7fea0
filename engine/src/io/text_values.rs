//! Text to typed Arrow values, one column builder per declared type: how delimited text spells
//! booleans, numbers, decimals, dates and timestamps. Builders append straight from the field's
//! bytes, so parsing a row allocates nothing.
//!
//! Dates and timestamps may be spelled by a table's Hive patterns (`date.format`,
//! `timestamp.formats`, e.g. `MM/dd/yyyy`, as the crawler records them): each pattern is compiled
//! once per scan into a [`TemporalPattern`], and each column builder remembers the pattern that
//! matched last, so a column of one spelling tries one pattern per value. ISO spellings are always
//! accepted too, as Hive accepts its default format besides `timestamp.formats`.

use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder, Float64Builder,
    Int16Builder, Int32Builder, Int64Builder, Int8Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::compute::kernels::cast_utils::parse_decimal;
use arrow::datatypes::{DataType, Decimal128Type, TimeUnit};
use chrono::{NaiveDate, NaiveTime};

use crate::error::{EngineError, Result};

/// Days from 0001-01-01 (chrono's day 1 of the common era) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// A builder for one declared column type.
#[derive(Debug)]
pub enum TextColumnBuilder {
    Boolean(BooleanBuilder),
    Int8(Int8Builder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Decimal(Decimal128Builder, u8, i8),
    Utf8(StringBuilder),
    Date32(Date32Builder, TemporalParser),
    Timestamp(TimestampMicrosecondBuilder, TemporalParser),
}

impl TextColumnBuilder {
    /// A builder for `data_type`, which must be one of the types the engine executes; dates and
    /// timestamps are read in ISO spelling only.
    pub fn new(data_type: &DataType, capacity: usize) -> Result<TextColumnBuilder> {
        TextColumnBuilder::with_formats(data_type, capacity, &TemporalFormats::default())
    }

    /// A builder that also reads dates and timestamps spelled by `formats`.
    pub fn with_formats(data_type: &DataType, capacity: usize, formats: &TemporalFormats) -> Result<TextColumnBuilder> {
        Ok(match data_type {
            DataType::Boolean => TextColumnBuilder::Boolean(BooleanBuilder::with_capacity(capacity)),
            DataType::Int8 => TextColumnBuilder::Int8(Int8Builder::with_capacity(capacity)),
            DataType::Int16 => TextColumnBuilder::Int16(Int16Builder::with_capacity(capacity)),
            DataType::Int32 => TextColumnBuilder::Int32(Int32Builder::with_capacity(capacity)),
            DataType::Int64 => TextColumnBuilder::Int64(Int64Builder::with_capacity(capacity)),
            DataType::Float32 => TextColumnBuilder::Float32(Float32Builder::with_capacity(capacity)),
            DataType::Float64 => TextColumnBuilder::Float64(Float64Builder::with_capacity(capacity)),
            DataType::Decimal128(p, s) => {
                TextColumnBuilder::Decimal(Decimal128Builder::with_capacity(capacity), *p, *s)
            }
            DataType::Utf8 => TextColumnBuilder::Utf8(StringBuilder::with_capacity(capacity, capacity * 16)),
            DataType::Date32 => {
                TextColumnBuilder::Date32(Date32Builder::with_capacity(capacity), TemporalParser::new(&formats.dates))
            }
            DataType::Timestamp(TimeUnit::Microsecond, None) => TextColumnBuilder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity),
                TemporalParser::new(&formats.timestamps),
            ),
            other => return Err(EngineError::Unsupported(format!("reading {other} columns from text files"))),
        })
    }

    pub fn is_text(&self) -> bool {
        matches!(self, TextColumnBuilder::Utf8(_))
    }

    pub fn append_null(&mut self) {
        match self {
            TextColumnBuilder::Boolean(b) => b.append_null(),
            TextColumnBuilder::Int8(b) => b.append_null(),
            TextColumnBuilder::Int16(b) => b.append_null(),
            TextColumnBuilder::Int32(b) => b.append_null(),
            TextColumnBuilder::Int64(b) => b.append_null(),
            TextColumnBuilder::Float32(b) => b.append_null(),
            TextColumnBuilder::Float64(b) => b.append_null(),
            TextColumnBuilder::Decimal(b, _, _) => b.append_null(),
            TextColumnBuilder::Utf8(b) => b.append_null(),
            TextColumnBuilder::Date32(b, _) => b.append_null(),
            TextColumnBuilder::Timestamp(b, _) => b.append_null(),
        }
    }

    /// Appends the value `field` spells. For every type but text, surrounding ASCII whitespace
    /// is ignored and an empty field is NULL (Hive and Athena read it so). The error is a
    /// sentence naming the bad value, for the caller to put in a `Data` error with row and column.
    pub fn append(&mut self, field: &[u8]) -> std::result::Result<(), String> {
        if let TextColumnBuilder::Utf8(b) = self {
            let text = std::str::from_utf8(field).map_err(|e| format!("invalid UTF-8 in text value: {e}"))?;
            b.append_value(text);
            return Ok(());
        }
        let trimmed = field.trim_ascii();
        if trimmed.is_empty() {
            self.append_null();
            return Ok(());
        }
        // Every value spelling below is ASCII; anything else is a bad value.
        let text = std::str::from_utf8(trimmed)
            .map_err(|_| format!("cannot parse {} as {}", quoted(trimmed), self.type_name()))?;
        let parsed: Option<()> = match self {
            TextColumnBuilder::Boolean(b) => parse_bool(trimmed).map(|v| b.append_value(v)),
            TextColumnBuilder::Int8(b) => text.parse().ok().map(|v| b.append_value(v)),
            TextColumnBuilder::Int16(b) => text.parse().ok().map(|v| b.append_value(v)),
            TextColumnBuilder::Int32(b) => text.parse().ok().map(|v| b.append_value(v)),
            TextColumnBuilder::Int64(b) => text.parse().ok().map(|v| b.append_value(v)),
            TextColumnBuilder::Float32(b) => text.parse().ok().map(|v| b.append_value(v)),
            TextColumnBuilder::Float64(b) => text.parse().ok().map(|v| b.append_value(v)),
            TextColumnBuilder::Decimal(b, p, s) => {
                parse_decimal::<Decimal128Type>(text, *p, *s).ok().map(|v| b.append_value(v))
            }
            TextColumnBuilder::Date32(b, p) => p.date(text).map(|v| b.append_value(v)),
            TextColumnBuilder::Timestamp(b, p) => p.timestamp_micros(text).map(|v| b.append_value(v)),
            TextColumnBuilder::Utf8(_) => unreachable!("text is handled above"),
        };
        parsed.ok_or_else(|| format!("cannot parse '{text}' as {}", self.type_name()))
    }

    pub fn len(&self) -> usize {
        self.builder().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The built column; the builder is left empty for the next batch.
    pub fn finish(&mut self) -> ArrayRef {
        match self {
            TextColumnBuilder::Decimal(b, p, s) => Arc::new(
                b.finish()
                    .with_precision_and_scale(*p, *s)
                    // Invariant: p and s come from a declared Decimal128 type the catalog validated.
                    .expect("declared decimal precision and scale are valid"),
            ),
            TextColumnBuilder::Boolean(b) => Arc::new(b.finish()),
            TextColumnBuilder::Int8(b) => Arc::new(b.finish()),
            TextColumnBuilder::Int16(b) => Arc::new(b.finish()),
            TextColumnBuilder::Int32(b) => Arc::new(b.finish()),
            TextColumnBuilder::Int64(b) => Arc::new(b.finish()),
            TextColumnBuilder::Float32(b) => Arc::new(b.finish()),
            TextColumnBuilder::Float64(b) => Arc::new(b.finish()),
            TextColumnBuilder::Utf8(b) => Arc::new(b.finish()),
            TextColumnBuilder::Date32(b, _) => Arc::new(b.finish()),
            TextColumnBuilder::Timestamp(b, _) => Arc::new(b.finish()),
        }
    }

    fn builder(&self) -> &dyn ArrayBuilder {
        match self {
            TextColumnBuilder::Boolean(b) => b,
            TextColumnBuilder::Int8(b) => b,
            TextColumnBuilder::Int16(b) => b,
            TextColumnBuilder::Int32(b) => b,
            TextColumnBuilder::Int64(b) => b,
            TextColumnBuilder::Float32(b) => b,
            TextColumnBuilder::Float64(b) => b,
            TextColumnBuilder::Decimal(b, _, _) => b,
            TextColumnBuilder::Utf8(b) => b,
            TextColumnBuilder::Date32(b, _) => b,
            TextColumnBuilder::Timestamp(b, _) => b,
        }
    }

    fn type_name(&self) -> String {
        match self {
            TextColumnBuilder::Boolean(_) => "boolean".into(),
            TextColumnBuilder::Int8(_) => "tinyint".into(),
            TextColumnBuilder::Int16(_) => "smallint".into(),
            TextColumnBuilder::Int32(_) => "int".into(),
            TextColumnBuilder::Int64(_) => "bigint".into(),
            TextColumnBuilder::Float32(_) => "float".into(),
            TextColumnBuilder::Float64(_) => "double".into(),
            TextColumnBuilder::Decimal(_, p, s) => format!("decimal({p},{s})"),
            TextColumnBuilder::Utf8(_) => "string".into(),
            TextColumnBuilder::Date32(_, p) => format!("date ({}YYYY-MM-DD)", p.spellings()),
            TextColumnBuilder::Timestamp(_, p) => {
                format!("timestamp ({}YYYY-MM-DD HH:MM:SS[.ffffff])", p.spellings())
            }
        }
    }
}

fn quoted(bytes: &[u8]) -> String {
    format!("'{}'", String::from_utf8_lossy(bytes))
}

/// `true/false/t/f/1/0/yes/no`, case-insensitive (Hive accepts `true/false`, Redshift COPY the rest).
pub fn parse_bool(text: &[u8]) -> Option<bool> {
    let lower = |s: &[u8]| -> Option<[u8; 5]> {
        if s.len() > 5 {
            return None;
        }
        let mut buf = [0u8; 5];
        for (d, c) in buf.iter_mut().zip(s) {
            *d = c.to_ascii_lowercase();
        }
        Some(buf)
    };
    match &lower(text)?[..text.len()] {
        b"true" | b"t" | b"1" | b"yes" | b"y" => Some(true),
        b"false" | b"f" | b"0" | b"no" | b"n" => Some(false),
        _ => None,
    }
}

/// `YYYY-MM-DD` as days since 1970-01-01.
pub fn parse_date(text: &str) -> Option<i32> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date_to_days(date))
}

fn date_to_days(date: NaiveDate) -> i32 {
    use chrono::Datelike;
    date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

/// `YYYY-MM-DD[ T]HH:MM:SS[.f…]` (or a bare date, meaning midnight) as microseconds since
/// 1970-01-01 00:00:00; fractions beyond microseconds are truncated.
pub fn parse_timestamp_micros(text: &str) -> Option<i64> {
    let (date_text, time_text) = match text.find([' ', 'T']) {
        Some(i) => (&text[..i], Some(text[i + 1..].trim_start())),
        None => (text, None),
    };
    let days = date_to_days(NaiveDate::parse_from_str(date_text, "%Y-%m-%d").ok()?) as i64;
    let micros_of_day = match time_text {
        None => 0,
        Some(t) => {
            let (hms, fraction) = match t.split_once('.') {
                Some((hms, f)) => (hms, Some(f)),
                None => (t, None),
            };
            let time = NaiveTime::parse_from_str(hms, "%H:%M:%S").ok()?;
            use chrono::Timelike;
            let mut micros = time.num_seconds_from_midnight() as i64 * 1_000_000;
            if let Some(f) = fraction {
                if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let digits = &f[..f.len().min(6)];
                let scale = 10i64.pow(6 - digits.len() as u32);
                micros += digits.parse::<i64>().ok()? * scale;
            }
            micros
        }
    };
    Some(days * 86_400_000_000 + micros_of_day)
}

/// The date and timestamp spellings of one table, compiled from its SerDe parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemporalFormats {
    pub dates: Arc<[TemporalPattern]>,
    pub timestamps: Arc<[TemporalPattern]>,
}

impl TemporalFormats {
    /// Compiles `date.format` and `timestamp.formats` (each a comma-separated list of Hive
    /// patterns); the error names the pattern and what is wrong with it.
    pub fn compile(date_formats: Option<&str>, timestamp_formats: Option<&str>) -> std::result::Result<Self, String> {
        let list = |text: Option<&str>| -> std::result::Result<Arc<[TemporalPattern]>, String> {
            split_patterns(text.unwrap_or_default()).into_iter().map(TemporalPattern::compile).collect()
        };
        Ok(TemporalFormats { dates: list(date_formats)?, timestamps: list(timestamp_formats)? })
    }
}

/// Splits a pattern list at the commas outside quoted literals (`'T'`), dropping blanks.
fn split_patterns(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in text.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            ',' if !quoted => {
                out.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(text[start..].trim());
    out.retain(|p| !p.is_empty());
    out
}

/// One element of a compiled pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatternToken {
    /// `yyyy`: exactly four digits.
    Year,
    /// `M`/`MM`, `d`/`dd`, `H`/`HH`, `m`/`mm`, `s`/`ss`: one or two digits, as `SimpleDateFormat`
    /// parses them.
    Month,
    Day,
    Hour,
    Minute,
    Second,
    /// `.SSS…`: a dot and 1 to 9 fraction digits, optional in values (a sample with fractions
    /// names them in the pattern, but not every value has one).
    Fraction,
    Literal(u8),
}

/// A Hive (Java `SimpleDateFormat`) date or timestamp pattern, compiled for parsing bytes.
/// Supported letters: `yyyy`, `M`, `d`, `H`, `m`, `s`, `S`; quoted literals (`'T'`); any other
/// ASCII punctuation or space as itself. Other letters (`a`, `E`, `z`, `yy`) fail to compile
/// rather than misread values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporalPattern {
    text: String,
    tokens: Vec<PatternToken>,
    /// Tokens up to and including the day: a bare date in a timestamp column means midnight.
    date_tokens: usize,
}

impl TemporalPattern {
    pub fn compile(text: &str) -> std::result::Result<TemporalPattern, String> {
        let bad = |why: String| format!("date/time pattern '{text}': {why}");
        let bytes = text.as_bytes();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            if c == b'\'' {
                let close =
                    bytes[i + 1..].iter().position(|&b| b == b'\'').ok_or_else(|| bad("unclosed quote".into()))?;
                if close == 0 {
                    tokens.push(PatternToken::Literal(b'\''));
                }
                tokens.extend(bytes[i + 1..i + 1 + close].iter().map(|&b| PatternToken::Literal(b)));
                i += close + 2;
                continue;
            }
            if !c.is_ascii() {
                return Err(bad("only ASCII patterns are supported".into()));
            }
            let run = bytes[i..].iter().take_while(|&&b| b == c).count();
            let token = match (c, run) {
                (b'y', 4) => PatternToken::Year,
                (b'M', 1 | 2) => PatternToken::Month,
                (b'd', 1 | 2) => PatternToken::Day,
                (b'H', 1 | 2) => PatternToken::Hour,
                (b'm', 1 | 2) => PatternToken::Minute,
                (b's', 1 | 2) => PatternToken::Second,
                (b'S', 1..=9) => PatternToken::Fraction,
                (c, _) if c.is_ascii_alphabetic() => {
                    return Err(bad(format!("'{}' is not supported", &text[i..i + run])));
                }
                _ => {
                    tokens.push(PatternToken::Literal(c));
                    i += 1;
                    continue;
                }
            };
            if token == PatternToken::Fraction {
                // The dot belongs to the optional fraction, not to the fixed part of the value.
                if tokens.pop() != Some(PatternToken::Literal(b'.')) {
                    return Err(bad("fraction digits ('S') must follow a '.'".into()));
                }
            }
            tokens.push(token);
            i += run;
        }
        for needed in [PatternToken::Year, PatternToken::Month, PatternToken::Day] {
            if !tokens.contains(&needed) {
                return Err(bad("a pattern needs a year (yyyy), a month (MM) and a day (dd)".into()));
            }
        }
        let date_tokens = tokens
            .iter()
            .rposition(|t| matches!(t, PatternToken::Year | PatternToken::Month | PatternToken::Day))
            .map_or(0, |i| i + 1);
        Ok(TemporalPattern { text: text.to_string(), tokens, date_tokens })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Microseconds since 1970-01-01 00:00:00 of `text` in this pattern, or of its date part
    /// alone (midnight).
    pub fn parse_micros(&self, text: &[u8]) -> Option<i64> {
        self.parse_tokens(&self.tokens, text).or_else(|| self.parse_tokens(&self.tokens[..self.date_tokens], text))
    }

    /// Days since 1970-01-01 of `text` in this pattern, which must hold no time of day.
    pub fn parse_days(&self, text: &[u8]) -> Option<i32> {
        let micros = self.parse_tokens(&self.tokens, text)?;
        (micros % MICROS_PER_DAY == 0).then_some((micros / MICROS_PER_DAY) as i32)
    }

    fn parse_tokens(&self, tokens: &[PatternToken], text: &[u8]) -> Option<i64> {
        let (mut year, mut month, mut day, mut hour, mut minute, mut second, mut micros) = (0, 0, 0, 0, 0, 0, 0);
        let mut pos = 0;
        for token in tokens {
            match *token {
                PatternToken::Literal(b) => {
                    if text.get(pos) != Some(&b) {
                        return None;
                    }
                    pos += 1;
                }
                PatternToken::Fraction => {
                    if text.get(pos) == Some(&b'.') {
                        let digits = text[pos + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
                        if !(1..=9).contains(&digits) {
                            return None;
                        }
                        let kept = digits.min(6);
                        micros = digits_value(&text[pos + 1..pos + 1 + kept]) * 10u32.pow(6 - kept as u32);
                        pos += 1 + digits;
                    }
                }
                PatternToken::Year => {
                    let digits = text.get(pos..pos + 4).filter(|d| d.iter().all(u8::is_ascii_digit))?;
                    year = digits_value(digits) as i32;
                    pos += 4;
                }
                numeric => {
                    let digits = text[pos..].iter().take(2).take_while(|b| b.is_ascii_digit()).count();
                    if digits == 0 {
                        return None;
                    }
                    let value = digits_value(&text[pos..pos + digits]);
                    pos += digits;
                    match numeric {
                        PatternToken::Month => month = value,
                        PatternToken::Day => day = value,
                        PatternToken::Hour => hour = value,
                        PatternToken::Minute => minute = value,
                        _ => second = value,
                    }
                }
            }
        }
        if pos != text.len() || hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let days = date_to_days(NaiveDate::from_ymd_opt(year, month, day)?) as i64;
        let seconds = (hour * 3600 + minute * 60 + second) as i64;
        Some(days * MICROS_PER_DAY + seconds * 1_000_000 + micros as i64)
    }
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The value of at most nine ASCII digits.
fn digits_value(digits: &[u8]) -> u32 {
    digits.iter().fold(0, |v, d| v * 10 + u32::from(d - b'0'))
}

/// Reads one column's dates or timestamps: the table's patterns, starting with the one that
/// matched the previous value, then ISO.
#[derive(Debug)]
pub struct TemporalParser {
    patterns: Arc<[TemporalPattern]>,
    last_match: usize,
}

impl TemporalParser {
    fn new(patterns: &Arc<[TemporalPattern]>) -> TemporalParser {
        TemporalParser { patterns: patterns.clone(), last_match: 0 }
    }

    /// Tries the patterns from the last one that matched, remembering the one that matches now.
    fn parse_with<T>(&mut self, text: &str, parse: impl Fn(&TemporalPattern, &[u8]) -> Option<T>) -> Option<T> {
        let (n, first) = (self.patterns.len(), self.last_match);
        let (i, value) =
            (0..n).map(|k| (first + k) % n).find_map(|i| Some((i, parse(&self.patterns[i], text.as_bytes())?)))?;
        self.last_match = i;
        Some(value)
    }

    fn date(&mut self, text: &str) -> Option<i32> {
        self.parse_with(text, TemporalPattern::parse_days).or_else(|| parse_date(text))
    }

    fn timestamp_micros(&mut self, text: &str) -> Option<i64> {
        self.parse_with(text, TemporalPattern::parse_micros).or_else(|| parse_timestamp_micros(text))
    }

    /// The patterns for an error message: `"MM/dd/yyyy or "` (empty when there are none).
    fn spellings(&self) -> String {
        self.patterns.iter().map(|p| format!("{} or ", p.as_str())).collect()
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Date32Type, Int64Type, TimestampMicrosecondType};

    use super::*;

    #[test]
    fn parses_each_type_and_names_bad_values() {
        let mut ints = TextColumnBuilder::new(&DataType::Int64, 4).unwrap();
        ints.append(b" 42 ").unwrap();
        ints.append(b"").unwrap();
        ints.append(b"-7").unwrap();
        let err = ints.append(b"4x2").unwrap_err();
        assert!(err.contains("'4x2'") && err.contains("bigint"), "{err}");
        let a = ints.finish();
        assert_eq!(a.as_primitive::<Int64Type>().iter().collect::<Vec<_>>(), vec![Some(42), None, Some(-7)]);

        let mut dec = TextColumnBuilder::new(&DataType::Decimal128(10, 2), 2).unwrap();
        dec.append(b"123.45").unwrap();
        dec.append(b"-0.5").unwrap();
        assert!(dec.append(b"123456789.1").is_err());
        let a = dec.finish();
        assert_eq!(a.data_type(), &DataType::Decimal128(10, 2));
        assert_eq!(a.as_primitive::<Decimal128Type>().values().to_vec(), vec![12345, -50]);

        let mut text = TextColumnBuilder::new(&DataType::Utf8, 2).unwrap();
        text.append(b"").unwrap();
        text.append(b" a ").unwrap();
        let a = text.finish();
        assert_eq!(a.as_string::<i32>().value(0), "");
        assert_eq!(a.as_string::<i32>().value(1), " a ");
    }

    #[test]
    fn booleans_dates_and_timestamps() {
        for (t, v) in [("TRUE", true), ("f", false), ("1", true), ("No", false), ("yes", true)] {
            assert_eq!(parse_bool(t.as_bytes()), Some(v), "{t}");
        }
        assert_eq!(parse_bool(b"maybe"), None);
        assert_eq!(parse_date("1970-01-02"), Some(1));
        assert_eq!(parse_date("2024-02-30"), None);
        assert_eq!(parse_timestamp_micros("1970-01-01 00:00:01.5"), Some(1_500_000));
        assert_eq!(parse_timestamp_micros("1970-01-01T00:01:00"), Some(60_000_000));
        assert_eq!(parse_timestamp_micros("1970-01-02"), Some(86_400_000_000));
        assert_eq!(parse_timestamp_micros("1970-01-01 00:00:00.123456789"), Some(123_456));
        assert_eq!(parse_timestamp_micros("1970-01-01 25:00:00"), None);

        let mut d = TextColumnBuilder::new(&DataType::Date32, 1).unwrap();
        d.append(b"2000-01-01").unwrap();
        assert_eq!(d.finish().as_primitive::<Date32Type>().value(0), 10957);
        let mut ts = TextColumnBuilder::new(&DataType::Timestamp(TimeUnit::Microsecond, None), 1).unwrap();
        ts.append(b"2000-01-01 00:00:00.000001").unwrap();
        assert_eq!(ts.finish().as_primitive::<TimestampMicrosecondType>().value(0), 946_684_800_000_001);
    }

    fn pattern(text: &str) -> TemporalPattern {
        TemporalPattern::compile(text).unwrap()
    }

    #[test]
    fn hive_patterns_parse_the_spellings_the_crawler_records() {
        let days = |p: &str, v: &str| pattern(p).parse_days(v.as_bytes());
        assert_eq!(days("MM/dd/yyyy", "01/02/1970"), Some(1));
        assert_eq!(days("MM/dd/yyyy", "1/2/1970"), Some(1));
        assert_eq!(days("yyyy/MM/dd", "2000/01/01"), Some(10957));
        assert_eq!(days("yyyyMMdd", "20000101"), Some(10957));
        assert_eq!(days("MM/dd/yyyy", "02/30/2024"), None);
        assert_eq!(days("MM/dd/yyyy", "2024-01-02"), None);
        assert_eq!(days("MM/dd/yyyy", "01/02/1970 "), None);

        let micros = |p: &str, v: &str| pattern(p).parse_micros(v.as_bytes());
        assert_eq!(micros("yyyy/MM/dd HH:mm:ss", "1970/01/01 00:01:02"), Some(62_000_000));
        assert_eq!(micros("yyyy-MM-dd'T'HH:mm:ss.SSSSSS", "1970-01-01T00:00:01.5"), Some(1_500_000));
        assert_eq!(micros("yyyy-MM-dd'T'HH:mm:ss.SSSSSS", "1970-01-01T00:00:01"), Some(1_000_000));
        assert_eq!(micros("yyyy-MM-dd HH:mm:ss.SSS", "1970-01-01 00:00:00.123456789"), Some(123_456));
        assert_eq!(micros("MM/dd/yyyy HH:mm", "01/02/1970 10:30"), Some(86_400_000_000 + 37_800_000_000));
        assert_eq!(micros("yyyy/MM/dd HH:mm:ss", "1970/01/02"), Some(86_400_000_000), "a bare date is midnight");
        assert_eq!(micros("yyyy/MM/dd HH:mm:ss", "1970/01/01 24:00:00"), None);
        assert_eq!(micros("yyyy/MM/dd HH:mm:ss", "1970/01/01 10:00"), None);

        for bad in ["yy/MM/dd", "dd/MM/yyyy hh:mm a", "HH:mm", "yyyy-MM-dd 'T", "yyyy-MM-dd HH:mm:ssSSS"] {
            assert!(TemporalPattern::compile(bad).is_err(), "{bad}");
        }
        assert_eq!(split_patterns("yyyy-MM-dd'T'HH:mm, MM/dd/yyyy,"), ["yyyy-MM-dd'T'HH:mm", "MM/dd/yyyy"]);
        assert_eq!(split_patterns("yyyy-MM-dd','HH"), ["yyyy-MM-dd','HH"]);
    }

    #[test]
    fn builders_read_table_formats_and_iso_and_name_them_in_errors() {
        let formats =
            TemporalFormats::compile(Some("MM/dd/yyyy"), Some("yyyy/MM/dd HH:mm:ss,MM/dd/yyyy HH:mm")).unwrap();
        let mut d = TextColumnBuilder::with_formats(&DataType::Date32, 3, &formats).unwrap();
        d.append(b"12/31/1999").unwrap();
        d.append(b"2000-01-01").unwrap();
        let err = d.append(b"31/12/1999").unwrap_err();
        assert!(err.contains("'31/12/1999'") && err.contains("MM/dd/yyyy"), "{err}");
        let a = d.finish();
        assert_eq!(a.as_primitive::<Date32Type>().values().to_vec(), vec![10956, 10957]);

        let mut ts =
            TextColumnBuilder::with_formats(&DataType::Timestamp(TimeUnit::Microsecond, None), 3, &formats).unwrap();
        ts.append(b"2000/01/01 00:00:01").unwrap();
        ts.append(b"01/01/2000 00:01").unwrap();
        ts.append(b"2000-01-01 00:00:02").unwrap();
        let a = ts.finish();
        let base = 946_684_800_000_000;
        assert_eq!(
            a.as_primitive::<TimestampMicrosecondType>().values().to_vec(),
            vec![base + 1_000_000, base + 60_000_000, base + 2_000_000]
        );
        assert!(TemporalFormats::compile(Some("dd.MM.yy"), None).unwrap_err().contains("'yy'"));
    }
}
