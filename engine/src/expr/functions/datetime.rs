//! Date and time functions: `DATE_TRUNC`, `DATE_PART` (what `EXTRACT` binds to) and Athena's
//! `year()` ... `second()`. Dates are taken as timestamps at midnight (the signatures ask the
//! binder to cast), and part names accept Redshift's abbreviations (`yr`, `mon`, `qtr`, ...).

use std::sync::Arc;

use arrow::array::AsArray;
use arrow::array::{Float64Array, Int64Array, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, IntervalMonthDayNanoType, TimestampMicrosecondType};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike};

use crate::error::{EngineError, Result};
use crate::expr::functions::arguments::{arg_array, check_arity, constant_text, wrong_arg};
use crate::expr::functions::{FunctionRegistry, ScalarFunction, Signature};
use crate::expr::{interval, ColumnarValue};
use crate::plan::types::{is_interval, TIMESTAMP};
use crate::plan::ScalarValue;

/// Registers the date/time family.
pub fn register(registry: &mut FunctionRegistry) {
    registry.register_scalar(Arc::new(DateTrunc));
    registry.register_scalar(Arc::new(DatePart));
    for (name, part) in [
        ("year", Part::Year),
        ("quarter", Part::Quarter),
        ("month", Part::Month),
        ("week", Part::Week),
        ("day", Part::Day),
        ("day_of_week", Part::DayOfWeek),
        ("day_of_year", Part::DayOfYear),
        ("hour", Part::Hour),
        ("minute", Part::Minute),
        ("second", Part::Second),
    ] {
        registry.register_scalar(Arc::new(DatePartOf { name, part }));
    }
}

/// A date or time field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Microsecond,
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    /// ISO week: weeks start on Monday.
    Week,
    Month,
    Quarter,
    Year,
    Decade,
    Century,
    Millennium,
    /// 0 = Sunday ... 6 = Saturday (Redshift and PostgreSQL `dow`).
    DayOfWeek,
    DayOfYear,
    /// Seconds since 1970-01-01 00:00:00, with fraction.
    Epoch,
}

impl Part {
    /// A part name as Redshift spells it, abbreviations included; case-insensitive.
    pub fn parse(name: &str) -> Option<Part> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "microsecond" | "microseconds" | "us" | "usec" | "usecs" | "microsec" | "microsecs" | "usecond"
            | "useconds" => Part::Microsecond,
            "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" | "msecond" | "mseconds" | "millisec"
            | "millisecs" | "millisecon" => Part::Millisecond,
            "second" | "seconds" | "s" | "sec" | "secs" => Part::Second,
            "minute" | "minutes" | "m" | "min" | "mins" => Part::Minute,
            "hour" | "hours" | "h" | "hr" | "hrs" => Part::Hour,
            "day" | "days" | "d" => Part::Day,
            "week" | "weeks" | "w" | "wk" | "wks" | "weekofyear" => Part::Week,
            "month" | "months" | "mon" | "mons" | "mm" => Part::Month,
            "quarter" | "quarters" | "q" | "qtr" | "qtrs" => Part::Quarter,
            "year" | "years" | "y" | "yr" | "yrs" | "yyyy" => Part::Year,
            "decade" | "decades" | "dec" | "decs" => Part::Decade,
            "century" | "centuries" | "c" | "cent" | "cents" => Part::Century,
            "millennium" | "millennia" | "mil" | "mils" | "millenium" => Part::Millennium,
            "dow" | "dayofweek" | "dw" | "weekday" | "day_of_week" => Part::DayOfWeek,
            "doy" | "dayofyear" | "dy" | "yearday" | "day_of_year" => Part::DayOfYear,
            "epoch" => Part::Epoch,
            _ => return None,
        })
    }

    pub(crate) fn parse_or_error(function: &str, name: &str) -> Result<Part> {
        Part::parse(name)
            .ok_or_else(|| EngineError::execution(format!("function {function}: unknown date part '{name}'")))
    }
}

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

fn to_datetime(micros: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp_micros(micros).map(|d| d.naive_utc())
}

fn date_micros(date: NaiveDate) -> Option<i64> {
    date.and_hms_opt(0, 0, 0).map(|d| d.and_utc().timestamp_micros())
}

/// The start of the `part` containing `micros`.
pub fn truncate_micros(micros: i64, part: Part) -> Option<i64> {
    let floor = |unit: i64| Some(micros - micros.rem_euclid(unit));
    let dt = || to_datetime(micros);
    let year_start = |year: i32| NaiveDate::from_ymd_opt(year, 1, 1).and_then(date_micros);
    match part {
        Part::Microsecond | Part::Epoch => Some(micros),
        Part::Millisecond => floor(1_000),
        Part::Second => floor(MICROS_PER_SECOND),
        Part::Minute => floor(60 * MICROS_PER_SECOND),
        Part::Hour => floor(3_600 * MICROS_PER_SECOND),
        Part::Day | Part::DayOfWeek | Part::DayOfYear => floor(MICROS_PER_DAY),
        Part::Week => {
            let days_since_monday = dt()?.weekday().num_days_from_monday() as i64;
            Some(micros - micros.rem_euclid(MICROS_PER_DAY) - days_since_monday * MICROS_PER_DAY)
        }
        Part::Month => {
            let d = dt()?;
            NaiveDate::from_ymd_opt(d.year(), d.month(), 1).and_then(date_micros)
        }
        Part::Quarter => {
            let d = dt()?;
            NaiveDate::from_ymd_opt(d.year(), (d.month() - 1) / 3 * 3 + 1, 1).and_then(date_micros)
        }
        Part::Year => year_start(dt()?.year()),
        Part::Decade => year_start(dt()?.year().div_euclid(10) * 10),
        // Centuries and millennia start at years ending in 01 (PostgreSQL).
        Part::Century => year_start((dt()?.year() - 1).div_euclid(100) * 100 + 1),
        Part::Millennium => year_start((dt()?.year() - 1).div_euclid(1000) * 1000 + 1),
    }
}

/// The integer value of `part` in `micros` (for `Epoch`, whole seconds).
pub fn extract_micros(micros: i64, part: Part) -> Option<i64> {
    let d = to_datetime(micros)?;
    let second_micros = micros.rem_euclid(60 * MICROS_PER_SECOND);
    Some(match part {
        Part::Microsecond => second_micros,
        Part::Millisecond => second_micros / 1_000,
        Part::Second => d.second() as i64,
        Part::Minute => d.minute() as i64,
        Part::Hour => d.hour() as i64,
        Part::Day => d.day() as i64,
        Part::Week => d.iso_week().week() as i64,
        Part::Month => d.month() as i64,
        Part::Quarter => ((d.month() - 1) / 3 + 1) as i64,
        Part::Year => d.year() as i64,
        Part::Decade => d.year().div_euclid(10) as i64,
        Part::Century => ((d.year() - 1).div_euclid(100) + 1) as i64,
        Part::Millennium => ((d.year() - 1).div_euclid(1000) + 1) as i64,
        Part::DayOfWeek => d.weekday().num_days_from_sunday() as i64,
        Part::DayOfYear => d.ordinal() as i64,
        Part::Epoch => micros.div_euclid(MICROS_PER_SECOND),
    })
}

/// A date/timestamp argument, taken as TIMESTAMP (text too, parsed by the binder's cast).
pub(crate) fn timestamp_arg(name: &str, index: usize, t: &DataType) -> Result<DataType> {
    match t {
        DataType::Date32 | DataType::Timestamp(_, _) | DataType::Utf8 | DataType::Null => Ok(TIMESTAMP),
        other => Err(wrong_arg(name, index, "a date or timestamp", other)),
    }
}

/// The date part name argument (first), as text.
pub(crate) fn part_name_arg(name: &str, t: &DataType) -> Result<DataType> {
    match t {
        DataType::Utf8 | DataType::Null => Ok(DataType::Utf8),
        other => Err(wrong_arg(name, 0, "a date part name", other)),
    }
}

/// A TIMESTAMP argument as its array.
pub(crate) fn timestamps(arg: &ColumnarValue, num_rows: usize) -> Result<TimestampMicrosecondArray> {
    Ok(arg_array(arg, &TIMESTAMP, num_rows)?.as_primitive::<TimestampMicrosecondType>().clone())
}

/// `DATE_TRUNC(part, ts)`: a TIMESTAMP at the start of the part (weeks start on Monday).
struct DateTrunc;

impl ScalarFunction for DateTrunc {
    fn name(&self) -> &str {
        "date_trunc"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name(), args, 2, 2)?;
        Ok(Signature {
            arg_types: vec![part_name_arg(self.name(), &args[0])?, timestamp_arg(self.name(), 1, &args[1])?],
            return_type: TIMESTAMP,
        })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let Some(part) = constant_text(self.name(), &args[0])? else {
            return Ok(ColumnarValue::Scalar(ScalarValue::TimestampMicros(None)));
        };
        let part = Part::parse_or_error(self.name(), &part)?;
        let ts = timestamps(&args[1], num_rows)?;
        let out: TimestampMicrosecondArray = ts.iter().map(|v| v.and_then(|m| truncate_micros(m, part))).collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `DATE_PART(part, ts)`, the target of `EXTRACT(part FROM ts)`: BIGINT for every part but
/// `epoch`, which is DOUBLE PRECISION seconds with fraction. An INTERVAL argument gives its fields
/// (`expr::interval::part`) with the same types. The return type depends on the
/// constant part name, so `signature` alone answers BIGINT and `signature_for_constants` refines
/// it; a planned BIGINT epoch is rounded by the expression's cast.
struct DatePart;

impl ScalarFunction for DatePart {
    fn name(&self) -> &str {
        "date_part"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name(), args, 2, 2)?;
        let value = if is_interval(&args[1]) { args[1].clone() } else { timestamp_arg(self.name(), 1, &args[1])? };
        Ok(Signature { arg_types: vec![part_name_arg(self.name(), &args[0])?, value], return_type: DataType::Int64 })
    }

    fn signature_for_constants(&self, args: &[DataType], constants: &[Option<ScalarValue>]) -> Result<Signature> {
        let mut signature = self.signature(args)?;
        if let Some(Some(ScalarValue::Utf8(Some(name)))) = constants.first() {
            if Part::parse_or_error(self.name(), name)? == Part::Epoch {
                signature.return_type = DataType::Float64;
            }
        }
        Ok(signature)
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let Some(part) = constant_text(self.name(), &args[0])? else {
            return Ok(ColumnarValue::Scalar(ScalarValue::Int64(None)));
        };
        let part = Part::parse_or_error(self.name(), &part)?;
        if is_interval(&args[1].data_type()) {
            return interval_parts(&args[1], part, num_rows);
        }
        let ts = timestamps(&args[1], num_rows)?;
        if part == Part::Epoch {
            let out: Float64Array = ts.iter().map(|v| v.map(|m| m as f64 / MICROS_PER_SECOND as f64)).collect();
            return Ok(ColumnarValue::Array(Arc::new(out)));
        }
        let out: Int64Array = ts.iter().map(|v| v.and_then(|m| extract_micros(m, part))).collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `DATE_PART(part, interval)`: DOUBLE PRECISION epoch seconds, BIGINT fields.
fn interval_parts(arg: &ColumnarValue, part: Part, num_rows: usize) -> Result<ColumnarValue> {
    let array = arg.clone().into_array(num_rows);
    let values = array.as_primitive::<IntervalMonthDayNanoType>();
    let parts = values.iter().map(|v| v.map(|v| interval::part(v, part)).transpose()).collect::<Result<Vec<_>>>()?;
    if part == Part::Epoch {
        return Ok(ColumnarValue::Array(Arc::new(Float64Array::from(parts))));
    }
    let out: Int64Array = parts.into_iter().map(|v| v.map(|f| f as i64)).collect();
    Ok(ColumnarValue::Array(Arc::new(out)))
}

/// `YEAR(ts)`, `MONTH(ts)`, ... (Athena/Presto): one fixed part as BIGINT.
struct DatePartOf {
    name: &'static str,
    part: Part,
}

impl ScalarFunction for DatePartOf {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_arity(self.name, args, 1, 1)?;
        Ok(Signature { arg_types: vec![timestamp_arg(self.name, 0, &args[0])?], return_type: DataType::Int64 })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let ts = timestamps(&args[0], num_rows)?;
        let out: Int64Array = ts.iter().map(|v| v.and_then(|m| extract_micros(m, self.part))).collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::cast::format_timestamp_micros;
    use arrow::array::Array;

    fn micros(text: &str) -> i64 {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").unwrap().and_utc().timestamp_micros()
    }

    fn trunc(part: &str, text: &str) -> String {
        format_timestamp_micros(truncate_micros(micros(text), Part::parse(part).unwrap()).unwrap())
    }

    #[test]
    fn date_trunc_parts() {
        let t = "2019-05-15 13:45:30.123456";
        assert_eq!(trunc("microseconds", t), "2019-05-15 13:45:30.123456");
        assert_eq!(trunc("ms", t), "2019-05-15 13:45:30.123");
        assert_eq!(trunc("second", t), "2019-05-15 13:45:30");
        assert_eq!(trunc("minute", t), "2019-05-15 13:45:00");
        assert_eq!(trunc("hour", t), "2019-05-15 13:00:00");
        assert_eq!(trunc("day", t), "2019-05-15 00:00:00");
        // 2019-05-15 is a Wednesday; the week starts on Monday the 13th.
        assert_eq!(trunc("week", t), "2019-05-13 00:00:00");
        assert_eq!(trunc("week", "2019-05-13 00:00:00.0"), "2019-05-13 00:00:00");
        assert_eq!(trunc("month", t), "2019-05-01 00:00:00");
        assert_eq!(trunc("QTR", t), "2019-04-01 00:00:00");
        assert_eq!(trunc("year", t), "2019-01-01 00:00:00");
        assert_eq!(trunc("decade", t), "2010-01-01 00:00:00");
        assert_eq!(trunc("century", t), "2001-01-01 00:00:00");
        assert_eq!(trunc("day", "1969-12-31 23:00:00.0"), "1969-12-31 00:00:00");
        assert!(Part::parse("fortnight").is_none());
    }

    #[test]
    fn date_part_values() {
        let m = micros("2019-05-15 13:45:30.5");
        let part = |p: &str| extract_micros(m, Part::parse(p).unwrap()).unwrap();
        assert_eq!(
            (part("year"), part("quarter"), part("month"), part("day"), part("hour"), part("minute"), part("second")),
            (2019, 2, 5, 15, 13, 45, 30)
        );
        assert_eq!(part("dow"), 3);
        assert_eq!(part("doy"), 135);
        assert_eq!(part("week"), 20);
        assert_eq!(part("millisecond"), 30_500);
        let args = [
            ColumnarValue::Scalar(ScalarValue::Utf8(Some("epoch".into()))),
            ColumnarValue::Array(Arc::new(TimestampMicrosecondArray::from(vec![Some(1_500_000), None]))),
        ];
        let out = DatePart.invoke(&args, 2).unwrap().into_array(2);
        assert_eq!(out.as_primitive::<arrow::datatypes::Float64Type>().value(0), 1.5);
        assert!(out.is_null(1));
        let constants = [Some(ScalarValue::Utf8(Some("epoch".into()))), None];
        let sig = DatePart.signature_for_constants(&[DataType::Utf8, DataType::Date32], &constants).unwrap();
        assert_eq!(sig.return_type, DataType::Float64);
        assert_eq!(sig.arg_types, vec![DataType::Utf8, TIMESTAMP]);
    }
}
