//! Writes that have started moving files into a folder readers list (INSERT into an external
//! table) but have not committed yet. Readers skip the files of a pending write, so a process killed
//! between its file moves leaves nothing visible (design §2, "Writes and consistency"): the record
//! is committed before the first move and removed by the transaction that commits the write.
//!
//! A record left by a killed or failed write keeps that write's files hidden for good; cleaning
//! them (deleting the files named after old pending ids, then the record) is a later step.

use rusqlite::params;

use super::{normalize_name, now_ms, Catalog, CatalogTxn};
use crate::error::Result;

impl CatalogTxn<'_> {
    /// Records that write `write_id` into `database.table` is about to make files visible; commit
    /// this before the first file is moved.
    pub fn begin_pending_write(&self, database: &str, table: &str, write_id: &str) -> Result<()> {
        self.require_writable("begin a pending write")?;
        self.conn
            .execute(
                "INSERT INTO pending_writes (write_id, database, table_name, started_at) VALUES (?1, ?2, ?3, ?4)",
                params![write_id, normalize_name(database), normalize_name(table), now_ms()],
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
}

impl Catalog {
    /// The ids of the uncommitted writes into a table (one read, once per scan).
    pub fn pending_writes(&self, database: &str, table: &str) -> Result<Vec<String>> {
        self.read(|tx| tx.pending_writes(database, table))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_write_lasts_until_finished_and_survives_reopening() {
        let home = tempfile::tempdir().expect("temp dir");
        let catalog = Catalog::open(home.path()).expect("open catalog");
        catalog.write(|tx| tx.begin_pending_write("Shop", "Ext", "w1")).unwrap();
        catalog.write(|tx| tx.begin_pending_write("shop", "ext", "w2")).unwrap();
        catalog.write(|tx| tx.begin_pending_write("shop", "other", "w3")).unwrap();
        assert_eq!(catalog.pending_writes("SHOP", "ext").unwrap(), ["w1", "w2"]);
        catalog.write(|tx| tx.finish_pending_write("w1")).unwrap();
        drop(catalog);

        let catalog = Catalog::open(home.path()).expect("reopen catalog");
        assert_eq!(catalog.pending_writes("shop", "ext").unwrap(), ["w2"]);
        assert!(catalog.read(|tx| tx.begin_pending_write("shop", "ext", "w4")).is_err(), "read-only transaction");
    }
}
