//! Table history: a snapshot of a table's schema each time it changes, with when and why, so a
//! crawler's re-crawl that widens or adds columns leaves a trail (`SHOW TABLE HISTORY t`, as
//! Glue keeps schema versions) instead of silently rewriting the table.
//!
//! Snapshots are taken explicitly by the writer that changed the schema, because only it knows
//! the reason; a plain `replace_table` of parameters or statistics records nothing.

use rusqlite::params;

use super::codec;
use super::{now_ms, Catalog, CatalogTxn};
use crate::error::Result;
use crate::model::Column;

/// One recorded schema of a table (Glue `TableVersion`).
#[derive(Debug, Clone, PartialEq)]
pub struct TableVersion {
    /// The table's `version` when the snapshot was taken.
    pub version: i64,
    pub columns: Vec<Column>,
    pub partition_keys: Vec<Column>,
    /// Unix milliseconds.
    pub recorded_at: i64,
    /// Why the schema changed, in words a user reads in `SHOW TABLE HISTORY`.
    pub reason: String,
}

impl CatalogTxn<'_> {
    /// Records the table's current columns and partition keys as a version with `reason`.
    /// Recording the same version twice keeps the later reason.
    pub fn record_table_version(&self, database: &str, table: &str, reason: &str) -> Result<TableVersion> {
        self.require_writable("record a table version")?;
        let raw = self.require_table(database, table)?;
        let id = raw.id;
        let current = raw.decode()?;
        let recorded_at = now_ms();
        self.conn
            .execute(
                "INSERT OR REPLACE INTO table_history \
                 (table_id, version, columns, partition_keys, recorded_at, reason) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    id,
                    current.version,
                    codec::encode_columns(&current.storage.columns),
                    codec::encode_columns(&current.partition_keys),
                    recorded_at,
                    reason,
                ],
            )
            .map_err(|e| self.store_err(e))?;
        Ok(TableVersion {
            version: current.version,
            columns: current.storage.columns,
            partition_keys: current.partition_keys,
            recorded_at,
            reason: reason.to_string(),
        })
    }

    /// The recorded versions of a table, oldest first.
    pub fn table_history(&self, database: &str, table: &str) -> Result<Vec<TableVersion>> {
        let raw = self.require_table(database, table)?;
        let id = raw.id;
        let owner = format!("{}.{}", database.to_lowercase(), table.to_lowercase());
        let mut stmt = self
            .conn
            .prepare(
                "SELECT version, columns, partition_keys, recorded_at, reason FROM table_history \
                 WHERE table_id = ?1 ORDER BY version",
            )
            .map_err(|e| self.store_err(e))?;
        let rows = stmt
            .query_map([id], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, String>(4)?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| codec::read_error(self.path, || format!("history of table '{owner}'"), e))?;
        rows.into_iter()
            .map(|(version, columns, keys, recorded_at, reason)| {
                let what = |field: &str| format!("{field} of version {version} of table '{owner}'");
                Ok(TableVersion {
                    version,
                    columns: codec::decode_columns(&columns, || what("columns"))?,
                    partition_keys: codec::decode_columns(&keys, || what("partition keys"))?,
                    recorded_at,
                    reason,
                })
            })
            .collect()
    }
}

impl Catalog {
    /// The recorded schema versions of a table, oldest first.
    pub fn table_history(&self, database: &str, table: &str) -> Result<Vec<TableVersion>> {
        self.read(|tx| tx.table_history(database, table))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CatalogError;
    use crate::model::{DataFormat, Parameters, StorageDescriptor, Table, TableKind};
    use crate::types::SqlType;

    fn table(columns: Vec<Column>) -> Table {
        Table {
            database: "default".into(),
            name: "events".into(),
            kind: TableKind::External,
            storage: StorageDescriptor {
                columns,
                location: "file:///lake/events/".into(),
                format: DataFormat::Parquet,
                serde_parameters: Parameters::new(),
            },
            partition_keys: vec![Column::new("year", SqlType::Int)],
            parameters: Parameters::new(),
            created_at: 0,
            updated_at: 0,
            version: 0,
        }
    }

    #[test]
    fn records_versions_in_order_and_drops_them_with_the_table() {
        let home = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(home.path()).unwrap();
        let first = table(vec![Column::new("id", SqlType::Int)]);
        catalog
            .write(|tx| {
                tx.create_table(&first, false)?;
                tx.record_table_version("default", "events", "created by crawl")
            })
            .unwrap();
        let second = table(vec![Column::new("id", SqlType::BigInt), Column::new("note", SqlType::String)]);
        catalog
            .write(|tx| {
                tx.replace_table(&second)?;
                tx.record_table_version("default", "EVENTS", "id widened int → bigint; note added")
            })
            .unwrap();
        let history = catalog.table_history("default", "events").unwrap();
        assert_eq!(history.iter().map(|v| v.version).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(history[0].columns, first.storage.columns);
        assert_eq!(history[1].columns, second.storage.columns);
        assert_eq!(history[1].partition_keys, second.partition_keys);
        assert_eq!(history[1].reason, "id widened int → bigint; note added");
        assert!(history[1].recorded_at >= history[0].recorded_at && history[0].recorded_at > 0);

        catalog.drop_table("default", "events", false).unwrap();
        catalog.create_table(&first, false).unwrap();
        assert!(catalog.table_history("default", "events").unwrap().is_empty());
        assert!(matches!(catalog.table_history("default", "missing"), Err(CatalogError::TableNotFound { .. })));
    }

    #[test]
    fn read_transactions_cannot_record() {
        let home = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(home.path()).unwrap();
        catalog.create_table(&table(vec![]), false).unwrap();
        let result = catalog.read(|tx| tx.record_table_version("default", "events", "x"));
        assert!(matches!(result, Err(CatalogError::ReadOnlyTransaction(_))));
    }
}
