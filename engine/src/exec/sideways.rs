//! Sideways semi-join reduction: when a hash join's probe (left) input is much smaller than its
//! build (right) input, the planner runs the left input first into this sink, which keeps its
//! rows and publishes the domain of its join keys as runtime filters to the scans under the
//! build side. The build side then reads only rows that can have a left partner (TPC-H q04
//! builds the 150k lineitem rows of 57k orders instead of 3.8M), and the probe reads the kept
//! left rows from this stage's output.
//!
//! Only joins whose result never depends on a build row without a left partner may do this:
//! inner, left, semi, anti, mark and single joins, not right or full joins (they emit unmatched
//! build rows) nor the null-aware ones (a NULL build key changes every answer). The planner
//! decides; this sink only collects and publishes.

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::exec::collect::{BatchCollector, GatheredBatches};
use crate::exec::pipeline::{LocalSink, Sink};
use crate::exec::project::evaluate_columns;
use crate::exec::rebatch::coalesce;
use crate::exec::runtime_filter::RuntimeFilter;
use crate::expr::PhysicalExprRef;

/// Materialises a join's left input and publishes its key domains when it is complete.
pub struct SidewaysSink {
    schema: SchemaRef,
    batch_size: usize,
    /// Left key expressions (over `schema`), each with the filters its domain is published to.
    keys: Vec<PhysicalExprRef>,
    filters: Vec<Vec<Arc<RuntimeFilter>>>,
    batches: GatheredBatches,
}

impl SidewaysSink {
    /// `keys` pairs each left key expression with the runtime filters of the build-side scan
    /// columns it restricts (one key may restrict several scans, under a union or a join).
    pub fn new(
        schema: SchemaRef,
        batch_size: usize,
        keys: Vec<(PhysicalExprRef, Vec<Arc<RuntimeFilter>>)>,
    ) -> SidewaysSink {
        let (keys, filters) = keys.into_iter().unzip();
        SidewaysSink { schema, batch_size, keys, filters, batches: GatheredBatches::default() }
    }
}

impl Sink for SidewaysSink {
    fn local(&self) -> Box<dyn LocalSink> {
        Box::new(BatchCollector::default())
    }

    fn combine(&self, local: Box<dyn LocalSink>) -> Result<()> {
        self.batches.combine(local)
    }

    /// Publishes every key's domain, then hands the rows on (coalesced) to the probe.
    fn finalize(&self) -> Result<Vec<RecordBatch>> {
        let batches = self.batches.take()?;
        let mut columns: Vec<Vec<ArrayRef>> = vec![Vec::with_capacity(batches.len()); self.keys.len()];
        for batch in batches.iter().filter(|b| b.num_rows() > 0) {
            for (key, array) in evaluate_columns(&self.keys, batch)?.into_iter().enumerate() {
                columns[key].push(array);
            }
        }
        for (chunks, filters) in columns.iter().zip(&self.filters) {
            for filter in filters {
                filter.publish_from(chunks)?;
            }
        }
        drop(columns);
        coalesce(&self.schema, batches, self.batch_size)
    }

    fn describe(&self) -> String {
        let keys: Vec<String> = self.keys.iter().map(|k| k.to_string()).collect();
        format!("Materialize runtime_filter_keys=[{}]", keys.join(", "))
    }
}
