//! Text to typed Arrow values, one column builder per declared type: how delimited text spells
//! booleans, numbers, decimals, dates and timestamps. Builders append straight from the field's
//! bytes, so parsing a row allocates nothing.

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
    Date32(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
}

impl TextColumnBuilder {
    /// A builder for `data_type`, which must be one of the types the engine executes.
    pub fn new(data_type: &DataType, capacity: usize) -> Result<TextColumnBuilder> {
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
            DataType::Date32 => TextColumnBuilder::Date32(Date32Builder::with_capacity(capacity)),
            DataType::Timestamp(TimeUnit::Microsecond, None) => {
                TextColumnBuilder::Timestamp(TimestampMicrosecondBuilder::with_capacity(capacity))
            }
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
            TextColumnBuilder::Date32(b) => b.append_null(),
            TextColumnBuilder::Timestamp(b) => b.append_null(),
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
            TextColumnBuilder::Date32(b) => parse_date(text).map(|v| b.append_value(v)),
            TextColumnBuilder::Timestamp(b) => parse_timestamp_micros(text).map(|v| b.append_value(v)),
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
            TextColumnBuilder::Date32(b) => Arc::new(b.finish()),
            TextColumnBuilder::Timestamp(b) => Arc::new(b.finish()),
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
            TextColumnBuilder::Date32(b) => b,
            TextColumnBuilder::Timestamp(b) => b,
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
            TextColumnBuilder::Date32(_) => "date (YYYY-MM-DD)".into(),
            TextColumnBuilder::Timestamp(_) => "timestamp (YYYY-MM-DD HH:MM:SS[.ffffff])".into(),
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
}
