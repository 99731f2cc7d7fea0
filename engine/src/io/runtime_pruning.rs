//! What a scan does with the runtime filters joins above it published (see
//! `exec::runtime_filter`): decided once when the scan opens, after the build sides ran.
//!
//! A published key domain becomes ordinary conjuncts over the scan's column (`col >= min`,
//! `col <= max`, `col IN (values)`), so the same machinery as pushed-down filters applies it:
//! row-group statistics, partition values, and a vectorised row filter before the batch leaves
//! the scan. The conjuncts are only a superset test of "has a join partner": the join itself
//! still checks every pair. A domain with a key set (too many integer keys for a value list)
//! tests rows against the set instead of the bounds (the set lies within them), one pass over the
//! key column; the bounds still prune row groups.
//!
//! Row tests are adaptive (as in DuckDB and Velox): a filter whose build side holds (nearly)
//! every probe key costs a pass per batch and drops nothing — q18's 150k customers tested
//! against every order. Each filter counts what it drops over windows of rows; after a window
//! in which it dropped less than a sixteenth, it is switched off and only every
//! [`RETEST_EVERY`]th batch is still tested, so a filter that starts dropping later (keys
//! clustered in the file) is switched back on. Skipping is always exact: the join still checks
//! every pair, the filter only ever dropped rows the join would drop.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch};
use arrow::compute::and;
use arrow::datatypes::{Field, Schema, SchemaRef};

use crate::error::Result;
use crate::exec::key_set::KeySet;
use crate::exec::runtime_filter::{KeyDomain, RuntimeFilter};
use crate::expr::functions::FunctionRegistry;
use crate::expr::planner::create_physical_expr;
use crate::expr::{ColumnarValue, PhysicalExprRef};
use crate::io::metrics::ScanMetrics;
use crate::io::pruning::RowGroupPruner;
use crate::plan::ScalarValue;

/// Rows a row test is judged over (eight default batches): short enough that a useless
/// filter stops early in a scan of millions of rows, long enough to see more than one page.
const WINDOW_ROWS: u64 = 64 * 1024;
/// A row test dropping fewer than 1/this of a window's rows is switched off: dropping a few
/// rows saves a few join probes but costs a copy of every column of the batch, besides the test.
const MIN_DROP_SHARE: u64 = 16;
/// A switched-off row test still tests every this-many-th batch, to notice when it pays again.
const RETEST_EVERY: u64 = 16;

/// The runtime filters of one scan execution, turned into what the scan can apply.
#[derive(Default)]
pub struct RuntimeRestriction {
    /// Filters whose build side had published a domain when the scan opened.
    pub published: usize,
    /// Some build side had no non-NULL key: no probe row can match, so the scan reads nothing.
    pub empty: bool,
    /// The domains over data columns, for row-group statistics (table column indices).
    pub pruner: RowGroupPruner,
    /// The domains over partition keys: (key index among the partition keys, test of one value).
    partition_tests: Vec<(usize, Vec<PhysicalExprRef>)>,
    /// Key sets over partition keys: (key index among the partition keys, set).
    partition_sets: Vec<(usize, Arc<KeySet>)>,
    /// The row tests of the filters over data columns the scan reads.
    row_tests: Vec<RowTest>,
}

/// One runtime filter's test of decoded rows, and whether it currently pays.
struct RowTest {
    test: Test,
    usefulness: Usefulness,
}

enum Test {
    /// The domain's conjuncts, bound to the read schema (NULL: fails).
    Conjuncts(Vec<PhysicalExprRef>),
    /// Membership of the column at this position of the read schema in a key set.
    Set(usize, Arc<KeySet>),
}

/// What one row test dropped in the current window, shared by every worker of the scan. The
/// counters are updated without a lock: a window closed twice by racing workers only changes
/// when a test is switched, never which rows may pass.
#[derive(Default)]
struct Usefulness {
    /// Batches seen, tested or not.
    batches: AtomicU64,
    /// Rows tested in the current window, and of those dropped.
    tested: AtomicU64,
    dropped: AtomicU64,
    /// Whether the test dropped too few rows in the last window to be worth running.
    off: AtomicBool,
}

impl Usefulness {
    /// Whether the next batch is to be tested.
    fn tests_next(&self) -> bool {
        let batch = self.batches.fetch_add(1, Ordering::Relaxed);
        !self.off.load(Ordering::Relaxed) || batch.is_multiple_of(RETEST_EVERY)
    }

    /// Records a tested batch of `rows` of which `dropped` were dropped; closes the window when
    /// it is full, switching the test off or on for the next one.
    fn record(&self, rows: u64, dropped: u64) {
        let tested = self.tested.fetch_add(rows, Ordering::Relaxed) + rows;
        let dropped = self.dropped.fetch_add(dropped, Ordering::Relaxed) + dropped;
        if tested >= WINDOW_ROWS {
            self.off.store(dropped * MIN_DROP_SHARE < tested, Ordering::Relaxed);
            self.tested.store(0, Ordering::Relaxed);
            self.dropped.store(0, Ordering::Relaxed);
        }
    }
}

/// Where the scan's columns are: what `RuntimeRestriction::new` needs of a table scan.
pub struct ScanColumns<'a> {
    /// Every column of the table: data columns, then partition keys.
    pub table_schema: &'a SchemaRef,
    pub data_count: usize,
    /// Table columns read, ascending, and their schema.
    pub read_columns: &'a [usize],
    pub read_schema: &'a SchemaRef,
}

impl RuntimeRestriction {
    /// The restriction of the published filters among `filters` (unpublished ones restrict
    /// nothing: their build side has not run, as under plain `EXPLAIN`).
    pub fn new(
        filters: &[Arc<RuntimeFilter>],
        columns: &ScanColumns<'_>,
        functions: &FunctionRegistry,
    ) -> Result<RuntimeRestriction> {
        let mut restriction = RuntimeRestriction::default();
        let mut data_conjuncts = Vec::new();
        for filter in filters {
            let Some(domain) = filter.domain() else { continue };
            restriction.published += 1;
            let Some(conjuncts) = domain.conjuncts(filter.column) else {
                debug_assert_eq!(domain, &KeyDomain::Empty);
                restriction.empty = true;
                continue;
            };
            if filter.column >= columns.data_count {
                let field = columns.table_schema.field(filter.column);
                let single = Schema::new(vec![field.clone()]);
                let tests = conjuncts
                    .iter()
                    .map(|c| create_physical_expr(&c.clone().remap_columns(&|_| 0), &single, functions))
                    .collect::<Result<Vec<_>>>()?;
                restriction.partition_tests.push((filter.column - columns.data_count, tests));
                if let Some(set) = domain.key_set() {
                    restriction.partition_sets.push((filter.column - columns.data_count, set.clone()));
                }
                continue;
            }
            if let Ok(position) = columns.read_columns.binary_search(&filter.column) {
                let test = match domain.key_set() {
                    Some(set) => Test::Set(position, set.clone()),
                    None => Test::Conjuncts(
                        conjuncts
                            .iter()
                            .map(|c| {
                                create_physical_expr(
                                    &c.clone().remap_columns(&|_| position),
                                    columns.read_schema,
                                    functions,
                                )
                            })
                            .collect::<Result<_>>()?,
                    ),
                };
                restriction.row_tests.push(RowTest { test, usefulness: Usefulness::default() });
            }
            data_conjuncts.extend(conjuncts);
        }
        restriction.pruner = RowGroupPruner::new(&data_conjuncts, columns.table_schema, columns.data_count);
        Ok(restriction)
    }

    /// Whether a partition whose keys have `values` (typed, in partition-key order) can hold a
    /// row with a join partner. A NULL key never has one.
    pub fn keeps_partition(&self, values: &[ScalarValue], fields: &[Field]) -> Result<bool> {
        for (key, tests) in &self.partition_tests {
            let (Some(value), Some(field)) = (values.get(*key), fields.get(*key)) else { continue };
            if value.is_null() {
                return Ok(false);
            }
            let batch = RecordBatch::try_new(Arc::new(Schema::new(vec![field.clone()])), vec![value.to_array(1)])?;
            for test in tests {
                let passes = match test.evaluate(&batch)? {
                    ColumnarValue::Scalar(ScalarValue::Boolean(Some(b))) => b,
                    ColumnarValue::Scalar(_) => false,
                    ColumnarValue::Array(a) => {
                        a.as_any().downcast_ref::<BooleanArray>().is_some_and(|b| b.is_valid(0) && b.value(0))
                    }
                };
                if !passes {
                    return Ok(false);
                }
            }
        }
        for (key, set) in &self.partition_sets {
            let Some(value) = values.get(*key) else { continue };
            let kept = set.mask(value.to_array(1).as_ref()).is_none_or(|m| m.value(0));
            if !kept {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether any row filter applies to decoded batches.
    pub fn filters_rows(&self) -> bool {
        !self.row_tests.is_empty()
    }

    /// The rows of `batch` (in the scan's read schema) that may have a join partner; `None`
    /// when no row test ran. A test switched off lets the batch through untested (counted in
    /// `metrics.rows_runtime_skipped`, once per test).
    pub fn row_mask(&self, batch: &RecordBatch, metrics: &ScanMetrics) -> Result<Option<BooleanArray>> {
        let rows = batch.num_rows();
        let mut mask: Option<BooleanArray> = None;
        if rows == 0 {
            return Ok(mask);
        }
        for row_test in &self.row_tests {
            if !row_test.usefulness.tests_next() {
                ScanMetrics::add(&metrics.rows_runtime_skipped, rows as u64);
                continue;
            }
            let Some(current) = row_test.test.mask(batch)? else { continue };
            // `true_count` counts valid set bits only: a NULL (a NULL key) is dropped too.
            row_test.usefulness.record(rows as u64, (rows - current.true_count()) as u64);
            mask = Some(match mask {
                Some(m) => and(&m, &current)?,
                None => current,
            });
        }
        Ok(mask)
    }
}

impl Test {
    /// The rows of `batch` passing this test; `None` when it keeps them all without a mask.
    fn mask(&self, batch: &RecordBatch) -> Result<Option<BooleanArray>> {
        match self {
            Test::Set(position, set) => Ok(set.mask(batch.column(*position).as_ref())),
            Test::Conjuncts(conjuncts) => {
                let mut mask: Option<BooleanArray> = None;
                for conjunct in conjuncts {
                    let current = match conjunct.evaluate(batch)? {
                        ColumnarValue::Array(a) => match a.as_any().downcast_ref::<BooleanArray>() {
                            Some(b) => b.clone(),
                            None => continue,
                        },
                        ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))) => continue,
                        ColumnarValue::Scalar(_) => BooleanArray::from(vec![false; batch.num_rows()]),
                    };
                    mask = Some(match mask {
                        Some(m) => and(&m, &current)?,
                        None => current,
                    });
                }
                Ok(mask)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{ArrayRef, Int64Array};
    use arrow::datatypes::DataType;

    use super::*;
    use crate::exec::runtime_filter::MAX_DOMAIN_VALUES;

    /// A restriction of column 1 of a three-column table (`a`, `k`, `b`, all read) by `keys`.
    fn restricted(keys: Vec<i64>) -> RuntimeRestriction {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("k", DataType::Int64, true),
            Field::new("b", DataType::Int64, true),
        ]));
        let filter = Arc::new(RuntimeFilter::new(1));
        filter.publish_from(&[Arc::new(Int64Array::from(keys)) as ArrayRef]).unwrap();
        let columns =
            ScanColumns { table_schema: &schema, data_count: 3, read_columns: &[0, 1, 2], read_schema: &schema };
        RuntimeRestriction::new(&[filter], &columns, &FunctionRegistry::default()).unwrap()
    }

    fn mask_of(restriction: &RuntimeRestriction, k: Vec<Option<i64>>) -> Vec<bool> {
        let n = k.len();
        let column = |v: Vec<Option<i64>>| Arc::new(Int64Array::from(v)) as ArrayRef;
        let batch = RecordBatch::try_from_iter([
            ("a", column(vec![Some(0); n])),
            ("k", column(k)),
            ("b", column(vec![None; n])),
        ])
        .unwrap();
        let mask = restriction.row_mask(&batch, &ScanMetrics::default()).unwrap().expect("a row filter");
        mask.iter().map(|b| b == Some(true)).collect()
    }

    /// Whether the one row test is a key set (or else conjuncts, how many).
    fn is_set(restriction: &RuntimeRestriction) -> bool {
        matches!(restriction.row_tests.as_slice(), [RowTest { test: Test::Set(1, _), .. }])
    }

    fn conjunct_count(restriction: &RuntimeRestriction) -> usize {
        match restriction.row_tests.as_slice() {
            [RowTest { test: Test::Conjuncts(c), .. }] => c.len(),
            _ => 0,
        }
    }

    /// A batch of `n` rows whose key column `k` holds `key(i)` in row `i`.
    fn keyed_batch(n: usize, key: impl Fn(i64) -> i64) -> RecordBatch {
        let column = |v: Vec<i64>| Arc::new(Int64Array::from(v)) as ArrayRef;
        RecordBatch::try_from_iter([
            ("a", column(vec![0; n])),
            ("k", column((0..n as i64).map(key).collect())),
            ("b", column(vec![0; n])),
        ])
        .unwrap()
    }

    #[test]
    fn many_keys_drop_rows_by_their_key_set() {
        // Every third integer: too many for a value list, so the rows are tested against a set.
        let keys: Vec<i64> = (0..3 * MAX_DOMAIN_VALUES as i64).map(|i| 10 + 3 * i).collect();
        let last = *keys.last().unwrap();
        let restriction = restricted(keys);
        assert!(restriction.filters_rows());
        assert!(is_set(&restriction));
        let probe = vec![Some(10), Some(11), Some(13), None, Some(9), Some(last), Some(last + 3)];
        assert_eq!(mask_of(&restriction, probe), [true, false, true, false, false, true, false]);
    }

    #[test]
    fn few_keys_drop_rows_by_their_set_and_keys_filling_their_range_by_bounds() {
        let restriction = restricted(vec![4, 8, 15]);
        assert!(is_set(&restriction));
        assert_eq!(mask_of(&restriction, vec![Some(4), Some(5), None, Some(15)]), [true, false, false, true]);
        // Every integer from 4 to 6: the bounds alone say it all.
        let restriction = restricted(vec![5, 4, 6]);
        assert_eq!(conjunct_count(&restriction), 2);
        assert_eq!(
            mask_of(&restriction, vec![Some(3), Some(4), None, Some(6), Some(7)]),
            [false, true, false, true, false]
        );
    }

    #[test]
    fn a_row_test_dropping_nothing_is_switched_off_and_retested() {
        // Every even key: a set the probe keys (all even) always pass.
        let restriction = restricted((0..4 * MAX_DOMAIN_VALUES as i64).map(|i| 2 * i).collect());
        let metrics = ScanMetrics::default();
        let batch = keyed_batch(1024, |i| 2 * i);
        let window = (WINDOW_ROWS / 1024) as usize;
        // The first window is tested whole: each batch gets a mask that keeps every row.
        for _ in 0..window {
            let mask = restriction.row_mask(&batch, &metrics).unwrap().expect("tested");
            assert_eq!(mask.true_count(), 1024);
        }
        assert_eq!(ScanMetrics::get(&metrics.rows_runtime_skipped), 0);
        // Then it is off: batches pass untested but every RETEST_EVERY-th.
        let masks: Vec<bool> =
            (0..2 * RETEST_EVERY).map(|_| restriction.row_mask(&batch, &metrics).unwrap().is_some()).collect();
        assert_eq!(masks.iter().filter(|m| **m).count(), 2, "{masks:?}");
        assert_eq!(ScanMetrics::get(&metrics.rows_runtime_skipped), (2 * RETEST_EVERY - 2) * 1024);
        // A switched-off test still filters the batches it samples, and once they drop rows again
        // (odd keys now) a full window switches it back on.
        let odd = keyed_batch(1024, |i| 2 * i + 1);
        let mut tested = 0;
        for _ in 0..(window as u64 + 1) * RETEST_EVERY {
            if let Some(mask) = restriction.row_mask(&odd, &metrics).unwrap() {
                assert_eq!(mask.true_count(), 0);
                tested += 1;
            }
        }
        assert!(tested >= window, "{tested}");
        let skipped = ScanMetrics::get(&metrics.rows_runtime_skipped);
        for _ in 0..RETEST_EVERY {
            assert_eq!(restriction.row_mask(&odd, &metrics).unwrap().map(|m| m.true_count()), Some(0));
        }
        assert_eq!(ScanMetrics::get(&metrics.rows_runtime_skipped), skipped);
    }

    #[test]
    fn a_row_test_that_drops_rows_stays_on() {
        // Keys 0..1023 of a set of the even ones: half the rows go, window after window.
        let restriction = restricted((0..4 * MAX_DOMAIN_VALUES as i64).map(|i| 2 * i).collect());
        let metrics = ScanMetrics::default();
        let batch = keyed_batch(1024, |i| i);
        for _ in 0..4 * WINDOW_ROWS / 1024 {
            let mask = restriction.row_mask(&batch, &metrics).unwrap().expect("tested");
            assert_eq!(mask.true_count(), 512);
        }
        assert_eq!(ScanMetrics::get(&metrics.rows_runtime_skipped), 0);
        // Bounds alone (a dense set) are judged the same way.
        let restriction = restricted((10..20).collect());
        assert_eq!(conjunct_count(&restriction), 2);
        let inside = keyed_batch(1024, |i| 10 + i % 10);
        for _ in 0..WINDOW_ROWS / 1024 {
            restriction.row_mask(&inside, &metrics).unwrap();
        }
        // (The window ends on a multiple of RETEST_EVERY batches: the next batch is sampled.)
        assert!(restriction.row_mask(&inside, &metrics).unwrap().is_some());
        let before = ScanMetrics::get(&metrics.rows_runtime_skipped);
        assert!(restriction.row_mask(&inside, &metrics).unwrap().is_none());
        assert_eq!(ScanMetrics::get(&metrics.rows_runtime_skipped), before + 1024);
    }
}
