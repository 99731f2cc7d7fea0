//! `CASE`, searched (`CASE WHEN c THEN v ...`) and simple (`CASE x WHEN v THEN r ...`).
//!
//! Each branch is evaluated only on the rows still undecided when it is reached, so
//! `CASE WHEN x <> 0 THEN 1 / x END` never divides by zero: the batch is narrowed with `take`
//! before each `WHEN`, matching rows are filtered before their `THEN`, and the pieces are put
//! back in row order with one `interleave`.

use std::fmt;

use arrow::array::{new_null_array, Array, ArrayRef, BooleanArray, UInt32Array};
use arrow::compute::kernels::cmp;
use arrow::compute::{filter, filter_record_batch, interleave, not, prep_null_mask_filter};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;

use crate::error::{EngineError, Result};
use crate::expr::binary::boolean_array;
use crate::expr::cast::cast_array;
use crate::expr::{ColumnarValue, PhysicalExpr, PhysicalExprRef};

/// A `CASE` expression producing `data_type` (branches the binder left untyped are cast).
#[derive(Debug)]
pub struct CaseExpr {
    operand: Option<PhysicalExprRef>,
    branches: Vec<(PhysicalExprRef, PhysicalExprRef)>,
    else_expr: Option<PhysicalExprRef>,
    data_type: DataType,
}

impl CaseExpr {
    pub fn try_new(
        operand: Option<PhysicalExprRef>,
        branches: Vec<(PhysicalExprRef, PhysicalExprRef)>,
        else_expr: Option<PhysicalExprRef>,
        data_type: DataType,
    ) -> Result<CaseExpr> {
        if branches.is_empty() {
            return Err(EngineError::plan("CASE needs at least one WHEN branch"));
        }
        Ok(CaseExpr { operand, branches, else_expr, data_type })
    }

    /// The value of a branch over `batch`, as a column of the CASE's type.
    fn value_array(&self, expr: &PhysicalExprRef, batch: &RecordBatch) -> Result<ArrayRef> {
        let values = expr.evaluate_to_array(batch)?;
        cast_array(&values, &self.data_type, false)
    }
}

impl fmt::Display for CaseExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CASE")?;
        if let Some(o) = &self.operand {
            write!(f, " {o}")?;
        }
        for (w, t) in &self.branches {
            write!(f, " WHEN {w} THEN {t}")?;
        }
        if let Some(e) = &self.else_expr {
            write!(f, " ELSE {e}")?;
        }
        write!(f, " END")
    }
}

impl PhysicalExpr for CaseExpr {
    fn data_type(&self) -> &DataType {
        &self.data_type
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let num_rows = batch.num_rows();
        let operand = self.operand.as_ref().map(|o| o.evaluate_to_array(batch)).transpose()?;
        // Pieces of the result: piece 0 is a single NULL for rows no branch takes.
        let mut pieces: Vec<ArrayRef> = vec![new_null_array(&self.data_type, 1)];
        let mut picks: Vec<(usize, usize)> = vec![(0, 0); num_rows];
        // Original row numbers of the undecided rows, and those rows of the batch (and operand).
        let mut remaining = UInt32Array::from_iter_values(0..num_rows as u32);
        let mut rest = batch.clone();
        let mut rest_operand = operand;
        for (when, then) in &self.branches {
            if remaining.is_empty() {
                break;
            }
            let condition = match &rest_operand {
                None => boolean_array(&when.evaluate(&rest)?, rest.num_rows())?,
                Some(op) => {
                    let value = when.evaluate_to_array(&rest)?;
                    if value.data_type() == &DataType::Null {
                        BooleanArray::new_null(rest.num_rows())
                    } else {
                        cmp::eq(op, &value)?
                    }
                }
            };
            // A NULL condition does not take the branch.
            let taken = if condition.null_count() > 0 { prep_null_mask_filter(&condition) } else { condition };
            if taken.true_count() > 0 {
                let rows = filter_record_batch(&rest, &taken)?;
                let values = self.value_array(then, &rows)?;
                let origin = filter(&remaining, &taken)?;
                let origin = origin
                    .as_any()
                    .downcast_ref::<UInt32Array>()
                    .ok_or_else(|| EngineError::execution("CASE: filtered row numbers are not UInt32"))?;
                let piece = pieces.len();
                for (j, row) in origin.values().iter().enumerate() {
                    picks[*row as usize] = (piece, j);
                }
                pieces.push(values);
                let left = not(&taken)?;
                remaining = filter(&remaining, &left)?
                    .as_any()
                    .downcast_ref::<UInt32Array>()
                    .cloned()
                    .ok_or_else(|| EngineError::execution("CASE: filtered row numbers are not UInt32"))?;
                rest = filter_record_batch(&rest, &left)?;
                rest_operand = rest_operand.map(|o| filter(&o, &left)).transpose()?;
            }
        }
        if let Some(else_expr) = &self.else_expr {
            if !remaining.is_empty() {
                let values = self.value_array(else_expr, &rest)?;
                let piece = pieces.len();
                for (j, row) in remaining.values().iter().enumerate() {
                    picks[*row as usize] = (piece, j);
                }
                pieces.push(values);
            }
        }
        let refs: Vec<&dyn Array> = pieces.iter().map(|p| p.as_ref()).collect();
        Ok(ColumnarValue::Array(interleave(&refs, &picks)?))
    }
}
