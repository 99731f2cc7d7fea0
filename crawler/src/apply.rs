//! Applying a plan: every change in one catalog transaction, so a crash or a failure mid-apply
//! leaves the catalog as it was before the crawl (SQLite rolls an uncommitted transaction back),
//! and readers see all of the crawl or none of it.

use tarn_catalog::{Catalog, CatalogError, Database};

use crate::error::{CrawlError, Result};
use crate::options::DeleteBehavior;
use crate::plan::{CrawlPlan, TableAction};

/// What applying a plan changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplySummary {
    pub database_created: bool,
    pub tables_created: usize,
    pub tables_updated: usize,
    pub tables_dropped: usize,
    pub partitions_added: usize,
    pub partitions_updated: usize,
    pub partitions_dropped: usize,
    /// Schema versions recorded in the tables' history.
    pub schema_versions: usize,
}

/// Applies `plan` in one write transaction. The catalog must still be as the plan saw it: a
/// table changed by someone else in between fails the whole apply with `Conflict`, unchanged.
pub fn apply_plan(catalog: &Catalog, plan: &CrawlPlan) -> Result<ApplySummary> {
    let outcome = catalog.write(|tx| {
        // Check everything before the first write, so a conflict commits an empty transaction.
        for table in &plan.tables {
            let Some(planned) = table.base_version else { continue };
            if matches!(table.action, TableAction::Unchanged | TableAction::Conflict(_)) {
                continue;
            }
            let found = tx.get_table(&plan.database, &table.name)?.version;
            if found != planned {
                return Ok(Err(CrawlError::Conflict { table: table.name.clone(), planned, found }));
            }
        }
        let mut summary = ApplySummary::default();
        if plan.create_database {
            let database = Database {
                name: plan.database.clone(),
                description: Some(format!("created by tarn crawl {}", plan.source)),
                location_uri: Some(plan.source.clone()),
                parameters: Default::default(),
                created_at: 0,
            };
            summary.database_created = tx.create_database(&database, true)?;
        }
        for table in &plan.tables {
            match table.action {
                TableAction::Create => {
                    tx.create_table(&table.table, false)?;
                    summary.tables_created += 1;
                }
                TableAction::Update => {
                    let current = tx.get_table(&plan.database, &table.name)?;
                    if current != table.table {
                        tx.replace_table(&table.table)?;
                    }
                    summary.tables_updated += 1;
                }
                TableAction::Unchanged | TableAction::Conflict(_) => continue,
            }
            if let Some(reason) = &table.schema_change {
                tx.record_table_version(&plan.database, &table.name, reason)?;
                summary.schema_versions += 1;
            }
            let mut drop_values: Vec<Vec<String>> = table.update_partitions.iter().map(|p| p.values.clone()).collect();
            if plan.delete_behavior == DeleteBehavior::Delete {
                drop_values.extend(table.vanished_partitions.iter().map(|p| p.values.clone()));
                summary.partitions_dropped += table.vanished_partitions.len();
            }
            if !drop_values.is_empty() {
                tx.drop_partitions(&plan.database, &table.name, &drop_values, false)?;
            }
            let mut additions = table.add_partitions.clone();
            additions.extend(table.update_partitions.iter().cloned());
            if !additions.is_empty() {
                tx.add_partitions(&plan.database, &table.name, &additions, false)?;
            }
            summary.partitions_added += table.add_partitions.len();
            summary.partitions_updated += table.update_partitions.len();
        }
        if plan.delete_behavior == DeleteBehavior::Delete {
            for vanished in &plan.vanished_tables {
                tx.drop_table(&plan.database, &vanished.name, true)?;
                summary.tables_dropped += 1;
            }
        }
        let known = &plan.known;
        if !known.is_empty() {
            tx.record_crawled_files(&known.source, &known.sampled_with, known.records(), &known.removed)?;
        }
        Ok::<_, CatalogError>(Ok(summary))
    })?;
    outcome
}
