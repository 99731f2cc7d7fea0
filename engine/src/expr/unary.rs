//! One-operand expressions: `NOT`, unary minus and `IS [NOT] NULL`.

use std::fmt;
use std::sync::Arc;

use arrow::compute::kernels::{boolean, numeric};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::expr::arithmetic::map_arith_error;
use crate::expr::binary::boolean_array;
use crate::expr::{ColumnarValue, PhysicalExpr, PhysicalExprRef};
use crate::plan::ScalarValue;

/// `NOT expr`; NULL stays NULL.
#[derive(Debug)]
pub struct NotExpr {
    expr: PhysicalExprRef,
}

impl NotExpr {
    pub fn new(expr: PhysicalExprRef) -> NotExpr {
        NotExpr { expr }
    }
}

impl fmt::Display for NotExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NOT {}", self.expr)
    }
}

impl PhysicalExpr for NotExpr {
    fn data_type(&self) -> &DataType {
        &DataType::Boolean
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        match self.expr.evaluate(batch)? {
            ColumnarValue::Scalar(s) => Ok(ColumnarValue::Scalar(match s {
                ScalarValue::Boolean(v) => ScalarValue::Boolean(v.map(|b| !b)),
                _ => ScalarValue::Boolean(None),
            })),
            array => Ok(ColumnarValue::Array(Arc::new(boolean::not(&boolean_array(&array, batch.num_rows())?)?))),
        }
    }
}

/// `-expr`, checked: negating the smallest integer is an overflow error.
#[derive(Debug)]
pub struct NegativeExpr {
    expr: PhysicalExprRef,
}

impl NegativeExpr {
    pub fn new(expr: PhysicalExprRef) -> NegativeExpr {
        NegativeExpr { expr }
    }
}

impl fmt::Display for NegativeExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "-{}", self.expr)
    }
}

impl PhysicalExpr for NegativeExpr {
    fn data_type(&self) -> &DataType {
        self.expr.data_type()
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let operation = || format!("-{}", self.expr.data_type());
        match self.expr.evaluate(batch)? {
            ColumnarValue::Scalar(ScalarValue::Null) => Ok(ColumnarValue::Scalar(ScalarValue::Null)),
            ColumnarValue::Scalar(s) => {
                let out = numeric::neg(&s.to_array(1)).map_err(|e| map_arith_error(e, &operation()))?;
                Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(out.as_ref(), 0)?))
            }
            ColumnarValue::Array(a) => {
                Ok(ColumnarValue::Array(numeric::neg(&a).map_err(|e| map_arith_error(e, &operation()))?))
            }
        }
    }
}

/// `expr IS [NOT] NULL`; never NULL itself.
#[derive(Debug)]
pub struct IsNullExpr {
    expr: PhysicalExprRef,
    negated: bool,
}

impl IsNullExpr {
    pub fn new(expr: PhysicalExprRef, negated: bool) -> IsNullExpr {
        IsNullExpr { expr, negated }
    }
}

impl fmt::Display for IsNullExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} IS {}NULL", self.expr, if self.negated { "NOT " } else { "" })
    }
}

impl PhysicalExpr for IsNullExpr {
    fn data_type(&self) -> &DataType {
        &DataType::Boolean
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        match self.expr.evaluate(batch)? {
            ColumnarValue::Scalar(s) => {
                Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(s.is_null() != self.negated))))
            }
            ColumnarValue::Array(a) => {
                // `is_null` reads the logical nulls, so a `NullArray` counts as all NULL.
                let out = if self.negated { boolean::is_not_null(&a)? } else { boolean::is_null(&a)? };
                Ok(ColumnarValue::Array(Arc::new(out)))
            }
        }
    }
}
