//! Physical expressions, evaluated a batch at a time with Arrow kernels, and the function
//! registry.

pub mod functions;

use std::fmt;
use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::plan::ScalarValue;

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
}

/// An expression compiled against one input schema.
pub trait PhysicalExpr: Send + Sync + fmt::Debug + fmt::Display {
    fn data_type(&self) -> &DataType;
    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue>;
}

pub type PhysicalExprRef = Arc<dyn PhysicalExpr>;
