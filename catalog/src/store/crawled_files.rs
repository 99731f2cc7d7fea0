//! The crawler's memory of the objects it read: per crawl root and key, the object's size,
//! modification time and ETag when it was read, its row count, and what reading it found (an
//! opaque text the crawler writes and reads back, interned in `crawl_results`). A re-crawl
//! reuses the result of every object whose size, time and ETag are unchanged, so an unchanged
//! lake is listed, not read.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::params;

use super::CatalogTxn;
use crate::error::Result;

/// One object the crawler read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrawledFile {
    /// The key below the crawl root.
    pub key: String,
    pub size_bytes: u64,
    /// Last modification, microseconds since the Unix epoch.
    pub modified_us: i64,
    pub etag: Option<String>,
    pub row_count: u64,
    /// What reading the object found; one shared text for every object with the same finding.
    pub result: Arc<str>,
}

/// The objects one crawl root's earlier crawls read with the same settings.
#[derive(Debug, Clone, Default)]
pub struct CrawledFiles {
    pub files: Vec<CrawledFile>,
}

impl CatalogTxn<'_> {
    /// The objects read under `source` by crawls whose settings were `sampled_with` (records made
    /// with other settings are not returned: their results may not hold for these settings).
    pub fn crawled_files(&self, source: &str, sampled_with: &str) -> Result<CrawledFiles> {
        let mut results: HashMap<i64, Arc<str>> = HashMap::new();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, result FROM crawl_results WHERE id IN \
                 (SELECT result_id FROM crawled_files WHERE source = ?1 AND sampled_with = ?2)",
            )
            .map_err(|e| self.store_err(e))?;
        let mut rows = stmt.query(params![source, sampled_with]).map_err(|e| self.store_err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.store_err(e))? {
            let id: i64 = row.get(0).map_err(|e| self.store_err(e))?;
            let text: String = row.get(1).map_err(|e| self.store_err(e))?;
            results.insert(id, Arc::from(text));
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT key, size_bytes, modified_us, etag, row_count, result_id FROM crawled_files \
                 WHERE source = ?1 AND sampled_with = ?2",
            )
            .map_err(|e| self.store_err(e))?;
        let mut rows = stmt.query(params![source, sampled_with]).map_err(|e| self.store_err(e))?;
        let mut files = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.store_err(e))? {
            let get_err = |e| self.store_err(e);
            let result_id: i64 = row.get(5).map_err(get_err)?;
            // The foreign key guarantees the result exists; a missing one just means re-reading.
            let Some(result) = results.get(&result_id) else { continue };
            files.push(CrawledFile {
                key: row.get(0).map_err(get_err)?,
                size_bytes: row.get::<_, i64>(1).map_err(get_err)?.max(0) as u64,
                modified_us: row.get(2).map_err(get_err)?,
                etag: row.get(3).map_err(get_err)?,
                row_count: row.get::<_, i64>(4).map_err(get_err)?.max(0) as u64,
                result: result.clone(),
            });
        }
        Ok(CrawledFiles { files })
    }

    /// Records what a crawl of `source` with settings `sampled_with` read (`read`, replacing
    /// earlier records of the same keys) and forgets the keys in `removed` and every record of
    /// `source` made with other settings. Results no object refers to any more are deleted.
    pub fn record_crawled_files(
        &self,
        source: &str,
        sampled_with: &str,
        read: impl IntoIterator<Item = CrawledFile>,
        removed: &[String],
    ) -> Result<()> {
        self.require_writable("record crawled files")?;
        self.atomic(|| {
            let stale = self
                .conn
                .execute(
                    "DELETE FROM crawled_files WHERE source = ?1 AND sampled_with <> ?2",
                    params![source, sampled_with],
                )
                .map_err(|e| self.store_err(e))?;
            let mut delete = self
                .conn
                .prepare("DELETE FROM crawled_files WHERE source = ?1 AND key = ?2")
                .map_err(|e| self.store_err(e))?;
            for key in removed {
                delete.execute(params![source, key]).map_err(|e| self.store_err(e))?;
            }
            let mut intern = self
                .conn
                .prepare("INSERT INTO crawl_results (result) VALUES (?1) ON CONFLICT (result) DO NOTHING")
                .map_err(|e| self.store_err(e))?;
            let mut find =
                self.conn.prepare("SELECT id FROM crawl_results WHERE result = ?1").map_err(|e| self.store_err(e))?;
            let mut insert = self
                .conn
                .prepare(
                    "INSERT OR REPLACE INTO crawled_files \
                     (source, key, size_bytes, modified_us, etag, row_count, sampled_with, result_id) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(|e| self.store_err(e))?;
            // Records come one at a time (the crawler makes them as they are written), so ids are
            // remembered by the shared text's address: one lookup per distinct result.
            let mut ids: HashMap<*const u8, (Arc<str>, i64)> = HashMap::new();
            let mut wrote = false;
            for file in read {
                wrote = true;
                let id = match ids.get(&file.result.as_ptr()) {
                    Some((_, id)) => *id,
                    None => {
                        intern.execute([&*file.result]).map_err(|e| self.store_err(e))?;
                        let id: i64 =
                            find.query_row([&*file.result], |row| row.get(0)).map_err(|e| self.store_err(e))?;
                        ids.insert(file.result.as_ptr(), (file.result.clone(), id));
                        id
                    }
                };
                insert
                    .execute(params![
                        source,
                        file.key,
                        file.size_bytes as i64,
                        file.modified_us,
                        file.etag,
                        file.row_count as i64,
                        sampled_with,
                        id
                    ])
                    .map_err(|e| self.store_err(e))?;
            }
            if stale > 0 || !removed.is_empty() || wrote {
                self.conn
                    .execute("DELETE FROM crawl_results WHERE id NOT IN (SELECT result_id FROM crawled_files)", [])
                    .map_err(|e| self.store_err(e))?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Catalog;

    fn file(key: &str, size: u64, result: &str) -> CrawledFile {
        CrawledFile {
            key: key.into(),
            size_bytes: size,
            modified_us: 1_700_000_000_000_000,
            etag: Some(format!("etag-{key}")),
            row_count: 5,
            result: Arc::from(result),
        }
    }

    fn results(catalog: &Catalog) -> i64 {
        catalog
            .read(|tx| Ok(tx.conn.query_row("SELECT count(*) FROM crawl_results", [], |r| r.get(0)).unwrap()))
            .unwrap()
    }

    #[test]
    fn records_interns_replaces_and_forgets() {
        let home = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(home.path()).unwrap();
        let source = "file:///lake/";
        let first =
            [file("a/1.parquet", 10, "{\"x\":1}"), file("a/2.parquet", 11, "{\"x\":1}"), file("b/1.csv", 3, "csv")];
        catalog.write(|tx| tx.record_crawled_files(source, "v1", first.clone(), &[])).unwrap();
        assert_eq!(results(&catalog), 2, "two distinct results are stored once each");
        let mut read = catalog.read(|tx| tx.crawled_files(source, "v1")).unwrap().files;
        read.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(read, first);
        assert!(Arc::ptr_eq(&read[0].result, &read[1].result), "one shared text per result");
        assert!(catalog.read(|tx| tx.crawled_files(source, "v2")).unwrap().files.is_empty());
        assert!(catalog.read(|tx| tx.crawled_files("file:///other/", "v1")).unwrap().files.is_empty());

        // A changed object replaces its record; a vanished one is forgotten, and so is its result.
        let changed = [file("a/2.parquet", 20, "{\"x\":2}")];
        catalog.write(|tx| tx.record_crawled_files(source, "v1", changed.clone(), &["b/1.csv".to_string()])).unwrap();
        let mut read = catalog.read(|tx| tx.crawled_files(source, "v1")).unwrap().files;
        read.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(read, [first[0].clone(), changed[0].clone()]);
        assert_eq!(results(&catalog), 2);

        // Other settings make every earlier record of the source stale.
        catalog.write(|tx| tx.record_crawled_files(source, "v2", [], &[])).unwrap();
        assert!(catalog.read(|tx| tx.crawled_files(source, "v1")).unwrap().files.is_empty());
        assert_eq!(results(&catalog), 0);
    }
}
