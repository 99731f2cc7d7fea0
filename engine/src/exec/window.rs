//! The window operator: a sink that collects its input, then for each distinct window (`PARTITION
//! BY` and `ORDER BY`) sorts row positions by (partition keys, order keys) in Arrow's row format,
//! finds partition and peer boundaries, and evaluates that window's calls vectorized over runs of
//! whole partitions, in parallel on the rayon pool when there are many rows. Results are put back
//! in input order, so the output is the input columns followed by one column per call.

use std::cmp::Ordering;
use std::ops::Range;
use std::sync::Arc;

use arrow::array::{ArrayRef, UInt32Array};
use arrow::compute::{concat, concat_batches, take, SortOptions};
use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, Rows, SortField};
use rayon::prelude::*;

use crate::error::{EngineError, Result};
use crate::exec::collect::{BatchCollector, GatheredBatches};
use crate::exec::pipeline::{LocalSink, Sink};
use crate::exec::project::{batch_with_schema, evaluate_columns};
use crate::exec::rebatch::split;
use crate::exec::sort::SortKey;
use crate::exec::window_frame::{frame_bounds, WindowLayout};
use crate::expr::functions::window::{AggregateWindow, WindowFunction, WindowInput};
use crate::expr::functions::FunctionRegistry;
use crate::expr::planner::create_physical_expr;
use crate::expr::PhysicalExprRef;
use crate::plan::window::{WindowExpr, WindowFrame};

/// Rows below which a window is evaluated as one run; above, runs of at least this many rows
/// (whole partitions) are evaluated in parallel.
const PARALLEL_RUN_ROWS: usize = 16 * 1024;

/// One window call, physical: its function, argument and key expressions over the input.
pub struct WindowCall {
    function: Arc<dyn WindowFunction>,
    args: Vec<PhysicalExprRef>,
    partition_by: Vec<PhysicalExprRef>,
    order_by: Vec<SortKey>,
    frame: WindowFrame,
    display: String,
    /// Calls with equal keys share one sort: the text of their partition and order keys.
    window_key: String,
}

impl WindowCall {
    /// Resolves `expr` (bound to `input`) against the registry: a window function, else an
    /// aggregate evaluated over frames.
    pub fn try_new(expr: &WindowExpr, input: &Schema, functions: &FunctionRegistry) -> Result<WindowCall> {
        let plan = |e| create_physical_expr(e, input, functions);
        let args = expr.args.iter().map(plan).collect::<Result<Vec<_>>>()?;
        let function: Arc<dyn WindowFunction> = match functions.window(&expr.name) {
            Some(f) => f.clone(),
            None => {
                let aggregate = functions
                    .aggregate(&expr.name)
                    .ok_or_else(|| EngineError::plan(format!("window function {} does not exist", expr.name)))?;
                let arg_types = args.iter().map(|a| a.data_type().clone()).collect();
                Arc::new(AggregateWindow::new(aggregate.clone(), arg_types, expr.distinct))
            }
        };
        let partition_by = expr.partition_by.iter().map(plan).collect::<Result<Vec<_>>>()?;
        let order_by = expr
            .order_by
            .iter()
            .map(|k| Ok(SortKey { expr: plan(&k.expr)?, ascending: k.ascending, nulls_first: k.nulls_first }))
            .collect::<Result<Vec<_>>>()?;
        let keys: Vec<String> = partition_by.iter().map(|e| e.to_string()).collect();
        let order: Vec<String> =
            order_by.iter().map(|k| format!("{} {} {}", k.expr, k.ascending, k.nulls_first)).collect();
        Ok(WindowCall {
            function,
            args,
            partition_by,
            order_by,
            frame: expr.frame.clone(),
            display: expr.to_string(),
            window_key: format!("{}|{}", keys.join(","), order.join(",")),
        })
    }
}

/// The window sink: buffers every input batch, computes at `finalize`.
pub struct WindowSink {
    calls: Vec<WindowCall>,
    input_schema: SchemaRef,
    schema: SchemaRef,
    batch_size: usize,
    batches: GatheredBatches,
}

impl WindowSink {
    pub fn new(calls: Vec<WindowCall>, input_schema: SchemaRef, schema: SchemaRef, batch_size: usize) -> WindowSink {
        WindowSink { calls, input_schema, schema, batch_size, batches: GatheredBatches::default() }
    }
}

impl Sink for WindowSink {
    fn local(&self) -> Box<dyn LocalSink> {
        Box::new(BatchCollector::default())
    }

    fn combine(&self, local: Box<dyn LocalSink>) -> Result<()> {
        self.batches.combine(local)
    }

    fn finalize(&self) -> Result<Vec<RecordBatch>> {
        let batches = self.batches.take()?;
        let num_rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        if num_rows == 0 {
            return Ok(vec![]);
        }
        let input = concat_batches(&self.input_schema, &batches)?;
        drop(batches);
        let mut results: Vec<Option<ArrayRef>> = vec![None; self.calls.len()];
        for (i, call) in self.calls.iter().enumerate() {
            if results[i].is_some() {
                continue;
            }
            let group: Vec<usize> =
                (i..self.calls.len()).filter(|j| self.calls[*j].window_key == call.window_key).collect();
            let window = SortedWindow::try_new(&input, &call.partition_by, &call.order_by)?;
            for j in group {
                results[j] = Some(window.evaluate(&input, &self.calls[j])?);
            }
        }
        let mut columns = input.columns().to_vec();
        columns.extend(results.into_iter().flatten());
        let output = batch_with_schema(&self.schema, columns, num_rows)?;
        Ok(split(&output, self.batch_size))
    }

    fn describe(&self) -> String {
        let calls: Vec<String> = self.calls.iter().map(|c| c.display.clone()).collect();
        format!("Window [{}]", calls.join(", "))
    }
}

/// The input's rows in one window's order, with partition and peer boundaries in that order.
struct SortedWindow {
    /// Sorted position → input row; `None` when the window has no keys (input order is fine).
    order: Option<UInt32Array>,
    partitions: Vec<Range<usize>>,
    peer_start: Vec<usize>,
    peer_end: Vec<usize>,
    /// The first `ORDER BY` key in window order, with its direction.
    order_key: Option<(ArrayRef, bool)>,
}

impl SortedWindow {
    fn try_new(input: &RecordBatch, partition_by: &[PhysicalExprRef], order_by: &[SortKey]) -> Result<SortedWindow> {
        let n = input.num_rows();
        if partition_by.is_empty() && order_by.is_empty() {
            return Ok(SortedWindow {
                order: None,
                partitions: std::iter::once(0..n).collect(),
                peer_start: vec![0; n],
                peer_end: vec![n; n],
                order_key: None,
            });
        }
        let partition_columns = evaluate_columns(partition_by, input)?;
        let order_exprs: Vec<PhysicalExprRef> = order_by.iter().map(|k| k.expr.clone()).collect();
        let order_columns = evaluate_columns(&order_exprs, input)?;
        let partition_rows = key_rows(&partition_columns, partition_by.iter().map(|_| SortOptions::default()))?;
        let order_rows = key_rows(
            &order_columns,
            order_by.iter().map(|k| SortOptions { descending: !k.ascending, nulls_first: k.nulls_first }),
        )?;
        let mut order: Vec<u32> = (0..n as u32).collect();
        let compare = |a: &u32, b: &u32| {
            let (a, b) = (*a as usize, *b as usize);
            compare_keys(&partition_rows, a, b).then_with(|| compare_keys(&order_rows, a, b))
        };
        if n >= PARALLEL_RUN_ROWS {
            order.par_sort_by(compare);
        } else {
            order.sort_by(compare);
        }
        let mut partitions = Vec::new();
        let mut peer_start = Vec::with_capacity(n);
        let mut peer_end = vec![0; n];
        let (mut partition_begin, mut peer_begin) = (0, 0);
        for j in 0..n {
            if j > 0 {
                let (prev, row) = (order[j - 1] as usize, order[j] as usize);
                let new_partition = compare_keys(&partition_rows, prev, row) != Ordering::Equal;
                if new_partition {
                    partitions.push(partition_begin..j);
                    partition_begin = j;
                }
                if new_partition || compare_keys(&order_rows, prev, row) != Ordering::Equal {
                    peer_end[peer_begin..j].fill(j);
                    peer_begin = j;
                }
            }
            peer_start.push(peer_begin);
        }
        partitions.push(partition_begin..n);
        peer_end[peer_begin..n].fill(n);
        let order = UInt32Array::from(order);
        let order_key = match (order_columns.first(), order_by.first()) {
            (Some(key), Some(k)) => Some((take(key, &order, None)?, k.ascending)),
            _ => None,
        };
        Ok(SortedWindow { order: Some(order), partitions, peer_start, peer_end, order_key })
    }

    /// `call`'s column for `input`, in input order.
    fn evaluate(&self, input: &RecordBatch, call: &WindowCall) -> Result<ArrayRef> {
        let mut args = evaluate_columns(&call.args, input)?;
        if let Some(order) = &self.order {
            args = args.iter().map(|a| Ok(take(a, order, None)?)).collect::<Result<_>>()?;
        }
        let runs = self.runs();
        let pieces: Vec<ArrayRef> = if runs.len() > 1 {
            runs.par_iter().map(|run| self.evaluate_run(call, &args, run)).collect::<Result<_>>()?
        } else {
            runs.iter().map(|run| self.evaluate_run(call, &args, run)).collect::<Result<_>>()?
        };
        let sorted = match pieces.as_slice() {
            [one] => one.clone(),
            many => concat(&many.iter().map(|a| a.as_ref()).collect::<Vec<_>>())?,
        };
        match &self.order {
            None => Ok(sorted),
            Some(order) => Ok(take(&sorted, &inverse(order), None)?),
        }
    }

    /// Consecutive runs of whole partitions (as ranges of partition indices), each at least
    /// `PARALLEL_RUN_ROWS` rows but the last.
    fn runs(&self) -> Vec<Range<usize>> {
        let mut runs = Vec::new();
        let mut first = 0;
        for (i, p) in self.partitions.iter().enumerate() {
            let rows = p.end - self.partitions[first].start;
            if rows >= PARALLEL_RUN_ROWS || i + 1 == self.partitions.len() {
                runs.push(first..i + 1);
                first = i + 1;
            }
        }
        runs
    }

    /// Evaluates `call` over the partitions `run` (indices into `self.partitions`).
    fn evaluate_run(&self, call: &WindowCall, args: &[ArrayRef], run: &Range<usize>) -> Result<ArrayRef> {
        let parts = &self.partitions[run.clone()];
        let (first, last) = (parts[0].start, parts[parts.len() - 1].end);
        let shift = |r: &Range<usize>| r.start - first..r.end - first;
        let partitions: Vec<Range<usize>> = parts.iter().map(shift).collect();
        let peer_start: Vec<usize> = self.peer_start[first..last].iter().map(|p| p - first).collect();
        let peer_end: Vec<usize> = self.peer_end[first..last].iter().map(|p| p - first).collect();
        let order_key = self.order_key.as_ref().map(|(k, asc)| (k.slice(first, last - first), *asc));
        let layout = WindowLayout {
            partitions: &partitions,
            peer_start: &peer_start,
            peer_end: &peer_end,
            order_key: order_key.as_ref().map(|(k, asc)| (k, *asc)),
        };
        let (frame_start, frame_end) = frame_bounds(&call.frame, &layout)?;
        let args: Vec<ArrayRef> = args.iter().map(|a| a.slice(first, last - first)).collect();
        call.function.evaluate(&WindowInput {
            args: &args,
            partitions: &partitions,
            peer_start: &peer_start,
            peer_end: &peer_end,
            frame_start: &frame_start,
            frame_end: &frame_end,
        })
    }
}

/// Keys in Arrow's row format, where byte order is the keys' sort order; `None` without keys
/// (every row compares equal).
fn key_rows(columns: &[ArrayRef], options: impl Iterator<Item = SortOptions>) -> Result<Option<Rows>> {
    if columns.is_empty() {
        return Ok(None);
    }
    let fields =
        columns.iter().zip(options).map(|(c, o)| SortField::new_with_options(c.data_type().clone(), o)).collect();
    Ok(Some(RowConverter::new(fields)?.convert_columns(columns)?))
}

/// Compares rows `a` and `b` of optional key rows.
fn compare_keys(rows: &Option<Rows>, a: usize, b: usize) -> Ordering {
    rows.as_ref().map_or(Ordering::Equal, |r| r.row(a).cmp(&r.row(b)))
}

/// The inverse permutation: input row → sorted position.
fn inverse(order: &UInt32Array) -> UInt32Array {
    let mut out = vec![0u32; order.len()];
    for (position, row) in order.values().iter().enumerate() {
        out[*row as usize] = position as u32;
    }
    UInt32Array::from(out)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use arrow::array::AsArray;
    use arrow::datatypes::{DataType, Field, Int64Type};

    use super::*;
    use crate::exec::planner::execute;
    use crate::exec::testing::{builtin_context, on_pool};
    use crate::plan::window::{FrameBound, FrameOffset, FrameUnits};
    use crate::plan::{Expr, LogicalPlan, ScalarValue, SortExpr};

    /// `n` rows (g = i % groups, v = (i * 7919) % 1000) as literal rows.
    fn input(n: i64, groups: i64) -> LogicalPlan {
        let schema =
            Arc::new(Schema::new(vec![Field::new("g", DataType::Int64, true), Field::new("v", DataType::Int64, true)]));
        let rows = (0..n)
            .map(|i| {
                vec![
                    Expr::Literal(ScalarValue::Int64(Some(i % groups))),
                    Expr::Literal(ScalarValue::Int64(Some((i * 7919) % 1000))),
                ]
            })
            .collect();
        LogicalPlan::Values { schema, rows }
    }

    fn call(name: &str, args: Vec<Expr>, frame: WindowFrame) -> WindowExpr {
        WindowExpr {
            name: name.into(),
            args,
            distinct: false,
            partition_by: vec![Expr::Column(0)],
            order_by: vec![SortExpr { expr: Expr::Column(1), ascending: true, nulls_first: false }],
            frame,
            return_type: DataType::Int64,
        }
    }

    #[test]
    fn many_partitions_evaluate_in_parallel_and_return_in_input_order() {
        let (n, groups) = (40_000, 37);
        let rows_frame = WindowFrame {
            units: FrameUnits::Rows,
            start: FrameBound::Preceding(FrameOffset::Rows(2)),
            end: FrameBound::CurrentRow,
        };
        let calls = vec![
            call("rank", vec![], WindowFrame::default_frame()),
            call("sum", vec![Expr::Column(1)], WindowFrame::default_frame()),
            call("max", vec![Expr::Column(1)], rows_frame),
        ];
        let input = input(n, groups);
        let mut fields: Vec<Field> = input.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.extend(["rank", "sum", "max"].map(|name| Field::new(name, DataType::Int64, true)));
        let plan =
            LogicalPlan::Window { input: Box::new(input), window_exprs: calls, schema: Arc::new(Schema::new(fields)) };
        let ctx = builtin_context(4096);
        let (_, batches) = on_pool(4, || execute(&plan, &ctx)).unwrap();

        // Expected: per group, values sorted; rank = 1 + smaller values; running sum through peers.
        let mut by_group: HashMap<i64, Vec<i64>> = HashMap::new();
        for i in 0..n {
            by_group.entry(i % groups).or_default().push((i * 7919) % 1000);
        }
        by_group.values_mut().for_each(|v| v.sort());
        let mut checked = 0;
        for batch in &batches {
            let column = |c: usize| batch.column(c).as_primitive::<Int64Type>().clone();
            let (g, v, rank, sum, max) = (column(0), column(1), column(2), column(3), column(4));
            for i in 0..batch.num_rows() {
                let sorted = &by_group[&g.value(i)];
                let below = sorted.partition_point(|x| *x < v.value(i));
                let through_peers = sorted.partition_point(|x| *x <= v.value(i));
                assert_eq!(rank.value(i), below as i64 + 1);
                assert_eq!(sum.value(i), sorted[..through_peers].iter().sum::<i64>());
                // In ascending order the current row is the largest of its frame.
                assert_eq!(max.value(i), v.value(i));
                checked += 1;
            }
        }
        assert_eq!(checked, n);
    }
}
