//! `CAST` and `TRY_CAST` with SQL semantics on top of Arrow's cast kernel.
//!
//! Arrow's cast runs in its safe mode (a bad value becomes NULL); `CAST` then reports the first
//! value that was lost, naming the value and the target type, while `TRY_CAST` keeps the NULL.
//! Where SQL differs from Arrow the conversion is done here:
//! - timestamps and dates become text as `YYYY-MM-DD HH:MM:SS[.ffffff]` / `YYYY-MM-DD`, the
//!   Redshift/PostgreSQL text form (a space, not ISO's `T`; trailing zeros of the fraction are
//!   dropped and a zero fraction is omitted, as PostgreSQL prints `10:00:00.5`);
//! - text is trimmed before it is parsed as a number, date or timestamp; timestamps accept a
//!   space or `T`, dates accept a full timestamp (`'2020-01-01 10:00'::date`);
//! - text becomes boolean from `true/false/t/f/yes/no/y/n/on/off/1/0` (PostgreSQL's spellings);
//! - intervals become PostgreSQL's interval text (`1 day 02:00:00`) (a text literal cast to an
//!   interval is read by the binder with the `INTERVAL '...'` rules; a text column by Arrow's);
//! - decimals and floats become integers rounded half away from zero (Redshift and PostgreSQL
//!   round; Arrow would truncate).

use std::fmt;
use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, AsArray, BooleanArray, Float64Array, StringArray};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Date32Type, Float64Type, TimeUnit, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, NaiveDate};

use crate::error::{EngineError, Result};
use crate::expr::{ColumnarValue, PhysicalExpr, PhysicalExprRef};
use crate::plan::types::{is_integer, sql_type_name, TIMESTAMP};
use crate::plan::ScalarValue;

/// `CAST(expr AS to)`, or `TRY_CAST` when `try_cast`.
#[derive(Debug)]
pub struct CastExpr {
    expr: PhysicalExprRef,
    to: DataType,
    try_cast: bool,
}

impl CastExpr {
    pub fn new(expr: PhysicalExprRef, to: DataType, try_cast: bool) -> CastExpr {
        CastExpr { expr, to, try_cast }
    }
}

impl fmt::Display for CastExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kw = if self.try_cast { "TRY_CAST" } else { "CAST" };
        write!(f, "{kw}({} AS {})", self.expr, sql_type_name(&self.to))
    }
}

impl PhysicalExpr for CastExpr {
    fn data_type(&self) -> &DataType {
        &self.to
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        match self.expr.evaluate(batch)? {
            ColumnarValue::Array(a) => Ok(ColumnarValue::Array(cast_array(&a, &self.to, self.try_cast)?)),
            ColumnarValue::Scalar(s) => Ok(ColumnarValue::Scalar(cast_scalar(&s, &self.to, self.try_cast)?)),
        }
    }
}

/// Casts one value (constant folding uses this too).
pub fn cast_scalar(value: &ScalarValue, to: &DataType, try_cast: bool) -> Result<ScalarValue> {
    let out = cast_array(&value.to_array(1), to, try_cast)?;
    ScalarValue::try_from_array(out.as_ref(), 0)
}

/// Casts a column with SQL semantics; with `try_cast` a bad value becomes NULL instead of an
/// error.
pub fn cast_array(array: &ArrayRef, to: &DataType, try_cast: bool) -> Result<ArrayRef> {
    let from = array.data_type();
    if from == to {
        return Ok(array.clone());
    }
    let out: ArrayRef = match (from, to) {
        (DataType::Null, _) => new_null_array(to, array.len()),
        (DataType::Timestamp(TimeUnit::Microsecond, None), DataType::Utf8) => {
            let ts = array.as_primitive::<TimestampMicrosecondType>();
            Arc::new(ts.iter().map(|v| v.map(format_timestamp_micros)).collect::<StringArray>())
        }
        (DataType::Interval(_), DataType::Utf8) => crate::expr::interval::to_text(array.as_ref()),
        (DataType::Date32, DataType::Utf8) => {
            let dates = array.as_primitive::<Date32Type>();
            Arc::new(dates.iter().map(|v| v.map(format_date)).collect::<StringArray>())
        }
        (DataType::Utf8, DataType::Boolean) => {
            let text = array.as_string::<i32>();
            Arc::new(text.iter().map(|v| v.and_then(parse_boolean)).collect::<BooleanArray>())
        }
        (DataType::Utf8, DataType::Date32) => {
            let timestamps = arrow_cast(&trim_text(array), &TIMESTAMP)?;
            arrow_cast(&timestamps, to)?
        }
        (DataType::Utf8, _) => arrow_cast(&trim_text(array), to)?,
        (DataType::Decimal128(_, _), t) if is_integer(t) => {
            // Rescaling to scale 0 rounds half away from zero.
            arrow_cast(&arrow_cast(array, &DataType::Decimal128(38, 0))?, to)?
        }
        (DataType::Float32 | DataType::Float64, t) if is_integer(t) => {
            let floats = arrow_cast(array, &DataType::Float64)?;
            let rounded: Float64Array = floats.as_primitive::<Float64Type>().unary(f64::round);
            arrow_cast(&(Arc::new(rounded) as ArrayRef), to)?
        }
        _ => arrow_cast(array, to)?,
    };
    if !try_cast {
        check_no_value_lost(array, &out, to)?;
    }
    Ok(out)
}

fn arrow_cast(array: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    let options = CastOptions { safe: true, ..Default::default() };
    cast_with_options(array, to, &options).map_err(|e| {
        EngineError::Unsupported(format!(
            "cannot cast {} to {}: {e}",
            sql_type_name(array.data_type()),
            sql_type_name(to)
        ))
    })
}

fn trim_text(array: &ArrayRef) -> ArrayRef {
    let text = array.as_string::<i32>();
    Arc::new(text.iter().map(|v| v.map(str::trim)).collect::<StringArray>())
}

/// `CAST`'s error for the first row whose value became NULL.
fn check_no_value_lost(input: &ArrayRef, output: &ArrayRef, to: &DataType) -> Result<()> {
    if output.null_count() == input.logical_null_count() {
        return Ok(());
    }
    let lost = (0..input.len()).find(|&i| input.is_valid(i) && output.is_null(i));
    match lost {
        Some(i) => {
            let value = ScalarValue::try_from_array(input.as_ref(), i)
                .map(|v| v.to_string())
                .unwrap_or_else(|_| format!("row {i}"));
            Err(EngineError::InvalidCast { value, to: sql_type_name(to) })
        }
        None => Ok(()),
    }
}

/// SQL text of a boolean; `None` when the text is not one of the accepted spellings.
pub fn parse_boolean(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// A timestamp (microseconds since the epoch) as `YYYY-MM-DD HH:MM:SS[.ffffff]`, the fraction
/// without trailing zeros and omitted when zero (Redshift's and PostgreSQL's text form).
pub fn format_timestamp_micros(micros: i64) -> String {
    let Some(dt) = DateTime::from_timestamp_micros(micros) else {
        return micros.to_string();
    };
    let mut text = dt.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string();
    let fraction = micros.rem_euclid(1_000_000);
    if fraction != 0 {
        let digits = format!("{fraction:06}");
        text.push('.');
        text.push_str(digits.trim_end_matches('0'));
    }
    text
}

/// A date (days since the epoch) as `YYYY-MM-DD`.
pub fn format_date(days: i32) -> String {
    const UNIX_EPOCH_FROM_CE: i32 = 719_163;
    match NaiveDate::from_num_days_from_ce_opt(days.saturating_add(UNIX_EPOCH_FROM_CE)) {
        Some(d) => d.format("%Y-%m-%d").to_string(),
        None => days.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Decimal128Array, Int32Array, TimestampMicrosecondArray};

    fn text(values: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    #[test]
    fn timestamps_print_in_redshift_text_form() {
        assert_eq!(format_timestamp_micros(1_556_706_600_000_000), "2019-05-01 10:30:00");
        assert_eq!(format_timestamp_micros(1_556_706_600_500_000), "2019-05-01 10:30:00.5");
        assert_eq!(format_timestamp_micros(1_556_706_600_000_123), "2019-05-01 10:30:00.000123");
        assert_eq!(format_timestamp_micros(-1), "1969-12-31 23:59:59.999999");
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(-1), "1969-12-31");
        let ts: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![Some(1_556_706_600_000_000), None]));
        let out = cast_array(&ts, &DataType::Utf8, false).unwrap();
        assert_eq!(out.as_string::<i32>().value(0), "2019-05-01 10:30:00");
        assert!(out.is_null(1));
    }

    #[test]
    fn text_to_timestamp_accepts_space_or_t() {
        let input = text(&[Some("2019-05-01 10:30:00"), Some("2019-05-01T10:30:00.5"), Some(" 2019-05-01 "), None]);
        let out = cast_array(&input, &TIMESTAMP, false).unwrap();
        let ts = out.as_primitive::<TimestampMicrosecondType>();
        assert_eq!(ts.value(0), 1_556_706_600_000_000);
        assert_eq!(ts.value(1), 1_556_706_600_500_000);
        assert_eq!(ts.value(2), 1_556_668_800_000_000);
        assert!(ts.is_null(3));
        let dates = cast_array(&text(&[Some("2019-05-01 10:30:00")]), &DataType::Date32, false).unwrap();
        assert_eq!(dates.as_primitive::<Date32Type>().value(0), 18017);
    }

    #[test]
    fn bad_values_error_for_cast_and_null_for_try_cast() {
        let input = text(&[Some("12"), Some(" 7 "), Some("abc")]);
        let err = cast_array(&input, &DataType::Int32, false).unwrap_err();
        assert_eq!(err.to_string(), "cannot cast 'abc' to INTEGER");
        let out = cast_array(&input, &DataType::Int32, true).unwrap();
        assert_eq!(
            out.as_primitive::<arrow::datatypes::Int32Type>().iter().collect::<Vec<_>>(),
            vec![Some(12), Some(7), None]
        );
        let big: ArrayRef = Arc::new(Int32Array::from(vec![300]));
        let err = cast_array(&big, &DataType::Int8, false).unwrap_err();
        assert_eq!(err.to_string(), "cannot cast 300 to TINYINT");
        let bad_ts = cast_array(&text(&[Some("2019-13-45")]), &TIMESTAMP, false).unwrap_err();
        assert_eq!(bad_ts.to_string(), "cannot cast '2019-13-45' to TIMESTAMP");
    }

    #[test]
    fn text_to_boolean() {
        let input = text(&[Some("true"), Some("F"), Some("yes"), Some("no"), Some("1"), Some("0"), None]);
        let out = cast_array(&input, &DataType::Boolean, false).unwrap();
        let values: Vec<_> = out.as_boolean().iter().collect();
        assert_eq!(values, vec![Some(true), Some(false), Some(true), Some(false), Some(true), Some(false), None]);
        assert!(cast_array(&text(&[Some("maybe")]), &DataType::Boolean, false).is_err());
    }

    #[test]
    fn decimals_convert_exactly_and_round_to_integers() {
        let d: ArrayRef = Arc::new(
            Decimal128Array::from(vec![Some(12345), Some(-250), None]).with_precision_and_scale(10, 2).unwrap(),
        );
        let ints = cast_array(&d, &DataType::Int32, false).unwrap();
        assert_eq!(
            ints.as_primitive::<arrow::datatypes::Int32Type>().iter().collect::<Vec<_>>(),
            vec![Some(123), Some(-3), None]
        );
        let texts = cast_array(&d, &DataType::Utf8, false).unwrap();
        assert_eq!(texts.as_string::<i32>().value(0), "123.45");
        let floats = cast_array(&d, &DataType::Float64, false).unwrap();
        assert_eq!(floats.as_primitive::<Float64Type>().value(1), -2.5);
        let back = cast_array(&text(&[Some("123.45")]), &DataType::Decimal128(10, 2), false).unwrap();
        assert_eq!(back.as_primitive::<arrow::datatypes::Decimal128Type>().value(0), 12345);
        let f: ArrayRef = Arc::new(Float64Array::from(vec![2.5, -2.5]));
        let ints = cast_array(&f, &DataType::Int64, false).unwrap();
        assert_eq!(ints.as_primitive::<arrow::datatypes::Int64Type>().values().to_vec(), vec![3, -3]);
    }
}
