//! A reference to an input column by position.

use std::fmt;

use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;

use crate::error::{EngineError, Result};
use crate::expr::{ColumnarValue, PhysicalExpr};

/// Input column `index`; the planner checked the index against the schema.
#[derive(Debug)]
pub struct ColumnExpr {
    index: usize,
    name: String,
    data_type: DataType,
}

impl ColumnExpr {
    pub fn new(index: usize, name: impl Into<String>, data_type: DataType) -> ColumnExpr {
        ColumnExpr { index, name: name.into(), data_type }
    }

    pub fn index(&self) -> usize {
        self.index
    }
}

impl fmt::Display for ColumnExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.index)
    }
}

impl PhysicalExpr for ColumnExpr {
    fn data_type(&self) -> &DataType {
        &self.data_type
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        if self.index >= batch.num_columns() {
            return Err(EngineError::execution(format!(
                "column {self} is out of range: the batch has {} columns",
                batch.num_columns()
            )));
        }
        Ok(ColumnarValue::Array(batch.column(self.index).clone()))
    }
}
