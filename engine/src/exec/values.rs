//! Literal rows: `VALUES (...), (...)` and the single column-less row of `SELECT` without `FROM`.

use std::sync::Arc;

use arrow::compute::concat;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use crate::error::{EngineError, Result};
use crate::exec::memory::BatchMorsels;
use crate::exec::pipeline::{ExecContext, Morsels, Source};
use crate::exec::project::batch_with_schema;
use crate::exec::rebatch::split;
use crate::expr::functions::FunctionRegistry;
use crate::expr::planner::create_physical_expr;
use crate::plan::Expr;

/// The rows of a `Values` plan, evaluated once when the query is planned (they are constants).
pub struct ValuesSource {
    batch: RecordBatch,
}

impl ValuesSource {
    /// Evaluates each row's constant expressions into one batch of `schema`.
    pub fn try_new(schema: SchemaRef, rows: &[Vec<Expr>], functions: &FunctionRegistry) -> Result<ValuesSource> {
        let empty = Schema::empty();
        let one_row = RecordBatch::try_new_with_options(
            Arc::new(empty.clone()),
            vec![],
            &RecordBatchOptions::new().with_row_count(Some(1)),
        )?;
        let mut columns = Vec::with_capacity(schema.fields().len());
        for (index, field) in schema.fields().iter().enumerate() {
            let values = rows
                .iter()
                .map(|row| {
                    let expr = row.get(index).ok_or_else(|| {
                        EngineError::plan(format!(
                            "a VALUES row has {} values, expected {}",
                            row.len(),
                            schema.fields().len()
                        ))
                    })?;
                    let value = create_physical_expr(expr, &empty, functions)?.evaluate(&one_row)?.into_array(1);
                    Ok(if value.data_type() == field.data_type() {
                        value
                    } else {
                        arrow::compute::cast(&value, field.data_type())?
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let refs: Vec<&dyn arrow::array::Array> = values.iter().map(|a| a.as_ref()).collect();
            columns.push(if refs.is_empty() {
                arrow::array::new_empty_array(field.data_type())
            } else {
                concat(&refs)?
            });
        }
        Ok(ValuesSource { batch: batch_with_schema(&schema, columns, rows.len())? })
    }
}

impl Source for ValuesSource {
    fn schema(&self) -> SchemaRef {
        self.batch.schema()
    }

    fn open(&self, ctx: &ExecContext) -> Result<Box<dyn Morsels>> {
        Ok(Box::new(BatchMorsels { batches: split(&self.batch, ctx.batch_size) }))
    }

    fn describe(&self) -> String {
        let names: Vec<&str> = self.batch.schema_ref().fields().iter().map(|f| f.name().as_str()).collect();
        format!("Values rows={} columns=[{}]", self.batch.num_rows(), names.join(", "))
    }
}
