//! `SELECT` lists: computes each output column from the input batch.

use arrow::array::ArrayRef;
use arrow::compute::cast;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use crate::error::Result;
use crate::exec::pipeline::Operator;
use crate::expr::PhysicalExprRef;

/// A streaming projection.
pub struct ProjectOperator {
    exprs: Vec<PhysicalExprRef>,
    schema: SchemaRef,
}

impl ProjectOperator {
    pub fn new(exprs: Vec<PhysicalExprRef>, schema: SchemaRef) -> ProjectOperator {
        ProjectOperator { exprs, schema }
    }
}

impl Operator for ProjectOperator {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn execute(&self, batch: RecordBatch, out: &mut dyn FnMut(RecordBatch) -> Result<()>) -> Result<()> {
        let columns = evaluate_columns(&self.exprs, &batch)?;
        out(batch_with_schema(&self.schema, columns, batch.num_rows())?)
    }

    fn describe(&self) -> String {
        let items: Vec<String> =
            self.exprs.iter().zip(self.schema.fields()).map(|(e, f)| format!("{e} AS {}", f.name())).collect();
        format!("Project [{}]", items.join(", "))
    }
}

/// Evaluates each expression to a full column of `batch`'s length.
pub fn evaluate_columns(exprs: &[PhysicalExprRef], batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
    exprs.iter().map(|e| Ok(e.evaluate(batch)?.into_array(batch.num_rows()))).collect()
}

/// A batch of `schema` from `columns`, casting a column whose type differs from its field (an
/// expression typed loosely, such as an untyped NULL literal) and keeping the row count when
/// there are no columns (`SELECT count(*)` projects none).
pub fn batch_with_schema(schema: &SchemaRef, columns: Vec<ArrayRef>, num_rows: usize) -> Result<RecordBatch> {
    let columns = columns
        .into_iter()
        .zip(schema.fields())
        .map(|(column, field)| conform(column, field.data_type()))
        .collect::<Result<Vec<_>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(num_rows));
    Ok(RecordBatch::try_new_with_options(schema.clone(), columns, &options)?)
}

fn conform(column: ArrayRef, to: &DataType) -> Result<ArrayRef> {
    if column.data_type() == to {
        Ok(column)
    } else {
        Ok(cast(&column, to)?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int32Array;
    use arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn batch_keeps_row_count_without_columns_and_casts_loose_types() {
        let empty = Arc::new(Schema::empty());
        assert_eq!(batch_with_schema(&empty, vec![], 7).unwrap().num_rows(), 7);
        let wide = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
        let narrow: ArrayRef = Arc::new(Int32Array::from(vec![1, 2]));
        let batch = batch_with_schema(&wide, vec![narrow], 2).unwrap();
        assert_eq!(batch.column(0).data_type(), &DataType::Int64);
    }
}
