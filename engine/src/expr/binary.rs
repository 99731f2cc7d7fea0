//! Binary operators: comparisons (Arrow `cmp` kernels, `Scalar` datums for constants), `AND`/`OR`
//! with SQL three-valued logic, arithmetic (see `arithmetic`) and `||`.

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use arrow::compute::kernels::{boolean, cmp, concat_elements};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;

use crate::error::{EngineError, Result};
use crate::expr::arithmetic::evaluate_arithmetic;
use crate::expr::interval;
use crate::expr::{ColumnarValue, PhysicalExpr, PhysicalExprRef};
use crate::plan::types::{binary_result_type, is_interval};
use crate::plan::{BinaryOp, ScalarValue};

/// `left op right`; operands were coerced by the binder, so both sides of a comparison have one
/// type and arithmetic operands follow `plan::types::arithmetic_operand_type`.
#[derive(Debug)]
pub struct BinaryExpr {
    left: PhysicalExprRef,
    op: BinaryOp,
    right: PhysicalExprRef,
    data_type: DataType,
}

impl BinaryExpr {
    pub fn new(left: PhysicalExprRef, op: BinaryOp, right: PhysicalExprRef) -> BinaryExpr {
        let data_type = binary_result_type(op, left.data_type(), right.data_type());
        BinaryExpr { left, op, right, data_type }
    }
}

impl fmt::Display for BinaryExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({} {} {})", self.left, self.op.symbol(), self.right)
    }
}

impl PhysicalExpr for BinaryExpr {
    fn data_type(&self) -> &DataType {
        &self.data_type
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let left = self.left.evaluate(batch)?;
        let right = self.right.evaluate(batch)?;
        let num_rows = batch.num_rows();
        match self.op {
            BinaryOp::And | BinaryOp::Or => logical(self.op, &left, &right, num_rows),
            op if op.is_comparison() && is_interval(&left.data_type()) => {
                interval::compare(op, &left, &right, num_rows)
            }
            op if op.is_comparison() => compare(op, &left, &right),
            op if interval::handles(op, &left.data_type(), &right.data_type()) => {
                interval::evaluate_arithmetic(op, &left, &right, num_rows)
            }
            op if op.is_arithmetic() => evaluate_arithmetic(op, &left, &right, num_rows),
            _ => string_concat(&left, &right, num_rows),
        }
    }
}

/// A comparison; the untyped NULL on either side makes every row NULL.
pub fn compare(op: BinaryOp, left: &ColumnarValue, right: &ColumnarValue) -> Result<ColumnarValue> {
    if left.data_type() == DataType::Null || right.data_type() == DataType::Null {
        return Ok(ColumnarValue::Scalar(ScalarValue::Boolean(None)));
    }
    let kernel = match op {
        BinaryOp::Eq => cmp::eq,
        BinaryOp::NotEq => cmp::neq,
        BinaryOp::Lt => cmp::lt,
        BinaryOp::LtEq => cmp::lt_eq,
        BinaryOp::Gt => cmp::gt,
        BinaryOp::GtEq => cmp::gt_eq,
        other => return Err(EngineError::execution(format!("{} is not a comparison", other.symbol()))),
    };
    Ok(ColumnarValue::apply_binary(left, right, |l, r| kernel(l, r).map(|b| Arc::new(b) as ArrayRef))?)
}

/// A boolean column of `num_rows` values (the untyped NULL becomes all-NULL booleans).
pub(crate) fn boolean_array(value: &ColumnarValue, num_rows: usize) -> Result<BooleanArray> {
    let array = match value {
        ColumnarValue::Scalar(ScalarValue::Null) => return Ok(BooleanArray::new_null(num_rows)),
        other => other.clone().into_array(num_rows),
    };
    match array.as_boolean_opt() {
        Some(b) => Ok(b.clone()),
        None => Err(EngineError::execution(format!("expected a boolean, found {}", array.data_type()))),
    }
}

/// `AND` / `OR` with SQL three-valued logic (`NULL AND false` is false, `NULL OR true` is true).
fn logical(op: BinaryOp, left: &ColumnarValue, right: &ColumnarValue, num_rows: usize) -> Result<ColumnarValue> {
    let scalar = matches!((left, right), (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_)));
    let n = if scalar { 1 } else { num_rows };
    let (l, r) = (boolean_array(left, n)?, boolean_array(right, n)?);
    let out = if op == BinaryOp::And { boolean::and_kleene(&l, &r)? } else { boolean::or_kleene(&l, &r)? };
    if scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::Boolean(out.is_valid(0).then(|| out.value(0)))))
    } else {
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `a || b`: NULL when either side is NULL.
fn string_concat(left: &ColumnarValue, right: &ColumnarValue, num_rows: usize) -> Result<ColumnarValue> {
    if let (ColumnarValue::Scalar(l), ColumnarValue::Scalar(r)) = (left, right) {
        return Ok(ColumnarValue::Scalar(match (l, r) {
            (ScalarValue::Utf8(Some(a)), ScalarValue::Utf8(Some(b))) => ScalarValue::Utf8(Some(format!("{a}{b}"))),
            _ => ScalarValue::Utf8(None),
        }));
    }
    if left.data_type() == DataType::Null || right.data_type() == DataType::Null {
        return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None)));
    }
    let (l, r) = (left.clone().into_array(num_rows), right.clone().into_array(num_rows));
    let (Some(l), Some(r)) = (l.as_string_opt::<i32>(), r.as_string_opt::<i32>()) else {
        return Err(EngineError::execution(format!("|| expects text, found {} and {}", l.data_type(), r.data_type())));
    };
    Ok(ColumnarValue::Array(Arc::new(concat_elements::concat_elements_utf8(l, r)?)))
}
