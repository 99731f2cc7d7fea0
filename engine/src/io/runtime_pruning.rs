//! What a scan does with the runtime filters joins above it published (see
//! `exec::runtime_filter`): decided once when the scan opens, after the build sides ran.
//!
//! A published key domain becomes ordinary conjuncts over the scan's column (`col >= min`,
//! `col <= max`, `col IN (values)`), so the same machinery as pushed-down filters applies it:
//! row-group statistics, partition values, and a vectorised row filter before the batch leaves
//! the scan. The conjuncts are only a superset test of "has a join partner": the join itself
//! still checks every pair.

use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch};
use arrow::compute::and;
use arrow::datatypes::{Field, Schema, SchemaRef};

use crate::error::Result;
use crate::exec::runtime_filter::{KeyDomain, RuntimeFilter};
use crate::expr::functions::FunctionRegistry;
use crate::expr::planner::create_physical_expr;
use crate::expr::{ColumnarValue, PhysicalExprRef};
use crate::io::pruning::RowGroupPruner;
use crate::plan::ScalarValue;

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
    /// The domains over data columns the scan reads, bound to its read schema.
    row_filters: Vec<PhysicalExprRef>,
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
                continue;
            }
            if let Ok(position) = columns.read_columns.binary_search(&filter.column) {
                for conjunct in &conjuncts {
                    let bound = conjunct.clone().remap_columns(&|_| position);
                    restriction.row_filters.push(create_physical_expr(&bound, columns.read_schema, functions)?);
                }
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
        Ok(true)
    }

    /// Whether any row filter applies to decoded batches.
    pub fn filters_rows(&self) -> bool {
        !self.row_filters.is_empty()
    }

    /// The rows of `batch` (in the scan's read schema) that may have a join partner; `None`
    /// when there is no row filter.
    pub fn row_mask(&self, batch: &RecordBatch) -> Result<Option<BooleanArray>> {
        let mut mask: Option<BooleanArray> = None;
        for filter in &self.row_filters {
            let current = match filter.evaluate(batch)? {
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
