//! The sink that keeps every batch: a query's result, and the materialised input of a pipeline
//! that must not be fed by several pipelines at once (a union under a right-join probe).

use std::any::Any;
use std::sync::Mutex;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::exec::memory_limit::batch_memory_size;
use crate::exec::pipeline::{downcast_local, lock, LocalSink, Sink};
use crate::exec::rebatch::coalesce;

/// Collects batches in arrival order (workers' batches follow one another in combine order, so a
/// pipeline run in order keeps its order).
pub struct CollectSink {
    schema: SchemaRef,
    batch_size: usize,
    label: &'static str,
    batches: GatheredBatches,
}

impl CollectSink {
    /// `label` is what `EXPLAIN` prints (`Result`, `Materialize`).
    pub fn new(schema: SchemaRef, batch_size: usize, label: &'static str) -> CollectSink {
        CollectSink { schema, batch_size, label, batches: GatheredBatches::default() }
    }
}

/// Per-worker state of a sink that only gathers its input (result collection, the join build
/// side, a window's input): the batches and the memory they hold.
#[derive(Default)]
pub(crate) struct BatchCollector {
    batches: Vec<RecordBatch>,
    /// Memory the batches hold, for the query's accounting.
    bytes: usize,
}

impl LocalSink for BatchCollector {
    fn sink(&mut self, batch: RecordBatch) -> Result<()> {
        self.bytes += batch_memory_size(&batch);
        self.batches.push(batch);
        Ok(())
    }

    fn memory_size(&self) -> usize {
        self.bytes
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

/// Every worker's [`BatchCollector`] batches, held by the sink until `finalize` takes them.
#[derive(Default)]
pub(crate) struct GatheredBatches(Mutex<Vec<RecordBatch>>);

impl GatheredBatches {
    /// `Sink::combine` for a sink whose local state is a [`BatchCollector`].
    pub(crate) fn combine(&self, local: Box<dyn LocalSink>) -> Result<()> {
        let local = downcast_local::<BatchCollector>(local)?;
        lock(&self.0)?.extend(local.batches);
        Ok(())
    }

    /// All gathered batches, leaving none behind.
    pub(crate) fn take(&self) -> Result<Vec<RecordBatch>> {
        Ok(std::mem::take(&mut *lock(&self.0)?))
    }
}

impl Sink for CollectSink {
    fn local(&self) -> Box<dyn LocalSink> {
        Box::new(BatchCollector::default())
    }

    fn combine(&self, local: Box<dyn LocalSink>) -> Result<()> {
        self.batches.combine(local)
    }

    fn finalize(&self) -> Result<Vec<RecordBatch>> {
        let batches = self.batches.take()?;
        coalesce(&self.schema, batches, self.batch_size)
    }

    fn describe(&self) -> String {
        self.label.to_string()
    }
}
