//! Removing what killed writes left in the warehouse. A write that fails cleans up after itself;
//! one killed mid-way (SIGKILL, power loss) leaves files that no committed file list names. They
//! are never visible, only wasted space, so they are removed at a later start, once they are old
//! enough that no live write in another process can still own them.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, SystemTime};

use tarn_catalog::{Catalog, CatalogError, Location, TableKind};

use crate::error::Result;
use crate::write::local_table::WAREHOUSE_DIR;

/// Files younger than this are left alone: no write runs for a day, so an older unlisted file
/// belongs to no live write.
pub const ORPHAN_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// Deletes files under `$home/warehouse/<db>/<table>/` older than `min_age` that the catalog does
/// not list for that table (all of them when the table no longer exists). Returns how many.
pub fn sweep_warehouse(home: &Path, catalog: &Catalog, min_age: Duration) -> Result<usize> {
    let warehouse = home.join(WAREHOUSE_DIR);
    let now = SystemTime::now();
    let mut removed = 0;
    for database in subfolders(&warehouse) {
        for table_dir in subfolders(&database) {
            let (Some(db), Some(table)) = (file_name(&database), file_name(&table_dir)) else { continue };
            let listed: HashSet<String> = match catalog.get_table(&db, &table) {
                Ok(t) if t.kind == TableKind::Local => {
                    catalog.list_table_files(&db, &table)?.into_iter().map(|f| f.path).collect()
                }
                // Not Tarn's data layout: leave it alone.
                Ok(_) => continue,
                Err(CatalogError::TableNotFound { .. } | CatalogError::DatabaseNotFound(_)) => HashSet::new(),
                Err(other) => return Err(other.into()),
            };
            for file in files_below(&table_dir) {
                let old_enough = std::fs::metadata(&file)
                    .and_then(|m| m.modified())
                    .is_ok_and(|modified| now.duration_since(modified).unwrap_or_default() >= min_age);
                let url = Location::parse(&file.display().to_string())?.as_url_str();
                if old_enough && !listed.contains(&url) && std::fs::remove_file(&file).is_ok() {
                    removed += 1;
                }
            }
        }
    }
    Ok(removed)
}

fn file_name(path: &Path) -> Option<String> {
    path.file_name().and_then(|n| n.to_str()).map(str::to_string)
}

fn subfolders(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect()
}

fn files_below(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else { continue };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Session;

    #[test]
    fn removes_old_unlisted_files_only() {
        let home = tempfile::tempdir().unwrap();
        let mut session = Session::open(home.path()).unwrap();
        session.execute("CREATE TABLE t AS SELECT 1 AS a").unwrap();
        let folder = home.path().join("warehouse/default/t");
        let orphan = folder.join("part-killed-00001.parquet");
        std::fs::write(&orphan, b"half a file").unwrap();
        let gone_table = home.path().join("warehouse/default/gone");
        std::fs::create_dir_all(&gone_table).unwrap();
        std::fs::write(gone_table.join("part-x.parquet"), b"x").unwrap();

        assert_eq!(sweep_warehouse(home.path(), session.catalog(), ORPHAN_AGE).unwrap(), 0, "too young");
        let old = SystemTime::now() - ORPHAN_AGE * 2;
        for path in [orphan.clone(), gone_table.join("part-x.parquet")] {
            std::fs::File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
        }
        assert_eq!(sweep_warehouse(home.path(), session.catalog(), ORPHAN_AGE).unwrap(), 2);
        assert!(!orphan.exists());
        // The committed file is listed, so it stays even when old.
        assert_eq!(sweep_warehouse(home.path(), session.catalog(), Duration::ZERO).unwrap(), 0);
        let rows = session.execute("SELECT a FROM t").unwrap();
        assert!(matches!(&rows[0], crate::session::QueryOutput::Rows { batches, .. } if batches[0].num_rows() == 1));
    }
}
