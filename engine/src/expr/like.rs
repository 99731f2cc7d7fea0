//! `[NOT] LIKE` / `ILIKE` with `%` and `_` wildcards and `\` as the escape character (the
//! PostgreSQL and Redshift default), on Arrow's `like` kernels.

use std::fmt;
use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::compute::kernels::comparison::{ilike, like, nilike, nlike};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::expr::{ColumnarValue, PhysicalExpr, PhysicalExprRef};
use crate::plan::ScalarValue;

/// `expr [NOT] [I]LIKE pattern`.
#[derive(Debug)]
pub struct LikeExpr {
    expr: PhysicalExprRef,
    pattern: PhysicalExprRef,
    negated: bool,
    case_insensitive: bool,
}

impl LikeExpr {
    pub fn new(expr: PhysicalExprRef, pattern: PhysicalExprRef, negated: bool, case_insensitive: bool) -> LikeExpr {
        LikeExpr { expr, pattern, negated, case_insensitive }
    }
}

impl fmt::Display for LikeExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let not = if self.negated { "NOT " } else { "" };
        let op = if self.case_insensitive { "ILIKE" } else { "LIKE" };
        write!(f, "{} {not}{op} {}", self.expr, self.pattern)
    }
}

impl PhysicalExpr for LikeExpr {
    fn data_type(&self) -> &DataType {
        &DataType::Boolean
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let value = self.expr.evaluate(batch)?;
        let pattern = self.pattern.evaluate(batch)?;
        if value.data_type() == DataType::Null || pattern.data_type() == DataType::Null {
            return Ok(ColumnarValue::Scalar(ScalarValue::Boolean(None)));
        }
        let kernel = match (self.negated, self.case_insensitive) {
            (false, false) => like,
            (false, true) => ilike,
            (true, false) => nlike,
            (true, true) => nilike,
        };
        Ok(ColumnarValue::apply_binary(&value, &pattern, |l, r| kernel(l, r).map(|b| Arc::new(b) as ArrayRef))?)
    }
}
