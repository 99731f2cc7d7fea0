//! Parquet files by their footer: the `PAR1` magic at both ends, then the footer metadata read
//! with ranged requests from the end of the file (one request for most files, a second when the
//! footer is larger than the first guess). Nothing but the footer is read.

use std::sync::Arc;

use arrow_schema::{DataType, Field};
use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::parquet_to_arrow_schema;
use parquet::basic::Compression as ParquetCodec;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use tarn_catalog::SqlType;

use crate::object_error::read_failure;

/// The four bytes every Parquet file starts and ends with.
pub const PARQUET_MAGIC: &[u8; 4] = b"PAR1";

/// Bytes read from the end at first: footers of files with up to a few hundred columns fit.
const FOOTER_GUESS: u64 = 64 * 1024;

/// What the footer says about one file.
#[derive(Debug, Clone, PartialEq)]
pub struct ParquetFooter {
    /// Columns Tarn can read, in file order, with their SQL types and the Arrow type the footer
    /// declares (for the plan's reasons).
    pub columns: Vec<(String, SqlType, String)>,
    /// Columns of types Tarn cannot represent (nested, binary...), with the type's name.
    pub unsupported: Vec<(String, String)>,
    pub rows: u64,
    pub row_groups: usize,
    /// The codec of the first column chunk (`snappy`, `zstd`, `none`...).
    pub codec: String,
}

/// Reads and interprets the footer of the Parquet file at `path` of `size` bytes; the error is
/// the reason the file is not usable Parquet, in words for the plan.
///
/// `whole` is the file's content when the caller already read all of it (small files are read
/// whole by the first request): then no second request is made, which halves the requests per
/// object on a lake of small files, where requests are nearly all of a crawl's time on S3.
pub async fn read_footer(
    store: &Arc<dyn ObjectStore>,
    path: &ObjectPath,
    size: u64,
    whole: Option<&Bytes>,
) -> Result<ParquetFooter, String> {
    if size < 12 {
        return Err(format!("corrupt Parquet: {size} bytes is too small for a Parquet file"));
    }
    let mut wanted = FOOTER_GUESS.min(size);
    let mut reader = ParquetMetaDataReader::new();
    loop {
        let tail = match whole {
            Some(bytes) if bytes.len() as u64 == size => bytes.slice((size - wanted) as usize..),
            _ => fetch(store, path, size - wanted..size).await?,
        };
        if wanted == FOOTER_GUESS.min(size) && !tail.ends_with(PARQUET_MAGIC) {
            return Err("corrupt Parquet: the file does not end with the PAR1 magic (truncated or not Parquet)".into());
        }
        match reader.try_parse_sized(&tail, size) {
            Ok(()) => break,
            Err(ParquetError::NeedMoreData(needed)) if (needed as u64) > wanted && (needed as u64) <= size => {
                wanted = needed as u64;
            }
            Err(e) => return Err(format!("corrupt Parquet footer: {e}")),
        }
    }
    let metadata = reader.finish().map_err(|e| format!("corrupt Parquet footer: {e}"))?;
    describe(&metadata)
}

async fn fetch(store: &Arc<dyn ObjectStore>, path: &ObjectPath, range: std::ops::Range<u64>) -> Result<Bytes, String> {
    store.get_range(path, range).await.map_err(|e| format!("Parquet footer: {}", read_failure(path.as_ref(), &e)))
}

fn describe(metadata: &ParquetMetaData) -> Result<ParquetFooter, String> {
    let file = metadata.file_metadata();
    let schema = parquet_to_arrow_schema(file.schema_descr(), file.key_value_metadata())
        .map_err(|e| format!("unsupported Parquet schema: {e}"))?;
    let mut columns = Vec::new();
    let mut unsupported = Vec::new();
    for field in schema.fields() {
        match sql_type(field) {
            Some(data_type) => columns.push((field.name().clone(), data_type, field.data_type().to_string())),
            None => unsupported.push((field.name().clone(), field.data_type().to_string())),
        }
    }
    let codec = metadata
        .row_groups()
        .first()
        .filter(|group| group.num_columns() > 0)
        .map(|group| codec_name(group.column(0).compression()))
        .unwrap_or("none")
        .to_string();
    Ok(ParquetFooter {
        columns,
        unsupported,
        rows: u64::try_from(file.num_rows()).unwrap_or(0),
        row_groups: metadata.num_row_groups(),
        codec,
    })
}

/// The SQL type of a Parquet column as the engine reads it; `None` for types it cannot.
fn sql_type(field: &Field) -> Option<SqlType> {
    match field.data_type() {
        // Binary columns written without a UTF-8 annotation are usually text from older writers,
        // but may be anything: leave them out rather than promise text.
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => None,
        other => SqlType::from_arrow(other).ok(),
    }
}

fn codec_name(codec: ParquetCodec) -> &'static str {
    match codec {
        ParquetCodec::UNCOMPRESSED => "none",
        ParquetCodec::SNAPPY => "snappy",
        ParquetCodec::GZIP(_) => "gzip",
        ParquetCodec::LZO => "lzo",
        ParquetCodec::BROTLI(_) => "brotli",
        ParquetCodec::LZ4 | ParquetCodec::LZ4_RAW => "lz4",
        ParquetCodec::ZSTD(_) => "zstd",
    }
}
