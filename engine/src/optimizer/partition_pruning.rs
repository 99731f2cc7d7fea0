//! Removes the partitions of a scan that cannot hold matching rows: each scan filter that tests
//! only partition keys is evaluated against every partition's key values (typed by the key's
//! type, `__HIVE_DEFAULT_PARTITION__` read as NULL), and a partition survives only where every
//! such filter is true. This uses the catalog alone: no listing, no file is opened.

use arrow::array::{new_null_array, Array, ArrayRef, BooleanArray, StringArray};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::record_batch::RecordBatch;
use tarn_catalog::HIVE_DEFAULT_PARTITION;

use crate::error::Result;
use crate::expr::create_physical_expr;
use crate::expr::functions::FunctionRegistry;
use crate::optimizer::tree::transform_up;
use crate::optimizer::{OptimizerContext, Rule};
use crate::plan::{Expr, LogicalPlan, TableScan};

pub struct PartitionPruning;

impl Rule for PartitionPruning {
    fn name(&self) -> &str {
        "partition_pruning"
    }

    fn rewrite(&self, plan: LogicalPlan, ctx: &OptimizerContext) -> Result<LogicalPlan> {
        transform_up(plan, &mut |node| match node {
            LogicalPlan::Scan(scan) if scan.table.is_partitioned() && !scan.partitions.is_empty() => {
                Ok(LogicalPlan::Scan(prune(scan, &ctx.functions)))
            }
            other => Ok(other),
        })
    }
}

/// `scan` with the partitions its key-only filters rule out removed and counted.
fn prune(mut scan: TableScan, functions: &FunctionRegistry) -> TableScan {
    let first_key = scan.table.storage.columns.len();
    let key_filters: Vec<&Expr> = scan
        .filters
        .iter()
        .filter(|f| {
            let mut cols = Vec::new();
            f.collect_columns(&mut cols);
            !cols.is_empty() && cols.iter().all(|c| *c >= first_key)
        })
        .collect();
    if key_filters.is_empty() {
        return scan;
    }
    let Some(batch) = partition_batch(&scan, first_key) else { return scan };
    let mut keep = vec![true; scan.partitions.len()];
    for filter in key_filters {
        // A filter that cannot be evaluated here prunes nothing; the scan still applies it.
        let Some(result) = evaluate(filter, &scan, &batch, functions) else { continue };
        for (k, row) in keep.iter_mut().zip(0..result.len()) {
            *k &= result.is_valid(row) && result.value(row);
        }
    }
    let before = scan.partitions.len();
    let mut flags = keep.into_iter();
    scan.partitions.retain(|_| flags.next().unwrap_or(true));
    scan.partitions_pruned += before - scan.partitions.len();
    scan
}

/// One row per partition over the table's schema: partition keys hold the partition's values,
/// data columns are NULL (no filter evaluated here reads them).
fn partition_batch(scan: &TableScan, first_key: usize) -> Option<RecordBatch> {
    let rows = scan.partitions.len();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(scan.table_schema.fields().len());
    for (i, field) in scan.table_schema.fields().iter().enumerate() {
        if i < first_key {
            columns.push(new_null_array(field.data_type(), rows));
            continue;
        }
        let text: StringArray = scan
            .partitions
            .iter()
            .map(|p| p.values.get(i - first_key).filter(|v| v.as_str() != HIVE_DEFAULT_PARTITION).map(String::as_str))
            .collect();
        // A value that does not parse as the key's type becomes NULL (safe cast) and so matches no
        // comparison; such a partition could not be read as that type anyway.
        let typed =
            cast_with_options(&text, field.data_type(), &CastOptions { safe: true, ..Default::default() }).ok()?;
        columns.push(typed);
    }
    RecordBatch::try_new(scan.table_schema.clone(), columns).ok()
}

fn evaluate(
    filter: &Expr,
    scan: &TableScan,
    batch: &RecordBatch,
    functions: &FunctionRegistry,
) -> Option<BooleanArray> {
    let physical = create_physical_expr(filter, &scan.table_schema, functions).ok()?;
    let array = physical.evaluate(batch).ok()?.into_array(batch.num_rows());
    array.as_any().downcast_ref::<BooleanArray>().cloned()
}
