//! Arithmetic kernels with SQL semantics: checked (overflow is an error naming the operation,
//! never a wrap), division by zero is an error (Redshift; DuckDB would return NULL), integer
//! division truncates, decimals get the precision and scale of `plan::types::binary_result_type`,
//! and dates count days.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Decimal128Array};
use arrow::compute::kernels::numeric;
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Decimal128Type};
use arrow::error::ArrowError;

use crate::error::{EngineError, Result};
use crate::expr::ColumnarValue;
use crate::plan::types::binary_result_type;
use crate::plan::{BinaryOp, ScalarValue};

/// Computes `left op right` for an arithmetic `op`, producing exactly `binary_result_type`.
pub fn evaluate_arithmetic(
    op: BinaryOp,
    left: &ColumnarValue,
    right: &ColumnarValue,
    num_rows: usize,
) -> Result<ColumnarValue> {
    let (lt, rt) = (left.data_type(), right.data_type());
    let result_type = binary_result_type(op, &lt, &rt);
    if lt == DataType::Null || rt == DataType::Null || result_type == DataType::Null {
        return Ok(ColumnarValue::Scalar(ScalarValue::null_of(&result_type)?));
    }
    let operation = || format!("{lt} {} {rt}", op.symbol());
    let out = match (&lt, &rt) {
        (DataType::Date32, _) | (_, DataType::Date32) => date_arithmetic(op, left, right)?,
        (DataType::Decimal128(..), DataType::Decimal128(..)) if op == BinaryOp::Divide => {
            let (l, r) = (left.clone().into_array(num_rows), right.clone().into_array(num_rows));
            let scalar = matches!((left, right), (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_)));
            let out = decimal_divide(&l, &r, &result_type).map_err(|e| map_arith_error(e, &operation()))?;
            if scalar {
                ColumnarValue::Scalar(ScalarValue::try_from_array(out.as_ref(), 0)?)
            } else {
                ColumnarValue::Array(out)
            }
        }
        _ => ColumnarValue::apply_binary(left, right, |l, r| match op {
            BinaryOp::Plus => numeric::add(l, r),
            BinaryOp::Minus => numeric::sub(l, r),
            BinaryOp::Multiply => numeric::mul(l, r),
            BinaryOp::Divide => numeric::div(l, r),
            _ => numeric::rem(l, r),
        })
        .map_err(|e| map_arith_error(e, &operation()))?,
    };
    conform(out, &result_type).map_err(|e| map_arith_error(e, &operation()))
}

/// Casts a kernel result whose type differs from the planned one (decimal precision, date
/// reinterpretation); a value that does not fit is an overflow.
fn conform(value: ColumnarValue, to: &DataType) -> Result<ColumnarValue, ArrowError> {
    if value.data_type() == *to {
        return Ok(value);
    }
    let options = CastOptions { safe: false, ..Default::default() };
    match value {
        ColumnarValue::Array(a) => Ok(ColumnarValue::Array(cast_with_options(&a, to, &options)?)),
        ColumnarValue::Scalar(s) => {
            let a = cast_with_options(&s.to_array(1), to, &options)?;
            ScalarValue::try_from_array(a.as_ref(), 0)
                .map(ColumnarValue::Scalar)
                .map_err(|e| ArrowError::ComputeError(e.to_string()))
        }
    }
}

/// Dates as day numbers: `date ± int` and `int + date` give a date, `date - date` an int.
fn date_arithmetic(op: BinaryOp, left: &ColumnarValue, right: &ColumnarValue) -> Result<ColumnarValue, ArrowError> {
    let as_days = |v: &ColumnarValue| -> Result<ColumnarValue, ArrowError> { conform(v.clone(), &DataType::Int32) };
    let (l, r) = (as_days(left)?, as_days(right)?);
    let days = ColumnarValue::apply_binary(&l, &r, |l, r| match op {
        BinaryOp::Plus => numeric::add(l, r),
        BinaryOp::Minus => numeric::sub(l, r),
        _ => Err(ArrowError::ComputeError(format!("{} is not defined for dates", op.symbol()))),
    })?;
    Ok(days)
}

/// `l / r` on decimals at the planned scale: `l * 10^(S - s1 + s2) / r`, truncated toward zero
/// (Arrow's kernel would use its own result scale, not Redshift's).
fn decimal_divide(l: &ArrayRef, r: &ArrayRef, result_type: &DataType) -> Result<ArrayRef, ArrowError> {
    let (DataType::Decimal128(_, s1), DataType::Decimal128(_, s2), DataType::Decimal128(p, s)) =
        (l.data_type(), r.data_type(), result_type)
    else {
        return Err(ArrowError::ComputeError("decimal division of non-decimals".into()));
    };
    let shift = (*s as i32 - *s1 as i32 + *s2 as i32).max(0) as u32;
    let factor =
        10i128.checked_pow(shift).ok_or_else(|| ArrowError::ArithmeticOverflow("decimal scale too large".into()))?;
    let (l, r) = (l.as_primitive::<Decimal128Type>(), r.as_primitive::<Decimal128Type>());
    let out: Decimal128Array = arrow::compute::kernels::arity::try_binary(l, r, |a: i128, b: i128| {
        if b == 0 {
            return Err(ArrowError::DivideByZero);
        }
        a.checked_mul(factor)
            .and_then(|x| x.checked_div(b))
            .ok_or_else(|| ArrowError::ArithmeticOverflow("decimal division".into()))
    })?;
    let out = out.with_precision_and_scale(*p, *s)?;
    out.validate_decimal_precision(*p)?;
    Ok(Arc::new(out))
}

/// Arrow's arithmetic errors in the user's terms.
pub(crate) fn map_arith_error(e: ArrowError, operation: &str) -> EngineError {
    match e {
        ArrowError::DivideByZero => EngineError::DivisionByZero,
        ArrowError::ArithmeticOverflow(_) => EngineError::NumericOverflow { operation: operation.to_string() },
        ArrowError::InvalidArgumentError(m) | ArrowError::CastError(m) | ArrowError::ComputeError(m)
            if m.contains("overflow") || m.contains("too large") || m.contains("Overflow") =>
        {
            EngineError::NumericOverflow { operation: operation.to_string() }
        }
        other => EngineError::Arrow(other),
    }
}
