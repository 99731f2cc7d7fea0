//! A subplan computed once and read by several pipelines ([`LogicalPlan::Shared`]: a CTE used
//! twice, as TPC-H q15's `revenue0`). The planner runs the subplan's first occurrence into a
//! [`SharedSink`] stage; every occurrence, the first included, becomes a pipeline whose source is
//! a [`SharedSource`] over that stage's batches. The scheduler runs stages in order and the
//! producing stage is added before any reading pipeline is, so readers always find the result.
//!
//! Readers share the batches (Arrow buffers are reference counted): nothing is copied, and the
//! memory the stage reserved while collecting counts once for the query. It stays reserved until
//! the query ends, as any reader may still be to come.
//!
//! [`LogicalPlan::Shared`]: crate::plan::LogicalPlan::Shared

use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::error::{EngineError, Result};
use crate::exec::collect::CollectSink;
use crate::exec::memory::BatchMorsels;
use crate::exec::pipeline::{lock, ExecContext, LocalSink, Morsels, Sink, Source};
use crate::exec::rebatch::split;

/// The batches of one shared subplan, filled when its stage finalizes.
pub struct SharedResult {
    id: usize,
    schema: SchemaRef,
    batches: Mutex<Option<Vec<RecordBatch>>>,
}

impl SharedResult {
    /// An empty result for shared subplan `id` (as `EXPLAIN` numbers it).
    pub fn new(id: usize, schema: SchemaRef) -> SharedResult {
        SharedResult { id, schema, batches: Mutex::new(None) }
    }
}

/// Collects a shared subplan's rows (as a [`CollectSink`] does) and publishes them to its readers.
pub struct SharedSink {
    result: Arc<SharedResult>,
    rows: CollectSink,
}

impl SharedSink {
    pub fn new(result: Arc<SharedResult>, batch_size: usize) -> SharedSink {
        let rows = CollectSink::new(result.schema.clone(), batch_size, "Shared");
        SharedSink { result, rows }
    }
}

impl Sink for SharedSink {
    fn local(&self) -> Box<dyn LocalSink> {
        self.rows.local()
    }

    fn combine(&self, local: Box<dyn LocalSink>) -> Result<()> {
        self.rows.combine(local)
    }

    /// Publishes the (coalesced) rows to the readers and also returns them, so the stage reports
    /// its output rows like any other; both hold the same buffers.
    fn finalize(&self) -> Result<Vec<RecordBatch>> {
        let batches = self.rows.finalize()?;
        *lock(&self.result.batches)? = Some(batches.clone());
        Ok(batches)
    }

    fn describe(&self) -> String {
        format!("Shared #{}", self.result.id)
    }
}

/// One reader of a shared subplan: its batches, each (cut to the batch size) one morsel.
pub struct SharedSource {
    result: Arc<SharedResult>,
}

impl SharedSource {
    pub fn new(result: Arc<SharedResult>) -> SharedSource {
        SharedSource { result }
    }
}

impl Source for SharedSource {
    fn schema(&self) -> SchemaRef {
        self.result.schema.clone()
    }

    fn open(&self, ctx: &ExecContext) -> Result<Box<dyn Morsels>> {
        let guard = lock(&self.result.batches)?;
        let batches = guard.as_ref().ok_or_else(|| {
            EngineError::execution(format!("shared subplan #{} was read before its stage ran", self.result.id))
        })?;
        let morsels = batches.iter().flat_map(|b| split(b, ctx.batch_size)).collect();
        Ok(Box::new(BatchMorsels { batches: morsels }))
    }

    fn describe(&self) -> String {
        format!("shared #{}", self.result.id)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::exec::scheduler::run_pipeline;
    use crate::exec::testing::{context, on_pool, rows};
    use crate::exec::values::ValuesSource;
    use crate::plan::{Expr, ScalarValue};

    fn numbers(n: i64) -> (SchemaRef, ValuesSource) {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
        let rows: Vec<Vec<Expr>> = (0..n).map(|i| vec![Expr::Literal(ScalarValue::Int64(Some(i)))]).collect();
        let functions = crate::expr::functions::FunctionRegistry::with_builtins();
        (schema.clone(), ValuesSource::try_new(schema, &rows, &functions).unwrap())
    }

    #[test]
    fn every_reader_sees_the_same_buffers() {
        let ctx = context(4);
        let (schema, values) = numbers(10);
        let result = Arc::new(SharedResult::new(1, schema));
        let sink = SharedSink::new(result.clone(), 4);
        on_pool(2, || run_pipeline(&values, &[], &sink, true, &ctx)).unwrap();
        let output = sink.finalize().unwrap();
        assert_eq!(rows(&output), (0..10).map(|i| i.to_string()).collect::<Vec<_>>());
        for _ in 0..2 {
            let morsels = SharedSource::new(result.clone()).open(&ctx).unwrap();
            let mut read = Vec::new();
            for index in 0..morsels.count() {
                morsels
                    .read(index, &ctx, &mut |b| {
                        read.push(b);
                        Ok(())
                    })
                    .unwrap();
            }
            assert_eq!(rows(&read), rows(&output));
            // The reader's first batch is a slice of the stage's first output batch, not a copy.
            let first = read[0].column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            let produced = output[0].column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            assert_eq!(first.values().as_ptr(), produced.values().as_ptr());
        }
    }

    #[test]
    fn reading_before_the_stage_ran_is_an_error() {
        let (schema, _) = numbers(1);
        let source = SharedSource::new(Arc::new(SharedResult::new(3, schema)));
        let error = source.open(&context(4)).err().unwrap();
        assert_eq!(error.to_string(), "shared subplan #3 was read before its stage ran");
    }
}
