//! Keeping batches near the target size: operators such as a selective filter or a join probe
//! leave many tiny batches, and per-batch overhead dominates below a few thousand rows, so sinks
//! concatenate them before handing them on; morsels slice oversized batches so workers share them.

use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::error::Result;

/// Concatenates runs of small batches (in order) until each output has at least half of
/// `target` rows; large batches pass through untouched and empty ones are dropped.
pub fn coalesce(schema: &SchemaRef, batches: Vec<RecordBatch>, target: usize) -> Result<Vec<RecordBatch>> {
    let threshold = (target / 2).max(1);
    let mut out = Vec::new();
    let mut pending: Vec<RecordBatch> = Vec::new();
    let mut pending_rows = 0;
    for batch in batches.into_iter().filter(|b| b.num_rows() > 0) {
        pending_rows += batch.num_rows();
        pending.push(batch);
        if pending_rows >= threshold {
            out.push(concat_pending(schema, &mut pending)?);
            pending_rows = 0;
        }
    }
    if !pending.is_empty() {
        out.push(concat_pending(schema, &mut pending)?);
    }
    Ok(out)
}

fn concat_pending(schema: &SchemaRef, pending: &mut Vec<RecordBatch>) -> Result<RecordBatch> {
    let batch = if pending.len() == 1 { pending.remove(0) } else { concat_batches(schema, pending.iter())? };
    pending.clear();
    Ok(batch)
}

/// Slices `batch` into pieces of at most `target` rows (zero-copy).
pub fn split(batch: &RecordBatch, target: usize) -> Vec<RecordBatch> {
    let target = target.max(1);
    (0..batch.num_rows())
        .step_by(target)
        .map(|start| batch.slice(start, target.min(batch.num_rows() - start)))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, Int32Array};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch(values: std::ops::Range<i32>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int32, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from_iter_values(values))]).unwrap()
    }

    #[test]
    fn coalesce_joins_tiny_batches_in_order() {
        let schema = batch(0..0).schema();
        let input = vec![batch(0..3), batch(3..3), batch(3..6), batch(6..20), batch(20..21)];
        let out = coalesce(&schema, input, 10).unwrap();
        let sizes: Vec<usize> = out.iter().map(|b| b.num_rows()).collect();
        assert_eq!(sizes, vec![6, 14, 1]);
        let all = concat_batches(&schema, &out).unwrap();
        let values = all.column(0).as_any().downcast_ref::<Int32Array>().unwrap();
        assert_eq!(values.values().to_vec(), (0..21).collect::<Vec<_>>());
        assert_eq!(values.len(), 21);
    }

    #[test]
    fn split_slices_to_target() {
        let sizes: Vec<usize> = split(&batch(0..25), 10).iter().map(|b| b.num_rows()).collect();
        assert_eq!(sizes, vec![10, 10, 5]);
        assert!(split(&batch(0..0), 10).is_empty());
    }
}
