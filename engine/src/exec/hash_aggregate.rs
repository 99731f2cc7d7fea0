//! Vectorized hash aggregation (`GROUP BY`, `DISTINCT`), partial then final: each worker maps
//! its rows' group keys to dense group ids in its own table (`group_keys`: native values for one
//! primitive or text key, packed per-column ids for a few, Arrow's row format otherwise), one id
//! vector per batch, and updates its own accumulators a batch at a time; `combine` merges a
//! worker's groups and accumulator states into the global table.

use std::any::Any;
use std::sync::{Arc, Mutex};

use arrow::array::{new_empty_array, ArrayRef};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::error::{EngineError, Result};
use crate::exec::filter::{evaluate_predicate, Selection};
use crate::exec::group_keys::GroupKeys;
use crate::exec::pipeline::{downcast_local, lock, LocalSink, Sink};
use crate::exec::project::{batch_with_schema, evaluate_columns};
use crate::exec::rebatch::split;
use crate::expr::functions::{AggregateFunction, GroupsAccumulator};
use crate::expr::PhysicalExprRef;
use crate::optimizer::constant_folding::VOLATILE_FUNCTIONS;

/// Bytes counted per group for each accumulator's state: a value and a validity or count word.
const ACCUMULATOR_STATE_BYTES: usize = 16;

/// One aggregate call, compiled against the aggregate's input.
pub struct AggregateCall {
    pub function: Arc<dyn AggregateFunction>,
    pub args: Vec<PhysicalExprRef>,
    pub arg_types: Vec<DataType>,
    /// `DISTINCT` is the accumulator's job: it receives every row and ignores repeats.
    pub distinct: bool,
    /// `FILTER (WHERE ...)`: only rows where it is true reach the accumulator.
    pub filter: Option<PhysicalExprRef>,
    /// How `EXPLAIN` prints the call.
    pub display: String,
}

/// The hash aggregation sink. Output: the group key columns, then one column per aggregate.
pub struct HashAggregateSink {
    shared: Arc<AggregateShared>,
    schema: SchemaRef,
    batch_size: usize,
    global: Mutex<GroupedState>,
}

/// What workers share read-only.
struct AggregateShared {
    group_exprs: Vec<PhysicalExprRef>,
    calls: Vec<AggregateCall>,
    /// The group key types; empty without `GROUP BY` (every row is in the one group).
    key_types: Vec<DataType>,
    /// For each call, the `avg` call whose running sums are its answer (see [`sum_sources`]):
    /// such a call is never updated nor merged.
    sum_sources: Vec<Option<usize>>,
}

impl AggregateShared {
    /// Whether call `i` keeps its own accumulator state.
    fn updates(&self, i: usize) -> bool {
        self.sum_sources[i].is_none()
    }
}

/// For each call, another call that already sums the same values in the same type: `sum(x)`
/// beside `avg(x)` (q01 asks for both of two columns) when `x` is a decimal or a float, whose
/// `avg` state is exactly the running `sum(x)` (NULL where a group has no rows) and its count.
/// Answering the `sum` from that state saves one accumulation per row. Integer `sum`s are
/// BIGINT while `avg` sums them as DECIMAL(38,0), so they keep their own.
fn sum_sources(calls: &[AggregateCall]) -> Vec<Option<usize>> {
    let plain = |c: &AggregateCall, name: &str| {
        c.function.name() == name && !c.distinct && c.filter.is_none() && c.args.len() == 1
    };
    let shares_sum_type = |t: &DataType| matches!(t, DataType::Decimal128(..) | DataType::Float32 | DataType::Float64);
    calls
        .iter()
        .map(|sum| {
            if !plain(sum, "sum") || !shares_sum_type(&sum.arg_types[0]) {
                return None;
            }
            let argument = sum.args[0].to_string();
            // Two `random()` calls are two draws: only a repeatable argument is shared.
            if VOLATILE_FUNCTIONS.iter().any(|f| argument.contains(&format!("{f}("))) {
                return None;
            }
            calls.iter().position(|avg| {
                plain(avg, "avg") && avg.arg_types == sum.arg_types && avg.args[0].to_string() == argument
            })
        })
        .collect()
}

impl HashAggregateSink {
    /// `schema` is the output: the group key fields then the aggregate fields.
    pub fn try_new(
        group_exprs: Vec<PhysicalExprRef>,
        calls: Vec<AggregateCall>,
        schema: SchemaRef,
        batch_size: usize,
    ) -> Result<HashAggregateSink> {
        let key_types = group_exprs.iter().map(|e| e.data_type().clone()).collect();
        let sum_sources = sum_sources(&calls);
        let shared = Arc::new(AggregateShared { group_exprs, calls, key_types, sum_sources });
        let mut global = GroupedState::try_new(&shared)?;
        if shared.key_types.is_empty() {
            // Without GROUP BY the answer is one row even for empty input (count = 0, sum = NULL),
            // so the global accumulators get their single group before any worker reports.
            global.grow_single_group(&shared)?;
        }
        Ok(HashAggregateSink { shared, schema, batch_size, global: Mutex::new(global) })
    }
}

impl Sink for HashAggregateSink {
    fn local(&self) -> Box<dyn LocalSink> {
        Box::new(AggregateLocal { shared: self.shared.clone(), state: None })
    }

    fn combine(&self, local: Box<dyn LocalSink>) -> Result<()> {
        let Some(state) = downcast_local::<AggregateLocal>(local)?.state else { return Ok(()) };
        let mut global = lock(&self.global)?;
        if global.keys.as_ref().is_some_and(GroupKeys::is_empty) {
            // The first worker's table becomes the global one as is: nothing to re-hash.
            *global = state;
            return Ok(());
        }
        global.merge(&self.shared, state)
    }

    fn finalize(&self) -> Result<Vec<RecordBatch>> {
        let mut global = lock(&self.global)?;
        let num_groups = global.num_groups();
        let mut columns = match &global.keys {
            Some(keys) => keys.emit()?,
            None => vec![],
        };
        let mut results: Vec<Option<ArrayRef>> = vec![None; global.accumulators.len()];
        for (i, accumulator) in global.accumulators.iter_mut().enumerate() {
            let shared_by: Vec<usize> = (0..results.len()).filter(|&k| self.shared.sum_sources[k] == Some(i)).collect();
            if !shared_by.is_empty() {
                // An `avg` state is its running sums and counts; taking it empties the
                // accumulator, so it is merged back before the average is evaluated.
                let state = accumulator.state()?;
                for &k in &shared_by {
                    results[k] = Some(state[0].clone());
                }
                let identity: Vec<usize> = (0..num_groups).collect();
                accumulator.merge_state(&state, &identity, num_groups)?;
            }
            if self.shared.updates(i) {
                results[i] = Some(accumulator.evaluate()?);
            }
        }
        for result in results {
            columns.push(result.ok_or_else(|| EngineError::execution("an aggregate shares no state"))?);
        }
        let batch = batch_with_schema(&self.schema, columns, num_groups)?;
        Ok(split(&batch, self.batch_size))
    }

    fn describe(&self) -> String {
        let groups: Vec<String> = self.shared.group_exprs.iter().map(|e| e.to_string()).collect();
        let calls: Vec<&str> = self.shared.calls.iter().map(|c| c.display.as_str()).collect();
        if calls.is_empty() {
            format!("HashAggregate distinct=[{}]", groups.join(", "))
        } else {
            format!("HashAggregate group_by=[{}] aggregates=[{}]", groups.join(", "), calls.join(", "))
        }
    }
}

/// A worker's partial aggregation; created on its first batch.
struct AggregateLocal {
    shared: Arc<AggregateShared>,
    state: Option<GroupedState>,
}

impl LocalSink for AggregateLocal {
    fn sink(&mut self, batch: RecordBatch) -> Result<()> {
        let shared = &self.shared;
        let state = match &mut self.state {
            Some(state) => state,
            None => self.state.insert(GroupedState::try_new(shared)?),
        };
        state.update(shared, &batch)
    }

    fn memory_size(&self) -> usize {
        self.state.as_ref().map_or(0, GroupedState::memory_size)
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

/// Groups and their accumulators.
struct GroupedState {
    /// `None` without `GROUP BY`: one group, id 0.
    keys: Option<GroupKeys>,
    accumulators: Vec<Box<dyn GroupsAccumulator>>,
    /// Scratch: the group id of each row of the current batch.
    group_indices: Vec<usize>,
}

impl GroupedState {
    fn try_new(shared: &AggregateShared) -> Result<GroupedState> {
        let accumulators = shared
            .calls
            .iter()
            .map(|c| c.function.accumulator(&c.arg_types, c.distinct))
            .collect::<Result<Vec<_>>>()?;
        let keys = if shared.key_types.is_empty() { None } else { Some(GroupKeys::try_new(&shared.key_types)?) };
        Ok(GroupedState { keys, accumulators, group_indices: Vec::new() })
    }

    fn num_groups(&self) -> usize {
        self.keys.as_ref().map_or(1, GroupKeys::len)
    }

    /// Makes the single group of an aggregation without `GROUP BY` exist in every accumulator.
    fn grow_single_group(&mut self, shared: &AggregateShared) -> Result<()> {
        for (call, accumulator) in shared.calls.iter().zip(&mut self.accumulators) {
            let empty: Vec<ArrayRef> = call.arg_types.iter().map(new_empty_array).collect();
            accumulator.update(&empty, &[], 1)?;
        }
        Ok(())
    }

    fn update(&mut self, shared: &AggregateShared, batch: &RecordBatch) -> Result<()> {
        self.group_indices.clear();
        match &mut self.keys {
            Some(keys) => keys.intern(&evaluate_columns(&shared.group_exprs, batch)?, &mut self.group_indices)?,
            None => self.group_indices.resize(batch.num_rows(), 0),
        }
        let total_groups = self.num_groups();
        for (i, (call, accumulator)) in shared.calls.iter().zip(&mut self.accumulators).enumerate() {
            if !shared.updates(i) {
                continue;
            }
            let selection = match &call.filter {
                Some(filter) => evaluate_predicate(filter, batch)?,
                None => Selection::All,
            };
            match selection {
                Selection::All => {
                    accumulator.update(&evaluate_columns(&call.args, batch)?, &self.group_indices, total_groups)?
                }
                Selection::None => {
                    let empty: Vec<ArrayRef> = call.arg_types.iter().map(new_empty_array).collect();
                    accumulator.update(&empty, &[], total_groups)?
                }
                Selection::Some(mask) => {
                    let kept = filter_record_batch(batch, &mask)?;
                    let indices: Vec<usize> = self
                        .group_indices
                        .iter()
                        .zip(mask.values().iter())
                        .filter(|(_, keep)| *keep)
                        .map(|(g, _)| *g)
                        .collect();
                    accumulator.update(&evaluate_columns(&call.args, &kept)?, &indices, total_groups)?
                }
            }
        }
        Ok(())
    }

    /// Bytes the group table and accumulators hold. Accumulators do not report their size, so
    /// each counts [`ACCUMULATOR_STATE_BYTES`] per group: exact for counts and sums, low for
    /// `COUNT(DISTINCT)` and string `MIN`/`MAX`.
    fn memory_size(&self) -> usize {
        let keys = self.keys.as_ref().map_or(0, GroupKeys::memory_size);
        let accumulators = self.num_groups() * self.accumulators.len() * ACCUMULATOR_STATE_BYTES;
        keys + accumulators + self.group_indices.capacity() * std::mem::size_of::<usize>()
    }

    /// Folds another worker's groups and accumulator states into this one.
    fn merge(&mut self, shared: &AggregateShared, mut other: GroupedState) -> Result<()> {
        let mut mapping = Vec::with_capacity(other.num_groups());
        match (&mut self.keys, &other.keys) {
            (Some(keys), Some(other_keys)) => keys.merge(other_keys, &mut mapping)?,
            _ => mapping.push(0),
        }
        // The mapping is all that is left to know of the other keys: free them before the
        // accumulator states are materialised (q18: 750k keys a worker).
        other.keys = None;
        let total_groups = self.num_groups();
        let accumulators = self.accumulators.iter_mut().zip(&mut other.accumulators);
        for (_, (accumulator, other)) in accumulators.enumerate().filter(|(i, _)| shared.updates(*i)) {
            accumulator.merge_state(&other.state()?, &mapping, total_groups)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Decimal128Array, Int64Array};
    use arrow::datatypes::{Field, Schema};

    use super::*;
    use crate::exec::testing::{builtin_context, context, sorted_rows};
    use crate::expr::planner::create_physical_expr;
    use crate::plan::{BinaryOp, Expr, ScalarValue};

    fn batch(keys: Vec<Option<i64>>, values: Vec<Option<i64>>) -> RecordBatch {
        let schema =
            Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, true), Field::new("v", DataType::Int64, true)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(keys)), Arc::new(Int64Array::from(values))])
            .unwrap()
    }

    /// `SELECT k, sum(v), sum(v) FILTER (WHERE v > 1) GROUP BY k` fed by three workers.
    #[test]
    fn workers_partial_states_merge_into_final_groups() {
        let ctx = context(1024);
        let input = batch(vec![], vec![]).schema();
        let column = |i| create_physical_expr(&Expr::Column(i), &input, &ctx.functions).unwrap();
        let sum = ctx.functions.aggregate("sum").unwrap().clone();
        let over_one = Expr::binary(Expr::Column(1), BinaryOp::Gt, Expr::Literal(ScalarValue::Int64(Some(1))));
        let call = |filter: Option<PhysicalExprRef>| AggregateCall {
            function: sum.clone(),
            args: vec![column(1)],
            arg_types: vec![DataType::Int64],
            distinct: false,
            filter,
            display: "sum(v)".into(),
        };
        let filter = create_physical_expr(&over_one, &input, &ctx.functions).unwrap();
        let output = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("s", DataType::Int64, true),
            Field::new("f", DataType::Int64, true),
        ]));
        let sink =
            HashAggregateSink::try_new(vec![column(0)], vec![call(None), call(Some(filter))], output, 1024).unwrap();
        let mut workers: Vec<_> = (0..3).map(|_| sink.local()).collect();
        workers[0].sink(batch(vec![Some(1), Some(2), None], vec![Some(1), Some(2), Some(3)])).unwrap();
        workers[1].sink(batch(vec![Some(2), None, Some(3)], vec![Some(5), None, Some(1)])).unwrap();
        workers[0].sink(batch(vec![Some(1)], vec![Some(4)])).unwrap();
        for worker in workers {
            sink.combine(worker).unwrap();
        }
        let expected = ["1|5|4", "2|7|7", "3|1|NULL", "NULL|3|3"];
        assert_eq!(sorted_rows(&sink.finalize().unwrap()), expected);
    }

    /// `sum(d)` beside `avg(d)` is answered from the `avg` state: the same sums, NULL for a
    /// group of NULLs, across workers; a `sum` with a FILTER, or of integers, keeps its own.
    #[test]
    fn sum_beside_avg_shares_its_running_sums() {
        let ctx = builtin_context(1024);
        let d = DataType::Decimal128(15, 2);
        let input = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("d", d.clone(), true),
            Field::new("i", DataType::Int64, true),
        ]));
        let batch = |keys: Vec<i64>, cents: Vec<Option<i128>>| {
            let ints: Vec<Option<i64>> = cents.iter().map(|c| c.map(|c| c as i64)).collect();
            let decimals = Decimal128Array::from(cents).with_precision_and_scale(15, 2).unwrap();
            let columns: Vec<ArrayRef> =
                vec![Arc::new(Int64Array::from(keys)), Arc::new(decimals), Arc::new(Int64Array::from(ints))];
            RecordBatch::try_new(input.clone(), columns).unwrap()
        };
        let column = |i| create_physical_expr(&Expr::Column(i), &input, &ctx.functions).unwrap();
        let positive = Expr::binary(Expr::Column(2), BinaryOp::Gt, Expr::Literal(ScalarValue::Int64(Some(0))));
        let call = |name: &str, arg: usize, filter: Option<&Expr>| AggregateCall {
            function: ctx.functions.aggregate(name).unwrap().clone(),
            args: vec![column(arg)],
            arg_types: vec![input.field(arg).data_type().clone()],
            distinct: false,
            filter: filter.map(|f| create_physical_expr(f, &input, &ctx.functions).unwrap()),
            display: format!("{name}(#{arg})"),
        };
        let calls = vec![
            call("sum", 1, None),
            call("sum", 1, Some(&positive)),
            call("avg", 1, None),
            call("sum", 2, None),
            call("avg", 2, None),
            call("sum", 1, None),
        ];
        assert_eq!(sum_sources(&calls), vec![Some(2), None, None, None, None, Some(2)]);
        // Two `random()` calls are two draws, not one shared sum.
        let random = Expr::Function { name: "random".into(), args: vec![], return_type: DataType::Float64 };
        let draw = || AggregateCall {
            args: vec![create_physical_expr(&random, &input, &ctx.functions).unwrap()],
            arg_types: vec![DataType::Float64],
            ..call("sum", 1, None)
        };
        let (sum_draw, avg_draw) =
            (draw(), AggregateCall { function: ctx.functions.aggregate("avg").unwrap().clone(), ..draw() });
        assert_eq!(sum_sources(&[sum_draw, avg_draw]), vec![None, None]);
        let avg_type = DataType::Decimal128(38, 6);
        let sum_type = DataType::Decimal128(38, 2);
        let output = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("s", sum_type.clone(), true),
            Field::new("sf", sum_type.clone(), true),
            Field::new("a", avg_type, true),
            Field::new("si", DataType::Int64, true),
            Field::new("ai", DataType::Float64, true),
            Field::new("s2", sum_type, true),
        ]));
        let sink = HashAggregateSink::try_new(vec![column(0)], calls, output, 1024).unwrap();
        let mut workers: Vec<_> = (0..2).map(|_| sink.local()).collect();
        workers[0].sink(batch(vec![1, 2, 3], vec![Some(100), Some(250), None])).unwrap();
        workers[1].sink(batch(vec![2, 3, 1], vec![Some(-50), None, Some(400)])).unwrap();
        workers[0].sink(batch(vec![4], vec![Some(125)])).unwrap();
        for worker in workers {
            sink.combine(worker).unwrap();
        }
        let expected = [
            "1|5.00|5.00|2.500000|500|250.0|5.00",
            "2|2.00|2.50|1.000000|200|100.0|2.00",
            "3|NULL|NULL|NULL|NULL|NULL|NULL",
            "4|1.25|1.25|1.250000|125|125.0|1.25",
        ];
        assert_eq!(sorted_rows(&sink.finalize().unwrap()), expected);
    }
}
