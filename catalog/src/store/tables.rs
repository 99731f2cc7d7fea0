//! Table operations (`CREATE/DROP TABLE`, `SHOW TABLES`, schema changes).

use rusqlite::{params, OptionalExtension};

use super::codec::{self, RawTable, TABLE_COLUMNS};
use super::{normalize_name, now_ms, CatalogTxn};
use crate::error::{CatalogError, Result};
use crate::model::Table;

impl CatalogTxn<'_> {
    /// Creates a table. The store owns the bookkeeping fields: names are stored lower-case,
    /// `created_at`/`updated_at` are stamped now and `version` starts at 1, whatever `table`
    /// carries. `false` when it existed and `if_not_exists` was given.
    pub fn create_table(&self, table: &Table, if_not_exists: bool) -> Result<bool> {
        self.require_writable("create a table")?;
        let database = normalize_name(&table.database);
        let name = normalize_name(&table.name);
        if !self.database_exists(&database)? {
            return Err(CatalogError::DatabaseNotFound(database));
        }
        if self.find_table(&database, &name)?.is_some() {
            return if if_not_exists { Ok(false) } else { Err(CatalogError::TableExists { database, name }) };
        }
        let now = now_ms();
        self.conn
            .execute(
                "INSERT INTO tables (database, name, kind, location, format, columns, \
                 serde_parameters, partition_keys, parameters, created_at, updated_at, version) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, 1)",
                params![
                    database,
                    name,
                    codec::encode_kind(table.kind),
                    table.storage.location,
                    table.storage.format.as_str(),
                    codec::encode_columns(&table.storage.columns),
                    codec::encode_parameters(&table.storage.serde_parameters),
                    codec::encode_columns(&table.partition_keys),
                    codec::encode_parameters(&table.parameters),
                    now,
                ],
            )
            .map_err(|e| self.store_err(e))?;
        Ok(true)
    }

    /// Looks a table up; `DatabaseNotFound` when its database is missing, else `TableNotFound`.
    pub fn get_table(&self, database: &str, name: &str) -> Result<Table> {
        self.require_table(database, name)?.decode()
    }

    /// Whether the table exists (`false` also when its database does not).
    pub fn table_exists(&self, database: &str, name: &str) -> Result<bool> {
        Ok(self.find_table(&normalize_name(database), &normalize_name(name))?.is_some())
    }

    /// The tables of a database, sorted by name.
    pub fn list_tables(&self, database: &str) -> Result<Vec<Table>> {
        let database = normalize_name(database);
        if !self.database_exists(&database)? {
            return Err(CatalogError::DatabaseNotFound(database));
        }
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {TABLE_COLUMNS} FROM tables WHERE database = ?1 ORDER BY name"))
            .map_err(|e| self.store_err(e))?;
        let raws = stmt
            .query_map([&database], RawTable::from_row)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| codec::read_error(self.path, || format!("tables of database '{database}'"), e))?;
        raws.into_iter().map(RawTable::decode).collect()
    }

    /// Drops a table with its partitions and file list; returns it so the caller can delete a
    /// local table's data. `None` when it was missing and `if_exists` was given.
    pub fn drop_table(&self, database: &str, name: &str, if_exists: bool) -> Result<Option<Table>> {
        self.require_writable("drop a table")?;
        let raw = match self.find_table(&normalize_name(database), &normalize_name(name))? {
            Some(raw) => raw,
            None if if_exists => return Ok(None),
            None => return Err(self.missing_table(database, name)?),
        };
        let id = raw.id;
        let table = raw.decode()?;
        // Partitions and files go with it through `ON DELETE CASCADE`.
        self.conn.execute("DELETE FROM tables WHERE id = ?1", [id]).map_err(|e| self.store_err(e))?;
        Ok(Some(table))
    }

    /// Replaces the definition of an existing table (found by its database and name), keeping
    /// `created_at`, stamping `updated_at` and incrementing `version`, as Glue keeps schema
    /// versions. Returns the table as stored. Partitions and files are left as they are.
    pub fn replace_table(&self, table: &Table) -> Result<Table> {
        self.require_writable("replace a table")?;
        let old = self.require_table(&table.database, &table.name)?;
        let id = old.id;
        let old = old.decode()?;
        let stored = Table {
            database: old.database,
            name: old.name,
            created_at: old.created_at,
            // Never move backwards, even if the clock does: readers compare these.
            updated_at: now_ms().max(old.updated_at),
            version: old.version + 1,
            ..table.clone()
        };
        self.conn
            .execute(
                "UPDATE tables SET kind = ?2, location = ?3, format = ?4, columns = ?5, \
                 serde_parameters = ?6, partition_keys = ?7, parameters = ?8, updated_at = ?9, \
                 version = ?10 WHERE id = ?1",
                params![
                    id,
                    codec::encode_kind(stored.kind),
                    stored.storage.location,
                    stored.storage.format.as_str(),
                    codec::encode_columns(&stored.storage.columns),
                    codec::encode_parameters(&stored.storage.serde_parameters),
                    codec::encode_columns(&stored.partition_keys),
                    codec::encode_parameters(&stored.parameters),
                    stored.updated_at,
                    stored.version,
                ],
            )
            .map_err(|e| self.store_err(e))?;
        Ok(stored)
    }

    /// The raw row of a table by normalised names, if present.
    fn find_table(&self, database: &str, name: &str) -> Result<Option<RawTable>> {
        self.conn
            .query_row(
                &format!("SELECT {TABLE_COLUMNS} FROM tables WHERE database = ?1 AND name = ?2"),
                [database, name],
                RawTable::from_row,
            )
            .optional()
            .map_err(|e| codec::read_error(self.path, || format!("table '{database}.{name}'"), e))
    }

    /// The raw row of a table that must exist (names as the user wrote them).
    pub(super) fn require_table(&self, database: &str, name: &str) -> Result<RawTable> {
        match self.find_table(&normalize_name(database), &normalize_name(name))? {
            Some(raw) => Ok(raw),
            None => Err(self.missing_table(database, name)?),
        }
    }

    /// The error for a missing table: its database's absence if that is the cause.
    fn missing_table(&self, database: &str, name: &str) -> Result<CatalogError> {
        let database = normalize_name(database);
        Ok(if self.database_exists(&database)? {
            CatalogError::TableNotFound { database, name: normalize_name(name) }
        } else {
            CatalogError::DatabaseNotFound(database)
        })
    }
}
