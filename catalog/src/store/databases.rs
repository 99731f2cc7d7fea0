//! Database operations (`CREATE/DROP DATABASE`, `SHOW DATABASES`).

use rusqlite::{params, OptionalExtension};

use super::codec::{self, RawDatabase, DATABASE_COLUMNS};
use super::{normalize_name, now_ms, CatalogTxn, DEFAULT_DATABASE};
use crate::error::{CatalogError, Result};
use crate::model::{Database, Parameters, Table};

impl CatalogTxn<'_> {
    /// Creates a database (name stored lower-case, `created_at` stamped now); `false` when it
    /// existed and `if_not_exists` was given.
    pub fn create_database(&self, db: &Database, if_not_exists: bool) -> Result<bool> {
        self.require_writable("create a database")?;
        let name = normalize_name(&db.name);
        if self.database_exists(&name)? {
            return if if_not_exists { Ok(false) } else { Err(CatalogError::DatabaseExists(name)) };
        }
        self.conn
            .execute(
                "INSERT INTO databases (name, description, location_uri, parameters, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name, db.description, db.location_uri, codec::encode_parameters(&db.parameters), now_ms()],
            )
            .map_err(|e| self.store_err(e))?;
        Ok(true)
    }

    /// Looks a database up by name (case-insensitive).
    pub fn get_database(&self, name: &str) -> Result<Database> {
        let name = normalize_name(name);
        let raw = self
            .conn
            .query_row(
                &format!("SELECT {DATABASE_COLUMNS} FROM databases WHERE name = ?1"),
                [&name],
                RawDatabase::from_row,
            )
            .optional()
            .map_err(|e| codec::read_error(self.path, || format!("database '{name}'"), e))?;
        raw.ok_or(CatalogError::DatabaseNotFound(name))?.decode()
    }

    /// Whether a database of that name (case-insensitive) exists.
    pub fn database_exists(&self, name: &str) -> Result<bool> {
        self.conn
            .query_row("SELECT EXISTS (SELECT 1 FROM databases WHERE name = ?1)", [normalize_name(name)], |row| {
                row.get(0)
            })
            .map_err(|e| self.store_err(e))
    }

    /// All databases, sorted by name.
    pub fn list_databases(&self) -> Result<Vec<Database>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {DATABASE_COLUMNS} FROM databases ORDER BY name"))
            .map_err(|e| self.store_err(e))?;
        let raws = stmt
            .query_map([], RawDatabase::from_row)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| codec::read_error(self.path, || "the list of databases".into(), e))?;
        raws.into_iter().map(RawDatabase::decode).collect()
    }

    /// Drops a database and, with `cascade`, its tables, which it returns so the caller can delete
    /// the data of local ones. `default` is never dropped: unqualified names resolve there.
    pub fn drop_database(&self, name: &str, if_exists: bool, cascade: bool) -> Result<Vec<Table>> {
        self.require_writable("drop a database")?;
        let name = normalize_name(name);
        if name == DEFAULT_DATABASE {
            return Err(CatalogError::ProtectedDatabase(name));
        }
        if !self.database_exists(&name)? {
            return if if_exists { Ok(Vec::new()) } else { Err(CatalogError::DatabaseNotFound(name)) };
        }
        let tables = self.list_tables(&name)?;
        if !tables.is_empty() && !cascade {
            return Err(CatalogError::DatabaseNotEmpty { name, tables: tables.len() });
        }
        // Tables, partitions and file lists go with it through `ON DELETE CASCADE`.
        self.conn.execute("DELETE FROM databases WHERE name = ?1", [&name]).map_err(|e| self.store_err(e))?;
        Ok(tables)
    }

    /// Creates `default` if missing; every catalog has it.
    pub(super) fn ensure_default_database(&self) -> Result<()> {
        let default = Database {
            name: DEFAULT_DATABASE.to_string(),
            description: Some("Default database".to_string()),
            location_uri: None,
            parameters: Parameters::new(),
            created_at: 0,
        };
        self.create_database(&default, true).map(drop)
    }
}
