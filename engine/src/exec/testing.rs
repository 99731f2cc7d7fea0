//! Test support for the executor: a context over a throwaway catalog, a registry with small
//! reference aggregates (the real ones live in `expr::functions`), and row formatting for asserts.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray};
use arrow::datatypes::{DataType, Int64Type};
use arrow::record_batch::RecordBatch;
use arrow::util::display::array_value_to_string;
use tarn_catalog::{Catalog, StoreRegistry};

use crate::error::{EngineError, Result};
use crate::exec::pipeline::ExecContext;
use crate::expr::functions::{AggregateFunction, FunctionRegistry, GroupsAccumulator, Signature};
use crate::io::runtime::io_runtime;

/// A context with `batch_size` rows per batch and the test aggregates `count` and `sum`.
pub fn context(batch_size: usize) -> ExecContext {
    static CATALOG: OnceLock<Arc<Catalog>> = OnceLock::new();
    let catalog = CATALOG
        .get_or_init(|| {
            let home = tempfile::tempdir().unwrap().keep();
            Arc::new(Catalog::open(&home).unwrap())
        })
        .clone();
    let mut functions = FunctionRegistry::default();
    functions.register_aggregate(Arc::new(TestCount));
    functions.register_aggregate(Arc::new(TestSum));
    ExecContext {
        catalog,
        stores: Arc::new(StoreRegistry::new()),
        io: io_runtime().handle().clone(),
        functions: Arc::new(functions),
        cancel: Arc::new(AtomicBool::new(false)),
        batch_size,
        memory: Default::default(),
        scan_budget: Default::default(),
    }
}

/// A context with the real built-in functions of `FunctionRegistry::with_builtins`.
pub fn builtin_context(batch_size: usize) -> ExecContext {
    ExecContext { functions: Arc::new(FunctionRegistry::with_builtins()), ..context(batch_size) }
}

/// Runs `f` on a rayon pool of `threads` workers.
pub fn on_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

/// Every row as `v1|v2|...`, NULL spelled `NULL`, in output order.
pub fn rows(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            let values: Vec<String> = batch
                .columns()
                .iter()
                .map(|c| if c.is_null(row) { "NULL".to_string() } else { array_value_to_string(c, row).unwrap() })
                .collect();
            out.push(values.join("|"));
        }
    }
    out
}

/// `rows`, sorted (for results whose order SQL leaves open).
pub fn sorted_rows(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = rows(batches);
    out.sort();
    out
}

/// `count(*)`, `count(x)` and `count(DISTINCT x)` over Int64 arguments.
struct TestCount;

impl AggregateFunction for TestCount {
    fn name(&self) -> &str {
        "count"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        Ok(Signature { arg_types: args.to_vec(), return_type: DataType::Int64 })
    }

    fn accumulator(&self, _: &[DataType], distinct: bool) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(if distinct { Box::new(DistinctCount(Vec::new())) } else { Box::new(Count(Vec::new())) })
    }
}

struct Count(Vec<i64>);

impl GroupsAccumulator for Count {
    fn update(&mut self, args: &[ArrayRef], groups: &[usize], total: usize) -> Result<()> {
        self.0.resize(total, 0);
        for (row, group) in groups.iter().enumerate() {
            if args.iter().all(|a| a.is_valid(row)) {
                self.0[*group] += 1;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ArrayRef>> {
        Ok(vec![Arc::new(Int64Array::from(self.0.clone()))])
    }

    fn merge_state(&mut self, states: &[ArrayRef], groups: &[usize], total: usize) -> Result<()> {
        self.0.resize(total, 0);
        for (count, group) in states[0].as_primitive::<Int64Type>().values().iter().zip(groups) {
            self.0[*group] += count;
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ArrayRef> {
        self.state().map(|mut s| s.remove(0))
    }
}

/// Distinct values per group; the state is each group's values as comma-separated text.
struct DistinctCount(Vec<BTreeSet<i64>>);

impl GroupsAccumulator for DistinctCount {
    fn update(&mut self, args: &[ArrayRef], groups: &[usize], total: usize) -> Result<()> {
        self.0.resize(total, BTreeSet::new());
        let values = args[0].as_primitive::<Int64Type>();
        for (row, group) in groups.iter().enumerate() {
            if values.is_valid(row) {
                self.0[*group].insert(values.value(row));
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ArrayRef>> {
        let text: Vec<String> =
            self.0.iter().map(|s| s.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",")).collect();
        Ok(vec![Arc::new(StringArray::from(text))])
    }

    fn merge_state(&mut self, states: &[ArrayRef], groups: &[usize], total: usize) -> Result<()> {
        self.0.resize(total, BTreeSet::new());
        for (text, group) in states[0].as_string::<i32>().iter().zip(groups) {
            for value in text.unwrap_or_default().split(',').filter(|v| !v.is_empty()) {
                self.0[*group].insert(value.parse().map_err(|_| EngineError::execution("bad distinct state"))?);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ArrayRef> {
        Ok(Arc::new(Int64Array::from_iter_values(self.0.iter().map(|s| s.len() as i64))))
    }
}

/// `sum(x)` over Int64, NULL for a group without values.
struct TestSum;

impl AggregateFunction for TestSum {
    fn name(&self) -> &str {
        "sum"
    }

    fn signature(&self, args: &[DataType]) -> Result<Signature> {
        Ok(Signature { arg_types: args.to_vec(), return_type: DataType::Int64 })
    }

    fn accumulator(&self, _: &[DataType], _: bool) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(Sum(Vec::new())))
    }
}

struct Sum(Vec<Option<i64>>);

impl Sum {
    fn add(&mut self, values: &Int64Array, groups: &[usize], total: usize) {
        self.0.resize(total, None);
        for (row, group) in groups.iter().enumerate() {
            if values.is_valid(row) {
                *self.0[*group].get_or_insert(0) += values.value(row);
            }
        }
    }
}

impl GroupsAccumulator for Sum {
    fn update(&mut self, args: &[ArrayRef], groups: &[usize], total: usize) -> Result<()> {
        self.add(args[0].as_primitive::<Int64Type>(), groups, total);
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ArrayRef>> {
        Ok(vec![Arc::new(Int64Array::from(self.0.clone()))])
    }

    fn merge_state(&mut self, states: &[ArrayRef], groups: &[usize], total: usize) -> Result<()> {
        self.add(states[0].as_primitive::<Int64Type>(), groups, total);
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ArrayRef> {
        self.state().map(|mut s| s.remove(0))
    }
}
