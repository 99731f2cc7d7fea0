//! A constant, kept scalar so kernels compare against an Arrow `Scalar` datum.

use std::fmt;

use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::expr::{ColumnarValue, PhysicalExpr};
use crate::plan::ScalarValue;

/// A literal value.
#[derive(Debug)]
pub struct LiteralExpr {
    value: ScalarValue,
    data_type: DataType,
}

impl LiteralExpr {
    pub fn new(value: ScalarValue) -> LiteralExpr {
        let data_type = value.data_type();
        LiteralExpr { value, data_type }
    }

    pub fn value(&self) -> &ScalarValue {
        &self.value
    }
}

impl fmt::Display for LiteralExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value)
    }
}

impl PhysicalExpr for LiteralExpr {
    fn data_type(&self) -> &DataType {
        &self.data_type
    }

    fn evaluate(&self, _batch: &RecordBatch) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(self.value.clone()))
    }
}
