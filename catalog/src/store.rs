//! The persistent, transactional catalog: one SQLite file, `$TARN_HOME/catalog.db`, in WAL mode.
//!
//! SQLite because two Tarn processes on one home must work at once (embedded Rust KV stores refuse
//! a second process, design §4). Every user-visible change is one transaction: writers take the
//! write lock up front (`BEGIN IMMEDIATE`) so a second writer waits on the busy timeout instead of
//! failing with `SQLITE_BUSY` when a deferred transaction tries to upgrade; readers see a snapshot.
//!
//! The operations live in submodules by the kind of object they touch; all are methods of
//! [`CatalogTxn`], and [`Catalog`] wraps the common ones in one transaction each.

mod codec;
mod crawled_files;
mod databases;
mod files;
pub mod history;
mod partitions;
mod pending_writes;
pub use crawled_files::{CrawledFile, CrawledFiles};
pub use pending_writes::PendingWrite;
mod schema;
mod tables;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{CatalogError, Result};
use crate::model::{DataFile, Database, Partition, Table};

/// The name of the database every catalog has and unqualified names resolve in (as in Athena).
pub const DEFAULT_DATABASE: &str = "default";

/// The file name of the catalog inside `$TARN_HOME`.
pub const CATALOG_FILE: &str = "catalog.db";

/// A handle on the catalog of one Tarn home; `Send + Sync`, share it through an `Arc`.
pub struct Catalog {
    /// One connection serialised by a mutex: SQLite allows one writer anyway, and reads are short.
    conn: Mutex<Connection>,
    path: PathBuf,
    /// `path` as text, the context of every store error.
    path_text: String,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").field("path", &self.path).finish()
    }
}

impl Catalog {
    /// Opens (creating if needed) the catalog in `home`, migrating its schema to this version and
    /// making sure the `default` database exists.
    pub fn open(home: &Path) -> Result<Catalog> {
        std::fs::create_dir_all(home)
            .map_err(|source| CatalogError::Io { path: home.display().to_string(), source })?;
        let path = home.join(CATALOG_FILE);
        let path_text = path.display().to_string();
        let conn = schema::open_connection(&path, &path_text)?;
        let catalog = Catalog { conn: Mutex::new(conn), path, path_text };
        catalog.write(|tx| {
            tx.ensure_default_database()?;
            Ok(())
        })?;
        Ok(catalog)
    }

    /// The path of the SQLite file, for messages and diagnostics.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one read transaction: everything it reads comes from one consistent snapshot.
    pub fn read<T>(&self, f: impl FnOnce(&CatalogTxn<'_>) -> Result<T>) -> Result<T> {
        self.run(TransactionBehavior::Deferred, false, f)
    }

    /// Runs `f` in one write transaction, committed if `f` returns `Ok` and rolled back otherwise.
    pub fn write<T>(&self, f: impl FnOnce(&CatalogTxn<'_>) -> Result<T>) -> Result<T> {
        self.run(TransactionBehavior::Immediate, true, f)
    }

    fn run<T>(
        &self,
        behavior: TransactionBehavior,
        writable: bool,
        f: impl FnOnce(&CatalogTxn<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.lock();
        let store_err = |source| CatalogError::Store { path: self.path_text.clone(), source };
        let sql_tx = conn.transaction_with_behavior(behavior).map_err(store_err)?;
        let tx = CatalogTxn { conn: &sql_tx, path: &self.path_text, writable };
        // On `Err` (or a panic) `sql_tx` is dropped uncommitted, which rolls it back.
        let value = f(&tx)?;
        sql_tx.commit().map_err(store_err)?;
        Ok(value)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A poisoned lock means a closure panicked mid-transaction; the transaction was rolled
        // back when it unwound, so the connection is in a clean state and safe to reuse.
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Creates a database; `false` when it existed and `if_not_exists` was given.
    pub fn create_database(&self, db: &Database, if_not_exists: bool) -> Result<bool> {
        self.write(|tx| tx.create_database(db, if_not_exists))
    }

    /// Looks a database up by name (case-insensitive).
    pub fn get_database(&self, name: &str) -> Result<Database> {
        self.read(|tx| tx.get_database(name))
    }

    /// Whether a database of that name (case-insensitive) exists.
    pub fn database_exists(&self, name: &str) -> Result<bool> {
        self.read(|tx| tx.database_exists(name))
    }

    /// All databases, sorted by name.
    pub fn list_databases(&self) -> Result<Vec<Database>> {
        self.read(|tx| tx.list_databases())
    }

    /// Drops a database; returns the tables dropped with it (so callers can delete local data).
    pub fn drop_database(&self, name: &str, if_exists: bool, cascade: bool) -> Result<Vec<Table>> {
        self.write(|tx| tx.drop_database(name, if_exists, cascade))
    }

    /// Creates a table; `false` when it existed and `if_not_exists` was given.
    pub fn create_table(&self, table: &Table, if_not_exists: bool) -> Result<bool> {
        self.write(|tx| tx.create_table(table, if_not_exists))
    }

    /// Looks a table up by database and name (both case-insensitive).
    pub fn get_table(&self, database: &str, name: &str) -> Result<Table> {
        self.read(|tx| tx.get_table(database, name))
    }

    /// Whether the table exists (`false` also when its database does not).
    pub fn table_exists(&self, database: &str, name: &str) -> Result<bool> {
        self.read(|tx| tx.table_exists(database, name))
    }

    /// The tables of a database, sorted by name.
    pub fn list_tables(&self, database: &str) -> Result<Vec<Table>> {
        self.read(|tx| tx.list_tables(database))
    }

    /// Drops a table with its partitions and file list; returns it so callers can clean its data.
    pub fn drop_table(&self, database: &str, name: &str, if_exists: bool) -> Result<Option<Table>> {
        self.write(|tx| tx.drop_table(database, name, if_exists))
    }

    /// Replaces a table's definition; returns the stored table with its new version.
    pub fn replace_table(&self, table: &Table) -> Result<Table> {
        self.write(|tx| tx.replace_table(table))
    }

    /// Adds partitions; returns how many were added.
    pub fn add_partitions(
        &self,
        database: &str,
        table: &str,
        partitions: &[Partition],
        if_not_exists: bool,
    ) -> Result<usize> {
        self.write(|tx| tx.add_partitions(database, table, partitions, if_not_exists))
    }

    /// Drops partitions by their values; returns how many were dropped.
    pub fn drop_partitions(
        &self,
        database: &str,
        table: &str,
        values: &[Vec<String>],
        if_exists: bool,
    ) -> Result<usize> {
        self.write(|tx| tx.drop_partitions(database, table, values, if_exists))
    }

    /// The partitions of a table, ordered by their values.
    pub fn list_partitions(&self, database: &str, table: &str) -> Result<Vec<Partition>> {
        self.read(|tx| tx.list_partitions(database, table))
    }

    /// One partition by its values, if present.
    pub fn get_partition(&self, database: &str, table: &str, values: &[String]) -> Result<Option<Partition>> {
        self.read(|tx| tx.get_partition(database, table, values))
    }

    /// The live files of a local table, in commit order.
    pub fn list_table_files(&self, database: &str, table: &str) -> Result<Vec<DataFile>> {
        self.read(|tx| tx.list_table_files(database, table))
    }

    /// Appends files to a local table's live list (the commit of an INSERT).
    pub fn add_table_files(&self, database: &str, table: &str, files: &[DataFile]) -> Result<()> {
        self.write(|tx| tx.add_table_files(database, table, files))
    }

    /// Replaces a local table's whole live list (the commit of DELETE, TRUNCATE or an overwrite).
    pub fn replace_table_files(&self, database: &str, table: &str, files: &[DataFile]) -> Result<()> {
        self.write(|tx| tx.replace_table_files(database, table, files))
    }
}

/// One open catalog transaction, read-only or writable; every catalog operation is a method here.
pub struct CatalogTxn<'a> {
    conn: &'a Connection,
    path: &'a str,
    writable: bool,
}

impl CatalogTxn<'_> {
    /// Converts a SQLite error into the crate's, naming the catalog file.
    fn store_err(&self, source: rusqlite::Error) -> CatalogError {
        CatalogError::Store { path: self.path.to_string(), source }
    }

    /// Refuses `operation` in a read transaction: upgrading a WAL read snapshot to a writer fails
    /// with `SQLITE_BUSY_SNAPSHOT` under concurrency, so writes must start as writes.
    fn require_writable(&self, operation: &'static str) -> Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(CatalogError::ReadOnlyTransaction(operation))
        }
    }

    /// Runs a multi-statement operation under a savepoint, so an operation that fails leaves the
    /// enclosing transaction as it was even if the caller goes on and commits.
    fn atomic<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.conn.execute_batch("SAVEPOINT tarn_op").map_err(|e| self.store_err(e))?;
        match f() {
            Ok(value) => {
                self.conn.execute_batch("RELEASE tarn_op").map_err(|e| self.store_err(e))?;
                Ok(value)
            }
            Err(err) => {
                // If the rollback itself fails the transaction is unusable; the original error is
                // the one worth reporting, and the caller's `write` will roll everything back.
                let _ = self.conn.execute_batch("ROLLBACK TO tarn_op; RELEASE tarn_op");
                Err(err)
            }
        }
    }
}

/// Catalog names are case-insensitive and stored lower-case, as Glue and Athena store them.
pub(crate) fn normalize_name(name: &str) -> String {
    name.to_lowercase()
}

/// The current time in unix milliseconds, the unit of every catalog timestamp.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
