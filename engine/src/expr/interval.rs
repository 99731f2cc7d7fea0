//! Interval values (Arrow's `Interval(MonthDayNano)`) with PostgreSQL/Redshift semantics.
//!
//! An interval keeps months, days and time apart, as PostgreSQL does, because a month has no
//! fixed length; the engine's time resolution is the microsecond, so the nanosecond field always
//! holds whole microseconds. The operations (`plan::types` gives the types):
//! - `ts - ts` is an interval of days and time, the time under 24 hours (PostgreSQL's
//!   `timestamp_mi` followed by `justify_hours`): `365 days 23:00:00`;
//! - `ts ± interval` applies the months first (clamped to the month's last day), then days and
//!   time;
//! - `interval ± interval` adds field by field; `interval * n` and `interval / n` scale each field
//!   and carry fractions down (a fraction of a month is 30 days, of a day 24 hours), as
//!   PostgreSQL's `interval_mul`/`interval_div` do;
//! - comparisons see a month as 30 days and a day as 24 hours (`interval '1 month' =
//!   interval '30 days'`), PostgreSQL's `interval_cmp_value`;
//! - text is PostgreSQL's default output style: `1 year 2 mons -3 days +04:05:06.5`.
//!
//! A field that leaves its 32-bit range (months, days) is an "interval out of range" error.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringArray};
use arrow::datatypes::{
    DataType, Float64Type, IntervalMonthDayNano, IntervalMonthDayNanoType, TimestampMicrosecondType,
};

use crate::error::{EngineError, Result};
use crate::expr::functions::calendar::{
    add_months, MICROS_PER_DAY, MICROS_PER_HOUR, MICROS_PER_MINUTE, MICROS_PER_SECOND,
};
use crate::expr::functions::datetime::Part;
use crate::expr::ColumnarValue;
use crate::plan::types::{binary_result_type, is_interval, sql_type_name};
use crate::plan::{BinaryOp, ScalarValue};

const NANOS_PER_MICRO: i64 = 1_000;
const DAYS_PER_MONTH: i64 = 30;

/// Whether `left op right` is interval arithmetic (handled here rather than by the numeric
/// kernels): an interval on either side, or the difference of two timestamps.
pub fn handles(op: BinaryOp, left: &DataType, right: &DataType) -> bool {
    op.is_arithmetic()
        && (is_interval(left)
            || is_interval(right)
            || (op == BinaryOp::Minus
                && matches!(left, DataType::Timestamp(..))
                && matches!(right, DataType::Timestamp(..))))
}

/// An interval from its PostgreSQL fields: months, days and microseconds.
pub fn from_fields(months: i64, days: i64, micros: i64) -> Result<IntervalMonthDayNano> {
    let months = i32::try_from(months).map_err(|_| out_of_range())?;
    let days = i32::try_from(days).map_err(|_| out_of_range())?;
    let nanos = micros.checked_mul(NANOS_PER_MICRO).ok_or_else(out_of_range)?;
    Ok(IntervalMonthDayNano::new(months, days, nanos))
}

fn micros_of(v: IntervalMonthDayNano) -> i64 {
    v.nanoseconds / NANOS_PER_MICRO
}

fn out_of_range() -> EngineError {
    EngineError::execution("interval out of range")
}

/// The interval's length with a month as 30 days and a day as 24 hours, in microseconds.
fn span(v: IntervalMonthDayNano) -> i128 {
    (i128::from(v.months) * i128::from(DAYS_PER_MONTH) + i128::from(v.days)) * i128::from(MICROS_PER_DAY)
        + i128::from(micros_of(v))
}

/// Computes `left op right` for the operand types [`handles`] accepts (already coerced by the
/// binder: dates became timestamps, numbers DOUBLE PRECISION).
pub fn evaluate_arithmetic(
    op: BinaryOp,
    left: &ColumnarValue,
    right: &ColumnarValue,
    num_rows: usize,
) -> Result<ColumnarValue> {
    let (lt, rt) = (left.data_type(), right.data_type());
    let result_type = binary_result_type(op, &lt, &rt);
    if lt == DataType::Null || rt == DataType::Null {
        return Ok(ColumnarValue::Scalar(ScalarValue::null_of(&result_type)?));
    }
    let scalar = matches!((left, right), (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_)));
    let n = if scalar { 1 } else { num_rows };
    let (l, r) = (left.clone().into_array(n), right.clone().into_array(n));
    let undefined = || {
        EngineError::execution(format!(
            "operator {} cannot be applied to {} and {}",
            op.symbol(),
            sql_type_name(&lt),
            sql_type_name(&rt)
        ))
    };
    let out: ArrayRef = match (&lt, &rt, op) {
        (DataType::Timestamp(..), DataType::Timestamp(..), BinaryOp::Minus) => {
            let (a, b) = (l.as_primitive::<TimestampMicrosecondType>(), r.as_primitive::<TimestampMicrosecondType>());
            Arc::new(zip_map::<_, _, IntervalMonthDayNanoType>(a, b, timestamp_difference)?)
        }
        (DataType::Timestamp(..), DataType::Interval(_), BinaryOp::Plus | BinaryOp::Minus) => {
            let (ts, iv) = (l.as_primitive::<TimestampMicrosecondType>(), r.as_primitive::<IntervalMonthDayNanoType>());
            let negate = op == BinaryOp::Minus;
            Arc::new(zip_map::<_, _, TimestampMicrosecondType>(ts, iv, |t, i| shift_timestamp(t, i, negate))?)
        }
        (DataType::Interval(_), DataType::Timestamp(..), BinaryOp::Plus) => {
            let (iv, ts) = (l.as_primitive::<IntervalMonthDayNanoType>(), r.as_primitive::<TimestampMicrosecondType>());
            Arc::new(zip_map::<_, _, TimestampMicrosecondType>(ts, iv, |t, i| shift_timestamp(t, i, false))?)
        }
        (DataType::Interval(_), DataType::Interval(_), BinaryOp::Plus | BinaryOp::Minus) => {
            let (a, b) = (l.as_primitive::<IntervalMonthDayNanoType>(), r.as_primitive::<IntervalMonthDayNanoType>());
            let negate = op == BinaryOp::Minus;
            Arc::new(zip_map::<_, _, IntervalMonthDayNanoType>(a, b, |a, b| add(a, b, negate))?)
        }
        (DataType::Interval(_), DataType::Float64, BinaryOp::Multiply | BinaryOp::Divide) => {
            let (iv, f) = (l.as_primitive::<IntervalMonthDayNanoType>(), r.as_primitive::<Float64Type>());
            let divide = op == BinaryOp::Divide;
            Arc::new(zip_map::<_, _, IntervalMonthDayNanoType>(iv, f, |i, f| scale(i, f, divide))?)
        }
        (DataType::Float64, DataType::Interval(_), BinaryOp::Multiply) => {
            let (f, iv) = (l.as_primitive::<Float64Type>(), r.as_primitive::<IntervalMonthDayNanoType>());
            Arc::new(zip_map::<_, _, IntervalMonthDayNanoType>(iv, f, |i, f| scale(i, f, false))?)
        }
        _ => return Err(undefined()),
    };
    if scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(out.as_ref(), 0)?))
    } else {
        Ok(ColumnarValue::Array(out))
    }
}

/// Applies `f` to the rows where both sides are valid; NULL elsewhere.
fn zip_map<A, B, O>(
    a: &arrow::array::PrimitiveArray<A>,
    b: &arrow::array::PrimitiveArray<B>,
    f: impl Fn(A::Native, B::Native) -> Result<O::Native>,
) -> Result<arrow::array::PrimitiveArray<O>>
where
    A: arrow::datatypes::ArrowPrimitiveType,
    B: arrow::datatypes::ArrowPrimitiveType,
    O: arrow::datatypes::ArrowPrimitiveType,
{
    (0..a.len())
        .map(|i| if a.is_valid(i) && b.is_valid(i) { f(a.value(i), b.value(i)).map(Some) } else { Ok(None) })
        .collect()
}

/// `a - b` for timestamps: days and a time of the same sign under 24 hours.
fn timestamp_difference(a: i64, b: i64) -> Result<IntervalMonthDayNano> {
    let diff = a.checked_sub(b).ok_or_else(out_of_range)?;
    from_fields(0, diff / MICROS_PER_DAY, diff % MICROS_PER_DAY)
}

/// `ts + interval` (or `-` when `negate`): months first, then days and time.
fn shift_timestamp(ts: i64, interval: IntervalMonthDayNano, negate: bool) -> Result<i64> {
    let sign = if negate { -1 } else { 1 };
    let range = || EngineError::execution("timestamp out of range after adding an interval");
    let moved =
        if interval.months == 0 { ts } else { add_months(ts, sign * i64::from(interval.months)).ok_or_else(range)? };
    let day_time = i64::from(interval.days)
        .checked_mul(MICROS_PER_DAY)
        .and_then(|d| d.checked_add(micros_of(interval)))
        .ok_or_else(range)?;
    moved.checked_add(sign * day_time).ok_or_else(range)
}

/// `a + b`, or `a - b` when `negate`, field by field.
fn add(a: IntervalMonthDayNano, b: IntervalMonthDayNano, negate: bool) -> Result<IntervalMonthDayNano> {
    let sign = if negate { -1 } else { 1 };
    from_fields(
        i64::from(a.months) + sign * i64::from(b.months),
        i64::from(a.days) + sign * i64::from(b.days),
        micros_of(a).checked_add(sign * micros_of(b)).ok_or_else(out_of_range)?,
    )
}

/// `interval * factor` (or `/ factor` when `divide`), PostgreSQL's `interval_mul`/`interval_div`:
/// each field is scaled, and the fraction of a month carries down as 30 days, that of a day as
/// 24 hours, to the microsecond.
fn scale(interval: IntervalMonthDayNano, factor: f64, divide: bool) -> Result<IntervalMonthDayNano> {
    if divide && factor == 0.0 {
        return Err(EngineError::DivisionByZero);
    }
    if !factor.is_finite() {
        return Err(out_of_range());
    }
    let apply = |x: f64| if divide { x / factor } else { x * factor };
    let round_micro = |x: f64| (x * 1e6).round() / 1e6;
    let months = apply(f64::from(interval.months));
    let days = apply(f64::from(interval.days));
    if months.abs() > f64::from(i32::MAX) || days.abs() > f64::from(i32::MAX) {
        return Err(out_of_range());
    }
    let (whole_months, mut whole_days) = (months.trunc(), days.trunc());
    let month_remainder_days = round_micro((months - whole_months) * DAYS_PER_MONTH as f64);
    let mut seconds = round_micro((days - whole_days + month_remainder_days - month_remainder_days.trunc()) * 86_400.0);
    if seconds.abs() >= 86_400.0 {
        let carried = (seconds / 86_400.0).trunc();
        whole_days += carried;
        seconds -= carried * 86_400.0;
    }
    whole_days += month_remainder_days.trunc();
    let micros = (apply(micros_of(interval) as f64) + seconds * 1e6).round();
    if micros.abs() >= i64::MAX as f64 / NANOS_PER_MICRO as f64 {
        return Err(out_of_range());
    }
    from_fields(whole_months as i64, whole_days as i64, micros as i64)
}

/// A comparison of two intervals by their length (a month is 30 days, a day 24 hours).
pub fn compare(op: BinaryOp, left: &ColumnarValue, right: &ColumnarValue, num_rows: usize) -> Result<ColumnarValue> {
    let scalar = matches!((left, right), (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_)));
    let n = if scalar { 1 } else { num_rows };
    let (l, r) = (left.clone().into_array(n), right.clone().into_array(n));
    let (a, b) = (l.as_primitive::<IntervalMonthDayNanoType>(), r.as_primitive::<IntervalMonthDayNanoType>());
    let test = |x: i128, y: i128| match op {
        BinaryOp::Eq => x == y,
        BinaryOp::NotEq => x != y,
        BinaryOp::Lt => x < y,
        BinaryOp::LtEq => x <= y,
        BinaryOp::Gt => x > y,
        _ => x >= y,
    };
    let out: BooleanArray =
        (0..n).map(|i| (a.is_valid(i) && b.is_valid(i)).then(|| test(span(a.value(i)), span(b.value(i))))).collect();
    if scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::Boolean(out.is_valid(0).then(|| out.value(0)))))
    } else {
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// PostgreSQL's text of an interval (`IntervalStyle = postgres`): `1 year 2 mons -3 days
/// +04:05:06.5`, `-00:00:05`, `00:00:00` for zero.
pub fn format_interval(v: IntervalMonthDayNano) -> String {
    let mut out = String::new();
    let (mut is_zero, mut is_before) = (true, false);
    let mut part = |value: i64, unit: &str, out: &mut String| {
        if value == 0 {
            return;
        }
        if !is_zero {
            out.push(' ');
        }
        let plus = if is_before && value > 0 { "+" } else { "" };
        out.push_str(&format!("{plus}{value} {unit}{}", if value != 1 { "s" } else { "" }));
        is_before = value < 0;
        is_zero = false;
    };
    let months = i64::from(v.months);
    part(months / 12, "year", &mut out);
    part(months % 12, "mon", &mut out);
    part(i64::from(v.days), "day", &mut out);
    let time = micros_of(v);
    if is_zero || time != 0 {
        let sign = if time < 0 {
            "-"
        } else if is_before {
            "+"
        } else {
            ""
        };
        let t = time.unsigned_abs();
        let (hours, minutes) = (t / MICROS_PER_HOUR as u64, t / MICROS_PER_MINUTE as u64 % 60);
        let (seconds, fraction) = (t / MICROS_PER_SECOND as u64 % 60, t % MICROS_PER_SECOND as u64);
        if !is_zero {
            out.push(' ');
        }
        out.push_str(&format!("{sign}{hours:02}:{minutes:02}:{seconds:02}"));
        if fraction != 0 {
            out.push_str(format!(".{fraction:06}").trim_end_matches('0'));
        }
    }
    out
}

/// An interval column as PostgreSQL's text (for `CAST(... AS VARCHAR)` and result printing).
pub fn to_text(array: &dyn Array) -> ArrayRef {
    let intervals = array.as_primitive::<IntervalMonthDayNanoType>();
    Arc::new(intervals.iter().map(|v| v.map(format_interval)).collect::<StringArray>())
}

/// `DATE_PART(part, interval)` (what `EXTRACT` binds to), PostgreSQL's `interval_part`: `epoch` is
/// the length in seconds with a year of 365.25 days and a month of 30; the other parts are the
/// fields of the interval's text (`hour` of `1 day 26:00:00` is 26).
pub fn part(v: IntervalMonthDayNano, part: Part) -> Result<f64> {
    let months = i64::from(v.months);
    let time = micros_of(v);
    let years = months / 12;
    let value = match part {
        Part::Epoch => {
            let seconds_per_day = 86_400.0;
            return Ok(time as f64 / 1e6
                + years as f64 * 365.25 * seconds_per_day
                + (months % 12) as f64 * DAYS_PER_MONTH as f64 * seconds_per_day
                + f64::from(v.days) * seconds_per_day);
        }
        Part::Year => years,
        Part::Month => months % 12,
        Part::Quarter => (months % 12) / 3 + 1,
        Part::Decade => years / 10,
        Part::Century => years / 100,
        Part::Millennium => years / 1000,
        Part::Day => i64::from(v.days),
        Part::Hour => time / MICROS_PER_HOUR,
        Part::Minute => time % MICROS_PER_HOUR / MICROS_PER_MINUTE,
        Part::Second => time % MICROS_PER_MINUTE / MICROS_PER_SECOND,
        Part::Millisecond => time % MICROS_PER_MINUTE / 1_000,
        Part::Microsecond => time % MICROS_PER_MINUTE,
        Part::Week | Part::DayOfWeek | Part::DayOfYear => {
            let name = format!("{part:?}").to_ascii_lowercase();
            return Err(EngineError::execution(format!(
                "function date_part: '{name}' is not defined for an INTERVAL; expected epoch, year, quarter, month, \
                 day, hour, minute, second, millisecond or microsecond"
            )));
        }
    };
    Ok(value as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(months: i64, days: i64, micros: i64) -> IntervalMonthDayNano {
        from_fields(months, days, micros).unwrap()
    }

    const HOUR: i64 = MICROS_PER_HOUR;

    #[test]
    fn text_like_postgres() {
        assert_eq!(
            format_interval(iv(0, 1, 2 * HOUR + 3 * MICROS_PER_MINUTE + 4 * MICROS_PER_SECOND)),
            "1 day 02:03:04"
        );
        assert_eq!(format_interval(iv(0, 0, -5 * MICROS_PER_SECOND)), "-00:00:05");
        assert_eq!(format_interval(iv(3, 2, 0)), "3 mons 2 days");
        assert_eq!(format_interval(iv(0, 0, 0)), "00:00:00");
        assert_eq!(
            format_interval(iv(14, -3, 4 * HOUR + 5 * MICROS_PER_MINUTE + 6_500_000)),
            "1 year 2 mons -3 days +04:05:06.5"
        );
        assert_eq!(format_interval(iv(-1, 0, 0)), "-1 mons");
        assert_eq!(format_interval(iv(0, 365, 23 * HOUR)), "365 days 23:00:00");
        assert_eq!(format_interval(iv(0, 0, 26 * HOUR + 1)), "26:00:00.000001");
    }

    #[test]
    fn arithmetic_like_postgres() {
        let day = MICROS_PER_DAY;
        assert_eq!(timestamp_difference(366 * day, day).unwrap(), iv(0, 365, 0));
        assert_eq!(timestamp_difference(0, day + HOUR).unwrap(), iv(0, -1, -HOUR));
        // 2020-01-31 + 1 month = 2020-02-29 (clamped), then + 1 day.
        let jan31 = 18_292 * day;
        assert_eq!(shift_timestamp(jan31, iv(1, 1, 0), false).unwrap(), (18_292 + 30) * day);
        assert_eq!(add(iv(1, 2, 3), iv(1, 1, 1), true).unwrap(), iv(0, 1, 2));
        // PostgreSQL: interval '1 month' * 1.5 = '1 mon 15 days'; '1 day' / 3 = '08:00:00'.
        assert_eq!(scale(iv(1, 0, 0), 1.5, false).unwrap(), iv(1, 15, 0));
        assert_eq!(scale(iv(0, 1, 0), 3.0, true).unwrap(), iv(0, 0, 8 * HOUR));
        assert_eq!(scale(iv(0, 1, 0), 0.5, false).unwrap(), iv(0, 0, 12 * HOUR));
        assert!(matches!(scale(iv(0, 1, 0), 0.0, true), Err(EngineError::DivisionByZero)));
        assert!(scale(iv(0, 1, 0), 1e12, false).unwrap_err().to_string().contains("interval out of range"));
        assert!(add(iv(i32::MAX as i64, 0, 0), iv(1, 0, 0), false).is_err());
    }

    #[test]
    fn comparisons_see_30_day_months() {
        let (l, r) = (
            ColumnarValue::Scalar(ScalarValue::IntervalMonthDayNano(Some(iv(1, 0, 0)))),
            ColumnarValue::Scalar(ScalarValue::IntervalMonthDayNano(Some(iv(0, 30, 0)))),
        );
        let eq = compare(BinaryOp::Eq, &l, &r, 1).unwrap();
        assert!(matches!(eq, ColumnarValue::Scalar(ScalarValue::Boolean(Some(true)))));
        let lt =
            compare(BinaryOp::Lt, &r, &ColumnarValue::Scalar(ScalarValue::IntervalMonthDayNano(Some(iv(0, 30, 1)))), 1)
                .unwrap();
        assert!(matches!(lt, ColumnarValue::Scalar(ScalarValue::Boolean(Some(true)))));
    }

    #[test]
    fn parts_like_postgres() {
        let v = iv(14, 3, 26 * HOUR + 5 * MICROS_PER_MINUTE + 6_500_000);
        assert_eq!(part(v, Part::Year).unwrap(), 1.0);
        assert_eq!(part(v, Part::Month).unwrap(), 2.0);
        assert_eq!(part(v, Part::Day).unwrap(), 3.0);
        assert_eq!(part(v, Part::Hour).unwrap(), 26.0);
        assert_eq!(part(v, Part::Minute).unwrap(), 5.0);
        assert_eq!(part(v, Part::Second).unwrap(), 6.0);
        // PostgreSQL: extract(epoch from interval '1 year 2 mons 3 days 26:05:06.5') = 37_094_706.5.
        assert_eq!(part(v, Part::Epoch).unwrap(), 37_094_706.5);
        assert!(part(v, Part::Week).is_err());
    }
}
