//! Typed constants: SQL literals, folded expressions and partition values. One value of one of
//! the Arrow types the engine executes (see `tarn_catalog::SqlType::to_arrow`).

use std::fmt;
use std::sync::Arc;

use arrow::array::*;
use arrow::datatypes::{DataType, IntervalMonthDayNano, IntervalUnit, TimeUnit};

use crate::error::{EngineError, Result};

/// A single typed value; `None` inside a variant is a typed NULL.
#[derive(Debug, Clone, PartialEq)]
pub enum ScalarValue {
    /// The untyped `NULL` literal, before coercion gives it a type.
    Null,
    Boolean(Option<bool>),
    Int8(Option<i8>),
    Int16(Option<i16>),
    Int32(Option<i32>),
    Int64(Option<i64>),
    Float32(Option<f32>),
    Float64(Option<f64>),
    /// Unscaled value, precision, scale.
    Decimal128(Option<i128>, u8, i8),
    Utf8(Option<String>),
    /// Days since 1970-01-01.
    Date32(Option<i32>),
    /// Microseconds since 1970-01-01 00:00:00, no time zone.
    TimestampMicros(Option<i64>),
    /// Months, days and time (whole microseconds in the nanosecond field); see `expr::interval`.
    IntervalMonthDayNano(Option<IntervalMonthDayNano>),
}

impl ScalarValue {
    pub fn data_type(&self) -> DataType {
        match self {
            ScalarValue::Null => DataType::Null,
            ScalarValue::Boolean(_) => DataType::Boolean,
            ScalarValue::Int8(_) => DataType::Int8,
            ScalarValue::Int16(_) => DataType::Int16,
            ScalarValue::Int32(_) => DataType::Int32,
            ScalarValue::Int64(_) => DataType::Int64,
            ScalarValue::Float32(_) => DataType::Float32,
            ScalarValue::Float64(_) => DataType::Float64,
            ScalarValue::Decimal128(_, p, s) => DataType::Decimal128(*p, *s),
            ScalarValue::Utf8(_) => DataType::Utf8,
            ScalarValue::Date32(_) => DataType::Date32,
            ScalarValue::TimestampMicros(_) => DataType::Timestamp(TimeUnit::Microsecond, None),
            ScalarValue::IntervalMonthDayNano(_) => DataType::Interval(IntervalUnit::MonthDayNano),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(
            self,
            ScalarValue::Null
                | ScalarValue::Boolean(None)
                | ScalarValue::Int8(None)
                | ScalarValue::Int16(None)
                | ScalarValue::Int32(None)
                | ScalarValue::Int64(None)
                | ScalarValue::Float32(None)
                | ScalarValue::Float64(None)
                | ScalarValue::Decimal128(None, _, _)
                | ScalarValue::Utf8(None)
                | ScalarValue::Date32(None)
                | ScalarValue::TimestampMicros(None)
                | ScalarValue::IntervalMonthDayNano(None)
        )
    }

    /// A typed NULL of `data_type`.
    pub fn null_of(data_type: &DataType) -> Result<ScalarValue> {
        Ok(match data_type {
            DataType::Null => ScalarValue::Null,
            DataType::Boolean => ScalarValue::Boolean(None),
            DataType::Int8 => ScalarValue::Int8(None),
            DataType::Int16 => ScalarValue::Int16(None),
            DataType::Int32 => ScalarValue::Int32(None),
            DataType::Int64 => ScalarValue::Int64(None),
            DataType::Float32 => ScalarValue::Float32(None),
            DataType::Float64 => ScalarValue::Float64(None),
            DataType::Decimal128(p, s) => ScalarValue::Decimal128(None, *p, *s),
            DataType::Utf8 => ScalarValue::Utf8(None),
            DataType::Date32 => ScalarValue::Date32(None),
            DataType::Timestamp(TimeUnit::Microsecond, None) => ScalarValue::TimestampMicros(None),
            DataType::Interval(IntervalUnit::MonthDayNano) => ScalarValue::IntervalMonthDayNano(None),
            other => return Err(EngineError::Unsupported(format!("values of type {other}"))),
        })
    }

    /// An array of `len` copies of this value (a length-1 array makes an Arrow `Scalar` datum).
    pub fn to_array(&self, len: usize) -> ArrayRef {
        match self {
            ScalarValue::Null => new_null_array(&DataType::Null, len),
            ScalarValue::Boolean(v) => Arc::new(BooleanArray::from(vec![*v; len])),
            ScalarValue::Int8(v) => Arc::new(Int8Array::from(vec![*v; len])),
            ScalarValue::Int16(v) => Arc::new(Int16Array::from(vec![*v; len])),
            ScalarValue::Int32(v) => Arc::new(Int32Array::from(vec![*v; len])),
            ScalarValue::Int64(v) => Arc::new(Int64Array::from(vec![*v; len])),
            ScalarValue::Float32(v) => Arc::new(Float32Array::from(vec![*v; len])),
            ScalarValue::Float64(v) => Arc::new(Float64Array::from(vec![*v; len])),
            ScalarValue::Decimal128(v, p, s) => Arc::new(
                Decimal128Array::from(vec![*v; len])
                    .with_precision_and_scale(*p, *s)
                    // Invariant: p and s come from a validated Decimal128 type.
                    .expect("valid decimal precision and scale"),
            ),
            ScalarValue::Utf8(v) => Arc::new(StringArray::from(vec![v.as_deref(); len])),
            ScalarValue::Date32(v) => Arc::new(Date32Array::from(vec![*v; len])),
            ScalarValue::TimestampMicros(v) => Arc::new(TimestampMicrosecondArray::from(vec![*v; len])),
            ScalarValue::IntervalMonthDayNano(v) => Arc::new(IntervalMonthDayNanoArray::from(vec![*v; len])),
        }
    }

    /// The value at `index` of `array`.
    pub fn try_from_array(array: &dyn Array, index: usize) -> Result<ScalarValue> {
        let dt = array.data_type();
        if array.is_null(index) {
            return ScalarValue::null_of(dt);
        }
        Ok(match dt {
            DataType::Boolean => ScalarValue::Boolean(Some(array.as_boolean().value(index))),
            DataType::Int8 => ScalarValue::Int8(Some(array.as_primitive::<arrow::datatypes::Int8Type>().value(index))),
            DataType::Int16 => {
                ScalarValue::Int16(Some(array.as_primitive::<arrow::datatypes::Int16Type>().value(index)))
            }
            DataType::Int32 => {
                ScalarValue::Int32(Some(array.as_primitive::<arrow::datatypes::Int32Type>().value(index)))
            }
            DataType::Int64 => {
                ScalarValue::Int64(Some(array.as_primitive::<arrow::datatypes::Int64Type>().value(index)))
            }
            DataType::Float32 => {
                ScalarValue::Float32(Some(array.as_primitive::<arrow::datatypes::Float32Type>().value(index)))
            }
            DataType::Float64 => {
                ScalarValue::Float64(Some(array.as_primitive::<arrow::datatypes::Float64Type>().value(index)))
            }
            DataType::Decimal128(p, s) => ScalarValue::Decimal128(
                Some(array.as_primitive::<arrow::datatypes::Decimal128Type>().value(index)),
                *p,
                *s,
            ),
            DataType::Utf8 => ScalarValue::Utf8(Some(array.as_string::<i32>().value(index).to_string())),
            DataType::Date32 => {
                ScalarValue::Date32(Some(array.as_primitive::<arrow::datatypes::Date32Type>().value(index)))
            }
            DataType::Timestamp(TimeUnit::Microsecond, None) => ScalarValue::TimestampMicros(Some(
                array.as_primitive::<arrow::datatypes::TimestampMicrosecondType>().value(index),
            )),
            DataType::Interval(IntervalUnit::MonthDayNano) => ScalarValue::IntervalMonthDayNano(Some(
                array.as_primitive::<arrow::datatypes::IntervalMonthDayNanoType>().value(index),
            )),
            other => return Err(EngineError::Unsupported(format!("values of type {other}"))),
        })
    }
}

impl fmt::Display for ScalarValue {
    /// SQL literal spelling, used by `EXPLAIN` and error messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_null() {
            return write!(f, "NULL");
        }
        match self {
            ScalarValue::Boolean(Some(v)) => write!(f, "{v}"),
            ScalarValue::Int8(Some(v)) => write!(f, "{v}"),
            ScalarValue::Int16(Some(v)) => write!(f, "{v}"),
            ScalarValue::Int32(Some(v)) => write!(f, "{v}"),
            ScalarValue::Int64(Some(v)) => write!(f, "{v}"),
            ScalarValue::Float32(Some(v)) => write!(f, "{v}"),
            ScalarValue::Float64(Some(v)) => write!(f, "{v}"),
            ScalarValue::Decimal128(Some(v), p, s) => {
                write!(f, "{}", Decimal128Type::format_decimal(*v, *p, *s))
            }
            ScalarValue::Utf8(Some(v)) => write!(f, "'{}'", v.replace('\'', "''")),
            ScalarValue::Date32(Some(_)) | ScalarValue::TimestampMicros(Some(_)) => {
                let arr = self.to_array(1);
                let text = arrow::util::display::array_value_to_string(&arr, 0).map_err(|_| fmt::Error)?;
                let kw = if matches!(self, ScalarValue::Date32(_)) { "DATE" } else { "TIMESTAMP" };
                write!(f, "{kw} '{}'", text.replace('T', " "))
            }
            ScalarValue::IntervalMonthDayNano(Some(v)) => {
                write!(f, "INTERVAL '{}'", crate::expr::interval::format_interval(*v))
            }
            _ => write!(f, "NULL"),
        }
    }
}

use arrow::datatypes::{Decimal128Type, DecimalType};
