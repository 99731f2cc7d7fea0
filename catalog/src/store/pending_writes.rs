//! Writes that have started moving files into a folder readers list (INSERT into an external
//! table) but have not committed yet. Readers skip the files of a pending write, so a process killed
//! between its file moves leaves nothing visible (design §2, "Writes and consistency"): the record
//! is committed before the first move and removed by the transaction that commits the write.
//!
//! Writes whose files land where no table points yet (CTAS into an external location, UNLOAD)
//! are recorded too, with their location, so that what a killed one left can be found again.
//!
//! A record left by a killed or failed write keeps that write's files hidden until the sweep of
//! killed writes (`engine/src/write/orphans.rs`) sees that the owning process is gone, deletes the
//! files named after the write id and then the record.

use rusqlite::params;

use super::{normalize_name, now_ms, Catalog, CatalogTxn};
use crate::error::Result;

impl CatalogTxn<'_> {
    /// Records that write `write_id` into `database.table` is about to create files under
    /// `location` (a folder URL); commit this before the first file is written. A write with no
    /// table (UNLOAD) passes empty names.
    pub fn begin_pending_write(&self, database: &str, table: &str, write_id: &str, location: &str) -> Result<()> {
        self.require_writable("begin a pending write")?;
        self.conn
            .execute(
                "INSERT INTO pending_writes (write_id, database, table_name, started_at, location) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![write_id, normalize_name(database), normalize_name(table), now_ms(), location],
            )
            .map_err(|e| self.store_err(e))?;
        Ok(())
    }

    /// Ends a pending write; called in the transaction that commits the write, so its files become
    /// visible exactly when the rest of the write does.
    pub fn finish_pending_write(&self, write_id: &str) -> Result<()> {
        self.require_writable("finish a pending write")?;
        self.conn
            .execute("DELETE FROM pending_writes WHERE write_id = ?1", [write_id])
            .map_err(|e| self.store_err(e))?;
        Ok(())
    }

    /// The ids of the writes into `database.table` that have not committed, oldest first.
    pub fn pending_writes(&self, database: &str, table: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT write_id FROM pending_writes WHERE database = ?1 AND table_name = ?2 \
                 ORDER BY started_at, write_id",
            )
            .map_err(|e| self.store_err(e))?;
        stmt.query_map(params![normalize_name(database), normalize_name(table)], |row| row.get(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
            .map_err(|e| self.store_err(e))
    }

    /// Every pending write of the home, oldest first (for the sweep of killed writes).
    pub fn all_pending_writes(&self) -> Result<Vec<PendingWrite>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT write_id, database, table_name, location, started_at FROM pending_writes \
                 ORDER BY started_at, write_id",
            )
            .map_err(|e| self.store_err(e))?;
        stmt.query_map([], |row| {
            Ok(PendingWrite {
                write_id: row.get(0)?,
                database: row.get(1)?,
                table: row.get(2)?,
                location: row.get(3)?,
                started_at_ms: row.get(4)?,
            })
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<PendingWrite>>>())
        .map_err(|e| self.store_err(e))
    }
}

/// One uncommitted write, as recorded by [`CatalogTxn::begin_pending_write`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingWrite {
    pub write_id: String,
    /// Empty for a write without a table (UNLOAD).
    pub database: String,
    pub table: String,
    /// The folder the write puts its files under; `None` for records of catalog schema version 3
    /// (INSERT into an external table: the table's location).
    pub location: Option<String>,
    pub started_at_ms: i64,
}

impl Catalog {
    /// The ids of the uncommitted writes into a table (one read, once per scan).
    pub fn pending_writes(&self, database: &str, table: &str) -> Result<Vec<String>> {
        self.read(|tx| tx.pending_writes(database, table))
    }

    /// Every pending write of the home (one read).
    pub fn all_pending_writes(&self) -> Result<Vec<PendingWrite>> {
        self.read(|tx| tx.all_pending_writes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_write_lasts_until_finished_and_survives_reopening() {
        let home = tempfile::tempdir().expect("temp dir");
        let catalog = Catalog::open(home.path()).expect("open catalog");
        catalog.write(|tx| tx.begin_pending_write("Shop", "Ext", "w1", "file:///lake/ext/")).unwrap();
        catalog.write(|tx| tx.begin_pending_write("shop", "ext", "w2", "file:///lake/ext/")).unwrap();
        catalog.write(|tx| tx.begin_pending_write("shop", "other", "w3", "s3://b/other/")).unwrap();
        assert_eq!(catalog.pending_writes("SHOP", "ext").unwrap(), ["w1", "w2"]);
        catalog.write(|tx| tx.finish_pending_write("w1")).unwrap();
        drop(catalog);

        let catalog = Catalog::open(home.path()).expect("reopen catalog");
        assert_eq!(catalog.pending_writes("shop", "ext").unwrap(), ["w2"]);
        let all = catalog.all_pending_writes().unwrap();
        assert_eq!(all.iter().map(|w| w.write_id.as_str()).collect::<Vec<_>>(), ["w2", "w3"]);
        assert_eq!(all[1].location.as_deref(), Some("s3://b/other/"));
        assert_eq!((all[1].database.as_str(), all[1].table.as_str()), ("shop", "other"));
        assert!(
            catalog.read(|tx| tx.begin_pending_write("shop", "ext", "w4", "file:///x/")).is_err(),
            "read-only transaction"
        );
    }
}
