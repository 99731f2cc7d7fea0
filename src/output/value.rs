//! The text of one cell. Every format prints values the same way, so a timestamp read from a CSV
//! export and one read off the terminal compare equal.

use arrow::array::timezone::Tz;
use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, Decimal256Type, Decimal32Type, Decimal64Type, Float16Type,
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, IntervalMonthDayNanoType, IntervalUnit,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};
use arrow::error::ArrowError;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use chrono::{NaiveDateTime, NaiveTime, Timelike};

/// How a column's values behave in output: numbers align right in tables and stay numbers in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Integer,
    Float,
    /// Exact numbers; JSON carries them as strings because JSON readers parse numbers as doubles.
    Decimal,
    Boolean,
    Text,
}

impl ValueKind {
    pub fn of(data_type: &DataType) -> ValueKind {
        match data_type {
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64 => ValueKind::Integer,
            DataType::Float16 | DataType::Float32 | DataType::Float64 => ValueKind::Float,
            DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal128(..) | DataType::Decimal256(..) => {
                ValueKind::Decimal
            }
            DataType::Boolean => ValueKind::Boolean,
            DataType::Dictionary(_, value) => ValueKind::of(value),
            _ => ValueKind::Text,
        }
    }

    /// Numbers read best right-aligned.
    pub fn is_numeric(self) -> bool {
        matches!(self, ValueKind::Integer | ValueKind::Float | ValueKind::Decimal)
    }
}

/// One column of a batch, ready to print row by row.
pub struct ColumnCells {
    array: ArrayRef,
}

impl ColumnCells {
    /// Dictionary columns are unpacked once here so that every cell prints its value, not its key.
    pub fn new(array: &ArrayRef) -> Result<ColumnCells, ArrowError> {
        let array = match array.data_type() {
            DataType::Dictionary(_, value) => arrow::compute::cast(array, value)?,
            _ => array.clone(),
        };
        Ok(ColumnCells { array })
    }

    /// The cell's text, `None` for NULL.
    pub fn text(&self, row: usize) -> Result<Option<String>, ArrowError> {
        if self.array.is_null(row) {
            return Ok(None);
        }
        cell_text(self.array.as_ref(), row).map(Some)
    }
}

fn cell_text(array: &dyn Array, row: usize) -> Result<String, ArrowError> {
    match typed_text(array, row) {
        Some(text) => Ok(text),
        None => arrow_text(array, row),
    }
}

/// The text of types Tarn prints its own way; `None` for other types and for values chrono cannot
/// represent, which fall back to Arrow's own display.
fn typed_text(array: &dyn Array, row: usize) -> Option<String> {
    let text = match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(row).to_string(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(row).to_string(),
        DataType::Utf8View => array.as_string_view().value(row).to_string(),
        DataType::Boolean => array.as_boolean().value(row).to_string(),
        DataType::Int8 => array.as_primitive::<Int8Type>().value(row).to_string(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(row).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(row).to_string(),
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(row).to_string(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(row).to_string(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(row).to_string(),
        DataType::Float16 => float_text(array.as_primitive::<Float16Type>().value(row).to_f32()),
        DataType::Float32 => float_text(array.as_primitive::<Float32Type>().value(row)),
        DataType::Float64 => float_text(array.as_primitive::<Float64Type>().value(row)),
        DataType::Decimal32(..) => array.as_primitive::<Decimal32Type>().value_as_string(row),
        DataType::Decimal64(..) => array.as_primitive::<Decimal64Type>().value_as_string(row),
        DataType::Decimal128(..) => array.as_primitive::<Decimal128Type>().value_as_string(row),
        DataType::Decimal256(..) => array.as_primitive::<Decimal256Type>().value_as_string(row),
        DataType::Date32 => array.as_primitive::<Date32Type>().value_as_date(row)?.format("%Y-%m-%d").to_string(),
        DataType::Date64 => array.as_primitive::<Date64Type>().value_as_date(row)?.format("%Y-%m-%d").to_string(),
        DataType::Timestamp(unit, None) => datetime_text(timestamp_naive(array, row, *unit)?),
        DataType::Timestamp(unit, Some(tz)) => timestamp_tz_text(array, row, *unit, tz)?,
        DataType::Time32(TimeUnit::Second) => time_text(array.as_primitive::<Time32SecondType>().value_as_time(row)?),
        DataType::Time32(TimeUnit::Millisecond) => {
            time_text(array.as_primitive::<Time32MillisecondType>().value_as_time(row)?)
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            time_text(array.as_primitive::<Time64MicrosecondType>().value_as_time(row)?)
        }
        DataType::Time64(TimeUnit::Nanosecond) => {
            time_text(array.as_primitive::<Time64NanosecondType>().value_as_time(row)?)
        }
        // PostgreSQL's interval text (`1 day 02:03:04`), as `CAST(interval AS VARCHAR)` gives.
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            tarn_engine::expr::interval::format_interval(array.as_primitive::<IntervalMonthDayNanoType>().value(row))
        }
        DataType::Binary => hex_text(array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => hex_text(array.as_binary::<i64>().value(row)),
        DataType::BinaryView => hex_text(array.as_binary_view().value(row)),
        _ => return None,
    };
    Some(text)
}

fn arrow_text(array: &dyn Array, row: usize) -> Result<String, ArrowError> {
    let options = FormatOptions::default();
    Ok(ArrayFormatter::try_new(array, &options)?.value(row).to_string())
}

/// Shortest text that reads back as the same float (Rust's `Display`), with the non-finite values
/// spelled in lower case as DuckDB and PostgreSQL accept them on input.
pub fn float_text<F: Into<f64> + std::fmt::Display + Copy>(value: F) -> String {
    let wide: f64 = value.into();
    if wide.is_nan() {
        "nan".to_string()
    } else if wide.is_infinite() {
        if wide > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        value.to_string()
    }
}

fn timestamp_naive(array: &dyn Array, row: usize, unit: TimeUnit) -> Option<NaiveDateTime> {
    match unit {
        TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value_as_datetime(row),
        TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value_as_datetime(row),
        TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value_as_datetime(row),
        TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value_as_datetime(row),
    }
}

/// A zoned timestamp prints as its wall-clock time in its zone followed by the UTC offset.
fn timestamp_tz_text(array: &dyn Array, row: usize, unit: TimeUnit, tz: &str) -> Option<String> {
    let tz: Tz = tz.parse().ok()?;
    let zoned = match unit {
        TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value_as_datetime_with_tz(row, tz),
        TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value_as_datetime_with_tz(row, tz),
        TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value_as_datetime_with_tz(row, tz),
        TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value_as_datetime_with_tz(row, tz),
    }?;
    Some(format!("{}{}", datetime_text(zoned.naive_local()), zoned.format("%:z")))
}

/// `YYYY-MM-DD HH:MM:SS`, then `.ffffff` only when the microseconds are not zero (nanoseconds are
/// truncated: Tarn's contract is microsecond text, as Redshift and Athena print).
pub fn datetime_text(value: NaiveDateTime) -> String {
    format!("{}{}", value.format("%Y-%m-%d %H:%M:%S"), fraction_text(value.nanosecond()))
}

fn time_text(value: NaiveTime) -> String {
    format!("{}{}", value.format("%H:%M:%S"), fraction_text(value.nanosecond()))
}

fn fraction_text(nanos: u32) -> String {
    // chrono reports a leap second as nanos >= 1e9; the fraction is what remains.
    let micros = (nanos % 1_000_000_000) / 1_000;
    if micros == 0 {
        String::new()
    } else {
        format!(".{micros:06}")
    }
}

/// Binary values print as PostgreSQL's `\x` hex.
fn hex_text(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(2 + bytes.len() * 2);
    text.push_str("\\x");
    for byte in bytes {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        BooleanArray, Date32Array, Decimal128Array, DictionaryArray, Float64Array, TimestampMicrosecondArray,
        TimestampNanosecondArray,
    };
    use arrow::datatypes::Int8Type as Key;
    use std::sync::Arc;

    fn texts(array: ArrayRef) -> Vec<Option<String>> {
        let cells = ColumnCells::new(&array).unwrap();
        (0..array.len()).map(|row| cells.text(row).unwrap()).collect()
    }

    fn some(values: &[&str]) -> Vec<Option<String>> {
        values.iter().map(|v| Some(v.to_string())).collect()
    }

    #[test]
    fn timestamps_print_fraction_only_when_non_zero() {
        // 2019-05-01 00:13:11 and the same instant plus 783 ms and plus 5 µs.
        let base = 1_556_669_591_000_000_i64;
        let array = TimestampMicrosecondArray::from(vec![base, base + 783_000, base + 5]);
        assert_eq!(
            texts(Arc::new(array)),
            some(&["2019-05-01 00:13:11", "2019-05-01 00:13:11.783000", "2019-05-01 00:13:11.000005"])
        );
    }

    #[test]
    fn nanosecond_timestamps_truncate_to_microseconds() {
        let array = TimestampNanosecondArray::from(vec![1_556_669_591_000_000_999, 1_556_669_591_123_456_789]);
        assert_eq!(texts(Arc::new(array)), some(&["2019-05-01 00:13:11", "2019-05-01 00:13:11.123456"]));
    }

    #[test]
    fn zoned_timestamps_carry_their_offset() {
        let array = TimestampMicrosecondArray::from(vec![0]).with_timezone("+09:00");
        assert_eq!(texts(Arc::new(array)), some(&["1970-01-01 09:00:00+09:00"]));
    }

    #[test]
    fn dates_booleans_and_nulls() {
        assert_eq!(texts(Arc::new(Date32Array::from(vec![Some(18017), None]))), vec![Some("2019-05-01".into()), None]);
        assert_eq!(texts(Arc::new(BooleanArray::from(vec![true, false]))), some(&["true", "false"]));
    }

    #[test]
    fn decimals_keep_their_scale() {
        let array = Decimal128Array::from(vec![1250, -5, 0]).with_precision_and_scale(10, 2).unwrap();
        assert_eq!(texts(Arc::new(array)), some(&["12.50", "-0.05", "0.00"]));
    }

    #[test]
    fn floats_are_shortest_round_trip_and_non_finite_lower_case() {
        let array = Float64Array::from(vec![0.1, 1e20, 2.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY]);
        assert_eq!(texts(Arc::new(array)), some(&["0.1", "100000000000000000000", "2.5", "nan", "inf", "-inf"]));
        assert_eq!(float_text(0.1_f32), "0.1");
    }

    #[test]
    fn dictionary_columns_print_values() {
        let array: DictionaryArray<Key> = vec!["Naver", "Google", "Naver"].into_iter().collect();
        assert_eq!(texts(Arc::new(array)), some(&["Naver", "Google", "Naver"]));
    }

    #[test]
    fn kinds_follow_types() {
        assert_eq!(ValueKind::of(&DataType::Int32), ValueKind::Integer);
        assert_eq!(ValueKind::of(&DataType::Utf8), ValueKind::Text);
        assert_eq!(
            ValueKind::of(&DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Float64))),
            ValueKind::Float
        );
        assert!(ValueKind::Decimal.is_numeric());
        assert!(!ValueKind::Boolean.is_numeric());
    }
}
