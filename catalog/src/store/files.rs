//! The live file lists of local tables: a write becomes visible by committing its files here in
//! one transaction, so readers never see half a write (design §2, "Writes and consistency").

use rusqlite::params;

use super::codec::{self, FILE_COLUMNS};
use super::CatalogTxn;
use crate::error::{CatalogError, Result};
use crate::model::DataFile;

impl CatalogTxn<'_> {
    /// The live files of a table, in the order they were committed.
    pub fn list_table_files(&self, database: &str, table: &str) -> Result<Vec<DataFile>> {
        let id = self.require_table(database, table)?.id;
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {FILE_COLUMNS} FROM table_files WHERE table_id = ?1 ORDER BY rowid"))
            .map_err(|e| self.store_err(e))?;
        stmt.query_map([id], codec::data_file_from_row)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| codec::read_error(self.path, || format!("files of table '{database}.{table}'"), e))
    }

    /// Appends files to a table's live list (the commit of an INSERT); a path already listed is
    /// `FileExists` and nothing is added.
    pub fn add_table_files(&self, database: &str, table: &str, files: &[DataFile]) -> Result<()> {
        self.require_writable("add table files")?;
        let id = self.require_table(database, table)?.id;
        self.atomic(|| self.insert_files(id, database, table, files))
    }

    /// Replaces a table's whole live list (the commit of DELETE, TRUNCATE or an overwrite).
    pub fn replace_table_files(&self, database: &str, table: &str, files: &[DataFile]) -> Result<()> {
        self.require_writable("replace table files")?;
        let id = self.require_table(database, table)?.id;
        self.atomic(|| {
            self.conn.execute("DELETE FROM table_files WHERE table_id = ?1", [id]).map_err(|e| self.store_err(e))?;
            self.insert_files(id, database, table, files)
        })
    }

    fn insert_files(&self, id: i64, database: &str, table: &str, files: &[DataFile]) -> Result<()> {
        let mut insert = self
            .conn
            .prepare(
                "INSERT INTO table_files (table_id, path, size_bytes, row_count) \
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(|e| self.store_err(e))?;
        for file in files {
            insert.execute(params![id, file.path, file.size_bytes, file.row_count]).map_err(|e| {
                match e.sqlite_error_code() {
                    Some(rusqlite::ErrorCode::ConstraintViolation) => CatalogError::FileExists {
                        table: format!("{database}.{table}").to_lowercase(),
                        path: file.path.clone(),
                    },
                    _ => self.store_err(e),
                }
            })?;
        }
        Ok(())
    }
}
