//! The staged-write protocol (design §2, "Writes and consistency"): every file a write creates
//! carries the write's unique id in its name, is written where no reader looks, and becomes
//! visible only through one catalog transaction; a write that fails removes exactly the files it
//! created, never anything else.
//!
//! Where the files go first depends on who could see them early:
//! - [`Placement::Direct`]: final names at once. For local tables (readers see only the catalog's
//!   file list) and for CTAS into a new table whose location was checked empty (nothing in the
//!   catalog points there until the commit). This saves S3 a copy of every byte.
//! - [`Placement::Staged`]: under `<root>/.tarn-staging-<id>/` (hidden from Hive-style listings by
//!   the leading `.`), moved into place once every file is complete, just before the commit. Used
//!   when readers list the folder (INSERT into an existing external table). On S3 a move is a
//!   server-side copy and a delete.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt};
use tarn_catalog::{Location, StoreRegistry};
use tokio::runtime::Handle;

use crate::error::{EngineError, Result};
use crate::io::runtime::block_on_io;

/// The hidden folder prefix staged files live under until they are moved into place.
pub const STAGING_PREFIX: &str = ".tarn-staging-";

/// A write's unique id: in every file name it creates, and in `sys.load_errors` rows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WriteId(String);

impl WriteId {
    /// Unique across processes sharing a home: the time, the process id and a per-process count.
    pub fn new() -> WriteId {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let now = chrono::Utc::now();
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        WriteId(format!("{}_{:x}_{count}", now.format("%Y%m%d_%H%M%S_%6f"), std::process::id()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for WriteId {
    fn default() -> WriteId {
        WriteId::new()
    }
}

impl std::fmt::Display for WriteId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether files are written under their final names or staged and moved (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Direct,
    Staged,
}

/// Where one write puts its files.
#[derive(Clone)]
pub struct WriteTarget {
    pub id: WriteId,
    pub store: Arc<dyn ObjectStore>,
    /// The final folder (table location).
    pub root: Location,
    /// Where files are first written: `root`, or its staging folder.
    pub write_root: Location,
    pub placement: Placement,
    pub io: Handle,
}

/// A completed file of a write, relative to its target's root.
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenFile {
    /// `k=v/part-<id>-00001.parquet`.
    pub relative: String,
    /// The unescaped partition values (`None` for NULL), empty for unpartitioned writes.
    pub partition: Vec<Option<String>>,
    pub size_bytes: u64,
    pub row_count: u64,
}

impl WriteTarget {
    pub fn new(root: &Location, placement: Placement, stores: &Arc<StoreRegistry>, io: &Handle) -> Result<WriteTarget> {
        let id = WriteId::new();
        let root = root.as_dir();
        let store = store_for(stores, &root, io)?;
        let write_root = match placement {
            Placement::Direct => root.clone(),
            Placement::Staged => root.join(&format!("{STAGING_PREFIX}{id}/")),
        };
        Ok(WriteTarget { id, store, root, write_root, placement, io: io.clone() })
    }

    /// Where a file is written first.
    pub fn write_location(&self, relative: &str) -> Location {
        self.write_root.join(relative)
    }

    /// Where a file ends up.
    pub fn final_location(&self, relative: &str) -> Location {
        self.root.join(relative)
    }

    /// Moves staged files into place (nothing to do for direct writes). On failure the files
    /// already moved stay listed for [`WriteTarget::remove`], which deletes both spellings.
    pub fn publish(&self, files: &[WrittenFile]) -> Result<()> {
        if self.placement == Placement::Direct {
            return Ok(());
        }
        let moves: Vec<(object_store::path::Path, object_store::path::Path)> = files
            .iter()
            .map(|f| (self.write_location(&f.relative).object_path(), self.final_location(&f.relative).object_path()))
            .collect();
        let store = self.store.clone();
        let root = self.root.as_url_str();
        block_on_io(&self.io, async move {
            for (from, to) in moves {
                store
                    .rename(&from, &to)
                    .await
                    .map_err(|e| EngineError::Storage { location: format!("{root} ({to})"), message: e.to_string() })?;
            }
            Ok::<_, EngineError>(())
        })??;
        self.remove_staging_folder();
        Ok(())
    }

    /// Removes everything this write created: its files under both their staged and final names,
    /// and anything left below its staging folder. Best effort: the write has already failed and
    /// reports that error; a file that cannot be deleted now is one with this write's id in its
    /// name, never someone else's data.
    pub fn remove(&self, files: &[WrittenFile]) {
        let mut paths: Vec<object_store::path::Path> = Vec::new();
        for file in files {
            paths.push(self.final_location(&file.relative).object_path());
            if self.placement == Placement::Staged {
                paths.push(self.write_location(&file.relative).object_path());
            }
        }
        let store = self.store.clone();
        let _ = block_on_io(&self.io, async move {
            for path in paths {
                let _ = store.delete(&path).await;
            }
        });
        self.remove_staging_folder();
    }

    /// Deletes every object below the staging folder (a staged write only).
    fn remove_staging_folder(&self) {
        if self.placement != Placement::Staged {
            return;
        }
        let store = self.store.clone();
        let prefix = self.write_root.object_path();
        let local_dir = (!self.write_root.is_s3()).then(|| format!("/{}", prefix.as_ref()));
        let _ = block_on_io(&self.io, async move {
            let listed: Vec<_> = store.list(Some(&prefix)).try_collect().await.unwrap_or_default();
            for meta in listed {
                let _ = store.delete(&meta.location).await;
            }
        });
        // The local store leaves empty folders behind; S3 has none.
        if let Some(dir) = local_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Whether a folder holds any object (the check before CTAS writes into an external location).
pub fn folder_has_objects(location: &Location, stores: &Arc<StoreRegistry>, io: &Handle) -> Result<bool> {
    let store = store_for(stores, location, io)?;
    let prefix = location.as_dir().object_path();
    let url = location.as_dir().as_url_str();
    block_on_io(io, async move {
        let mut listing = store.list(Some(&prefix));
        match listing.try_next().await {
            Ok(next) => Ok(next.is_some()),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(EngineError::Storage { location: url, message: e.to_string() }),
        }
    })?
}

/// The object store of `location`, resolved on the I/O runtime (S3 configuration reads the AWS
/// environment asynchronously).
pub fn store_for(stores: &Arc<StoreRegistry>, location: &Location, io: &Handle) -> Result<Arc<dyn ObjectStore>> {
    let stores = stores.clone();
    let location = location.clone();
    Ok(block_on_io(io, async move { stores.store_for(&location).await })??)
}
