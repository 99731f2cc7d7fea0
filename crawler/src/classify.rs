//! Classification by content: each listed object is read at its head (and Parquet files at their
//! footer) and becomes a Parquet, delimited-text or JSON-lines file with its columns, or an
//! unclassified file with the reason. Extensions are never trusted: a binary file named `.csv`
//! is caught, and a gzip file without `.gz` is read.

use std::sync::Arc;

use futures::{stream, StreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::compression::Compression;
use crate::delimited::{self, DelimitedFile};
use crate::json_lines::{self, looks_like_json_lines};
use crate::known::KnownObjects;
use crate::list::ListedObject;
use crate::object_error::read_failure;
use crate::parquet_footer::{read_footer, ParquetFooter, PARQUET_MAGIC};
use crate::progress::CrawlProgress;
use crate::sample::{binary_reason, sample_text, HEAD_BYTES};
use crate::schema::FileColumn;
use crate::sniff::CsvDialect;

/// The format of a classified file.
#[derive(Debug, Clone, PartialEq)]
pub enum FileFormat {
    Parquet { codec: String },
    Delimited { dialect: CsvDialect, header: bool, compression: Compression },
    JsonLines { compression: Compression },
}

impl FileFormat {
    /// Files can share a table only when this matches: one format, and for text one dialect and
    /// header setting (those are table-wide SerDe parameters). Compression may differ per file;
    /// scans detect it by magic.
    pub fn table_key(&self) -> String {
        match self {
            FileFormat::Parquet { .. } => "parquet".into(),
            FileFormat::Delimited { dialect, header, .. } => format!(
                "csv delimiter={} quote={:?} escape={:?} header={header}",
                dialect.delimiter_name(),
                dialect.quote.map(char::from),
                dialect.escape.map(char::from)
            ),
            FileFormat::JsonLines { .. } => "json".into(),
        }
    }

    /// Glue's `classification` value.
    pub fn classification(&self) -> &'static str {
        match self {
            FileFormat::Parquet { .. } => "parquet",
            FileFormat::Delimited { .. } => "csv",
            FileFormat::JsonLines { .. } => "json",
        }
    }

    /// Glue's `compressionType` value.
    pub fn compression(&self) -> String {
        match self {
            FileFormat::Parquet { codec } => codec.clone(),
            FileFormat::Delimited { compression, .. } | FileFormat::JsonLines { compression } => {
                compression.as_str().to_string()
            }
        }
    }
}

/// What a file's content says about it, apart from its row count: format, columns and how they
/// were decided. Files written by one job say the same thing, so one value is shared (interned,
/// see [`crate::known`]) by all of them: the crawl's memory then grows with the number of
/// distinct schemas, not with the number of objects.
#[derive(Debug, Clone, PartialEq)]
pub struct FileClass {
    pub format: FileFormat,
    pub columns: Vec<FileColumn>,
    /// `rows` is exact (Parquet footers, text files read whole) rather than estimated.
    pub rows_exact: bool,
    /// Some text nulls were spelled `NULL`.
    pub word_nulls: bool,
    /// How the format was decided (dialect, header), for the plan.
    pub notes: Vec<String>,
}

/// A file the crawler understood.
#[derive(Debug, Clone)]
pub struct ClassifiedFile {
    pub object: ListedObject,
    pub rows: u64,
    pub class: Arc<FileClass>,
    /// Read by this crawl (`false`: unchanged since an earlier crawl read it, not opened).
    pub fresh: bool,
}

impl ClassifiedFile {
    fn new(object: ListedObject, rows: u64, class: FileClass) -> ClassifiedFile {
        ClassifiedFile { object, rows, class: Arc::new(class), fresh: true }
    }
}

/// A file the crawler could not use, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct UnclassifiedFile {
    pub relative: String,
    pub size: u64,
    pub reason: String,
}

/// What classifying a listing found.
#[derive(Debug, Default)]
pub struct Classification {
    pub classified: Vec<ClassifiedFile>,
    pub unclassified: Vec<UnclassifiedFile>,
    /// Objects opened by this crawl.
    pub read: u64,
    /// Objects unchanged since an earlier crawl read them, not opened.
    pub reused: u64,
}

/// Classifies `objects` with up to `concurrency` files read at once, in listing order. Objects
/// `known` from an earlier crawl and unchanged since are not read; the classes of the others are
/// interned into `known`'s interner, so files with one finding share one [`FileClass`].
pub async fn classify_all(
    store: &Arc<dyn ObjectStore>,
    root: &ObjectPath,
    objects: Vec<ListedObject>,
    sample_rows: usize,
    concurrency: usize,
    progress: &CrawlProgress,
    known: &mut KnownObjects,
) -> Classification {
    let mut found = Classification { classified: Vec::with_capacity(objects.len()), ..Classification::default() };
    let mut to_read = Vec::new();
    for object in objects {
        match known.reuse(&object) {
            Some((rows, class)) => {
                found.classified.push(ClassifiedFile { object, rows, class, fresh: false });
                progress.sampled();
            }
            None => to_read.push(object),
        }
    }
    found.reused = found.classified.len() as u64;
    found.read = to_read.len() as u64;
    let mut results = stream::iter(to_read)
        .map(|object| async move {
            let result = classify(store, root, object, sample_rows).await;
            progress.sampled();
            result
        })
        .buffered(concurrency);
    while let Some(result) = results.next().await {
        match result {
            Ok(mut file) => {
                file.class = known.interner.intern(file.class);
                found.classified.push(file);
            }
            Err(file) => found.unclassified.push(file),
        }
    }
    // Reused and read files were collected apart; grouping expects listing order.
    found.classified.sort_by(|a, b| a.object.relative.cmp(&b.object.relative));
    found
}

/// Classifies one object by its content.
pub async fn classify(
    store: &Arc<dyn ObjectStore>,
    root: &ObjectPath,
    object: ListedObject,
    sample_rows: usize,
) -> Result<ClassifiedFile, UnclassifiedFile> {
    let unclassified = |object: &ListedObject, reason: String| UnclassifiedFile {
        relative: object.relative.clone(),
        size: object.size,
        reason,
    };
    let path = object.path(root);
    let first = match store.get_range(&path, 0..object.size.min(HEAD_BYTES)).await {
        Ok(bytes) => bytes,
        Err(e) => return Err(unclassified(&object, read_failure(path.as_ref(), &e))),
    };
    if first.starts_with(PARQUET_MAGIC) {
        return match read_footer(store, &path, object.size, Some(&first)).await {
            Ok(footer) => Ok(parquet_file(object, footer)),
            Err(reason) => Err(unclassified(&object, reason)),
        };
    }
    if object.relative.to_ascii_lowercase().ends_with(".parquet") {
        return Err(unclassified(&object, "named .parquet but does not start with the PAR1 magic".into()));
    }
    let sample = match sample_text(store, &path, object.size, first).await {
        Ok(sample) => sample,
        Err(reason) => return Err(unclassified(&object, reason)),
    };
    if let Some(reason) = binary_reason(&sample.head) {
        return Err(unclassified(&object, reason));
    }
    if !sample.compression.is_readable() {
        return Err(unclassified(
            &object,
            format!("{}-compressed text: Tarn's scans read gzip and zstd only", sample.compression.as_str()),
        ));
    }
    if looks_like_json_lines(&sample.head) {
        return match json_lines::analyse(&sample, sample_rows, object.size) {
            Ok(json) => Ok(ClassifiedFile::new(
                object,
                json.rows,
                FileClass {
                    format: FileFormat::JsonLines { compression: sample.compression },
                    columns: json.columns,
                    rows_exact: json.rows_exact,
                    word_nulls: false,
                    notes: json.notes,
                },
            )),
            Err(reason) => Err(unclassified(&object, reason)),
        };
    }
    match delimited::analyse(&object.relative, &sample, sample_rows, object.size) {
        Ok(file) => Ok(delimited_file(object, file, sample.compression)),
        Err(reason) => Err(unclassified(&object, reason)),
    }
}

fn parquet_file(object: ListedObject, footer: ParquetFooter) -> ClassifiedFile {
    let columns = footer
        .columns
        .iter()
        .map(|(name, data_type, arrow_type)| FileColumn {
            name: name.clone(),
            data_type: data_type.clone(),
            reason: format!("{arrow_type} in the Parquet footer"),
            format: None,
        })
        .collect();
    // Row and row-group counts vary per file and would keep files from sharing one FileClass;
    // the rows are in the statistics anyway.
    let mut notes = vec![format!("Parquet footer, {} codec", footer.codec)];
    for (name, data_type) in &footer.unsupported {
        notes.push(format!("column {name} ({data_type}) left out: Tarn cannot read that type yet"));
    }
    let class = FileClass {
        format: FileFormat::Parquet { codec: footer.codec },
        columns,
        rows_exact: true,
        word_nulls: false,
        notes,
    };
    ClassifiedFile::new(object, footer.rows, class)
}

fn delimited_file(object: ListedObject, file: DelimitedFile, compression: Compression) -> ClassifiedFile {
    let mut notes = vec![format!(
        "delimited text: {} delimiter, {}, {}",
        file.dialect.delimiter_name(),
        match (file.dialect.quote, file.dialect.escape) {
            (Some(q), Some(e)) => format!("quoted with {} escaped by {}", q as char, e as char),
            (Some(q), None) => format!("quoted with {}", q as char),
            (None, _) => "no quoting".to_string(),
        },
        file.header.reason
    )];
    notes.extend(file.notes);
    let class = FileClass {
        format: FileFormat::Delimited { dialect: file.dialect, header: file.header.has_header, compression },
        columns: file.columns,
        rows_exact: file.rows_exact,
        word_nulls: file.word_nulls,
        notes,
    };
    ClassifiedFile::new(object, file.rows, class)
}
