//! A source over batches already in memory: the output of a finished pipeline (an aggregate's
//! groups, a sort's runs, a materialised union) read by the next pipeline.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::exec::pipeline::{ExecContext, Morsels, Source};
use crate::exec::rebatch::split;

/// Batches held in memory; each batch (sliced to the context's batch size) is one morsel.
pub struct MemorySource {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    label: String,
}

impl MemorySource {
    /// `label` names where the batches came from, for `EXPLAIN`.
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>, label: impl Into<String>) -> MemorySource {
        MemorySource { schema, batches, label: label.into() }
    }
}

impl Source for MemorySource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn open(&self, ctx: &ExecContext) -> Result<Box<dyn Morsels>> {
        let morsels = self.batches.iter().flat_map(|b| split(b, ctx.batch_size)).collect();
        Ok(Box::new(BatchMorsels { batches: morsels }))
    }

    fn describe(&self) -> String {
        format!("Memory {}", self.label)
    }
}

/// One batch per morsel.
pub(crate) struct BatchMorsels {
    pub(crate) batches: Vec<RecordBatch>,
}

impl Morsels for BatchMorsels {
    fn count(&self) -> usize {
        self.batches.len()
    }

    fn read(&self, index: usize, ctx: &ExecContext, out: &mut dyn FnMut(RecordBatch) -> Result<()>) -> Result<()> {
        ctx.check_cancelled()?;
        match self.batches.get(index) {
            Some(batch) => out(batch.clone()),
            None => Ok(()),
        }
    }
}
