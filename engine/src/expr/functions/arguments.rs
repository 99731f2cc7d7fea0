//! Argument checking for signatures and typed access to evaluated arguments, shared by the
//! function families.

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::datatypes::{DataType, Int64Type};

use crate::error::{EngineError, Result};
use crate::expr::cast::cast_array;
use crate::expr::ColumnarValue;
use crate::plan::types::{is_integer, is_numeric, is_temporal, sql_type_name};
use crate::plan::ScalarValue;

/// Fails unless `args` has between `min` and `max` entries.
pub fn check_arity(name: &str, args: &[DataType], min: usize, max: usize) -> Result<()> {
    if args.len() < min || args.len() > max {
        let expected = if min == max { format!("{min}") } else { format!("{min} to {max}") };
        return Err(EngineError::plan(format!(
            "function {name} takes {expected} argument{}, got {}",
            if max == 1 { "" } else { "s" },
            args.len()
        )));
    }
    Ok(())
}

/// `check_arity` whose error also shows the expected call, e.g. `datediff(part, start, end)`.
pub fn check_usage(name: &str, args: &[DataType], min: usize, max: usize, usage: &str) -> Result<()> {
    check_arity(name, args, min, max).map_err(|e| match e {
        EngineError::Plan { message, position } => {
            EngineError::Plan { message: format!("{message}; expected {usage}"), position }
        }
        other => other,
    })
}

/// A comparison result with NULL read as false (Arrow's `prep_null_mask_filter` requires a
/// null buffer, which a result without NULLs lacks).
pub fn nulls_as_false(mask: &arrow::array::BooleanArray) -> arrow::array::BooleanArray {
    match mask.nulls() {
        Some(_) => arrow::compute::prep_null_mask_filter(mask),
        None => mask.clone(),
    }
}

/// An argument used as text: text itself, or a value with a text form (numbers, booleans,
/// dates and timestamps in their Redshift form), so `LEFT(ts, 7)` reads `'2019-05'`.
pub fn text_arg(name: &str, index: usize, t: &DataType) -> Result<DataType> {
    if matches!(t, DataType::Utf8 | DataType::Null | DataType::Boolean) || is_numeric(t) || is_temporal(t) {
        Ok(DataType::Utf8)
    } else {
        Err(wrong_arg(name, index, "text", t))
    }
}

/// An integer argument (counts, positions), taken as BIGINT.
pub fn integer_arg(name: &str, index: usize, t: &DataType) -> Result<DataType> {
    if is_integer(t) || *t == DataType::Null {
        Ok(DataType::Int64)
    } else {
        Err(wrong_arg(name, index, "an integer", t))
    }
}

/// The error for argument `index` (0-based) not being `wanted`.
pub fn wrong_arg(name: &str, index: usize, wanted: &str, found: &DataType) -> EngineError {
    EngineError::plan(format!(
        "function {name}: argument {} must be {wanted}, found {}",
        index + 1,
        sql_type_name(found)
    ))
}

/// An evaluated argument as a column of `num_rows` values of `to` (casting if the binder left a
/// different type, e.g. an untyped NULL).
pub fn arg_array(arg: &ColumnarValue, to: &DataType, num_rows: usize) -> Result<ArrayRef> {
    let array = arg.clone().into_array(num_rows);
    if array.data_type() == to {
        Ok(array)
    } else {
        cast_array(&array, to, false)
    }
}

/// A text argument as a `StringArray`.
pub fn string_arg(arg: &ColumnarValue, num_rows: usize) -> Result<StringArray> {
    Ok(arg_array(arg, &DataType::Utf8, num_rows)?.as_string::<i32>().clone())
}

/// An integer argument as BIGINT values (`None` for NULL).
pub fn int_values(arg: &ColumnarValue, num_rows: usize) -> Result<Vec<Option<i64>>> {
    let array = arg_array(arg, &DataType::Int64, num_rows)?;
    Ok(array.as_primitive::<Int64Type>().iter().collect())
}

/// A constant text argument (a date part name, a format); the error names the function.
pub fn constant_text(name: &str, arg: &ColumnarValue) -> Result<Option<String>> {
    match arg {
        ColumnarValue::Scalar(ScalarValue::Utf8(v)) => Ok(v.clone()),
        ColumnarValue::Scalar(ScalarValue::Null) => Ok(None),
        ColumnarValue::Array(a) if a.data_type() == &DataType::Utf8 => {
            let text = a.as_string::<i32>();
            let first = (!text.is_empty() && text.is_valid(0)).then(|| text.value(0));
            if text.iter().all(|v| v == first) {
                Ok(first.map(str::to_string))
            } else {
                Err(EngineError::execution(format!("function {name}: the first argument must be a constant")))
            }
        }
        _ => Err(EngineError::execution(format!("function {name}: the first argument must be constant text"))),
    }
}
