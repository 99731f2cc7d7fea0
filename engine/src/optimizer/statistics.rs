//! What planning can learn of a table's size without scanning it, gathered once when a scan is
//! bound so join ordering has real row counts. Sources, best first: the catalog's statistics
//! (`recordCount`/`numRows` table parameters as crawlers and Glue write them, `numRows` of every
//! partition), a local table's committed file list (row counts recorded at write), the footers
//! of Parquet files on the local file system (row counts and integer/date min/max), and the
//! bytes of the files with a bytes-per-row guess. Object stores are not read at planning: an S3
//! table without catalog statistics simply has no estimate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use parquet::file::metadata::ParquetMetaDataReader;
use parquet::file::statistics::Statistics;
use tarn_catalog::{Catalog, DataFormat, Location, Partition, Table, TableKind};

use crate::io::listing::is_hidden;
use crate::plan::logical::TableStatistics;

/// Footers read per scan at most; a table of more files is estimated from its bytes.
const MAX_FOOTERS: usize = 256;
/// Files listed per scan at most; more than this and the listing is abandoned (no estimate).
const MAX_LISTED_FILES: usize = 10_000;
/// Footer summaries kept in the process at most.
const MAX_CACHED_FOOTERS: usize = 100_000;
/// Bytes per row guessed when only file sizes are known: compressed columnar vs. text.
const PARQUET_BYTES_PER_ROW: u64 = 40;
const TEXT_BYTES_PER_ROW: u64 = 120;

/// The statistics of `table` restricted to nothing (every partition in `partitions`). Never
/// fails: what cannot be learned is left unknown.
pub fn table_statistics(catalog: &Catalog, table: &Table, partitions: &[Partition]) -> TableStatistics {
    let columns = table.storage.columns.len() + table.partition_keys.len();
    if let Some(rows) = catalog_rows(table, partitions) {
        return TableStatistics { rows: Some(rows), source: "catalog", int_ranges: vec![None; columns] };
    }
    let files = match table.kind {
        TableKind::Local => match catalog.list_table_files(&table.database, &table.name) {
            Ok(files) => files
                .into_iter()
                .filter(|f| f.size_bytes > 0)
                .map(|f| FileInfo { path: local_path(&f.path), size: f.size_bytes, rows: Some(f.row_count) })
                .collect(),
            Err(_) => return TableStatistics::default(),
        },
        TableKind::External => {
            let folders: Vec<&str> = if table.is_partitioned() {
                partitions.iter().map(|p| p.location.as_str()).collect()
            } else {
                vec![table.storage.location.as_str()]
            };
            match list_local_files(&folders) {
                Some(files) => files,
                None => return TableStatistics::default(),
            }
        }
    };
    from_files(table, &files)
}

/// `recordCount`/`numRows` of the table, else the sum of `numRows` when every partition has it.
fn catalog_rows(table: &Table, partitions: &[Partition]) -> Option<u64> {
    let number = |params: &tarn_catalog::Parameters| {
        ["numRows", "recordCount"].iter().find_map(|k| params.get(*k)?.trim().parse::<u64>().ok())
    };
    if let Some(rows) = number(&table.parameters) {
        return Some(rows);
    }
    if partitions.is_empty() {
        return None;
    }
    partitions.iter().map(|p| number(&p.parameters)).sum()
}

struct FileInfo {
    /// Where the file is on this machine, when it is on the local file system.
    path: Option<PathBuf>,
    size: u64,
    rows: Option<u64>,
}

/// Row count and column ranges from the files' recorded rows, their footers, or their bytes.
fn from_files(table: &Table, files: &[FileInfo]) -> TableStatistics {
    let columns = table.storage.columns.len() + table.partition_keys.len();
    let mut ranges: Vec<Option<(i64, i64)>> = vec![None; columns];
    let parquet = table.storage.format == DataFormat::Parquet;
    if parquet && files.len() <= MAX_FOOTERS {
        let footers: Option<Vec<Footer>> = files.iter().map(|f| footer(f.path.as_deref()?)).collect();
        if let Some(footers) = footers {
            let mut first = true;
            for footer in &footers {
                for (c, column) in table.storage.columns.iter().enumerate() {
                    let found =
                        footer.ranges.iter().find(|(n, _)| n.eq_ignore_ascii_case(&column.name)).map(|(_, r)| *r);
                    ranges[c] = match (first, ranges[c], found) {
                        (true, _, Some(r)) => Some(r),
                        (false, Some((lo, hi)), Some((l, h))) => Some((lo.min(l), hi.max(h))),
                        _ => None,
                    };
                }
                first = false;
            }
            let rows = footers.iter().map(|f| f.rows).sum();
            return TableStatistics { rows: Some(rows), source: "footers", int_ranges: ranges };
        }
    }
    if let Some(rows) = files.iter().map(|f| f.rows).sum::<Option<u64>>() {
        return TableStatistics { rows: Some(rows), source: "files", int_ranges: ranges };
    }
    let bytes: u64 = files.iter().map(|f| f.size).sum();
    let per_row = if parquet { PARQUET_BYTES_PER_ROW } else { TEXT_BYTES_PER_ROW };
    TableStatistics { rows: Some(bytes / per_row), source: "bytes", int_ranges: ranges }
}

/// A local file system path for a location URL; `None` for object stores.
fn local_path(url: &str) -> Option<PathBuf> {
    let location = Location::parse(url).ok()?;
    if location.is_s3() {
        return None;
    }
    Some(Path::new("/").join(location.object_path().as_ref()))
}

/// The visible files under local `folders` (Hive's hidden-file rule), or `None` when a folder is
/// on an object store, cannot be read, or holds too many files to be worth listing at planning.
fn list_local_files(folders: &[&str]) -> Option<Vec<FileInfo>> {
    let mut out = Vec::new();
    for folder in folders {
        let root = local_path(folder)?;
        let mut pending = vec![root.clone()];
        while let Some(dir) = pending.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                // A table whose folder does not exist yet is empty.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(_) => return None,
            };
            for entry in entries {
                let entry = entry.ok()?;
                let path = entry.path();
                let relative = path.strip_prefix(&root).ok()?.to_string_lossy().into_owned();
                if is_hidden(&relative) {
                    continue;
                }
                let meta = entry.metadata().ok()?;
                if meta.is_dir() {
                    pending.push(path);
                } else if meta.len() > 0 {
                    out.push(FileInfo { path: Some(path), size: meta.len(), rows: None });
                    if out.len() > MAX_LISTED_FILES {
                        return None;
                    }
                }
            }
        }
    }
    Some(out)
}

/// What one Parquet footer says: rows, and (min, max) of each integer or date column by name.
#[derive(Clone)]
struct Footer {
    rows: u64,
    ranges: Vec<(String, (i64, i64))>,
}

/// Footers already read, by file and its size and modification time (a rewritten file is read
/// again), so repeated queries and repeated scans of a table read each footer once.
type FooterCache = Mutex<HashMap<(PathBuf, u64, Option<SystemTime>), Footer>>;

fn footer_cache() -> &'static FooterCache {
    static CACHE: OnceLock<FooterCache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The footer of the local Parquet file at `path`, or `None` if it cannot be read.
fn footer(path: &Path) -> Option<Footer> {
    let meta = std::fs::metadata(path).ok()?;
    let key = (path.to_path_buf(), meta.len(), meta.modified().ok());
    if let Some(found) = footer_cache().lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Some(found.clone());
    }
    let file = std::fs::File::open(path).ok()?;
    let metadata =
        crate::io::parquet_scan::catch_decoder_panic(|| ParquetMetaDataReader::new().parse_and_finish(&file))
            .ok()?
            .ok()?;
    let rows = u64::try_from(metadata.file_metadata().num_rows()).ok()?;
    let schema = metadata.file_metadata().schema_descr();
    let mut ranges = Vec::new();
    for (i, column) in schema.columns().iter().enumerate() {
        if column.path().parts().len() != 1 {
            continue;
        }
        let mut range: Option<(i64, i64)> = None;
        let mut complete = true;
        for group in metadata.row_groups() {
            let bounds = match group.column(i).statistics() {
                Some(Statistics::Int32(s)) => s.min_opt().zip(s.max_opt()).map(|(a, b)| (i64::from(*a), i64::from(*b))),
                Some(Statistics::Int64(s)) => s.min_opt().zip(s.max_opt()).map(|(a, b)| (*a, *b)),
                _ => None,
            };
            match bounds {
                Some((lo, hi)) => range = Some(range.map_or((lo, hi), |(l, h)| (l.min(lo), h.max(hi)))),
                // A row group of only NULLs has no bounds and does not widen the range.
                None if group
                    .column(i)
                    .statistics()
                    .is_some_and(|s| s.null_count_opt() == Some(group.num_rows() as u64)) => {}
                None => complete = false,
            }
        }
        if let (true, Some(range)) = (complete, range) {
            ranges.push((column.name().to_string(), range));
        }
    }
    let footer = Footer { rows, ranges };
    let mut cache = footer_cache().lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= MAX_CACHED_FOOTERS {
        // Bounded memory for long-lived processes; footers are cheap to read again.
        cache.clear();
    }
    cache.insert(key, footer.clone());
    Some(footer)
}
