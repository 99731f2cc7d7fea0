//! `ORDER BY`: each worker sorts its rows into one run (keeping only the first `skip + fetch`
//! rows when a `LIMIT` sits on the sort, so top-N never holds more than N rows per worker), and
//! `finalize` merges the runs. Keys are compared in Arrow's row format, where a byte comparison
//! already honours every key's direction and NULL placement.

use std::any::Any;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex};

use arrow::array::{Array, UInt32Array};
use arrow::compute::{concat_batches, interleave, take_record_batch, SortOptions};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use arrow::row::{Row, RowConverter, Rows, SortField};

use crate::error::Result;
use crate::exec::memory_limit::batch_memory_size;
use crate::exec::pipeline::{downcast_local, lock, LocalSink, Sink};
use crate::exec::project::evaluate_columns;
use crate::expr::PhysicalExprRef;

/// One sort key: an expression over the input and its direction and NULL placement.
pub struct SortKey {
    pub expr: PhysicalExprRef,
    pub ascending: bool,
    pub nulls_first: bool,
}

/// The sort sink; its output is the input rows in order, `skip` rows dropped and at most
/// `fetch` kept.
pub struct SortSink {
    keys: Arc<SortKeys>,
    schema: SchemaRef,
    skip: usize,
    fetch: Option<usize>,
    batch_size: usize,
    runs: Mutex<Vec<SortedRun>>,
}

/// What workers share: the key expressions and one row converter for all of them.
struct SortKeys {
    keys: Vec<SortKey>,
    converter: RowConverter,
    schema: SchemaRef,
    /// Rows a run needs to keep: `skip + fetch` under a limit.
    keep: Option<usize>,
}

/// A worker's rows sorted, with their key rows in the same order.
struct SortedRun {
    batch: RecordBatch,
    rows: Rows,
}

impl SortSink {
    pub fn try_new(
        keys: Vec<SortKey>,
        schema: SchemaRef,
        skip: usize,
        fetch: Option<usize>,
        batch_size: usize,
    ) -> Result<SortSink> {
        let fields = keys
            .iter()
            .map(|k| {
                let options = SortOptions { descending: !k.ascending, nulls_first: k.nulls_first };
                SortField::new_with_options(k.expr.data_type().clone(), options)
            })
            .collect();
        let converter = RowConverter::new(fields)?;
        let keep = fetch.map(|f| skip.saturating_add(f));
        let keys = Arc::new(SortKeys { keys, converter, schema: schema.clone(), keep });
        Ok(SortSink { keys, schema, skip, fetch, batch_size, runs: Mutex::new(Vec::new()) })
    }
}

impl Sink for SortSink {
    fn local(&self) -> Box<dyn LocalSink> {
        Box::new(SortLocal {
            keys: self.keys.clone(),
            batches: Vec::new(),
            rows: 0,
            compact_at: self.compact_at(),
            bytes: 0,
        })
    }

    fn combine(&self, local: Box<dyn LocalSink>) -> Result<()> {
        let local = downcast_local::<SortLocal>(local)?;
        if local.rows == 0 {
            return Ok(());
        }
        let run = self.keys.sort_run(&local.batches)?;
        lock(&self.runs)?.push(run);
        Ok(())
    }

    fn finalize(&self) -> Result<Vec<RecordBatch>> {
        let runs = std::mem::take(&mut *lock(&self.runs)?);
        let end = self.keys.keep.unwrap_or(usize::MAX);
        let order = merge_order(&runs, end);
        let order = order.get(self.skip.min(order.len())..).unwrap_or_default();
        let batches: Vec<&RecordBatch> = runs.iter().map(|r| &r.batch).collect();
        order.chunks(self.batch_size.max(1)).map(|chunk| interleave_rows(&self.schema, &batches, chunk)).collect()
    }

    fn describe(&self) -> String {
        let keys: Vec<String> = self
            .keys
            .keys
            .iter()
            .map(|k| {
                format!(
                    "{} {} NULLS {}",
                    k.expr,
                    if k.ascending { "ASC" } else { "DESC" },
                    if k.nulls_first { "FIRST" } else { "LAST" }
                )
            })
            .collect();
        let mut text = format!("Sort [{}]", keys.join(", "));
        if self.skip > 0 {
            text.push_str(&format!(" skip={}", self.skip));
        }
        if let Some(fetch) = self.fetch {
            text.push_str(&format!(" fetch={fetch}"));
        }
        text
    }
}

impl SortSink {
    /// Under a limit, a worker re-sorts and truncates its buffer once it holds this many rows,
    /// so memory stays proportional to N (twice it, to amortise the re-sorts).
    fn compact_at(&self) -> Option<usize> {
        self.keys.keep.map(|keep| keep.saturating_mul(2).max(self.batch_size))
    }
}

/// A worker's buffered rows.
struct SortLocal {
    keys: Arc<SortKeys>,
    batches: Vec<RecordBatch>,
    rows: usize,
    compact_at: Option<usize>,
    /// Memory the buffered batches hold, for the query's accounting.
    bytes: usize,
}

impl LocalSink for SortLocal {
    fn sink(&mut self, batch: RecordBatch) -> Result<()> {
        self.rows += batch.num_rows();
        self.bytes += batch_memory_size(&batch);
        self.batches.push(batch);
        if self.compact_at.is_some_and(|at| self.rows >= at) {
            let run = self.keys.sort_run(&self.batches)?;
            self.rows = run.batch.num_rows();
            self.bytes = batch_memory_size(&run.batch);
            self.batches = vec![run.batch];
        }
        Ok(())
    }

    fn memory_size(&self) -> usize {
        self.bytes
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

impl SortKeys {
    /// Sorts `batches` into one run, keeping only the first `keep` rows under a limit.
    fn sort_run(&self, batches: &[RecordBatch]) -> Result<SortedRun> {
        let batch = concat_batches(&self.schema, batches)?;
        let exprs: Vec<PhysicalExprRef> = self.keys.iter().map(|k| k.expr.clone()).collect();
        let key_columns = evaluate_columns(&exprs, &batch)?;
        let rows = self.converter.convert_columns(&key_columns)?;
        let mut order: Vec<u32> = (0..batch.num_rows() as u32).collect();
        let compare = |a: &u32, b: &u32| rows.row(*a as usize).cmp(&rows.row(*b as usize)).then(a.cmp(b));
        match self.keep {
            Some(keep) if keep < order.len() => {
                if keep > 0 {
                    order.select_nth_unstable_by(keep - 1, compare);
                }
                order.truncate(keep);
                order.sort_unstable_by(compare);
            }
            _ => order.sort_unstable_by(compare),
        }
        // The run's keys: the encoded rows copied in sorted order, not re-encoded (q16: a
        // sixth of the sort's instructions went to encoding and gathering the keys again).
        let mut sorted_rows = self.converter.empty_rows(order.len(), rows.size());
        for &i in &order {
            sorted_rows.push(rows.row(i as usize));
        }
        let indices = UInt32Array::from(order);
        Ok(SortedRun { batch: take_record_batch(&batch, &indices)?, rows: sorted_rows })
    }
}

/// The head of one run during the merge; the smallest key (then the lowest run) pops first.
struct Cursor<'a> {
    row: Row<'a>,
    run: usize,
    index: usize,
}

impl PartialEq for Cursor<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Cursor<'_> {}

impl PartialOrd for Cursor<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Cursor<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.row.cmp(&other.row).then(self.run.cmp(&other.run))
    }
}

/// The first `end` (run, row) positions of the runs merged in key order.
fn merge_order(runs: &[SortedRun], end: usize) -> Vec<(usize, usize)> {
    let total: usize = runs.iter().map(|r| r.batch.num_rows()).sum();
    let mut order = Vec::with_capacity(total.min(end));
    if let [run] = runs {
        order.extend((0..run.batch.num_rows().min(end)).map(|i| (0, i)));
        return order;
    }
    let mut heap: BinaryHeap<Reverse<Cursor<'_>>> = runs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.rows.num_rows() > 0)
        .map(|(run, r)| Reverse(Cursor { row: r.rows.row(0), run, index: 0 }))
        .collect();
    while order.len() < end {
        let Some(Reverse(cursor)) = heap.pop() else { break };
        order.push((cursor.run, cursor.index));
        let next = cursor.index + 1;
        let rows = &runs[cursor.run].rows;
        if next < rows.num_rows() {
            heap.push(Reverse(Cursor { row: rows.row(next), run: cursor.run, index: next }));
        }
    }
    order
}

/// Gathers rows `(batch, row)` from `batches` into one batch of `schema`.
fn interleave_rows(schema: &SchemaRef, batches: &[&RecordBatch], rows: &[(usize, usize)]) -> Result<RecordBatch> {
    let columns = (0..schema.fields().len())
        .map(|c| {
            let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(c).as_ref()).collect();
            Ok(interleave(&arrays, rows)?)
        })
        .collect::<Result<Vec<_>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
    Ok(RecordBatch::try_new_with_options(schema.clone(), columns, &options)?)
}

#[cfg(test)]
mod tests {
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::exec::testing::{context, rows};
    use crate::expr::planner::create_physical_expr;
    use crate::plan::Expr;

    fn batch(values: impl IntoIterator<Item = i64>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from_iter_values(values))]).unwrap()
    }

    fn sink(skip: usize, fetch: Option<usize>, batch_size: usize) -> SortSink {
        let ctx = context(batch_size);
        let expr = create_physical_expr(&Expr::Column(0), &batch([]).schema(), &ctx.functions).unwrap();
        let keys = vec![SortKey { expr, ascending: false, nulls_first: true }];
        SortSink::try_new(keys, batch([]).schema(), skip, fetch, batch_size).unwrap()
    }

    #[test]
    fn runs_of_several_workers_merge_in_order() {
        let sink = sink(0, None, 4);
        let mut first = sink.local();
        let mut second = sink.local();
        first.sink(batch([5, 1, 9])).unwrap();
        second.sink(batch([2, 8])).unwrap();
        first.sink(batch([7, 3])).unwrap();
        sink.combine(first).unwrap();
        sink.combine(second).unwrap();
        let out = sink.finalize().unwrap();
        assert_eq!(rows(&out), ["9", "8", "7", "5", "3", "2", "1"]);
        assert!(out.iter().all(|b| b.num_rows() <= 4));
    }

    #[test]
    fn top_n_keeps_only_n_rows_per_worker() {
        let sink = sink(1, Some(3), 8);
        let mut worker = sink.local();
        for start in (0..1000).step_by(10) {
            worker.sink(batch(start..start + 10)).unwrap();
        }
        let held = worker.into_any().downcast::<SortLocal>().unwrap();
        assert!(held.rows <= 16, "a top-4 worker held {} rows", held.rows);
        sink.combine(held).unwrap();
        assert_eq!(rows(&sink.finalize().unwrap()), ["998", "997", "996"]);
    }
}
