//! Table and file locations: `s3://bucket/key`, `file:///abs/path` or a plain local path, parsed
//! once into the object store they live in and the key within it, and resolved to a shared
//! `ObjectStore` by [`StoreRegistry`].
//!
//! Location text is taken literally (no percent-decoding), as Hive and Glue store locations: a
//! Hive partition folder such as `ts=10%3A00` is a key containing `%3A`. This also makes
//! [`Location::as_url_str`] round-trip through [`Location::parse`], which the catalog relies on.

mod credentials;
mod registry;
pub mod s3_error;

use std::fmt;

use object_store::path::{Path as ObjectPath, PathPart};

use crate::error::{CatalogError, Result};

pub use registry::StoreRegistry;

/// A parsed, normalised location of a folder or file in S3 or on the local file system.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// `Some(bucket)` for S3, `None` for the local file system.
    bucket: Option<String>,
    /// The key within the store: the S3 key, or the absolute path without its leading `/`.
    key: ObjectPath,
    /// Whether the text named a folder (ended with `/`); kept so the URL prints as written.
    is_dir: bool,
}

impl Location {
    /// Parses `s3://` (also `s3a://` and `s3n://`, as Hadoop spells it), `file:///abs/path`, or a
    /// plain path, which is made absolute against the current directory (`~` is not expanded).
    pub fn parse(text: &str) -> Result<Location> {
        let invalid =
            |reason: &str| CatalogError::InvalidLocation { location: text.to_string(), reason: reason.to_string() };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(invalid("the location is empty"));
        }
        if let Some(control) = trimmed.chars().find(|c| c.is_control()) {
            return Err(invalid(&format!("it contains the control character {control:?}")));
        }
        let is_dir = trimmed.ends_with('/');
        let Some((scheme, rest)) = split_scheme(trimmed) else {
            return Location::local(text, trimmed, is_dir);
        };
        match scheme.to_ascii_lowercase().as_str() {
            "s3" | "s3a" | "s3n" => {
                let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(invalid("it names no bucket (expected s3://bucket/prefix/)"));
                }
                if bucket.chars().any(char::is_whitespace) {
                    return Err(invalid("the bucket name contains whitespace"));
                }
                let key = parse_key(key.split('/')).map_err(|reason| invalid(&reason))?;
                Ok(Location { bucket: Some(bucket.to_string()), is_dir: is_dir || key.as_ref().is_empty(), key })
            }
            "file" => {
                let path = rest.strip_prefix("localhost").unwrap_or(rest);
                if !path.starts_with('/') {
                    return Err(invalid(
                        "a file URL needs an absolute path (file:///abs/path); write a relative \
                         path without file://",
                    ));
                }
                Location::local(text, path, is_dir)
            }
            other => {
                Err(invalid(&format!("the scheme '{other}://' is not supported; use s3://, file:// or a local path")))
            }
        }
    }

    /// A local path, made absolute and normalised lexically (`.` and `..` resolved without
    /// touching the file system, because the folder may not exist yet).
    fn local(text: &str, path: &str, is_dir: bool) -> Result<Location> {
        let invalid = |reason: String| CatalogError::InvalidLocation { location: text.to_string(), reason };
        let path = std::path::Path::new(path);
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            let cwd = std::env::current_dir().map_err(|e| invalid(format!("cannot resolve a relative path: {e}")))?;
            cwd.join(path)
        };
        let mut segments: Vec<&str> = Vec::new();
        for component in absolute.components() {
            match component {
                std::path::Component::Normal(name) => {
                    segments.push(name.to_str().ok_or_else(|| invalid("the path is not valid UTF-8".to_string()))?)
                }
                std::path::Component::ParentDir => {
                    segments.pop();
                }
                _ => {}
            }
        }
        let key = parse_key(segments.into_iter()).map_err(invalid)?;
        Ok(Location { bucket: None, is_dir: is_dir || key.as_ref().is_empty(), key })
    }

    /// The normalised URL (`s3://bucket/key`, `file:///abs/path`); folders keep their trailing `/`.
    pub fn as_url_str(&self) -> String {
        self.to_string()
    }

    /// The same location as a folder (trailing `/`), the form table and partition locations take.
    pub fn as_dir(&self) -> Location {
        Location { is_dir: true, ..self.clone() }
    }

    /// Whether the location was written as a folder (with a trailing `/`).
    pub fn is_dir(&self) -> bool {
        self.is_dir
    }

    /// Whether the location is in S3 (or an S3-compatible server).
    pub fn is_s3(&self) -> bool {
        self.bucket.is_some()
    }

    /// The S3 bucket, `None` for local locations.
    pub fn bucket(&self) -> Option<&str> {
        self.bucket.as_deref()
    }

    /// The key within its store: the S3 key, or for local files the absolute path without its
    /// leading `/` (the stores [`StoreRegistry`] hands out are rooted at `/`).
    pub fn object_path(&self) -> ObjectPath {
        self.key.clone()
    }

    /// A location below this one: `child` is one or more `/`-separated segments such as
    /// `year=2024/` or `part-0.parquet`; a trailing `/` makes the result a folder. Segments are
    /// kept literally, except ones object_store cannot hold raw (`.`, `..`, control characters),
    /// which are percent-encoded as object_store encodes them rather than escaping the folder.
    pub fn join(&self, child: &str) -> Location {
        let mut key = self.key.clone();
        for segment in child.split('/').filter(|s| !s.is_empty()) {
            let part = PathPart::parse(segment).unwrap_or_else(|_| PathPart::from(segment));
            key = key.join(part);
        }
        let is_dir = if child.trim_matches('/').is_empty() { self.is_dir } else { child.ends_with('/') };
        Location { bucket: self.bucket.clone(), key, is_dir }
    }
}

/// `scheme://rest` when the text starts with a URL scheme (letters, digits, `+-.`).
fn split_scheme(text: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = text.split_once("://")?;
    let valid = scheme.chars().next()?.is_ascii_alphabetic()
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some((scheme, rest))
}

/// A key from its segments: empty segments (`//`) are dropped; `.` and `..` are refused because an
/// object key cannot hold them and their meaning in S3 would be ambiguous.
fn parse_key<'a>(segments: impl Iterator<Item = &'a str>) -> Result<ObjectPath, String> {
    let segments: Vec<&str> = segments.filter(|s| !s.is_empty()).collect();
    ObjectPath::parse(segments.join("/")).map_err(|e| format!("invalid key: {e}"))
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.bucket {
            Some(bucket) => write!(f, "s3://{bucket}/{}", self.key)?,
            None => write!(f, "file:///{}", self.key)?,
        }
        if self.is_dir && !self.key.as_ref().is_empty() {
            f.write_str("/")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> String {
        Location::parse(text).unwrap().as_url_str()
    }

    fn reason(text: &str) -> String {
        match Location::parse(text) {
            Err(CatalogError::InvalidLocation { reason, .. }) => reason,
            other => panic!("expected InvalidLocation for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn parses_and_normalises_s3() {
        assert_eq!(url("s3://bucket/raw/sales/"), "s3://bucket/raw/sales/");
        assert_eq!(url("s3a://bucket/raw//sales"), "s3://bucket/raw/sales");
        assert_eq!(url("S3N://bucket"), "s3://bucket/");
        assert_eq!(url("  s3://bucket/  "), "s3://bucket/");
        let loc = Location::parse("s3://bucket/raw/ts=10%3A00/part-0.parquet").unwrap();
        assert!(loc.is_s3());
        assert!(!loc.is_dir());
        assert_eq!(loc.bucket(), Some("bucket"));
        assert_eq!(loc.object_path().as_ref(), "raw/ts=10%3A00/part-0.parquet");
        assert_eq!(Location::parse(&loc.as_url_str()).unwrap(), loc);
    }

    #[test]
    fn parses_and_normalises_local_paths() {
        let loc = Location::parse("file:///data/lake/./raw/../sales/").unwrap();
        assert!(!loc.is_s3());
        assert_eq!(loc.bucket(), None);
        assert_eq!(loc.as_url_str(), "file:///data/lake/sales/");
        assert_eq!(loc.object_path().as_ref(), "data/lake/sales");
        assert_eq!(url("/data/lake/x.csv"), "file:///data/lake/x.csv");
        assert_eq!(url("file://localhost/data/"), "file:///data/");
        assert_eq!(url("/"), "file:///");

        let cwd = std::env::current_dir().unwrap();
        let expected = format!("file://{}/lake/", cwd.display());
        assert_eq!(url("lake/"), expected);
        assert_eq!(url("./lake/"), expected);
        assert_eq!(url("~/lake"), format!("file://{}/~/lake", cwd.display()));
    }

    #[test]
    fn refuses_bad_locations_with_a_reason() {
        assert!(reason("s3:///key").contains("bucket"));
        assert!(reason("s3://").contains("bucket"));
        assert!(reason("gs://bucket/x").contains("'gs://' is not supported"));
        assert!(reason("file://relative/path").contains("absolute path"));
        assert!(reason("").contains("empty"));
        assert!(reason("s3://bucket/a/../b").contains("invalid key"));
        assert!(reason("s3://bucket/a\nb").contains("control character"));
    }

    #[test]
    fn joins_children_and_tracks_folders() {
        let table = Location::parse("s3://bucket/sales").unwrap();
        assert_eq!(table.as_dir().as_url_str(), "s3://bucket/sales/");
        let partition = table.join("year=2024/");
        assert!(partition.is_dir());
        assert_eq!(partition.as_url_str(), "s3://bucket/sales/year=2024/");
        let file = partition.join("month=05/part-0.parquet");
        assert_eq!(file.as_url_str(), "s3://bucket/sales/year=2024/month=05/part-0.parquet");
        assert_eq!(file.object_path().as_ref(), "sales/year=2024/month=05/part-0.parquet");
        assert_eq!(table.join("ts=10%3A00/").object_path().as_ref(), "sales/ts=10%3A00");
        assert_eq!(table.join("..").object_path().as_ref(), "sales/%2E%2E");
        assert_eq!(table.as_dir().join(""), table.as_dir());

        let local = Location::parse("/tmp/warehouse/").unwrap();
        assert_eq!(local.join("db/t/").as_url_str(), "file:///tmp/warehouse/db/t/");
        let root = Location::parse("s3://bucket").unwrap();
        assert_eq!(root.join("a.csv").as_url_str(), "s3://bucket/a.csv");
        assert_eq!(format!("{root:?}"), "Location(s3://bucket/)");
    }
}
