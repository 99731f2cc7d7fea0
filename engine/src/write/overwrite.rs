//! CTAS `overwrite = true`: Tarn's opt-in to write into a non-empty `external_location` (Athena
//! has none). Design issue 6: CTAS "never deletes data it did not write", so every CTAS leaves a
//! marker, [`MARKER`], listing the files it wrote; an overwrite replaces a folder only when every
//! object in it is one of those files (or the marker), and refuses otherwise, naming a stranger.
//!
//! The marker's leading `_` hides it from Hive-style listings (Tarn's scans, the crawler, Athena,
//! Spark), so it is never read as data.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tarn_catalog::{Catalog, Location, StoreRegistry};
use tokio::runtime::Handle;

use crate::error::{EngineError, Result};
use crate::io::runtime::block_on_io;
use crate::write::staging::{store_for, WrittenFile};

/// The marker file a CTAS writes at its location's root: one relative file path per line.
pub const MARKER: &str = "_tarn_ctas_files";

/// The files a folder's last CTAS wrote, when overwriting them is safe: every object below
/// `location` is listed in its marker (or is the marker). `Err` names what blocks the overwrite.
pub fn files_to_replace(location: &Location, stores: &Arc<StoreRegistry>, io: &Handle) -> Result<Vec<String>> {
    let store = store_for(stores, location, io)?;
    let root = location.as_dir();
    let url = root.as_url_str();
    let prefix = root.object_path();
    let marker = root.join(MARKER).object_path();
    let storage_error = |e: object_store::Error| EngineError::Storage { location: url.clone(), message: e.to_string() };
    let (listed, written) = block_on_io(io, async move {
        let listed: Vec<Path> = match store.list(Some(&prefix)).try_collect::<Vec<_>>().await {
            Ok(metas) => metas.into_iter().map(|m| m.location).collect(),
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        let written = match store.get(&marker).await {
            Ok(result) => Some(result.bytes().await?),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        Ok((listed.into_iter().filter_map(|p| relative_key(&prefix, &p)).collect::<Vec<_>>(), written))
    })?
    .map_err(storage_error)?;
    let Some(written) = written else {
        return Err(EngineError::plan(format!(
            "overwrite = true replaces only files an earlier Tarn CTAS wrote, and '{url}' has no {MARKER} listing \
             them: its files were written by something else; remove them yourself or choose another location"
        )));
    };
    let written: BTreeSet<String> = String::from_utf8_lossy(&written).lines().map(str::to_string).collect();
    if let Some(stranger) = listed.iter().find(|key| key.as_str() != MARKER && !written.contains(*key)) {
        return Err(EngineError::plan(format!(
            "overwrite = true refuses: '{url}{stranger}' was not written by Tarn's last CTAS there (it is not in \
             {MARKER}); nothing was written or deleted"
        )));
    }
    Ok(listed.into_iter().filter(|key| key != MARKER).collect())
}

/// Refuses an overwrite while a catalog table still reads the folder: its rows would change under
/// it. Athena users drop the old table first, and so must Tarn's.
pub fn check_no_table_uses(location: &Location, catalog: &Catalog) -> Result<()> {
    let url = location.as_dir().as_url_str();
    for database in catalog.list_databases()? {
        for table in catalog.list_tables(&database.name)? {
            let same = Location::parse(&table.storage.location).is_ok_and(|l| l.as_dir().as_url_str() == url);
            if same {
                return Err(EngineError::plan(format!(
                    "overwrite = true refuses: table '{}.{}' still reads '{url}'; DROP TABLE it first",
                    table.database, table.name
                )));
            }
        }
    }
    Ok(())
}

/// Deletes the files [`files_to_replace`] returned (already-missing ones are fine).
pub fn delete_files(location: &Location, files: &[String], stores: &Arc<StoreRegistry>, io: &Handle) -> Result<()> {
    let store = store_for(stores, location, io)?;
    let root = location.as_dir();
    let paths: Vec<Path> = files.iter().map(|f| root.join(f).object_path()).collect();
    block_on_io(io, async move {
        for path in paths {
            match store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(EngineError::Storage { location: path.to_string(), message: e.to_string() }),
            }
        }
        Ok(())
    })?
}

/// Records the files of a committed CTAS in [`MARKER`].
pub fn write_marker(
    location: &Location,
    files: &[WrittenFile],
    stores: &Arc<StoreRegistry>,
    io: &Handle,
) -> Result<()> {
    let store = store_for(stores, location, io)?;
    let path = location.as_dir().join(MARKER).object_path();
    let text: String = files.iter().map(|f| format!("{}\n", f.relative)).collect();
    let url = location.as_dir().as_url_str();
    block_on_io(io, async move {
        store
            .put(&path, PutPayload::from(text.into_bytes()))
            .await
            .map(|_| ())
            .map_err(|e| EngineError::Storage { location: format!("{url}{MARKER}"), message: e.to_string() })
    })?
}

/// The key of `location` below `prefix`, without a leading `/`.
fn relative_key(prefix: &Path, location: &Path) -> Option<String> {
    let parts: Vec<String> = location.prefix_match(prefix)?.map(|p| p.as_ref().to_string()).collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}
