//! Removing what killed writes left behind. A write that fails cleans up after itself; one killed
//! mid-way (SIGKILL, power loss) leaves files that no committed file list names, and, when it
//! wrote outside the warehouse, a pending-write record (`tarn_catalog::PendingWrite`). Those files
//! are never visible, only wasted space, and an external location they sit in is refused by a
//! re-run of the same CTAS as "not empty"; so they are removed at the next start
//! ([`sweep_killed_writes`], called by `Session::open`).
//!
//! **Whose write is dead.** Every file and record carries its write id, which names the process
//! that made it and when ([`WriteId`]: start time and pid). The owner is gone when no process has
//! that pid, or the process that has it started after the write did (the pid was reused)
//! ([`owner_is_gone`]). This is exact for every process on this machine, so the sweep can run at
//! each start without waiting for an age: a live writer in another process sharing the home keeps
//! all its files. Where the start time of a process cannot be read (no `/proc`), the old rule
//! applies: only writes older than [`ORPHAN_AGE`] count as dead.
//!
//! **Why at start.** The process that sweeps must see the catalog and the locations anyway, a start
//! after a kill is exactly when leftovers exist, and a pending record costs one catalog read when
//! there is none. Locations on S3 are swept within [`SWEEP_BUDGET`] so an unreachable endpoint
//! delays a start by at most that; what is not done then stays for the next start (every step is
//! idempotent: files first, the record last).

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt};
use tarn_catalog::{Catalog, CatalogError, Location, PendingWrite, StoreRegistry, TableKind};

use crate::error::Result;
use crate::io::runtime::{block_on_io, io_runtime};
use crate::write::local_table::WAREHOUSE_DIR;
use crate::write::staging::STAGING_PREFIX;

/// Where the owner of a write cannot be checked, files younger than this are left alone: no write
/// runs for a day, so an older unlisted file belongs to no live write.
pub const ORPHAN_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// How long one start may spend deleting the files of killed writes on remote storage.
pub const SWEEP_BUDGET: Duration = Duration::from_secs(10);

/// What one sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Unlisted files of dead writes in the warehouse.
    pub warehouse_files: usize,
    /// Files of dead pending writes in external locations (staged or moved into place).
    pub external_files: usize,
    /// Pending-write records dropped after their files were gone.
    pub records: usize,
}

/// The sweep at session open: the warehouse, then every pending write whose owner is gone. Best
/// effort by design: a failure leaves files that are invisible anyway, for the next start.
pub fn sweep_killed_writes(home: &Path, catalog: &Catalog) -> SweepReport {
    let mut report = SweepReport {
        warehouse_files: sweep_warehouse(home, catalog, ORPHAN_AGE).unwrap_or(0),
        ..SweepReport::default()
    };
    if let Ok(pending) = catalog.all_pending_writes() {
        let dead: Vec<PendingWrite> =
            pending.into_iter().filter(|w| owner_is_gone(&w.write_id, w.started_at_ms)).collect();
        if !dead.is_empty() {
            let stores = Arc::new(StoreRegistry::new());
            for write in dead {
                if let Ok(files) = sweep_pending_write(catalog, &stores, &write) {
                    report.external_files += files;
                    report.records += 1;
                }
            }
        }
    }
    report
}

/// Deletes the files of one dead pending write (every object under its location whose name
/// carries its write id), then its record. Returns how many files went.
pub fn sweep_pending_write(catalog: &Catalog, stores: &Arc<StoreRegistry>, write: &PendingWrite) -> Result<usize> {
    let location = match &write.location {
        Some(location) => location.clone(),
        // A record from before locations were recorded: an INSERT into the table.
        None => catalog.get_table(&write.database, &write.table)?.storage.location,
    };
    let location = Location::parse(&location)?.as_dir();
    let removed = delete_files_of_write(stores, &location, &write.write_id)?;
    catalog.write(|tx| tx.finish_pending_write(&write.write_id))?;
    Ok(removed)
}

/// Deletes the objects below `location` named after `write_id`: `part-<id>-NNNNN.*` files (moved
/// into place or written directly) and anything in `.tarn-staging-<id>/`. Never anything else,
/// so data the write did not create is never touched.
fn delete_files_of_write(stores: &Arc<StoreRegistry>, location: &Location, write_id: &str) -> Result<usize> {
    if !location.is_s3() {
        return Ok(delete_local_files_of_write(location, write_id));
    }
    let io = io_runtime().handle().clone();
    let stores = stores.clone();
    let root = location.clone();
    let id = write_id.to_string();
    let removed = block_on_io(&io, async move {
        let work = async {
            let store: Arc<dyn ObjectStore> = stores.store_for(&root).await?;
            let prefix = root.object_path();
            let listed: Vec<object_store::ObjectMeta> = match store.list(Some(&prefix)).try_collect().await {
                Ok(listed) => listed,
                Err(object_store::Error::NotFound { .. }) => Vec::new(),
                Err(e) => {
                    return Err(crate::error::EngineError::Storage {
                        location: root.as_url_str(),
                        message: e.to_string(),
                    })
                }
            };
            let mut removed = 0;
            for meta in listed.into_iter().filter(|m| belongs_to_write(m.location.as_ref(), &id)) {
                match store.delete(&meta.location).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => removed += 1,
                    Err(e) => {
                        return Err(crate::error::EngineError::Storage {
                            location: format!("{} ({})", root.as_url_str(), meta.location),
                            message: e.to_string(),
                        })
                    }
                }
            }
            Ok(removed)
        };
        match tokio::time::timeout(SWEEP_BUDGET, work).await {
            Ok(result) => result,
            Err(_) => Err(crate::error::EngineError::Storage {
                location: root.as_url_str(),
                message: format!(
                    "the sweep of killed writes took longer than {SWEEP_BUDGET:?}; left for the next start"
                ),
            }),
        }
    })??;
    Ok(removed)
}

/// The local-folder case of [`delete_files_of_write`], walking the folder itself: object_store's
/// local listing hides the `<name>#<n>` files an unfinished upload writes before its rename, and
/// the empty staging folder must go too.
fn delete_local_files_of_write(location: &Location, write_id: &str) -> usize {
    let root = std::path::PathBuf::from(format!("/{}", location.object_path().as_ref()));
    let removed = files_below(&root)
        .into_iter()
        .filter(|file| belongs_to_write(&file.to_string_lossy(), write_id))
        .filter(|file| std::fs::remove_file(file).is_ok())
        .count();
    let _ = std::fs::remove_dir_all(root.join(format!("{STAGING_PREFIX}{write_id}")));
    removed
}

/// Whether an object path (relative to anything) was created by write `id`.
fn belongs_to_write(path: &str, id: &str) -> bool {
    let staged = format!("{STAGING_PREFIX}{id}/");
    if path.contains(&staged) {
        return true;
    }
    let name = path.rsplit('/').next().unwrap_or(path);
    write_id_of_file(name) == Some(id)
}

/// The write id in a data file name `part-<id>-00001.parquet`.
pub fn write_id_of_file(name: &str) -> Option<&str> {
    name.strip_prefix("part-")?.rsplit_once('-').map(|(id, _)| id)
}

/// Whether the process that made write `id` has ended. `recorded_ms` (the record's time, or a
/// file's modification time) decides by age when the process table cannot be read.
pub fn owner_is_gone(id: &str, recorded_ms: i64) -> bool {
    let Some((started, pid)) = parse_write_id(id) else {
        return age_exceeds(recorded_ms, ORPHAN_AGE);
    };
    match process_start(pid) {
        ProcessStart::Missing => true,
        // A process that started after the write did cannot be its owner: the pid was reused.
        // The slack covers the boot time's one-second resolution.
        ProcessStart::At(process_started) => process_started > started + PROCESS_START_SLACK,
        ProcessStart::Unknown => age_exceeds(recorded_ms, ORPHAN_AGE),
    }
}

const PROCESS_START_SLACK: Duration = Duration::from_secs(2);

fn age_exceeds(recorded_ms: i64, age: Duration) -> bool {
    let recorded = SystemTime::UNIX_EPOCH + Duration::from_millis(recorded_ms.max(0) as u64);
    SystemTime::now().duration_since(recorded).is_ok_and(|elapsed| elapsed >= age)
}

/// The start time and pid in a write id (`20261128_025016_123456_1f2e_0`, see `WriteId::new`).
fn parse_write_id(id: &str) -> Option<(SystemTime, u32)> {
    let mut parts = id.split('_');
    let (date, time, micros, pid) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    parts.next()?.parse::<u64>().ok()?;
    let stamp = chrono::NaiveDateTime::parse_from_str(&format!("{date}{time}{micros}"), "%Y%m%d%H%M%S%6f").ok()?;
    let micros = u64::try_from(stamp.and_utc().timestamp_micros()).ok()?;
    Some((SystemTime::UNIX_EPOCH + Duration::from_micros(micros), u32::from_str_radix(pid, 16).ok()?))
}

enum ProcessStart {
    Missing,
    At(SystemTime),
    /// No `/proc` (not Linux), or it could not be read.
    Unknown,
}

/// When process `pid` started, from `/proc/<pid>/stat` (field 22, clock ticks since boot) and the
/// boot time in `/proc/stat`. Ticks are `USER_HZ`, which Linux fixes at 100 for this interface on
/// every architecture Tarn builds for.
fn process_start(pid: u32) -> ProcessStart {
    const USER_HZ: u64 = 100;
    let Ok(boot) = std::fs::read_to_string("/proc/stat") else { return ProcessStart::Unknown };
    let Some(boot_secs) = boot.lines().find_map(|l| l.strip_prefix("btime ")?.trim().parse::<u64>().ok()) else {
        return ProcessStart::Unknown;
    };
    let stat = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return ProcessStart::Missing,
        Err(_) => return ProcessStart::Unknown,
    };
    // The command name (field 2) is in parentheses and may hold spaces: count after the last ')'.
    let Some((_, rest)) = stat.rsplit_once(')') else { return ProcessStart::Unknown };
    let Some(ticks) = rest.split_whitespace().nth(19).and_then(|t| t.parse::<u64>().ok()) else {
        return ProcessStart::Unknown;
    };
    // A zombie is dead for our purpose: it writes nothing any more.
    if rest.split_whitespace().next() == Some("Z") {
        return ProcessStart::Missing;
    }
    ProcessStart::At(
        SystemTime::UNIX_EPOCH + Duration::from_secs(boot_secs) + Duration::from_millis(ticks * 1000 / USER_HZ),
    )
}

/// Deletes files under `$home/warehouse/<db>/<table>/` that the catalog does not list for that
/// table (all of them when the table no longer exists) and whose write is dead: the process named
/// by the write id in the file name is gone, or, for a file without one, it is older than
/// `min_age`. Returns how many.
pub fn sweep_warehouse(home: &Path, catalog: &Catalog, min_age: Duration) -> Result<usize> {
    let warehouse = home.join(WAREHOUSE_DIR);
    let now = SystemTime::now();
    let mut removed = 0;
    for database in subfolders(&warehouse) {
        for table_dir in subfolders(&database) {
            let (Some(db), Some(table)) = (file_name(&database), file_name(&table_dir)) else { continue };
            // Listed after the files were found: a write that commits in between is then listed.
            let found = files_below(&table_dir);
            if found.is_empty() {
                continue;
            }
            let listed: HashSet<String> = match catalog.get_table(&db, &table) {
                Ok(t) if t.kind == TableKind::Local => {
                    catalog.list_table_files(&db, &table)?.into_iter().map(|f| f.path).collect()
                }
                // Not Tarn's data layout: leave it alone.
                Ok(_) => continue,
                Err(CatalogError::TableNotFound { .. } | CatalogError::DatabaseNotFound(_)) => HashSet::new(),
                Err(other) => return Err(other.into()),
            };
            for file in found {
                let modified = std::fs::metadata(&file).and_then(|m| m.modified()).ok();
                let old_enough = modified.is_some_and(|m| now.duration_since(m).unwrap_or_default() >= min_age);
                let modified_ms = modified
                    .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
                    .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
                let name = file_name(&file).unwrap_or_default();
                let owner_gone = write_id_of_file(&name)
                    .is_some_and(|id| parse_write_id(id).is_some() && owner_is_gone(id, modified_ms));
                let dead = old_enough || owner_gone;
                let url = Location::parse(&file.display().to_string())?.as_url_str();
                if dead && !listed.contains(&url) && std::fs::remove_file(&file).is_ok() {
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

    /// A pid no process has any more: a child that has exited and been reaped.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    fn id_of(pid: u32, at: chrono::DateTime<chrono::Utc>) -> String {
        format!("{}_{pid:x}_0", at.format("%Y%m%d_%H%M%S_%6f"))
    }

    #[test]
    fn owners_are_told_apart_by_pid_and_start_time() {
        let now_ms = chrono::Utc::now().timestamp_millis();
        assert!(!owner_is_gone(crate::write::staging::WriteId::new().as_str(), now_ms), "this process is alive");
        assert!(owner_is_gone(&id_of(dead_pid(), chrono::Utc::now()), now_ms), "an exited process");
        // This process started long after 2001: a write of that time by our pid was a pid reuse.
        let old = chrono::DateTime::parse_from_rfc3339("2001-01-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
        assert!(owner_is_gone(&id_of(std::process::id(), old), now_ms), "pid reused");
        // An id without a pid falls back to the age of the record.
        assert!(!owner_is_gone("killed", now_ms));
        assert!(owner_is_gone("killed", now_ms - ORPHAN_AGE.as_millis() as i64 * 2));
        assert_eq!(
            write_id_of_file("part-20261128_025016_123456_1f_0-00003.parquet"),
            Some("20261128_025016_123456_1f_0")
        );
    }

    #[test]
    fn dead_pending_writes_lose_their_files_and_record_live_ones_keep_theirs() {
        let home = tempfile::tempdir().unwrap();
        let lake = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(home.path()).unwrap();
        let location = Location::parse(&lake.path().display().to_string()).unwrap().as_dir().as_url_str();
        let dead = id_of(dead_pid(), chrono::Utc::now());
        let live = crate::write::staging::WriteId::new().to_string();
        for id in [&dead, &live] {
            catalog.write(|tx| tx.begin_pending_write("w", "ext", id, &location)).unwrap();
            let staging = lake.path().join(format!("{STAGING_PREFIX}{id}/k=1"));
            std::fs::create_dir_all(&staging).unwrap();
            std::fs::write(staging.join(format!("part-{id}-00002.parquet")), b"staged").unwrap();
            std::fs::create_dir_all(lake.path().join("k=1")).unwrap();
            std::fs::write(lake.path().join(format!("k=1/part-{id}-00001.parquet")), b"moved").unwrap();
        }
        // Data the write did not create, even with a similar name.
        std::fs::write(lake.path().join("k=1/part-other-00001.parquet"), b"theirs").unwrap();
        std::fs::write(lake.path().join(format!("k=1/{dead}.parquet")), b"theirs too").unwrap();

        let report = sweep_killed_writes(home.path(), &catalog);
        assert_eq!((report.external_files, report.records), (2, 1), "{report:?}");
        assert!(!lake.path().join(format!("{STAGING_PREFIX}{dead}")).exists());
        assert!(!lake.path().join(format!("k=1/part-{dead}-00001.parquet")).exists());
        for kept in [
            format!("k=1/part-{live}-00001.parquet"),
            format!("{STAGING_PREFIX}{live}/k=1/part-{live}-00002.parquet"),
            "k=1/part-other-00001.parquet".to_string(),
            format!("k=1/{dead}.parquet"),
        ] {
            assert!(lake.path().join(&kept).exists(), "{kept} was deleted");
        }
        let left: Vec<String> = catalog.all_pending_writes().unwrap().into_iter().map(|w| w.write_id).collect();
        assert_eq!(left, [live]);
    }

    #[test]
    fn unlisted_warehouse_files_of_dead_writers_go_at_once() {
        let home = tempfile::tempdir().unwrap();
        let mut session = Session::open(home.path()).unwrap();
        session.execute("CREATE TABLE t AS SELECT 1 AS a").unwrap();
        let folder = home.path().join("warehouse/default/t");
        let dead = folder.join(format!("part-{}-00001.parquet", id_of(dead_pid(), chrono::Utc::now())));
        let live = folder.join(format!("part-{}-00001.parquet", crate::write::staging::WriteId::new()));
        std::fs::write(&dead, b"killed").unwrap();
        std::fs::write(&live, b"being written").unwrap();
        assert_eq!(sweep_warehouse(home.path(), session.catalog(), ORPHAN_AGE).unwrap(), 1);
        assert!(!dead.exists() && live.exists());
        let rows = session.execute("SELECT a FROM t").unwrap();
        assert!(matches!(&rows[0], crate::session::QueryOutput::Rows { batches, .. } if batches[0].num_rows() == 1));
    }
}
