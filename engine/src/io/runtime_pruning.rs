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
    /// Key sets over partition keys: (key index among the partition keys, set).
    partition_sets: Vec<(usize, Arc<KeySet>)>,
    /// The domains over data columns the scan reads, bound to its read schema.
    row_filters: Vec<PhysicalExprRef>,
    /// Key sets over data columns the scan reads: (position in the read schema, set).
    row_sets: Vec<(usize, Arc<KeySet>)>,
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
                if let Some(set) = domain.key_set() {
                    restriction.row_sets.push((position, set.clone()));
                    data_conjuncts.extend(conjuncts);
                    continue;
                }
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
        !self.row_filters.is_empty() || !self.row_sets.is_empty()
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
        for (position, set) in &self.row_sets {
            let Some(current) = set.mask(batch.column(*position).as_ref()) else { continue };
            mask = Some(match mask {
                Some(m) => and(&m, &current)?,
                None => current,
            });
        }
        Ok(mask)
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
        let mask = restriction.row_mask(&batch).unwrap().expect("a row filter");
        mask.iter().map(|b| b == Some(true)).collect()
    }

    #[test]
    fn many_keys_drop_rows_by_their_key_set() {
        // Every third integer: too many for a value list, so the rows are tested against a set.
        let keys: Vec<i64> = (0..3 * MAX_DOMAIN_VALUES as i64).map(|i| 10 + 3 * i).collect();
        let last = *keys.last().unwrap();
        let restriction = restricted(keys);
        assert!(restriction.filters_rows());
        assert!(restriction.row_sets.len() == 1 && restriction.row_filters.is_empty());
        let probe = vec![Some(10), Some(11), Some(13), None, Some(9), Some(last), Some(last + 3)];
        assert_eq!(mask_of(&restriction, probe), [true, false, true, false, false, true, false]);
    }

    #[test]
    fn few_keys_drop_rows_by_their_set_and_keys_filling_their_range_by_bounds() {
        let restriction = restricted(vec![4, 8, 15]);
        assert!(restriction.row_sets.len() == 1 && restriction.row_filters.is_empty());
        assert_eq!(mask_of(&restriction, vec![Some(4), Some(5), None, Some(15)]), [true, false, false, true]);
        // Every integer from 4 to 6: the bounds alone say it all.
        let restriction = restricted(vec![5, 4, 6]);
        assert!(restriction.row_sets.is_empty() && restriction.row_filters.len() == 2);
        assert_eq!(
            mask_of(&restriction, vec![Some(3), Some(4), None, Some(6), Some(7)]),
            [false, true, false, true, false]
        );
    }
}
