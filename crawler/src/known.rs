//! Incremental re-crawls: what earlier crawls of the same root learnt from each object, so an
//! object whose size, modification time and ETag are unchanged is not opened again. Reading
//! footers and samples is nearly all of a crawl's time (listing 100,000 local objects takes about
//! a tenth of it), so an unchanged lake is re-crawled at the cost of its listing.
//!
//! The catalog stores, per crawl root and key, the object's identity when it was read, its row
//! count, and its [`FileClass`] as JSON text. Classes are interned both in the catalog and in
//! memory: the thousands of files one job writes share one class, so neither grows with the
//! number of objects beyond a key and a few integers each. Records made with other settings
//! (another `--sample-rows`, an older crawler) are ignored and replaced, since the same bytes
//! could be classified differently.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Value};
use tarn_catalog::{Catalog, CrawledFile, SqlType};

use crate::classify::{ClassifiedFile, FileClass, FileFormat};
use crate::compression::Compression;
use crate::error::Result;
use crate::list::ListedObject;
use crate::schema::FileColumn;
use crate::sniff::CsvDialect;

/// Bumped whenever classification changes in a way that makes stored results stale.
const RESULT_VERSION: u32 = 1;

/// The settings a stored result depends on, as stored with it.
pub fn sampled_with(sample_rows: usize) -> String {
    format!("tarn-crawler results v{RESULT_VERSION}; sample_rows={sample_rows}")
}

/// One distinct [`FileClass`] per distinct finding, each with its stored text.
#[derive(Debug, Clone, Default)]
pub struct ClassInterner {
    by_text: HashMap<Arc<str>, Arc<FileClass>>,
    /// The text of each interned class, by the class's address (stable: `by_text` keeps it alive).
    texts: HashMap<usize, Arc<str>>,
}

impl ClassInterner {
    /// The shared copy of `class`.
    pub fn intern(&mut self, class: Arc<FileClass>) -> Arc<FileClass> {
        let text: Arc<str> = Arc::from(encode(&class).to_string());
        match self.by_text.get(&text) {
            Some(existing) => existing.clone(),
            None => self.insert(text, class),
        }
    }

    /// The shared class stored as `text`, decoding it the first time; `None` when it does not
    /// decode (written by another version: the object is read again).
    fn intern_text(&mut self, text: Arc<str>) -> Option<Arc<FileClass>> {
        match self.by_text.get(&text) {
            Some(existing) => Some(existing.clone()),
            None => {
                let class = Arc::new(decode(&text)?);
                Some(self.insert(text, class))
            }
        }
    }

    fn insert(&mut self, text: Arc<str>, class: Arc<FileClass>) -> Arc<FileClass> {
        self.texts.insert(Arc::as_ptr(&class) as usize, text.clone());
        self.by_text.insert(text, class.clone());
        class
    }

    /// The stored text of an interned class.
    pub fn text_of(&self, class: &Arc<FileClass>) -> Option<Arc<str>> {
        self.texts.get(&(Arc::as_ptr(class) as usize)).cloned()
    }

    /// How many distinct classes were seen.
    pub fn len(&self) -> usize {
        self.by_text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_text.is_empty()
    }
}

/// What the catalog remembers of one object.
#[derive(Debug)]
struct Known {
    size: u64,
    modified_us: i64,
    etag: Option<String>,
    rows: u64,
    class: Arc<FileClass>,
}

/// The objects earlier crawls of one root read, consumed as this crawl lists them.
#[derive(Debug, Default)]
pub struct KnownObjects {
    by_key: HashMap<String, Known>,
    pub interner: ClassInterner,
    /// Keys that were known but changed: their records are replaced or, if the object no longer
    /// classifies, removed.
    changed: Vec<String>,
}

impl KnownObjects {
    /// What the catalog remembers of `source` for crawls with `sampled_with` settings.
    pub fn load(catalog: &Catalog, source: &str, sampled_with: &str) -> Result<KnownObjects> {
        let files = catalog.read(|tx| tx.crawled_files(source, sampled_with))?.files;
        let mut known = KnownObjects::default();
        known.by_key.reserve(files.len());
        for file in files {
            let Some(class) = known.interner.intern_text(file.result) else { continue };
            known.by_key.insert(
                file.key,
                Known {
                    size: file.size_bytes,
                    modified_us: file.modified_us,
                    etag: file.etag,
                    rows: file.row_count,
                    class,
                },
            );
        }
        Ok(known)
    }

    /// The earlier finding for `object` when it is unchanged (same size, modification time and
    /// ETag); `None` when it is new or changed and must be read.
    pub fn reuse(&mut self, object: &ListedObject) -> Option<(u64, Arc<FileClass>)> {
        let known = self.by_key.remove(&object.relative)?;
        let unchanged = known.size == object.size
            && known.modified_us == object.last_modified.timestamp_micros()
            && known.etag == object.e_tag;
        if unchanged {
            Some((known.rows, known.class))
        } else {
            self.changed.push(object.relative.clone());
            None
        }
    }

    /// The records to forget after this crawl: objects that changed, and known objects this
    /// crawl did not list, except under `unlisted` folders (relative, ending in `/`), whose
    /// objects are unknown rather than gone.
    pub fn into_removed(self, unlisted: &[&str]) -> (ClassInterner, Vec<String>) {
        let mut removed = self.changed;
        removed.extend(self.by_key.into_keys().filter(|key| !unlisted.iter().any(|folder| key.starts_with(folder))));
        removed.sort_unstable();
        (self.interner, removed)
    }
}

/// What applying a crawl writes into the catalog's memory of objects read.
#[derive(Debug, Clone, Default)]
pub struct KnownUpdate {
    pub source: String,
    pub sampled_with: String,
    /// The files this crawl read (fresh), to remember.
    pub files: Vec<ClassifiedFile>,
    pub removed: Vec<String>,
    pub interner: ClassInterner,
}

impl KnownUpdate {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.removed.is_empty()
    }

    /// The catalog records of the files read, made one at a time as they are written.
    pub fn records(&self) -> impl Iterator<Item = CrawledFile> + '_ {
        self.files.iter().filter_map(|file| {
            Some(CrawledFile {
                key: file.object.relative.clone(),
                size_bytes: file.object.size,
                modified_us: file.object.last_modified.timestamp_micros(),
                etag: file.object.e_tag.clone(),
                row_count: file.rows,
                result: self.interner.text_of(&file.class)?,
            })
        })
    }
}

/// A class as the JSON text the catalog stores.
fn encode(class: &FileClass) -> Value {
    let format = match &class.format {
        FileFormat::Parquet { codec } => json!({"kind": "parquet", "codec": codec}),
        FileFormat::Delimited { dialect, header, compression } => json!({
            "kind": "delimited",
            "delimiter": dialect.delimiter,
            "quote": dialect.quote,
            "escape": dialect.escape,
            "header": header,
            "compression": compression.as_str(),
        }),
        FileFormat::JsonLines { compression } => json!({"kind": "json", "compression": compression.as_str()}),
    };
    let columns: Vec<Value> = class
        .columns
        .iter()
        .map(|c| json!({"name": c.name, "type": c.data_type.to_string(), "reason": c.reason, "format": c.format}))
        .collect();
    json!({
        "format": format,
        "columns": columns,
        "rows_exact": class.rows_exact,
        "word_nulls": class.word_nulls,
        "notes": class.notes,
    })
}

/// The class stored as `text`; `None` when any part does not decode.
fn decode(text: &str) -> Option<FileClass> {
    let value: Value = serde_json::from_str(text).ok()?;
    let format = &value["format"];
    let compression = || compression(format["compression"].as_str()?);
    let byte = |v: &Value| -> Option<Option<u8>> {
        match v {
            Value::Null => Some(None),
            v => Some(Some(u8::try_from(v.as_u64()?).ok()?)),
        }
    };
    let format = match format["kind"].as_str()? {
        "parquet" => FileFormat::Parquet { codec: format["codec"].as_str()?.to_string() },
        "delimited" => FileFormat::Delimited {
            dialect: CsvDialect {
                delimiter: byte(&format["delimiter"])??,
                quote: byte(&format["quote"])?,
                escape: byte(&format["escape"])?,
            },
            header: format["header"].as_bool()?,
            compression: compression()?,
        },
        "json" => FileFormat::JsonLines { compression: compression()? },
        _ => return None,
    };
    let columns = value["columns"]
        .as_array()?
        .iter()
        .map(|c| {
            Some(FileColumn {
                name: c["name"].as_str()?.to_string(),
                data_type: SqlType::parse(c["type"].as_str()?).ok()?,
                reason: c["reason"].as_str()?.to_string(),
                format: c["format"].as_str().map(str::to_string),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let notes =
        value["notes"].as_array()?.iter().map(|n| n.as_str().map(str::to_string)).collect::<Option<Vec<_>>>()?;
    Some(FileClass {
        format,
        columns,
        rows_exact: value["rows_exact"].as_bool()?,
        word_nulls: value["word_nulls"].as_bool()?,
        notes,
    })
}

fn compression(name: &str) -> Option<Compression> {
    [Compression::None, Compression::Gzip, Compression::Zstd, Compression::Bzip2]
        .into_iter()
        .find(|c| c.as_str() == name)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn class(codec: &str) -> FileClass {
        FileClass {
            format: FileFormat::Parquet { codec: codec.into() },
            columns: vec![FileColumn {
                name: "amount".into(),
                data_type: SqlType::Decimal(12, 2),
                reason: "Decimal128(12, 2) in the Parquet footer".into(),
                format: None,
            }],
            rows_exact: true,
            word_nulls: false,
            notes: vec!["Parquet footer, snappy codec".into()],
        }
    }

    #[test]
    fn classes_round_trip_through_their_text() {
        let csv = FileClass {
            format: FileFormat::Delimited {
                dialect: CsvDialect { delimiter: b'|', quote: Some(b'"'), escape: None },
                header: true,
                compression: Compression::Gzip,
            },
            columns: vec![FileColumn {
                name: "ts".into(),
                data_type: SqlType::Timestamp,
                reason: "20 sampled values".into(),
                format: Some("yyyy/MM/dd HH:mm:ss".into()),
            }],
            rows_exact: false,
            word_nulls: true,
            notes: vec!["delimited text".into()],
        };
        for class in [
            class("snappy"),
            csv,
            FileClass { format: FileFormat::JsonLines { compression: Compression::None }, ..class("x") },
        ] {
            assert_eq!(decode(&encode(&class).to_string()), Some(class));
        }
        assert_eq!(decode("{\"format\": {\"kind\": \"avro\"}}"), None);
    }

    #[test]
    fn interning_shares_one_class_per_finding() {
        let mut interner = ClassInterner::default();
        let a = interner.intern(Arc::new(class("snappy")));
        let b = interner.intern(Arc::new(class("snappy")));
        let c = interner.intern(Arc::new(class("zstd")));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(interner.len(), 2);
        let text = interner.text_of(&a).expect("text of an interned class");
        assert!(Arc::ptr_eq(&interner.intern_text(text).expect("decodes"), &a));
    }

    #[test]
    fn reuses_only_unchanged_objects_and_forgets_the_rest() {
        let modified = Utc.timestamp_opt(1_700_000_000, 123_456_000).single().expect("time");
        let object = |key: &str, size: u64| ListedObject {
            relative: key.into(),
            size,
            last_modified: modified,
            e_tag: Some("e1".into()),
        };
        let mut known = KnownObjects::default();
        for key in ["a/1.parquet", "a/2.parquet", "b/gone.parquet", "private/x.parquet"] {
            let class = known.interner.intern(Arc::new(class("snappy")));
            let record =
                Known { size: 10, modified_us: modified.timestamp_micros(), etag: Some("e1".into()), rows: 5, class };
            known.by_key.insert(key.into(), record);
        }
        assert_eq!(known.reuse(&object("a/1.parquet", 10)).map(|(rows, _)| rows), Some(5));
        assert!(known.reuse(&object("a/2.parquet", 11)).is_none(), "a size change is a change");
        let mut touched = object("a/1.parquet", 10);
        touched.e_tag = Some("e2".into());
        assert!(known.reuse(&touched).is_none(), "already taken: each key is reused once");
        assert!(known.reuse(&object("new.parquet", 10)).is_none());
        let (_, removed) = known.into_removed(&["private/"]);
        assert_eq!(removed, ["a/2.parquet", "b/gone.parquet"]);
    }
}
