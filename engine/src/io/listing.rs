//! The data files of a table: the live file list of a local table from the catalog, or a
//! recursive listing of the table's (or each partition's) location, skipping what Hive skips.

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore};
use tarn_catalog::{Catalog, Location, Partition, StoreRegistry, Table, TableKind};

use crate::error::{EngineError, Result};
use crate::io::object_reader::ObjectFile;

/// Partition folders listed at once: enough to hide S3 latency, few enough not to be throttled.
const LISTING_CONCURRENCY: usize = 16;

/// One data file of a scan and the partition it belongs to.
#[derive(Debug, Clone)]
pub struct ScanFile {
    pub object: Arc<ObjectFile>,
    /// Index into the scan's partitions; `None` for unpartitioned tables.
    pub partition: Option<usize>,
}

/// Whether Hive (and so Athena and Spark) ignores an object at `relative` (its key below the
/// listed folder): any path segment starting with `_` or `.` (`_SUCCESS`, `_temporary/`,
/// `.crc` files), or the `_$folder$` markers S3 tools leave behind.
pub fn is_hidden(relative: &str) -> bool {
    relative
        .split('/')
        .filter(|s| !s.is_empty())
        .any(|s| s.starts_with('_') || s.starts_with('.') || s.ends_with("_$folder$"))
}

/// Lists the files `table` reads: for local tables the catalog's live file list, otherwise the
/// objects under the table location (unpartitioned) or under each of `partitions`, in key order.
pub async fn list_table_files(
    table: &Table,
    partitions: &[Partition],
    catalog: &Catalog,
    stores: &StoreRegistry,
) -> Result<Vec<ScanFile>> {
    if table.kind == TableKind::Local {
        return local_table_files(table, partitions, catalog, stores).await;
    }
    // One catalog read per scan; almost always empty.
    let pending = PendingWrites::new(catalog.pending_writes(&table.database, &table.name)?);
    if !table.is_partitioned() {
        let location = parse_location(&table.storage.location)?;
        ensure_local_folder_exists(&location)?;
        return Ok(list_folder(&location, stores)
            .await?
            .into_iter()
            .filter(|object| !pending.hides(&object.url))
            .map(|object| ScanFile { object, partition: None })
            .collect());
    }
    // Collected first: a lazy iterator of futures held across `await` trips the compiler's
    // higher-ranked `Send` check.
    let locations: Vec<String> = partitions.iter().map(|p| p.location.clone()).collect();
    let listings: Vec<_> = locations
        .into_iter()
        .map(|location| async move { list_folder(&parse_location(&location)?, stores).await })
        .collect();
    let listed: Vec<Vec<Arc<ObjectFile>>> =
        futures::stream::iter(listings).buffered(LISTING_CONCURRENCY).try_collect().await?;
    Ok(listed
        .into_iter()
        .enumerate()
        .flat_map(|(i, objects)| objects.into_iter().map(move |object| ScanFile { object, partition: Some(i) }))
        .filter(|file| !pending.hides(&file.object.url))
        .collect())
}

/// The file-name prefixes of writes into a table that have not committed (see
/// `tarn_catalog`'s `pending_writes`): an INSERT into an external table moves its files into the
/// listed folder before its catalog commit, and until then they are not part of the table.
struct PendingWrites {
    /// `part-<write id>-`, the start of every file name such a write creates (`write/sink.rs`).
    prefixes: Vec<String>,
}

impl PendingWrites {
    fn new(write_ids: Vec<String>) -> PendingWrites {
        PendingWrites { prefixes: write_ids.into_iter().map(|id| format!("part-{id}-")).collect() }
    }

    /// Whether the object at `url` was written by a pending write.
    fn hides(&self, url: &str) -> bool {
        if self.prefixes.is_empty() {
            return false;
        }
        let name = url.rsplit('/').next().unwrap_or(url);
        self.prefixes.iter().any(|prefix| name.starts_with(prefix.as_str()))
    }
}

/// On a local disk a table folder that does not exist is almost always a mistyped `LOCATION`, so
/// it is an error naming the folder; on S3 a prefix has no existence of its own, and a table
/// nobody has written to yet holds no rows (as in Athena).
fn ensure_local_folder_exists(location: &Location) -> Result<()> {
    if location.is_s3() {
        return Ok(());
    }
    let path = std::path::PathBuf::from(format!("/{}", location.object_path()));
    if path.exists() {
        Ok(())
    } else {
        Err(EngineError::Storage {
            location: location.as_dir().as_url_str(),
            message: "the table location does not exist".to_string(),
        })
    }
}

fn parse_location(text: &str) -> Result<Location> {
    Ok(Location::parse(text)?)
}

/// Every visible, non-empty object below `folder`, sorted by key.
async fn list_folder(folder: &Location, stores: &StoreRegistry) -> Result<Vec<Arc<ObjectFile>>> {
    let store = stores.store_for(folder).await?;
    let prefix = folder.object_path();
    let folder_url = folder.as_dir().as_url_str();
    let storage_error =
        |e: object_store::Error| EngineError::Storage { location: folder_url.clone(), message: e.to_string() };
    let listed: Vec<ObjectMeta> = match store.list(Some(&prefix)).try_collect().await {
        Ok(listed) => listed,
        // A table folder nobody has written to yet holds no rows (as in Athena), not an error.
        Err(object_store::Error::NotFound { .. }) => Vec::new(),
        Err(e) => return Err(storage_error(e)),
    };
    let mut files: Vec<Arc<ObjectFile>> = listed
        .into_iter()
        .filter_map(|meta| {
            let relative = relative_key(&prefix, &meta.location)?;
            (meta.size > 0 && !is_hidden(&relative))
                .then(|| Arc::new(object_file(store.clone(), format!("{folder_url}{relative}"), meta)))
        })
        .collect();
    files.sort_by(|a, b| a.url.cmp(&b.url));
    Ok(files)
}

/// The key of `location` below `prefix`, without a leading `/`.
fn relative_key(prefix: &Path, location: &Path) -> Option<String> {
    let parts: Vec<String> = location.prefix_match(prefix)?.map(|p| p.as_ref().to_string()).collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn object_file(store: Arc<dyn ObjectStore>, url: String, meta: ObjectMeta) -> ObjectFile {
    let version = meta.e_tag.or(meta.version).or_else(|| Some(meta.last_modified.timestamp_micros().to_string()));
    ObjectFile { store, path: meta.location, url, size: meta.size, version }
}

/// The committed files of a local table; a partitioned local table assigns each file to the
/// partition whose folder holds it and drops files of partitions the scan does not read.
async fn local_table_files(
    table: &Table,
    partitions: &[Partition],
    catalog: &Catalog,
    stores: &StoreRegistry,
) -> Result<Vec<ScanFile>> {
    let files = catalog.list_table_files(&table.database, &table.name)?;
    let partition_dirs: Vec<String> =
        partitions.iter().map(|p| Ok(parse_location(&p.location)?.as_dir().as_url_str())).collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(files.len());
    for file in files {
        let location = parse_location(&file.path)?;
        let url = location.as_url_str();
        let partition = if table.is_partitioned() {
            match partition_dirs.iter().position(|dir| url.starts_with(dir.as_str())) {
                Some(i) => Some(i),
                None => continue,
            }
        } else {
            None
        };
        if file.size_bytes == 0 {
            continue;
        }
        let store = stores.store_for(&location).await?;
        // Local files are written once under unique names, so the path is their version.
        let object = ObjectFile { store, path: location.object_path(), url, size: file.size_bytes, version: None };
        out.push(ScanFile { object: Arc::new(object), partition });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_objects_follow_hive() {
        for hidden in ["_SUCCESS", ".part-0.crc", "_temporary/0/part-0", "sub/.hidden/x", "x_$folder$", "a/_tmp"] {
            assert!(is_hidden(hidden), "{hidden}");
        }
        for visible in ["part-0.parquet", "year=2024/part-0.csv", "data_file.csv", "a/b.c"] {
            assert!(!is_hidden(visible), "{visible}");
        }
    }

    #[test]
    fn files_of_pending_writes_are_hidden_by_name() {
        let pending = PendingWrites::new(vec!["20260101_000000_000001_1f_0".to_string()]);
        assert!(pending.hides("s3://b/t/year=2024/part-20260101_000000_000001_1f_0-00003.parquet"));
        assert!(!pending.hides("s3://b/t/part-20260101_000000_000001_1f_01-00003.parquet"));
        assert!(!pending.hides("s3://b/t/part-20260101_000000_000001_1f_1-00001.parquet"));
        assert!(!PendingWrites::new(Vec::new()).hides("s3://b/t/part-x-00001.parquet"));
    }
}
