//! The SQLite schema of the catalog and its migrations, versioned by `PRAGMA user_version`.
//!
//! Names are stored lower-case; columns, partition keys and parameters are JSON text because they
//! are always read and written whole with their table, never queried inside.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{CatalogError, Result};

/// The schema version this build writes; older files are migrated up on open.
pub(super) const SCHEMA_VERSION: i64 = 5;

/// How long a writer waits for another process's write transaction before giving up. Catalog
/// transactions are short, so a long wait means a stuck process, not ordinary contention.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Version 1: databases, tables, partitions and the live file lists of local tables.
const SCHEMA_V1: &str = "
CREATE TABLE databases (
    name          TEXT PRIMARY KEY NOT NULL,
    description   TEXT,
    location_uri  TEXT,
    parameters    TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE TABLE tables (
    id                INTEGER PRIMARY KEY,
    database          TEXT NOT NULL REFERENCES databases(name) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    kind              TEXT NOT NULL,
    location          TEXT NOT NULL,
    format            TEXT NOT NULL,
    columns           TEXT NOT NULL,
    serde_parameters  TEXT NOT NULL,
    partition_keys    TEXT NOT NULL,
    parameters        TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    version           INTEGER NOT NULL,
    UNIQUE (database, name)
);
CREATE TABLE partitions (
    table_id     INTEGER NOT NULL REFERENCES tables(id) ON DELETE CASCADE,
    part_values  TEXT NOT NULL,
    location     TEXT NOT NULL,
    parameters   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (table_id, part_values)
);
CREATE TABLE table_files (
    table_id    INTEGER NOT NULL REFERENCES tables(id) ON DELETE CASCADE,
    path        TEXT NOT NULL,
    size_bytes  INTEGER NOT NULL,
    row_count   INTEGER NOT NULL,
    UNIQUE (table_id, path)
);
";

/// Version 2: schema snapshots of tables (`history.rs`), kept with the table and dropped with it.
const SCHEMA_V2: &str = "
CREATE TABLE table_history (
    table_id        INTEGER NOT NULL REFERENCES tables(id) ON DELETE CASCADE,
    version         INTEGER NOT NULL,
    columns         TEXT NOT NULL,
    partition_keys  TEXT NOT NULL,
    recorded_at     INTEGER NOT NULL,
    reason          TEXT NOT NULL,
    PRIMARY KEY (table_id, version)
);
";

/// Version 3: writes that are moving files into a listed folder and have not committed
/// (`pending_writes.rs`). Keyed by names, not the table id: the record must outlive a table dropped
/// and recreated while a killed write's files are still in its folder.
const SCHEMA_V3: &str = "
CREATE TABLE pending_writes (
    write_id    TEXT PRIMARY KEY NOT NULL,
    database    TEXT NOT NULL,
    table_name  TEXT NOT NULL,
    started_at  INTEGER NOT NULL
);
CREATE INDEX pending_writes_by_table ON pending_writes (database, table_name);
";

/// Version 4: where a pending write puts its files, so the sweep of killed writes
/// (`engine/src/write/orphans.rs`) can find them when no table points there (a killed CTAS into an
/// external location, UNLOAD). NULL in records written by version 3: the table's location then.
const SCHEMA_V4: &str = "ALTER TABLE pending_writes ADD COLUMN location TEXT;";

/// Version 5: what the crawler learnt from each object it read (`crawled_files.rs`), so a re-crawl
/// skips objects whose size, modification time and ETag are unchanged instead of reading their
/// footers again. Results are interned: files written by one job share one `crawl_results` row,
/// which keeps the per-object cost at a key and a few integers. Keyed by the crawl root, not a
/// table: the same files may be crawled into tables that are later dropped and recreated.
const SCHEMA_V5: &str = "
CREATE TABLE crawl_results (
    id      INTEGER PRIMARY KEY,
    result  TEXT NOT NULL UNIQUE
);
CREATE TABLE crawled_files (
    source        TEXT NOT NULL,
    key           TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    modified_us   INTEGER NOT NULL,
    etag          TEXT,
    row_count     INTEGER NOT NULL,
    sampled_with  TEXT NOT NULL,
    result_id     INTEGER NOT NULL REFERENCES crawl_results(id),
    PRIMARY KEY (source, key)
) WITHOUT ROWID;
";

/// Opens the SQLite file with the settings every connection needs and brings its schema up to
/// [`SCHEMA_VERSION`].
pub(super) fn open_connection(path: &Path, path_text: &str) -> Result<Connection> {
    let store_err = |source| CatalogError::Store { path: path_text.to_string(), source };
    let mut conn = Connection::open(path).map_err(store_err)?;
    // The busy timeout first: switching to WAL and migrating take locks another process may hold.
    conn.busy_timeout(BUSY_TIMEOUT).map_err(store_err)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)).map_err(store_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(CatalogError::Corrupt(format!(
            "{path_text}: cannot switch to WAL journal mode (got '{mode}'); is the file on a \
             network file system?"
        )));
    }
    conn.execute_batch("PRAGMA foreign_keys = ON;").map_err(store_err)?;
    migrate(&mut conn, path_text)?;
    Ok(conn)
}

/// Applies the missing migrations in one write transaction, so two processes opening a new home
/// at once migrate it exactly once.
fn migrate(conn: &mut Connection, path_text: &str) -> Result<()> {
    let store_err = |source| CatalogError::Store { path: path_text.to_string(), source };
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(store_err)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(store_err)?;
    if found > SCHEMA_VERSION {
        return Err(CatalogError::UnsupportedSchema { path: path_text.to_string(), found, supported: SCHEMA_VERSION });
    }
    if found < 1 {
        tx.execute_batch(SCHEMA_V1).map_err(store_err)?;
    }
    if found < 2 {
        tx.execute_batch(SCHEMA_V2).map_err(store_err)?;
    }
    if found < 3 {
        tx.execute_batch(SCHEMA_V3).map_err(store_err)?;
    }
    if found < 4 {
        tx.execute_batch(SCHEMA_V4).map_err(store_err)?;
    }
    if found < 5 {
        tx.execute_batch(SCHEMA_V5).map_err(store_err)?;
    }
    if found < SCHEMA_VERSION {
        tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}")).map_err(store_err)?;
    }
    tx.commit().map_err(store_err)
}
