//! `WHERE`/`HAVING`: keeps the rows whose predicate is true (SQL's three-valued logic: NULL
//! drops the row, like false).

use arrow::array::{Array, AsArray, BooleanArray};
use arrow::compute::filter_record_batch;
use arrow::compute::prep_null_mask_filter;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::error::{EngineError, Result};
use crate::exec::pipeline::Operator;
use crate::expr::{ColumnarValue, PhysicalExprRef};
use crate::plan::ScalarValue;

/// A streaming filter.
pub struct FilterOperator {
    predicate: PhysicalExprRef,
    schema: SchemaRef,
}

impl FilterOperator {
    pub fn new(predicate: PhysicalExprRef, schema: SchemaRef) -> FilterOperator {
        FilterOperator { predicate, schema }
    }
}

impl Operator for FilterOperator {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn execute(&self, batch: RecordBatch, out: &mut dyn FnMut(RecordBatch) -> Result<()>) -> Result<()> {
        match evaluate_predicate(&self.predicate, &batch)? {
            Selection::All => out(batch),
            Selection::None => Ok(()),
            Selection::Some(mask) => {
                let kept = filter_record_batch(&batch, &mask)?;
                if kept.num_rows() > 0 {
                    out(kept)
                } else {
                    Ok(())
                }
            }
        }
    }

    fn describe(&self) -> String {
        format!("Filter {}", self.predicate)
    }
}

/// Which rows of a batch a predicate keeps; a constant predicate keeps all or none without a mask.
pub enum Selection {
    All,
    None,
    /// One entry per row, without NULLs (NULL already turned into false).
    Some(BooleanArray),
}

impl Selection {
    /// The mask over `num_rows` rows.
    pub fn into_mask(self, num_rows: usize) -> BooleanArray {
        match self {
            Selection::All => BooleanArray::from(vec![true; num_rows]),
            Selection::None => BooleanArray::from(vec![false; num_rows]),
            Selection::Some(mask) => mask,
        }
    }
}

/// Evaluates a boolean predicate on `batch`, NULL counting as false.
pub fn evaluate_predicate(predicate: &PhysicalExprRef, batch: &RecordBatch) -> Result<Selection> {
    match predicate.evaluate(batch)? {
        ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))) => Ok(Selection::All),
        ColumnarValue::Scalar(ScalarValue::Boolean(_) | ScalarValue::Null) => Ok(Selection::None),
        ColumnarValue::Scalar(other) => Err(not_boolean(predicate, &other.data_type())),
        ColumnarValue::Array(array) => {
            let mask = array.as_boolean_opt().ok_or_else(|| not_boolean(predicate, array.data_type()))?;
            let mask = if mask.null_count() > 0 { prep_null_mask_filter(mask) } else { mask.clone() };
            Ok(match mask.true_count() {
                0 => Selection::None,
                n if n == mask.len() => Selection::All,
                _ => Selection::Some(mask),
            })
        }
    }
}

fn not_boolean(predicate: &PhysicalExprRef, found: &DataType) -> EngineError {
    EngineError::execution(format!("predicate {predicate} must be boolean, found {found}"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::datatypes::{Field, Schema};

    use super::*;
    use crate::exec::testing::rows;
    use crate::expr::functions::FunctionRegistry;
    use crate::expr::planner::create_physical_expr;
    use crate::plan::{BinaryOp, Expr};

    fn run(predicate: Expr) -> Vec<String> {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
        let column = Arc::new(Int64Array::from(vec![Some(1), None, Some(3), Some(4)]));
        let batch = RecordBatch::try_new(schema.clone(), vec![column]).unwrap();
        let predicate = create_physical_expr(&predicate, &schema, &FunctionRegistry::default()).unwrap();
        let mut out = Vec::new();
        FilterOperator::new(predicate, schema)
            .execute(batch, &mut |b| {
                out.push(b);
                Ok(())
            })
            .unwrap();
        rows(&out)
    }

    #[test]
    fn null_predicate_drops_the_row() {
        let greater = Expr::binary(Expr::Column(0), BinaryOp::Gt, Expr::Literal(ScalarValue::Int64(Some(2))));
        assert_eq!(run(greater), ["3", "4"]);
    }

    #[test]
    fn constant_predicates_keep_all_or_nothing() {
        assert_eq!(run(Expr::Literal(ScalarValue::Boolean(Some(true)))).len(), 4);
        assert!(run(Expr::Literal(ScalarValue::Boolean(None))).is_empty());
        assert!(run(Expr::Literal(ScalarValue::Boolean(Some(false)))).is_empty());
    }
}
