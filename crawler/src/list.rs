//! Listing: every object under the crawl root, with the junk left out and the reason it was.
//!
//! The root is listed one level deep first, then each top-level folder is listed in full, up to
//! `concurrency` folders at once; each listing is an object_store stream, which pages through S3
//! continuation tokens itself. Skips follow Hadoop/Spark/Glue conventions: names starting with
//! `_` or `.` are job metadata (`_SUCCESS`, `_temporary/`, `.crc`), `*_$folder$` are the folder
//! markers old S3 tools leave, and zero-byte objects hold no rows. A folder whose listing fails
//! (credentials that may not list that prefix) is reported as unlisted and the rest proceeds;
//! only a failure to list the root itself stops the crawl.

use std::fmt;

use chrono::{DateTime, Utc};
use futures::{stream, StreamExt, TryStreamExt};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore};

use crate::error::{CrawlError, Result};
use crate::object_error::list_failure;
use crate::progress::CrawlProgress;

/// An object that will be classified. Its full key is not kept ([`ListedObject::path`] rebuilds it
/// from the crawl root): a crawl holds one of these per object, so every string counts.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedObject {
    /// The key below the crawl root as the user names it (`orders/year=2024/part-0.parquet`),
    /// segments as the store spells them.
    pub relative: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
    /// The store's ETag (S3's, or the local store's inode-mtime-size tag), which tells a
    /// rewritten object from an unchanged one when times are coarse.
    pub e_tag: Option<String>,
}

impl ListedObject {
    /// The object's key in its store, under the crawl `root` it was listed from.
    pub fn path(&self, root: &ObjectPath) -> ObjectPath {
        let key = if root.as_ref().is_empty() { self.relative.clone() } else { format!("{root}/{}", self.relative) };
        // The segments came from a listed path, so they parse back to the same path.
        ObjectPath::parse(&key).unwrap_or_else(|_| ObjectPath::from(key))
    }

    /// The folder names between the crawl root and the file.
    pub fn folders(&self) -> Vec<&str> {
        let mut segments: Vec<&str> = self.relative.split('/').collect();
        segments.pop();
        segments
    }
}

/// Why an object was left out before classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// A path segment starting with `_` or `.`: job output metadata, not data.
    Hidden { segment: String },
    /// `_SUCCESS`: the marker a Hadoop/Spark job writes when it finishes.
    JobMarker,
    /// `name_$folder$`: an empty object some S3 tools create to represent a folder.
    FolderMarker,
    /// A zero-byte object holds no rows.
    Empty,
    /// Matched an `--exclude` glob.
    Excluded { pattern: String },
    /// A folder whose listing failed: its objects are unknown, so the plan neither crawls nor
    /// treats as vanished anything under it.
    Unlisted { detail: String },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Hidden { segment } => {
                write!(f, "'{segment}' starts with '_' or '.': job metadata by Hadoop/Spark convention")
            }
            SkipReason::JobMarker => f.write_str("_SUCCESS job marker"),
            SkipReason::FolderMarker => f.write_str("'_$folder$' folder marker"),
            SkipReason::Empty => f.write_str("empty object (0 bytes)"),
            SkipReason::Excluded { pattern } => write!(f, "matches --exclude '{pattern}'"),
            SkipReason::Unlisted { detail } => write!(f, "folder not crawled: {detail}"),
        }
    }
}

impl SkipReason {
    /// A short stable code for JSON output and tests.
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::Hidden { .. } => "hidden",
            SkipReason::JobMarker => "job_marker",
            SkipReason::FolderMarker => "folder_marker",
            SkipReason::Empty => "empty",
            SkipReason::Excluded { .. } => "excluded",
            SkipReason::Unlisted { .. } => "unlisted",
        }
    }
}

/// An object left out of the crawl, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct SkippedObject {
    pub relative: String,
    pub reason: SkipReason,
}

/// What listing found, sorted by relative key so every later step is deterministic.
#[derive(Debug, Default)]
pub struct Listing {
    pub objects: Vec<ListedObject>,
    pub skipped: Vec<SkippedObject>,
}

/// The `--exclude` globs, matched against keys relative to the crawl root. `*` and `?` stay
/// within one folder level, `**` crosses levels, as in Glue's exclude patterns.
#[derive(Debug)]
pub struct ExcludeSet {
    set: GlobSet,
    patterns: Vec<String>,
}

impl ExcludeSet {
    pub fn new(patterns: &[String]) -> Result<ExcludeSet> {
        let mut builder = GlobSetBuilder::new();
        for pattern in patterns {
            let glob = GlobBuilder::new(pattern.trim_start_matches('/'))
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| CrawlError::InvalidExclude { pattern: pattern.clone(), reason: e.kind().to_string() })?;
            builder.add(glob);
        }
        let set = builder
            .build()
            .map_err(|e| CrawlError::InvalidExclude { pattern: patterns.join(", "), reason: e.to_string() })?;
        Ok(ExcludeSet { set, patterns: patterns.to_vec() })
    }

    /// The first pattern matching `relative`, if any.
    pub fn matching(&self, relative: &str) -> Option<&str> {
        self.set.matches(relative).first().map(|&index| self.patterns[index].as_str())
    }
}

/// Lists everything under `root` in `store`, applying the skip rules and `excludes`. Keys are
/// taken literally (S3 keys and local file names alike, `%` included), as Hive stores them.
pub async fn list_objects(
    store: &dyn ObjectStore,
    root: &ObjectPath,
    excludes: &ExcludeSet,
    concurrency: usize,
    progress: &CrawlProgress,
) -> Result<Listing> {
    let list_error = |prefix: &ObjectPath| {
        let location = prefix.to_string();
        move |source| CrawlError::List { location, source }
    };
    let prefix = (!root.as_ref().is_empty()).then_some(root);
    let top = store.list_with_delimiter(prefix).await.map_err(list_error(root))?;
    let mut listing = Listing::default();
    progress.listed(top.objects.len() as u64);
    for meta in top.objects {
        listing.admit(meta, root, excludes);
    }
    let mut folders = stream::iter(top.common_prefixes)
        .map(|folder| async move {
            let metas: Result<Vec<ObjectMeta>, _> =
                store.list(Some(&folder)).inspect_ok(|_| progress.listed(1)).try_collect().await;
            (folder, metas)
        })
        .buffer_unordered(concurrency);
    while let Some((folder, metas)) = folders.next().await {
        match metas {
            Ok(metas) => metas.into_iter().for_each(|meta| listing.admit(meta, root, excludes)),
            Err(e) => {
                let relative = folder.prefix_match(root).map(|parts| parts.map(|p| p.as_ref().to_string()));
                let relative = format!("{}/", relative.map(|p| p.collect::<Vec<_>>().join("/")).unwrap_or_default());
                let detail = list_failure(folder.as_ref(), &e);
                listing.skipped.push(SkippedObject { relative, reason: SkipReason::Unlisted { detail } });
            }
        }
    }
    listing.objects.sort_by(|a, b| a.relative.cmp(&b.relative));
    listing.skipped.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(listing)
}

impl Listing {
    /// The folders (relative, ending in `/`) whose listing failed.
    pub fn unlisted_folders(skipped: &[SkippedObject]) -> impl Iterator<Item = &str> {
        skipped.iter().filter(|s| matches!(s.reason, SkipReason::Unlisted { .. })).map(|s| s.relative.as_str())
    }

    /// Adds one listed object as kept or skipped.
    fn admit(&mut self, meta: ObjectMeta, root: &ObjectPath, excludes: &ExcludeSet) {
        let Some(parts) = meta.location.prefix_match(root) else {
            return;
        };
        let names: Vec<String> = parts.map(|part| part.as_ref().to_string()).collect();
        let relative = names.join("/");
        match skip_reason(&names, &relative, meta.size, excludes) {
            Some(reason) => self.skipped.push(SkippedObject { relative, reason }),
            None => self.objects.push(ListedObject {
                relative,
                size: meta.size,
                last_modified: meta.last_modified,
                e_tag: meta.e_tag,
            }),
        }
    }
}

fn skip_reason(names: &[String], relative: &str, size: u64, excludes: &ExcludeSet) -> Option<SkipReason> {
    let file = names.last().map(String::as_str).unwrap_or_default();
    if file == "_SUCCESS" {
        return Some(SkipReason::JobMarker);
    }
    if file.ends_with("_$folder$") {
        return Some(SkipReason::FolderMarker);
    }
    if let Some(segment) = names.iter().find(|name| name.starts_with('_') || name.starts_with('.')) {
        return Some(SkipReason::Hidden { segment: segment.clone() });
    }
    if let Some(pattern) = excludes.matching(relative) {
        return Some(SkipReason::Excluded { pattern: pattern.to_string() });
    }
    if size == 0 {
        return Some(SkipReason::Empty);
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use object_store::memory::InMemory;
    use object_store::{ObjectStoreExt, PutPayload};

    use super::*;

    fn excludes(patterns: &[&str]) -> ExcludeSet {
        ExcludeSet::new(&patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn exclude_globs_follow_glue_semantics() {
        let set = excludes(&["**/_tmp/**", "*.txt", "logs/2024-0?/*", "raw/[ab]*.csv", "{x,y}/**"]);
        assert_eq!(set.matching("orders/_tmp/a.parquet"), Some("**/_tmp/**"));
        assert_eq!(set.matching("readme.txt"), Some("*.txt"));
        assert_eq!(set.matching("docs/readme.txt"), None, "* stays within one level");
        assert_eq!(set.matching("logs/2024-05/a.csv"), Some("logs/2024-0?/*"));
        assert_eq!(set.matching("raw/b1.csv"), Some("raw/[ab]*.csv"));
        assert_eq!(set.matching("raw/c1.csv"), None);
        assert_eq!(set.matching("y/deep/z.csv"), Some("{x,y}/**"));
        assert!(matches!(ExcludeSet::new(&["a[".to_string()]), Err(CrawlError::InvalidExclude { .. })));
    }

    #[tokio::test]
    async fn lists_all_levels_and_skips_junk_with_reasons() {
        let store = Arc::new(InMemory::new());
        let put = |key: &'static str, body: &'static [u8]| {
            let store = store.clone();
            async move { store.put(&ObjectPath::from(key), PutPayload::from_static(body)).await.unwrap() }
        };
        put("lake/orders/year=2024/part-0.parquet", b"PAR1").await;
        put("lake/orders/_SUCCESS", b"").await;
        put("lake/orders/_temporary/0/part-1.parquet", b"x").await;
        put("lake/orders/.part-0.crc", b"x").await;
        put("lake/orders_$folder$", b"").await;
        put("lake/users/a.csv", b"id\n1\n").await;
        put("lake/users/empty.csv", b"").await;
        put("lake/users/tmp/b.csv", b"id\n2\n").await;
        put("lake/top.csv", b"id\n3\n").await;
        put("elsewhere/x.csv", b"id\n").await;
        let listing = list_objects(
            store.as_ref(),
            &ObjectPath::from("lake"),
            &excludes(&["*/tmp/**"]),
            2,
            &CrawlProgress::hidden(),
        )
        .await
        .unwrap();
        let kept: Vec<_> = listing.objects.iter().map(|o| o.relative.as_str()).collect();
        assert_eq!(kept, ["orders/year=2024/part-0.parquet", "top.csv", "users/a.csv"]);
        let skipped: Vec<_> = listing.skipped.iter().map(|s| (s.relative.as_str(), s.reason.code())).collect();
        assert_eq!(
            skipped,
            [
                ("orders/.part-0.crc", "hidden"),
                ("orders/_SUCCESS", "job_marker"),
                ("orders/_temporary/0/part-1.parquet", "hidden"),
                ("orders_$folder$", "folder_marker"),
                ("users/empty.csv", "empty"),
                ("users/tmp/b.csv", "excluded"),
            ]
        );
        assert_eq!(listing.objects[0].folders(), ["orders", "year=2024"]);
        let root = ObjectPath::from("lake");
        assert_eq!(listing.objects[0].path(&root), ObjectPath::from("lake/orders/year=2024/part-0.parquet"));
        assert_eq!(listing.objects[1].path(&ObjectPath::default()).as_ref(), "top.csv");
    }
}
