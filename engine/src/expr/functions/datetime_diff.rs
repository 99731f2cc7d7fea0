//! Differences between dates and timestamps. The dialects disagree, so each spelling is its own
//! entry: Redshift's `DATEDIFF(part, a, b)` counts the part's boundaries crossed between `a` and
//! `b` (`DATEDIFF(month, '2019-01-31', '2019-02-01')` is 1), Athena/Presto's
//! `date_diff('month', a, b)` counts complete units (the same call is 0), and Redshift's
//! `MONTHS_BETWEEN(a, b)` is fractional months on a 31-day month.

use std::sync::Arc;

use arrow::array::{AsArray, Float64Array, Int64Array};
use arrow::compute::kernels::arity::binary;
use arrow::datatypes::{DataType, Date32Type};

use crate::error::{EngineError, Result};
use crate::expr::functions::arguments::{arg_array, check_usage, constant_text, wrong_arg};
use crate::expr::functions::calendar::{
    add_months, civil_from_days, day_of, days_in_month, month_index, MICROS_PER_DAY, MICROS_PER_HOUR,
    MICROS_PER_MINUTE, MICROS_PER_SECOND,
};
use crate::expr::functions::datetime::{part_name_arg, timestamp_arg, timestamps, Part};
use crate::expr::functions::{FunctionRegistry, ScalarFunction, Signature};
use crate::expr::ColumnarValue;
use crate::plan::ScalarValue;

/// Registers the difference functions.
pub fn register(registry: &mut FunctionRegistry) {
    registry.register_scalar(Arc::new(DateDiff));
    registry.register_scalar(Arc::new(PrestoDateDiff));
    registry.register_scalar(Arc::new(MonthsBetween));
}

const DIFF_PARTS: &str =
    "year, quarter, month, week, day, hour, minute, second, millisecond, microsecond, decade, century or millennium";

/// The signature shared by both spellings: `(part text, ts, ts) -> BIGINT`.
fn diff_signature(name: &str, args: &[DataType]) -> Result<Signature> {
    check_usage(name, args, 3, 3, &format!("{name}(part, start, end)"))?;
    Ok(Signature {
        arg_types: vec![
            part_name_arg(name, &args[0])?,
            timestamp_arg(name, 1, &args[1])?,
            timestamp_arg(name, 2, &args[2])?,
        ],
        return_type: DataType::Int64,
    })
}

/// Evaluates `f(start, end)` over the two timestamp arguments (NULL in either gives NULL).
fn diff_rows(args: &[ColumnarValue], num_rows: usize, f: impl Fn(i64, i64) -> i64) -> Result<ColumnarValue> {
    let start = timestamps(&args[1], num_rows)?;
    let end = timestamps(&args[2], num_rows)?;
    let out: Int64Array = binary(&start, &end, f)?;
    Ok(ColumnarValue::Array(Arc::new(out)))
}

/// `DATEDIFF(part, start, end)` (Redshift): the number of `part` boundaries crossed going from
/// `start` to `end` ("DATEDIFF ... returns the number of date part boundaries crossed", Redshift
/// docs), negative when `end` is earlier. Weeks start on Monday, as `DATE_TRUNC('week')` does.
struct DateDiff;

/// The ordinal of the `part` unit containing `micros`; boundaries crossed are differences of it.
fn boundary_index(part: Part) -> Option<fn(i64) -> i64> {
    let year = |m: i64| civil_from_days(day_of(m)).0;
    Some(match part {
        Part::Microsecond => |m| m,
        Part::Millisecond => |m| m.div_euclid(1_000),
        Part::Second => |m| m.div_euclid(MICROS_PER_SECOND),
        Part::Minute => |m| m.div_euclid(MICROS_PER_MINUTE),
        Part::Hour => |m| m.div_euclid(MICROS_PER_HOUR),
        Part::Day => day_of,
        // 1970-01-01 was a Thursday: shifting by 3 days puts week starts on Mondays.
        Part::Week => |m| (day_of(m) + 3).div_euclid(7),
        Part::Month => month_index,
        Part::Quarter => |m| month_index(m).div_euclid(3),
        Part::Year => year,
        Part::Decade => |m| civil_from_days(day_of(m)).0.div_euclid(10),
        Part::Century => |m| (civil_from_days(day_of(m)).0 - 1).div_euclid(100),
        Part::Millennium => |m| (civil_from_days(day_of(m)).0 - 1).div_euclid(1000),
        Part::DayOfWeek | Part::DayOfYear | Part::Epoch => return None,
    })
}

impl ScalarFunction for DateDiff {
    fn name(&self) -> &str {
        "datediff"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        diff_signature(self.name(), args)
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let Some(name) = constant_text(self.name(), &args[0])? else {
            return Ok(ColumnarValue::Scalar(ScalarValue::Int64(None)));
        };
        let part = Part::parse_or_error(self.name(), &name)?;
        let index = boundary_index(part).ok_or_else(|| unsupported_part(self.name(), &name))?;
        diff_rows(args, num_rows, |a, b| index(b).wrapping_sub(index(a)))
    }
}

fn unsupported_part(function: &str, name: &str) -> EngineError {
    EngineError::execution(format!("function {function}: date part '{name}' is not supported; expected {DIFF_PARTS}"))
}

/// `date_diff(unit, start, end)` (Athena/Presto): complete units from `start` to `end`,
/// truncated toward zero. Fixed-length units divide the elapsed time; months, quarters and years
/// follow Joda-Time's `getDifference`, which Presto uses: a month is complete when the end's day
/// and time of month reach the start's, with a start day past the end month's last day clamped
/// to it (2019-01-31 to 2019-02-28 is one month).
struct PrestoDateDiff;

/// Complete months from `a` to `b` (Joda `BasicMonthOfYearDateTimeField.getDifferenceAsLong`).
pub(crate) fn complete_months(a: i64, b: i64) -> i64 {
    if b < a {
        return -complete_months(b, a);
    }
    let (a_day, b_day) = (day_of(a), day_of(b));
    let (ay, am, ad) = civil_from_days(a_day);
    let (by, bm, bd) = civil_from_days(b_day);
    let months = (by - ay) * 12 + bm as i64 - am as i64;
    // The start's day is clamped to the end's when the end is its month's last day.
    let ad = if bd == days_in_month(by, bm) && ad > bd { bd } else { ad };
    let remainder =
        |day: u32, micros: i64, days: i64| (day as i64 - 1) * MICROS_PER_DAY + (micros - days * MICROS_PER_DAY);
    if remainder(bd, b, b_day) < remainder(ad, a, a_day) {
        months - 1
    } else {
        months
    }
}

impl ScalarFunction for PrestoDateDiff {
    fn name(&self) -> &str {
        "date_diff"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        diff_signature(self.name(), args)
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let Some(name) = constant_text(self.name(), &args[0])? else {
            return Ok(ColumnarValue::Scalar(ScalarValue::Int64(None)));
        };
        let fixed = |unit: i64| move |a: i64, b: i64| b.wrapping_sub(a) / unit;
        match Part::parse_or_error(self.name(), &name)? {
            Part::Microsecond => diff_rows(args, num_rows, fixed(1)),
            Part::Millisecond => diff_rows(args, num_rows, fixed(1_000)),
            Part::Second => diff_rows(args, num_rows, fixed(MICROS_PER_SECOND)),
            Part::Minute => diff_rows(args, num_rows, fixed(MICROS_PER_MINUTE)),
            Part::Hour => diff_rows(args, num_rows, fixed(MICROS_PER_HOUR)),
            Part::Day => diff_rows(args, num_rows, fixed(MICROS_PER_DAY)),
            Part::Week => diff_rows(args, num_rows, fixed(7 * MICROS_PER_DAY)),
            Part::Month => diff_rows(args, num_rows, complete_months),
            Part::Quarter => diff_rows(args, num_rows, |a, b| complete_months(a, b) / 3),
            Part::Year => diff_rows(args, num_rows, |a, b| complete_months(a, b) / 12),
            _ => Err(unsupported_part(self.name(), &name)),
        }
    }
}

/// `MONTHS_BETWEEN(a, b)` (Redshift): months from `b` to `a` as DOUBLE PRECISION; whole when both
/// dates fall on the same day of the month or both on a month's last day, else the day difference
/// counts in 31-day months (Redshift docs, following Oracle).
struct MonthsBetween;

impl ScalarFunction for MonthsBetween {
    fn name(&self) -> &str {
        "months_between"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 2, 2, "months_between(date1, date2)")?;
        let date = |i: usize| match &args[i] {
            DataType::Date32 | DataType::Timestamp(_, _) | DataType::Utf8 | DataType::Null => Ok(DataType::Date32),
            other => Err(wrong_arg(self.name(), i, "a date", other)),
        };
        Ok(Signature { arg_types: vec![date(0)?, date(1)?], return_type: DataType::Float64 })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let a = arg_array(&args[0], &DataType::Date32, num_rows)?;
        let b = arg_array(&args[1], &DataType::Date32, num_rows)?;
        let out: Float64Array = binary(a.as_primitive::<Date32Type>(), b.as_primitive::<Date32Type>(), |a, b| {
            months_between(a as i64, b as i64)
        })?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

fn months_between(a: i64, b: i64) -> f64 {
    let (ay, am, ad) = civil_from_days(a);
    let (by, bm, bd) = civil_from_days(b);
    let months = ((ay - by) * 12 + am as i64 - bm as i64) as f64;
    let both_last = ad == days_in_month(ay, am) && bd == days_in_month(by, bm);
    if ad == bd || both_last {
        months
    } else {
        months + (ad as f64 - bd as f64) / 31.0
    }
}

/// `micros` moved by `n` units of `part`; `None` on overflow or for parts that are not units.
pub(crate) fn add_part(part: Part, micros: i64, n: i64) -> Option<i64> {
    let fixed = |unit: i64| n.checked_mul(unit).and_then(|d| micros.checked_add(d));
    match part {
        Part::Microsecond => fixed(1),
        Part::Millisecond => fixed(1_000),
        Part::Second => fixed(MICROS_PER_SECOND),
        Part::Minute => fixed(MICROS_PER_MINUTE),
        Part::Hour => fixed(MICROS_PER_HOUR),
        Part::Day => fixed(MICROS_PER_DAY),
        Part::Week => fixed(7 * MICROS_PER_DAY),
        Part::Month => add_months(micros, n),
        Part::Quarter => add_months(micros, n.checked_mul(3)?),
        Part::Year => add_months(micros, n.checked_mul(12)?),
        Part::Decade => add_months(micros, n.checked_mul(120)?),
        Part::Century => add_months(micros, n.checked_mul(1_200)?),
        Part::Millennium => add_months(micros, n.checked_mul(12_000)?),
        Part::DayOfWeek | Part::DayOfYear | Part::Epoch => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::functions::calendar::days_from_civil;
    use arrow::array::TimestampMicrosecondArray;
    use arrow::datatypes::Int64Type;

    fn at(text: &str) -> i64 {
        let (date, time) = text.split_once(' ').unwrap_or((text, "00:00:00"));
        let d: Vec<u32> = date.split('-').map(|p| p.parse().unwrap()).collect();
        let t: Vec<i64> = time.split(':').map(|p| p.parse().unwrap()).collect();
        days_from_civil(d[0] as i64, d[1], d[2]) * MICROS_PER_DAY
            + t[0] * MICROS_PER_HOUR
            + t[1] * MICROS_PER_MINUTE
            + t[2] * MICROS_PER_SECOND
    }

    fn call(f: &dyn ScalarFunction, part: &str, a: &str, b: &str) -> i64 {
        let ts = |t: &str| ColumnarValue::Array(Arc::new(TimestampMicrosecondArray::from(vec![at(t)])));
        let part = ColumnarValue::Scalar(ScalarValue::Utf8(Some(part.into())));
        f.invoke(&[part, ts(a), ts(b)], 1).unwrap().into_array(1).as_primitive::<Int64Type>().value(0)
    }

    #[test]
    fn redshift_counts_boundaries() {
        assert_eq!(call(&DateDiff, "month", "2019-01-31", "2019-02-01"), 1);
        assert_eq!(call(&DateDiff, "year", "2019-12-31 23:59:59", "2020-01-01"), 1);
        assert_eq!(call(&DateDiff, "qtr", "2019-03-31", "2019-04-01"), 1);
        assert_eq!(call(&DateDiff, "week", "2009-01-01", "2009-12-31"), 52);
        // Sunday to the next Monday crosses one week boundary.
        assert_eq!(call(&DateDiff, "week", "2019-05-12", "2019-05-13"), 1);
        assert_eq!(call(&DateDiff, "day", "2019-05-13 23:00:00", "2019-05-14 01:00:00"), 1);
        assert_eq!(call(&DateDiff, "hour", "2019-05-13 10:59:59", "2019-05-13 11:00:00"), 1);
        assert_eq!(call(&DateDiff, "month", "2019-03-01", "2019-01-31"), -2);
        assert_eq!(call(&DateDiff, "day", "1969-12-31 23:00:00", "1970-01-01 01:00:00"), 1);
    }

    #[test]
    fn presto_counts_complete_units() {
        assert_eq!(call(&PrestoDateDiff, "month", "2019-01-31", "2019-02-01"), 0);
        assert_eq!(call(&PrestoDateDiff, "month", "2019-01-31", "2019-02-28"), 1);
        assert_eq!(call(&PrestoDateDiff, "month", "2019-01-15 10:00:00", "2019-02-15 09:00:00"), 0);
        assert_eq!(call(&PrestoDateDiff, "month", "2019-02-15", "2019-01-15"), -1);
        assert_eq!(call(&PrestoDateDiff, "month", "2019-03-31", "2019-02-28"), -1);
        assert_eq!(call(&PrestoDateDiff, "year", "2019-06-01", "2021-05-31"), 1);
        assert_eq!(call(&PrestoDateDiff, "day", "2019-05-13 23:00:00", "2019-05-14 01:00:00"), 0);
        assert_eq!(call(&PrestoDateDiff, "hour", "2019-05-14 01:00:00", "2019-05-13 23:30:00"), -1);
        assert_eq!(call(&PrestoDateDiff, "week", "2019-05-01", "2019-05-15"), 2);
    }

    #[test]
    fn months_between_fractions() {
        let d = |t: &str| day_of(at(t));
        assert_eq!(months_between(d("1969-01-18"), d("1969-03-18")), -2.0);
        assert_eq!(months_between(d("2019-03-31"), d("2019-02-28")), 1.0);
        assert!((months_between(d("2019-02-15"), d("2019-01-01")) - (1.0 + 14.0 / 31.0)).abs() < 1e-12);
    }

    #[test]
    fn unknown_parts_name_the_function() {
        let err = DateDiff.signature(&[DataType::Utf8, DataType::Date32]).unwrap_err().to_string();
        assert!(err.contains("datediff") && err.contains("datediff(part, start, end)"), "{err}");
        let ts = ColumnarValue::Scalar(ScalarValue::TimestampMicros(Some(0)));
        let part = ColumnarValue::Scalar(ScalarValue::Utf8(Some("dow".into())));
        let err = DateDiff.invoke(&[part, ts.clone(), ts], 1).unwrap_err().to_string();
        assert!(err.contains("'dow'"), "{err}");
    }
}
