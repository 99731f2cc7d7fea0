//! Physical expressions, evaluated a batch at a time with Arrow kernels, and the function
//! registry.

pub mod arithmetic;
pub mod binary;
pub mod case;
pub mod cast;
pub mod column;
pub mod function;
pub mod functions;
pub mod in_list;
pub mod interval;
pub mod like;
pub mod literal;
pub mod planner;
pub mod unary;

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Datum, Scalar};
use arrow::datatypes::DataType;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::plan::ScalarValue;

pub use planner::create_physical_expr;

/// The result of evaluating an expression on a batch: a column, or one value standing for every
/// row (literals stay scalar so kernels can use Arrow's `Scalar` datum instead of a full array).
#[derive(Debug, Clone)]
pub enum ColumnarValue {
    Array(ArrayRef),
    Scalar(ScalarValue),
}

impl ColumnarValue {
    /// A column of `num_rows` values.
    pub fn into_array(self, num_rows: usize) -> ArrayRef {
        match self {
            ColumnarValue::Array(a) => a,
            ColumnarValue::Scalar(s) => s.to_array(num_rows),
        }
    }

    pub fn data_type(&self) -> DataType {
        match self {
            ColumnarValue::Array(a) => a.data_type().clone(),
            ColumnarValue::Scalar(s) => s.data_type(),
        }
    }

    /// Applies an Arrow kernel taking two datums; two scalars give a scalar, so constant
    /// sub-expressions stay cheap.
    pub fn apply_binary(
        left: &ColumnarValue,
        right: &ColumnarValue,
        kernel: impl Fn(&dyn Datum, &dyn Datum) -> Result<ArrayRef, ArrowError>,
    ) -> Result<ColumnarValue, ArrowError> {
        let as_scalar = |s: &ScalarValue| Scalar::new(s.to_array(1));
        match (left, right) {
            (ColumnarValue::Array(l), ColumnarValue::Array(r)) => Ok(ColumnarValue::Array(kernel(l, r)?)),
            (ColumnarValue::Array(l), ColumnarValue::Scalar(r)) => Ok(ColumnarValue::Array(kernel(l, &as_scalar(r))?)),
            (ColumnarValue::Scalar(l), ColumnarValue::Array(r)) => Ok(ColumnarValue::Array(kernel(&as_scalar(l), r)?)),
            (ColumnarValue::Scalar(l), ColumnarValue::Scalar(r)) => {
                let out = kernel(&as_scalar(l), &as_scalar(r))?;
                ColumnarValue::scalar_from(&out)
            }
        }
    }

    /// The first value of a (one-row) kernel result as a scalar.
    fn scalar_from(array: &ArrayRef) -> Result<ColumnarValue, ArrowError> {
        ScalarValue::try_from_array(array.as_ref(), 0)
            .map(ColumnarValue::Scalar)
            .map_err(|e| ArrowError::ComputeError(e.to_string()))
    }
}

/// An expression compiled against one input schema.
pub trait PhysicalExpr: Send + Sync + fmt::Debug + fmt::Display {
    fn data_type(&self) -> &DataType;
    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue>;

    /// Evaluates to a full column of `batch.num_rows()` values.
    fn evaluate_to_array(&self, batch: &RecordBatch) -> Result<ArrayRef> {
        Ok(self.evaluate(batch)?.into_array(batch.num_rows()))
    }
}

pub type PhysicalExprRef = Arc<dyn PhysicalExpr>;
