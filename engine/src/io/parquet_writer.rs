//! Writing Arrow batches as one Parquet file into any `Write` destination (an object upload, a
//! buffer in tests). Files are written the way Tarn's scans like to read them: row groups big
//! enough to amortise a request and small enough to prune and parallelise, statistics on every
//! column, and the Arrow schema embedded so pyarrow and DuckDB read back the same types.

use std::io::Write;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::{BloomFilterPosition, EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::error::{EngineError, Result};

/// Rows per row group at most: several of the scan's 65,536-row morsels per group, and eight or
/// more groups in a 128 MB file of typical rows, so a scan of one file still runs in parallel.
pub const ROW_GROUP_MAX_ROWS: usize = 262_144;

/// Encoded bytes per row group at most: bounds the writer's buffer (one per open file) for wide
/// rows, and keeps groups near the 64 MB DuckDB and Spark aim for.
pub const ROW_GROUP_MAX_BYTES: usize = 64 * 1024 * 1024;

/// The Parquet compression codecs users name (`parquet_compression`, `write_compression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParquetCompression {
    /// The default, as Athena and Spark write: fast to decode, good enough ratio.
    Snappy,
    Zstd(Option<i32>),
    Gzip(Option<u32>),
    Lz4,
    None,
}

impl ParquetCompression {
    /// Parses a codec name (case-insensitive) with an optional level (`compression_level`).
    pub fn parse(name: &str, level: Option<i64>) -> Result<ParquetCompression> {
        let level_for = |codec: &str| {
            if level.is_some() {
                Err(EngineError::plan(format!("compression_level is not supported for {codec} compression")))
            } else {
                Ok(())
            }
        };
        Ok(match name.trim().to_ascii_uppercase().as_str() {
            "SNAPPY" => {
                level_for("SNAPPY")?;
                ParquetCompression::Snappy
            }
            "ZSTD" => ParquetCompression::Zstd(level.map(|l| l as i32)),
            "GZIP" => ParquetCompression::Gzip(level.map(|l| l as u32)),
            "LZ4" => {
                level_for("LZ4")?;
                ParquetCompression::Lz4
            }
            "NONE" | "UNCOMPRESSED" => ParquetCompression::None,
            other => {
                return Err(EngineError::plan(format!(
                    "unknown Parquet compression '{other}' (accepted: SNAPPY, ZSTD, GZIP, LZ4, NONE)"
                )))
            }
        })
    }

    fn codec(self) -> Result<Compression> {
        let bad_level = |e: parquet::errors::ParquetError| EngineError::plan(format!("compression_level: {e}"));
        Ok(match self {
            ParquetCompression::Snappy => Compression::SNAPPY,
            ParquetCompression::Zstd(level) => {
                Compression::ZSTD(level.map(ZstdLevel::try_new).transpose().map_err(bad_level)?.unwrap_or_default())
            }
            ParquetCompression::Gzip(level) => {
                Compression::GZIP(level.map(GzipLevel::try_new).transpose().map_err(bad_level)?.unwrap_or_default())
            }
            ParquetCompression::Lz4 => Compression::LZ4_RAW,
            ParquetCompression::None => Compression::UNCOMPRESSED,
        })
    }

    /// The name as Athena spells it, for table properties.
    pub fn name(self) -> &'static str {
        match self {
            ParquetCompression::Snappy => "SNAPPY",
            ParquetCompression::Zstd(_) => "ZSTD",
            ParquetCompression::Gzip(_) => "GZIP",
            ParquetCompression::Lz4 => "LZ4",
            ParquetCompression::None => "NONE",
        }
    }
}

/// How one write's Parquet files are encoded: the codec, and the columns that get bloom filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetWriteOptions {
    pub compression: ParquetCompression,
    /// Top-level columns (file column names) that get a split-block bloom filter per row group,
    /// so `col = literal` and `col IN (...)` skip row groups whose min/max cannot (see
    /// `io::bloom`). Off by default: a filter costs bytes in every file and pays only for
    /// selective equality lookups on unsorted, high-cardinality columns.
    pub bloom_filter_columns: Vec<String>,
}

impl From<ParquetCompression> for ParquetWriteOptions {
    fn from(compression: ParquetCompression) -> ParquetWriteOptions {
        ParquetWriteOptions { compression, bloom_filter_columns: Vec::new() }
    }
}

/// The false-positive rate bloom filters are folded down to (parquet-rs' default, and Spark's):
/// a present-looking absent value costs reading one row group it did not need.
const BLOOM_FILTER_FPP: f64 = 0.05;

/// The writer properties every Tarn Parquet file gets.
pub fn writer_properties(options: &ParquetWriteOptions) -> Result<WriterProperties> {
    let mut builder = WriterProperties::builder()
        .set_compression(options.compression.codec()?)
        .set_max_row_group_row_count(Some(ROW_GROUP_MAX_ROWS))
        .set_max_row_group_bytes(Some(ROW_GROUP_MAX_BYTES))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by(format!("tarn version {}", env!("CARGO_PKG_VERSION")));
    if !options.bloom_filter_columns.is_empty() {
        // All filters together before the footer: a scan reads a file's filters in one request.
        builder = builder.set_bloom_filter_position(BloomFilterPosition::End);
    }
    for column in &options.bloom_filter_columns {
        let path = ColumnPath::from(column.as_str());
        builder = builder
            .set_column_bloom_filter_enabled(path.clone(), true)
            .set_column_bloom_filter_fpp(path.clone(), BLOOM_FILTER_FPP)
            // Sized for a full row group of distinct values, then folded to what was inserted.
            .set_column_bloom_filter_max_ndv(path, ROW_GROUP_MAX_ROWS as u64);
    }
    Ok(builder.build())
}

/// One Parquet file being written.
pub struct ParquetFileWriter<W: Write + Send> {
    writer: ArrowWriter<W>,
    rows: u64,
}

impl<W: Write + Send> ParquetFileWriter<W> {
    pub fn try_new(destination: W, schema: SchemaRef, options: &ParquetWriteOptions) -> Result<Self> {
        for column in &options.bloom_filter_columns {
            if schema.field_with_name(column).is_err() {
                return Err(EngineError::plan(format!("bloom filter column '{column}' is not a column of the file")));
            }
        }
        let writer = ArrowWriter::try_new(destination, schema, Some(writer_properties(options)?))
            .map_err(|e| EngineError::execution(format!("cannot start a Parquet file: {e}")))?;
        Ok(ParquetFileWriter { writer, rows: 0 })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer.write(batch).map_err(|e| EngineError::execution(format!("writing Parquet: {e}")))?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Bytes the file will have if closed now (written plus the open row group's estimate): what
    /// rolling over to the next file at the target size compares.
    pub fn estimated_size(&self) -> u64 {
        (self.writer.bytes_written() + self.writer.in_progress_size()) as u64
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes the last row group and the footer; returns the destination.
    pub fn finish(self) -> Result<W> {
        self.writer.into_inner().map_err(|e| EngineError::execution(format!("finishing a Parquet file: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, AsArray, Date32Array, Decimal128Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use bytes::Bytes;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;

    fn batch(start: i64, n: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("price", DataType::Decimal128(10, 2), true),
            Field::new("day", DataType::Date32, true),
        ]));
        let ids: Int64Array = (start..start + n).map(Some).collect();
        let names: StringArray = (start..start + n).map(|i| (i % 3 != 0).then(|| format!("n{i}"))).collect();
        let prices = Decimal128Array::from_iter_values((start..start + n).map(|i| i as i128 * 101))
            .with_precision_and_scale(10, 2)
            .unwrap();
        let days: Date32Array = (start..start + n).map(|i| Some(19_000 + (i % 10) as i32)).collect();
        RecordBatch::try_new(schema, vec![Arc::new(ids), Arc::new(names), Arc::new(prices), Arc::new(days)]).unwrap()
    }

    #[test]
    fn round_trips_types_and_sizes_row_groups() {
        for compression in [
            ParquetCompression::Snappy,
            ParquetCompression::Zstd(Some(5)),
            ParquetCompression::Gzip(None),
            ParquetCompression::None,
        ] {
            let first = batch(0, 200_000);
            let mut writer = ParquetFileWriter::try_new(Vec::new(), first.schema(), &compression.into()).unwrap();
            writer.write(&first).unwrap();
            writer.write(&batch(200_000, 100_000)).unwrap();
            assert_eq!(writer.rows(), 300_000);
            let bytes = Bytes::from(writer.finish().unwrap());
            let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
            let meta = builder.metadata().clone();
            assert_eq!(meta.num_row_groups(), 2, "{compression:?}: 300,000 rows in groups of 262,144");
            assert_eq!(meta.row_group(0).num_rows(), ROW_GROUP_MAX_ROWS as i64);
            // Footers record the codec, not the level it was written with.
            let written = meta.row_group(0).column(0).compression();
            assert_eq!(std::mem::discriminant(&written), std::mem::discriminant(&compression.codec().unwrap()));
            let read: Vec<RecordBatch> = builder.build().unwrap().collect::<std::result::Result<_, _>>().unwrap();
            let total: usize = read.iter().map(|b| b.num_rows()).sum();
            assert_eq!(total, 300_000);
            assert_eq!(read[0].schema().field(2).data_type(), &DataType::Decimal128(10, 2));
            assert_eq!(read[0].schema().field(3).data_type(), &DataType::Date32);
            let ids = read[0].column(0).as_primitive::<Int64Type>();
            assert_eq!((ids.value(0), ids.value(5)), (0, 5));
            assert!(read[0].column(1).is_null(0));
        }
    }

    #[test]
    fn writes_bloom_filters_for_the_chosen_columns_only_and_together() {
        let data = batch(0, 300_000);
        let options =
            ParquetWriteOptions { compression: ParquetCompression::Snappy, bloom_filter_columns: vec!["name".into()] };
        let mut writer = ParquetFileWriter::try_new(Vec::new(), data.schema(), &options).unwrap();
        writer.write(&data).unwrap();
        let bytes = Bytes::from(writer.finish().unwrap());
        let meta = ParquetRecordBatchReaderBuilder::try_new(bytes.clone()).unwrap().metadata().clone();
        assert_eq!(meta.num_row_groups(), 2);
        let data_end = meta.row_groups().iter().flat_map(|rg| rg.columns()).map(|c| {
            let (start, len) = c.byte_range();
            start + len
        });
        let data_end = data_end.max().unwrap();
        let descr = meta.file_metadata().schema_descr();
        for rg in meta.row_groups() {
            assert!(rg.column(0).bloom_filter_offset().is_none(), "id gets no filter");
            let name = rg.column(1);
            assert!(name.bloom_filter_offset().unwrap() as u64 >= data_end, "filters follow all row groups");
            assert!(name.bloom_filter_length().unwrap() as i64 <= name.compressed_size());
            let filter = parquet::bloom_filter::Sbbf::read_from_column_chunk(name, &bytes).unwrap().unwrap();
            let key = |v: &str| {
                let value = crate::plan::ScalarValue::Utf8(Some(v.into()));
                crate::io::bloom::plain_key(&value, &descr.column(1), &DataType::Utf8).unwrap()
            };
            let first = rg
                .column(0)
                .statistics()
                .and_then(|s| s.min_bytes_opt())
                .map(|b| i64::from_le_bytes(b.try_into().unwrap()));
            let present = format!("n{}", first.unwrap() + 1);
            assert!(crate::io::bloom::might_contain_any(&filter, &[key(&present)]), "{present}");
            assert!(!crate::io::bloom::might_contain_any(&filter, &[key("n-1"), key("m5")]));
        }
        // Files without the option are as before: no filters.
        let mut plain =
            ParquetFileWriter::try_new(Vec::new(), data.schema(), &ParquetCompression::Snappy.into()).unwrap();
        plain.write(&batch(0, 10)).unwrap();
        let meta =
            ParquetRecordBatchReaderBuilder::try_new(Bytes::from(plain.finish().unwrap())).unwrap().metadata().clone();
        assert!(meta.row_groups()[0].columns().iter().all(|c| c.bloom_filter_offset().is_none()));
        let unknown =
            ParquetWriteOptions { compression: ParquetCompression::Snappy, bloom_filter_columns: vec!["nope".into()] };
        let err = ParquetFileWriter::try_new(Vec::new(), data.schema(), &unknown).err().unwrap().to_string();
        assert!(err.contains("bloom filter column 'nope'"), "{err}");
    }

    #[test]
    fn parses_codec_names_and_levels() {
        assert_eq!(ParquetCompression::parse("snappy", None).unwrap(), ParquetCompression::Snappy);
        assert_eq!(ParquetCompression::parse("ZSTD", Some(9)).unwrap(), ParquetCompression::Zstd(Some(9)));
        assert_eq!(ParquetCompression::parse("none", None).unwrap(), ParquetCompression::None);
        let err = ParquetCompression::parse("brotli2", None).unwrap_err().to_string();
        assert!(err.contains("accepted: SNAPPY, ZSTD, GZIP, LZ4, NONE"), "{err}");
        assert!(ParquetCompression::parse("snappy", Some(3)).is_err());
        assert!(ParquetCompression::Gzip(Some(42)).codec().is_err());
    }
}
