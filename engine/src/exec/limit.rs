//! `LIMIT`/`OFFSET` over an unordered input: workers reserve row positions from one shared
//! counter, so exactly `fetch` rows after the first `skip` survive however the morsels interleave,
//! and the pipeline stops reading once they have arrived. (A limit directly over a sort is applied
//! by the sort sink itself, in sort order; see `SortSink`.)

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::exec::pipeline::{downcast_local, lock, LocalSink, Sink};
use crate::exec::rebatch::coalesce;

/// Keeps the rows at positions `skip .. skip + fetch` of the arrival order (every row after
/// `skip` when `fetch` is `None`).
pub struct LimitSink {
    window: Arc<Window>,
    schema: SchemaRef,
    batch_size: usize,
    kept: Mutex<Vec<(usize, RecordBatch)>>,
}

/// The wanted positions and the shared position counter.
struct Window {
    skip: usize,
    fetch: Option<usize>,
    /// Position after the last row kept.
    end: usize,
    /// Rows seen so far over all workers: the next row's position.
    seen: AtomicUsize,
}

impl LimitSink {
    pub fn new(schema: SchemaRef, skip: usize, fetch: Option<usize>, batch_size: usize) -> LimitSink {
        let end = fetch.map_or(usize::MAX, |f| skip.saturating_add(f));
        let window = Arc::new(Window { skip, fetch, end, seen: AtomicUsize::new(0) });
        LimitSink { window, schema, batch_size, kept: Mutex::new(Vec::new()) }
    }
}

/// A worker's kept slices, each with the position of its first row.
struct LimitLocal {
    window: Arc<Window>,
    kept: Vec<(usize, RecordBatch)>,
}

impl LocalSink for LimitLocal {
    fn sink(&mut self, batch: RecordBatch) -> Result<()> {
        let rows = batch.num_rows();
        let window = &self.window;
        let start = window.seen.fetch_add(rows, Ordering::SeqCst);
        let from = start.max(window.skip);
        let to = start.saturating_add(rows).min(window.end);
        if from < to {
            self.kept.push((from, batch.slice(from - start, to - from)));
        }
        Ok(())
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

impl Sink for LimitSink {
    fn local(&self) -> Box<dyn LocalSink> {
        Box::new(LimitLocal { window: self.window.clone(), kept: Vec::new() })
    }

    fn combine(&self, local: Box<dyn LocalSink>) -> Result<()> {
        let local = downcast_local::<LimitLocal>(local)?;
        lock(&self.kept)?.extend(local.kept);
        Ok(())
    }

    fn finalize(&self) -> Result<Vec<RecordBatch>> {
        let mut kept = std::mem::take(&mut *lock(&self.kept)?);
        kept.sort_by_key(|(position, _)| *position);
        coalesce(&self.schema, kept.into_iter().map(|(_, batch)| batch).collect(), self.batch_size)
    }

    fn describe(&self) -> String {
        match self.window.fetch {
            Some(fetch) => format!("Limit skip={} fetch={fetch}", self.window.skip),
            None => format!("Limit skip={}", self.window.skip),
        }
    }

    fn is_satisfied(&self) -> bool {
        self.window.seen.load(Ordering::Relaxed) >= self.window.end
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{AsArray, Int32Array};
    use arrow::datatypes::{DataType, Field, Int32Type, Schema};

    use super::*;

    fn batch(values: std::ops::Range<i32>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int32, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from_iter_values(values))]).unwrap()
    }

    fn values(batches: &[RecordBatch]) -> Vec<i32> {
        batches.iter().flat_map(|b| b.column(0).as_primitive::<Int32Type>().values().to_vec()).collect()
    }

    #[test]
    fn keeps_window_across_workers_in_position_order() {
        let sink = LimitSink::new(batch(0..0).schema(), 3, Some(5), 1024);
        let mut first = sink.local();
        let mut second = sink.local();
        first.sink(batch(0..2)).unwrap();
        second.sink(batch(2..6)).unwrap();
        assert!(!sink.is_satisfied());
        first.sink(batch(6..10)).unwrap();
        assert!(sink.is_satisfied());
        second.sink(batch(10..12)).unwrap();
        sink.combine(second).unwrap();
        sink.combine(first).unwrap();
        assert_eq!(values(&sink.finalize().unwrap()), vec![3, 4, 5, 6, 7]);
    }

    #[test]
    fn offset_without_fetch_keeps_the_rest() {
        let sink = LimitSink::new(batch(0..0).schema(), 4, None, 1024);
        let mut local = sink.local();
        local.sink(batch(0..3)).unwrap();
        local.sink(batch(3..7)).unwrap();
        sink.combine(local).unwrap();
        assert!(!sink.is_satisfied());
        assert_eq!(values(&sink.finalize().unwrap()), vec![4, 5, 6]);
    }
}
