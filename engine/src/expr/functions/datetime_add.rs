//! Calendar arithmetic: Redshift's `DATEADD(part, n, ts)` (always a TIMESTAMP) and `ADD_MONTHS`,
//! Athena/Presto's `date_add('unit', n, x)` (the type of `x`), and `LAST_DAY`. Months clamp to
//! the target month's last day (2019-01-31 plus one month is 2019-02-28); only `ADD_MONTHS`
//! keeps a month-end date at the month's end (Redshift docs contrast the two).

use std::sync::Arc;

use arrow::array::{Array, AsArray, Date32Array, PrimitiveArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Date32Type, Int64Type, TimestampMicrosecondType};

use crate::error::{EngineError, Result};
use crate::expr::functions::arguments::{arg_array, check_usage, constant_text, integer_arg, wrong_arg};
use crate::expr::functions::calendar::{civil_from_days, days_from_civil, days_in_month, MICROS_PER_DAY};
use crate::expr::functions::datetime::{part_name_arg, timestamp_arg, Part};
use crate::expr::functions::datetime_diff::add_part;
use crate::expr::functions::{FunctionRegistry, ScalarFunction, Signature};
use crate::expr::ColumnarValue;
use crate::plan::types::TIMESTAMP;
use crate::plan::ScalarValue;

/// Registers the calendar arithmetic functions.
pub fn register(registry: &mut FunctionRegistry) {
    registry.register_scalar(Arc::new(DateAdd));
    registry.register_scalar(Arc::new(PrestoDateAdd));
    registry.register_scalar(Arc::new(AddMonths));
    registry.register_scalar(Arc::new(LastDay));
}

/// Moves every timestamp of `ts` by the matching `n` with `step`; NULL in either gives NULL and
/// a result out of range is an error naming the value.
fn shift(
    name: &str,
    ts: &PrimitiveArray<TimestampMicrosecondType>,
    n: &PrimitiveArray<Int64Type>,
    what: &str,
    step: impl Fn(i64, i64) -> Option<i64>,
) -> Result<TimestampMicrosecondArray> {
    let (tv, nv) = (ts.values(), n.values());
    let mut out = Vec::with_capacity(ts.len());
    for i in 0..ts.len() {
        if ts.is_null(i) || n.is_null(i) {
            out.push(None);
            continue;
        }
        let moved = step(tv[i], nv[i]).ok_or_else(|| {
            EngineError::execution(format!(
                "function {name}: {} plus {} {what} is out of range",
                crate::expr::cast::format_timestamp_micros(tv[i]),
                nv[i]
            ))
        })?;
        out.push(Some(moved));
    }
    Ok(TimestampMicrosecondArray::from(out))
}

fn counts(arg: &ColumnarValue, num_rows: usize) -> Result<PrimitiveArray<Int64Type>> {
    Ok(arg_array(arg, &DataType::Int64, num_rows)?.as_primitive::<Int64Type>().clone())
}

/// `DATEADD(part, n, ts)` (Redshift): a TIMESTAMP `n` parts after `ts` (dates are taken at
/// midnight).
struct DateAdd;

impl ScalarFunction for DateAdd {
    fn name(&self) -> &str {
        "dateadd"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 3, 3, "dateadd(part, integer, timestamp)")?;
        Ok(Signature {
            arg_types: vec![
                part_name_arg(self.name(), &args[0])?,
                integer_arg(self.name(), 1, &args[1])?,
                timestamp_arg(self.name(), 2, &args[2])?,
            ],
            return_type: TIMESTAMP,
        })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let Some(name) = constant_text(self.name(), &args[0])? else {
            return Ok(ColumnarValue::Scalar(ScalarValue::TimestampMicros(None)));
        };
        let part = unit(self.name(), &name)?;
        let ts = arg_array(&args[2], &TIMESTAMP, num_rows)?;
        let out =
            shift(self.name(), ts.as_primitive(), &counts(&args[1], num_rows)?, &name, |t, n| add_part(part, t, n))?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

fn unit(function: &str, name: &str) -> Result<Part> {
    let part = Part::parse_or_error(function, name)?;
    if matches!(part, Part::DayOfWeek | Part::DayOfYear | Part::Epoch) {
        return Err(EngineError::execution(format!(
            "function {function}: '{name}' is not a unit that can be added; expected year, quarter, month, week, \
             day, hour, minute, second, millisecond or microsecond"
        )));
    }
    Ok(part)
}

/// `date_add(unit, n, x)` (Athena/Presto): `x` moved by `n` units, in `x`'s type — a DATE stays
/// a DATE (and then only day-or-larger units make sense, as in Presto).
struct PrestoDateAdd;

impl ScalarFunction for PrestoDateAdd {
    fn name(&self) -> &str {
        "date_add"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 3, 3, "date_add(unit, bigint, date or timestamp)")?;
        let value = match &args[2] {
            DataType::Date32 => DataType::Date32,
            other => timestamp_arg(self.name(), 2, other)?,
        };
        Ok(Signature {
            arg_types: vec![
                part_name_arg(self.name(), &args[0])?,
                integer_arg(self.name(), 1, &args[1])?,
                value.clone(),
            ],
            return_type: value,
        })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let is_date = args[2].data_type() == DataType::Date32;
        let Some(name) = constant_text(self.name(), &args[0])? else {
            let null = if is_date { ScalarValue::Date32(None) } else { ScalarValue::TimestampMicros(None) };
            return Ok(ColumnarValue::Scalar(null));
        };
        let part = unit(self.name(), &name)?;
        if is_date && matches!(part, Part::Hour | Part::Minute | Part::Second | Part::Millisecond | Part::Microsecond) {
            return Err(EngineError::execution(format!(
                "function {}: '{name}' is not a valid unit for a DATE",
                self.name()
            )));
        }
        let ts = arg_array(&args[2], &TIMESTAMP, num_rows)?;
        let out =
            shift(self.name(), ts.as_primitive(), &counts(&args[1], num_rows)?, &name, |t, n| add_part(part, t, n))?;
        let out: Arc<dyn Array> = Arc::new(out);
        if is_date {
            return Ok(ColumnarValue::Array(arrow::compute::cast(&out, &DataType::Date32)?));
        }
        Ok(ColumnarValue::Array(out))
    }
}

/// `ADD_MONTHS(ts, n)` (Redshift): like `DATEADD(month, n, ts)`, except that a date on its
/// month's last day lands on the target month's last day (2019-02-28 + 1 = 2019-03-31).
struct AddMonths;

impl ScalarFunction for AddMonths {
    fn name(&self) -> &str {
        "add_months"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 2, 2, "add_months(date or timestamp, integer)")?;
        Ok(Signature {
            arg_types: vec![timestamp_arg(self.name(), 0, &args[0])?, integer_arg(self.name(), 1, &args[1])?],
            return_type: TIMESTAMP,
        })
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let ts = arg_array(&args[0], &TIMESTAMP, num_rows)?;
        let out = shift(self.name(), ts.as_primitive(), &counts(&args[1], num_rows)?, "months", |t, n| {
            let moved = add_part(Part::Month, t, n)?;
            let (y, m, d) = civil_from_days(t.div_euclid(MICROS_PER_DAY));
            if d != days_in_month(y, m) {
                return Some(moved);
            }
            let day = moved.div_euclid(MICROS_PER_DAY);
            let (ty, tm, _) = civil_from_days(day);
            Some(moved + (days_from_civil(ty, tm, days_in_month(ty, tm)) - day) * MICROS_PER_DAY)
        })?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `LAST_DAY(d)` (Redshift): the DATE of the last day of `d`'s month.
struct LastDay;

impl ScalarFunction for LastDay {
    fn name(&self) -> &str {
        "last_day"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        check_usage(self.name(), args, 1, 1, "last_day(date or timestamp)")?;
        match &args[0] {
            DataType::Date32 | DataType::Timestamp(_, _) | DataType::Utf8 | DataType::Null => {
                Ok(Signature { arg_types: vec![DataType::Date32], return_type: DataType::Date32 })
            }
            other => Err(wrong_arg(self.name(), 0, "a date or timestamp", other)),
        }
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ColumnarValue> {
        let dates = arg_array(&args[0], &DataType::Date32, num_rows)?;
        let out: Date32Array = dates.as_primitive::<Date32Type>().unary(|d| {
            let (y, m, _) = civil_from_days(d as i64);
            days_from_civil(y, m, days_in_month(y, m)) as i32
        });
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(v: i64) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(TimestampMicrosecondArray::from(vec![Some(v), None])))
    }

    fn text(v: &str) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(v.into())))
    }

    fn n(v: i64) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Int64(Some(v)))
    }

    fn day(y: i64, m: u32, d: u32) -> i64 {
        days_from_civil(y, m, d)
    }

    #[test]
    fn dateadd_clamps_months_and_keeps_nulls() {
        let out = DateAdd.invoke(&[text("month"), n(1), ts(day(2019, 1, 31) * MICROS_PER_DAY + 7)], 2).unwrap();
        let out = out.into_array(2);
        let out = out.as_primitive::<TimestampMicrosecondType>();
        assert_eq!(out.value(0), day(2019, 2, 28) * MICROS_PER_DAY + 7);
        assert!(out.is_null(1));
        let out = DateAdd.invoke(&[text("qtr"), n(-1), ts(day(2019, 5, 31) * MICROS_PER_DAY)], 2).unwrap();
        assert_eq!(
            out.into_array(2).as_primitive::<TimestampMicrosecondType>().value(0),
            day(2019, 2, 28) * MICROS_PER_DAY
        );
        let err = DateAdd.invoke(&[text("year"), n(i64::MAX / 2), ts(0)], 2).unwrap_err().to_string();
        assert!(err.contains("dateadd") && err.contains("1970-01-01"), "{err}");
        assert!(DateAdd.invoke(&[text("dow"), n(1), ts(0)], 2).is_err());
    }

    #[test]
    fn presto_date_add_keeps_dates() {
        let sig = PrestoDateAdd.signature(&[DataType::Utf8, DataType::Int32, DataType::Date32]).unwrap();
        assert_eq!(sig.return_type, DataType::Date32);
        let d = ColumnarValue::Array(Arc::new(Date32Array::from(vec![day(2020, 1, 31) as i32])));
        let out = PrestoDateAdd.invoke(&[text("month"), n(1), d.clone()], 1).unwrap().into_array(1);
        assert_eq!(out.as_primitive::<Date32Type>().value(0), day(2020, 2, 29) as i32);
        assert!(PrestoDateAdd.invoke(&[text("hour"), n(1), d], 1).is_err());
    }

    #[test]
    fn add_months_and_last_day() {
        let out = AddMonths.invoke(&[ts(day(2019, 2, 28) * MICROS_PER_DAY), n(1)], 2).unwrap().into_array(2);
        assert_eq!(out.as_primitive::<TimestampMicrosecondType>().value(0), day(2019, 3, 31) * MICROS_PER_DAY);
        let d =
            ColumnarValue::Array(Arc::new(Date32Array::from(vec![day(2020, 2, 3) as i32, day(2019, 12, 31) as i32])));
        let out = LastDay.invoke(&[d], 2).unwrap().into_array(2);
        let out = out.as_primitive::<Date32Type>();
        assert_eq!((out.value(0), out.value(1)), (day(2020, 2, 29) as i32, day(2019, 12, 31) as i32));
    }
}
